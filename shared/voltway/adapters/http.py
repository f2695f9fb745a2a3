"""HTTP transport helpers for the Chalice app: claims -> principal, query parameters, and the ONE
mapping from domain errors to the error shape ``{"error": {"code", "message", "details"}}``."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from typing import Any, ParamSpec

from chalice.app import Response
from pydantic import ValidationError

from voltway.alerts.errors import AlertNotFound, AlertResolved
from voltway.billing.errors import (
    CdrNotFound,
    ContractNotFound,
    InvalidCredit,
    NoTariffAssigned,
    TariffNotFound,
)
from voltway.chargers.errors import (
    ChargerConflict,
    ChargerNotFound,
    InvalidCursor,
    InvalidRegistration,
)
from voltway.drivers.errors import (
    DriverCdrNotFound,
    SessionConflict,
    SessionNotFound,
    SessionNotRunning,
    TokenNotFound,
    TokenNotUsable,
    TokenOwned,
)
from voltway.exports.errors import ExportNotFound, IdempotencyConflict, InvalidExportRequest
from voltway.identity import Forbidden, Principal, Unauthenticated
from voltway.idtags.errors import IdTagNotFound
from voltway.invoices.errors import (
    InvoiceNotFound,
    InvoiceNumberConflict,
    MixedCurrencies,
    MonthNotClosed,
    NothingToInvoice,
    ReceiptNotFound,
)
from voltway.observability import logger
from voltway.ocpp.commands.errors import CommandNotFound, InvalidCommand, QueueFull, UnknownCommand
from voltway.payments.errors import (
    CaptureFailed,
    InvalidRefund,
    PaymentConflict,
    PaymentDeclined,
    PaymentMethodRequired,
    PaymentNotFound,
    PaymentProviderUnavailable,
    PaymentStateConflict,
)
from voltway.sites.errors import InvalidSiteCursor, SiteConflict, SiteNotFound
from voltway.transactions.errors import TransactionNotFound

P = ParamSpec("P")


class BadRequest(Exception):
    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.details = details


# Every bounded context's errors: exception type -> (HTTP status, error code). The one table of the HTTP
# transport; first match wins, so subclasses come first.
_STATUS: list[tuple[type[Exception], int, str]] = [
    (Unauthenticated, 401, "unauthenticated"),
    (Forbidden, 403, "forbidden"),
    (ChargerNotFound, 404, "not_found"),
    (AlertNotFound, 404, "not_found"),
    (AlertResolved, 409, "alert_resolved"),
    (TransactionNotFound, 404, "not_found"),
    (IdTagNotFound, 404, "not_found"),
    (SiteNotFound, 404, "not_found"),
    (CommandNotFound, 404, "not_found"),
    (ExportNotFound, 404, "not_found"),
    (TariffNotFound, 404, "not_found"),
    (ContractNotFound, 404, "not_found"),
    (CdrNotFound, 404, "not_found"),
    (TokenNotFound, 404, "not_found"),
    (SessionNotFound, 404, "not_found"),
    (DriverCdrNotFound, 404, "not_found"),
    (PaymentNotFound, 404, "not_found"),
    (PaymentMethodRequired, 402, "payment_method_required"),
    (PaymentDeclined, 402, "payment_declined"),
    (PaymentStateConflict, 409, "payment_state_conflict"),
    (PaymentConflict, 409, "conflict"),
    (InvalidRefund, 400, "invalid_refund"),
    (CaptureFailed, 502, "capture_failed"),
    (PaymentProviderUnavailable, 503, "payment_provider_unavailable"),
    (ChargerConflict, 409, "conflict"),
    (SiteConflict, 409, "conflict"),
    (QueueFull, 409, "conflict"),
    (InvalidCredit, 409, "conflict"),
    (NoTariffAssigned, 409, "conflict"),
    (IdempotencyConflict, 409, "idempotency_conflict"),
    (TokenOwned, 409, "token_owned"),
    (TokenNotUsable, 409, "token_not_accepted"),
    (SessionNotRunning, 409, "session_not_running"),
    (SessionConflict, 409, "conflict"),
    (ReceiptNotFound, 404, "not_found"),
    (InvoiceNotFound, 404, "not_found"),
    (MonthNotClosed, 409, "month_not_closed"),
    (NothingToInvoice, 409, "nothing_to_invoice"),
    (MixedCurrencies, 409, "conflict"),
    (InvoiceNumberConflict, 409, "conflict"),
    (UnknownCommand, 400, "invalid_request"),
    (InvalidCommand, 400, "invalid_request"),
    (InvalidExportRequest, 400, "invalid_request"),
    (InvalidSiteCursor, 400, "invalid_cursor"),
    (InvalidRegistration, 400, "invalid_request"),
    (InvalidCursor, 400, "invalid_cursor"),
    (BadRequest, 400, "invalid_request"),
]


def error_response(status: int, code: str, message: str, details: Any = None) -> Response:
    return Response(
        body={"error": {"code": code, "message": message, "details": details}},
        status_code=status,
        headers={"Content-Type": "application/json"},
    )


def to_response(error: Exception) -> Response:
    if isinstance(error, ValidationError):
        field_errors = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"], "type": e["type"]}
            for e in error.errors(include_url=False, include_input=False)
        ]
        return error_response(400, "validation_error", "the request is not valid", field_errors)
    for kind, status, code in _STATUS:
        if isinstance(error, kind):
            details = getattr(error, "details", None)
            return error_response(status, code, str(error) or code, details)
    logger.exception("unhandled error in HTTP route")
    return error_response(500, "internal_error", "an internal error occurred")


def mapped(view: Callable[P, Any]) -> Callable[P, Any]:
    """Wrap a route so that every exception leaves as the one error shape."""

    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
        try:
            return view(*args, **kwargs)
        except Exception as e:
            return to_response(e)

    return wrapper


def principal(context: Mapping[str, Any] | None) -> Principal:
    """The caller, from the claims API Gateway's JWT authorizer forwarded (payload format 1.0)."""
    authorizer = (context or {}).get("authorizer") or {}
    claims = authorizer.get("claims") if isinstance(authorizer, Mapping) else None
    if claims is None and isinstance(authorizer, Mapping):  # payload format 2.0 shape, tolerated
        claims = (authorizer.get("jwt") or {}).get("claims")
    return Principal.from_claims(claims)


def path_param(patterns: Mapping[str, str], name: str, value: str) -> str:
    """A path parameter checked against the pattern its route documents (the ``path_patterns`` of its
    OpenAPI operation): 400 ``invalid_request`` naming the field, never a lookup with a malformed key."""
    if re.fullmatch(patterns[name], value) is None:
        raise BadRequest(f"invalid {name}", {"field": name})
    return value


def int_param(params: Mapping[str, str] | None, name: str, default: int, low: int, high: int) -> int:
    raw = (params or {}).get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise BadRequest(f"{name} must be an integer from {low} to {high}", {"field": name})
    return int(raw)
