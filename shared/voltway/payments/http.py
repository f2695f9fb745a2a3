"""HTTP routes of payments (a Chalice blueprint registered by functions/api/app.py; docs/payments.md).

Drivers register their card token (``/v1/me/payment-method``); operators and finance see payments
(``capture_failed`` ones are the work list) and retry captures; finance refunds (Idempotency-Key)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from chalice.app import Blueprint, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from voltway.adapters.http import mapped, path_param, principal
from voltway.api.idempotency import HEADER, cached_http_idempotency, run_idempotently
from voltway.api.openapi import Operation, documented
from voltway.api.routes import body, query_model
from voltway.identity import Principal, Role
from voltway.payments.errors import PaymentNotFound
from voltway.payments.model import Payment, PaymentMethod, PaymentStatus
from voltway.payments.roots import cached_payments

DRIVER = (Role.DRIVER, Role.ADMIN)
STAFF = (Role.OPERATOR, Role.FINANCE, Role.ADMIN)
FINANCE = (Role.FINANCE, Role.ADMIN)
PAYMENT_ID_PATTERN = r"^PAY-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
PATTERNS = {"paymentId": PAYMENT_ID_PATTERN}
JSON: dict[str, str | list[str]] = {"Content-Type": "application/json"}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PutPaymentMethodRequest(_Body):
    token: str = Field(
        min_length=4,
        max_length=128,
        pattern=r"^[A-Za-z0-9_\-.:]+$",
        description="The payment provider's reusable card token (never a card number)",
    )
    label: str | None = Field(default=None, max_length=40, description='e.g. "Visa ending 4242"')

    @field_validator("token")
    @classmethod
    def _not_a_card_number(cls, token: str) -> str:
        # PCI scope: the back end must never store a PAN. A token of 12-19 digits looks like one.
        if token.isdigit() and 12 <= len(token) <= 19:
            raise ValueError("looks like a card number: send the provider's token, never the card number")
        return token


class PaymentMethodOut(BaseModel):
    label: str | None
    token_hint: str = Field(description="the token's last 4 characters")
    updated_at: datetime

    @classmethod
    def of(cls, method: PaymentMethod) -> PaymentMethodOut:
        return cls(label=method.label, token_hint=method.token[-4:], updated_at=method.updated_at)


class RefundRequest(_Body):
    amount: Decimal = Field(gt=0, decimal_places=2, description="major units of the payment's currency")


class PaymentListParams(_Body):
    status: PaymentStatus = PaymentStatus.CAPTURE_FAILED
    limit: int = Field(default=25, ge=1, le=100)
    cursor: str | None = None


class RefundOut(BaseModel):
    amount: str
    at: datetime


class PaymentOut(BaseModel):
    payment_id: str
    status: PaymentStatus
    currency: str
    held: str = Field(description="pre-authorised amount (Decimal text)")
    captured: str
    refunded: str
    due: str | None = Field(description="the CDR's total incl. VAT, once issued")
    shortfall: str = Field(description="due - captured when the total exceeded the hold")
    session_id: str
    charge_point_id: str
    transaction_id: int | None
    cdr_id: str | None
    provider: str
    capture_attempts: int
    last_error: str | None
    refunds: list[RefundOut]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, p: Payment) -> PaymentOut:
        return cls(
            payment_id=p.payment_id,
            status=p.status,
            currency=p.currency,
            held=str(p.held),
            captured=str(p.captured),
            refunded=str(p.refunded),
            due=None if p.due is None else str(p.due),
            shortfall=str(p.shortfall),
            session_id=p.session_id,
            charge_point_id=p.charge_point_id,
            transaction_id=p.transaction_id,
            cdr_id=p.cdr_id,
            provider=p.provider,
            capture_attempts=p.capture_attempts,
            last_error=p.last_error,
            refunds=[RefundOut(amount=str(r.amount), at=r.at) for r in p.refunds],
            created_at=p.created_at,
            updated_at=p.updated_at,
        )


class PaymentPageOut(BaseModel):
    items: list[PaymentOut]
    next_cursor: str | None


def payments_blueprint() -> Blueprint:
    bp = Blueprint(__name__)

    def caller(*roles: Role) -> Principal:
        who = principal(bp.current_request.context)
        who.require(*roles)
        return who

    @bp.route("/v1/me/payment-method", methods=["PUT"])
    @documented(
        Operation(
            "Register my card (the provider's token) for paid app starts",
            "payments",
            PutPaymentMethodRequest,
            None,
            PaymentMethodOut,
            DRIVER,
        )
    )
    @mapped
    def put_method() -> dict[str, Any]:
        who = caller(Role.DRIVER)
        request = PutPaymentMethodRequest.model_validate_json(bp.current_request.raw_body or b"{}")
        method = cached_payments().set_method(who.tenant_id, who.user_id, request.token, request.label)
        return body(PaymentMethodOut.of(method))

    @bp.route("/v1/me/payment-method", methods=["GET"])
    @documented(Operation("My registered card", "payments", None, None, PaymentMethodOut, DRIVER))
    @mapped
    def get_method() -> dict[str, Any]:
        who = caller(Role.DRIVER)
        method = cached_payments().method(who.tenant_id, who.user_id)
        if method is None:
            raise PaymentNotFound("no payment method registered")
        return body(PaymentMethodOut.of(method))

    @bp.route("/v1/payments", methods=["GET"])
    @documented(
        Operation(
            "Payments by status (default capture_failed: the operators' work list)",
            "payments",
            None,
            PaymentListParams,
            PaymentPageOut,
            STAFF,
        )
    )
    @mapped
    def list_payments() -> dict[str, Any]:
        who = caller(Role.OPERATOR, Role.FINANCE)
        params = query_model(PaymentListParams, bp.current_request.query_params)
        page = cached_payments().list_by_status(who.tenant_id, params.status, params.limit, params.cursor)
        return body(PaymentPageOut(items=[PaymentOut.of(p) for p in page.items], next_cursor=page.cursor))

    @bp.route("/v1/payments/{paymentId}", methods=["GET"])
    @documented(Operation("A payment", "payments", None, None, PaymentOut, STAFF, path_patterns=PATTERNS))
    @mapped
    def get_payment(paymentId: str) -> dict[str, Any]:
        who = caller(Role.OPERATOR, Role.FINANCE)
        return body(
            PaymentOut.of(cached_payments().get(who.tenant_id, path_param(PATTERNS, "paymentId", paymentId)))
        )

    @bp.route("/v1/payments/{paymentId}/capture", methods=["POST"])
    @documented(
        Operation(
            "Retry a failed capture (same idempotency key: never captures twice)",
            "payments",
            None,
            None,
            PaymentOut,
            STAFF,
            path_patterns=PATTERNS,
        )
    )
    @mapped
    def retry_capture(paymentId: str) -> dict[str, Any]:
        who = caller(Role.OPERATOR, Role.FINANCE)
        return body(
            PaymentOut.of(
                cached_payments().retry_capture(who.tenant_id, path_param(PATTERNS, "paymentId", paymentId))
            )
        )

    @bp.route("/v1/payments/{paymentId}/refund", methods=["POST"])
    @documented(
        Operation(
            "Refund part or all of a captured payment",
            "payments",
            RefundRequest,
            None,
            PaymentOut,
            FINANCE,
            idempotency_key=True,
            path_patterns=PATTERNS,
        )
    )
    @mapped
    def refund(paymentId: str) -> Response:
        who = caller(Role.FINANCE)
        request = bp.current_request
        payment_id = path_param(PATTERNS, "paymentId", paymentId)
        amount = RefundRequest.model_validate_json(request.raw_body or b"{}").amount
        headers = request.headers
        key = (headers.get(HEADER.lower()) if headers is not None else None) or ""

        def run() -> Response:
            payment = cached_payments().refund(who.tenant_id, payment_id, amount, key)
            return Response(body(PaymentOut.of(payment)), JSON, 200)

        route = f"POST /v1/payments/{payment_id}/refund"
        return run_idempotently(cached_http_idempotency(), request, who, route, run)

    return bp


__all__ = ["payments_blueprint"]
