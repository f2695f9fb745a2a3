"""HTTP routes of receipts and invoices (a Chalice blueprint registered by functions/api/app.py).

Drivers read their own receipts (another driver's is 404); finance users list, read and (re)generate
their tenant's invoices and keep the brand and account billing profiles. Download links are signed on
every GET (short expiry) and never stored. The blueprint's middleware remembers a driver's e-mail (the
JWT's ``email`` claim) on their first request in a process, so receipts can be e-mailed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from chalice.app import Blueprint, Request, Response
from pydantic import BaseModel, ConfigDict, EmailStr, Field

from voltway.adapters.http import mapped, path_param, principal
from voltway.api.idempotency import cached_http_idempotency, run_idempotently
from voltway.api.openapi import Operation, documented
from voltway.api.routes import body, query_model
from voltway.billing.model import CDR_ID_PATTERN
from voltway.identity import Principal, Role, Unauthenticated
from voltway.invoices.model import MONTH_PATTERN, BillingAccount, Brand, Invoice, Receipt
from voltway.invoices.roots import cached_documents_api
from voltway.invoices.service import Download
from voltway.observability import logger

DRIVER = (Role.DRIVER, Role.ADMIN)
FINANCE = (Role.FINANCE, Role.ADMIN)
INVOICE_ID_PATTERN = r"^[0-9]{4}-[0-9]{2}\.[A-Za-z0-9_.-]{1,20}$"
ACCOUNT_ID_PATTERN = r"^[A-Za-z0-9_.-]{1,20}$"
PATTERNS = {"cdrId": CDR_ID_PATTERN, "invoiceId": INVOICE_ID_PATTERN, "accountId": ACCOUNT_ID_PATTERN}
JSON: dict[str, str | list[str]] = {"Content-Type": "application/json"}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PageParams(_Body):
    limit: int = Field(default=20, ge=1, le=50)
    cursor: str | None = None


class CreateInvoiceRequest(_Body):
    account_id: str = Field(min_length=1, max_length=20, description="The OCPP parentIdTag of the account")
    month: str = Field(pattern=MONTH_PATTERN, description="A finished calendar month (UTC), e.g. 2026-10")


class BrandRequest(_Body):
    name: str = Field(min_length=1, max_length=120)
    address_lines: list[str] = Field(default_factory=list, max_length=5)
    vat_id: str | None = Field(default=None, max_length=40)
    footer: str | None = Field(default=None, max_length=500)
    default_vat_percent: Decimal | None = Field(default=None, ge=0, le=100)


class AccountRequest(_Body):
    name: str = Field(min_length=1, max_length=120)
    address_lines: list[str] = Field(default_factory=list, max_length=5)
    vat_id: str | None = Field(default=None, max_length=40)
    billing_email: EmailStr | None = None


class _Money(BaseModel):
    currency: str
    total_excl_vat: str = Field(description="Decimal text")
    total_vat: str
    total_incl_vat: str
    download_url: str | None = Field(default=None, description="Signed on this request; never stored")
    download_url_expires_at: datetime | None = None


class ReceiptOut(_Money):
    cdr_id: str
    kind: str = Field(description="receipt | credit_note")
    issued_at: datetime
    charge_point_id: str
    energy_kwh: str

    @classmethod
    def of(cls, r: Receipt, download: Download | None = None) -> ReceiptOut:
        return cls(
            cdr_id=r.cdr_id,
            kind=r.kind.value,
            issued_at=r.issued_at,
            charge_point_id=r.charge_point_id,
            energy_kwh=str(r.energy_kwh),
            currency=r.currency,
            total_excl_vat=str(r.total_net),
            total_vat=str(r.total_vat),
            total_incl_vat=str(r.total_gross),
            download_url=download.url if download else None,
            download_url_expires_at=download.expires_at if download else None,
        )


class ReceiptPageOut(BaseModel):
    items: list[ReceiptOut]
    next_cursor: str | None


class InvoiceOut(_Money):
    invoice_id: str
    number: str
    account_id: str
    month: str
    issued_at: datetime
    lines: int
    billing_email: str | None

    @classmethod
    def of(cls, i: Invoice, download: Download | None = None) -> InvoiceOut:
        return cls(
            invoice_id=i.invoice_id,
            number=i.number,
            account_id=i.account_id,
            month=i.month,
            issued_at=i.issued_at,
            lines=i.lines,
            billing_email=i.billing_email,
            currency=i.currency,
            total_excl_vat=str(i.total_net),
            total_vat=str(i.total_vat),
            total_incl_vat=str(i.total_gross),
            download_url=download.url if download else None,
            download_url_expires_at=download.expires_at if download else None,
        )


class InvoicePageOut(BaseModel):
    items: list[InvoiceOut]
    next_cursor: str | None


class BrandOut(BrandRequest):
    pass


class AccountOut(AccountRequest):
    account_id: str


@functools.lru_cache(maxsize=10_000)
def _remember(tenant_id: str, user_id: str, email: str) -> None:
    """Once per (driver, address) and process: one GetItem (+ a PutItem when it changed)."""
    cached_documents_api().receipts.remember_email(tenant_id, user_id, email)


def remember_driver_email(request: Request, get_response: Callable[[Request], Response]) -> Response:
    response = get_response(request)
    try:
        authorizer = (request.context or {}).get("authorizer") or {}
        claims = authorizer.get("claims") if isinstance(authorizer, dict) else None
        caller = Principal.from_claims(claims)
        unverified = str((claims or {}).get("email_verified", "true")).lower() == "false"
        if caller.email and not unverified and Role.DRIVER in caller.roles:
            _remember(caller.tenant_id, caller.user_id, caller.email)
    except Unauthenticated:
        pass
    except Exception:  # never fail a request over it: the receipt is then not e-mailed (logged)
        logger.warning("could not remember the driver's e-mail", exc_info=True)
    return response


def invoices_blueprint() -> Blueprint:
    bp = Blueprint(__name__)
    bp.register_middleware(remember_driver_email, "http")

    def caller(*roles: Role) -> Principal:
        who = principal(bp.current_request.context)
        who.require(*roles)
        return who

    @bp.route("/v1/me/receipts", methods=["GET"])
    @documented(Operation("My receipts, newest first", "receipts", None, PageParams, ReceiptPageOut, DRIVER))
    @mapped
    def my_receipts() -> dict[str, Any]:
        me = caller(Role.DRIVER)
        params = query_model(PageParams, bp.current_request.query_params)
        page = cached_documents_api().receipts.list_mine(
            me.tenant_id, me.user_id, params.limit, params.cursor
        )
        return body(ReceiptPageOut(items=[ReceiptOut.of(r) for r in page.items], next_cursor=page.cursor))

    @bp.route("/v1/me/receipts/{cdrId}", methods=["GET"])
    @documented(
        Operation(
            "One of my receipts, with a freshly signed PDF link",
            "receipts",
            None,
            None,
            ReceiptOut,
            DRIVER,
            path_patterns=PATTERNS,
        )
    )
    @mapped
    def my_receipt(cdrId: str) -> dict[str, Any]:
        me = caller(Role.DRIVER)
        receipts = cached_documents_api().receipts
        receipt, download = receipts.get_mine(me.tenant_id, me.user_id, path_param(PATTERNS, "cdrId", cdrId))
        return body(ReceiptOut.of(receipt, download))

    @bp.route("/v1/invoices", methods=["GET"])
    @documented(
        Operation(
            "The tenant's invoices, newest first", "invoices", None, PageParams, InvoicePageOut, FINANCE
        )
    )
    @mapped
    def list_invoices() -> dict[str, Any]:
        me = caller(Role.FINANCE)
        params = query_model(PageParams, bp.current_request.query_params)
        page = cached_documents_api().invoices.list(me.tenant_id, params.limit, params.cursor)
        return body(InvoicePageOut(items=[InvoiceOut.of(i) for i in page.items], next_cursor=page.cursor))

    @bp.route("/v1/invoices/{invoiceId}", methods=["GET"])
    @documented(
        Operation(
            "An invoice, with a freshly signed PDF link",
            "invoices",
            None,
            None,
            InvoiceOut,
            FINANCE,
            path_patterns=PATTERNS,
        )
    )
    @mapped
    def get_invoice(invoiceId: str) -> dict[str, Any]:
        me = caller(Role.FINANCE)
        invoice, download = cached_documents_api().invoices.get(
            me.tenant_id, path_param(PATTERNS, "invoiceId", invoiceId)
        )
        return body(InvoiceOut.of(invoice, download))

    @bp.route("/v1/invoices", methods=["POST"])
    @documented(
        Operation(
            "Issue an account's invoice of a finished month (201; 200 when it exists)",
            "invoices",
            CreateInvoiceRequest,
            None,
            InvoiceOut,
            FINANCE,
            status=201,
            idempotency_key=True,
        )
    )
    @mapped
    def create_invoice() -> Response:
        me = caller(Role.FINANCE)
        request = bp.current_request
        wanted = CreateInvoiceRequest.model_validate_json(request.raw_body or b"{}")

        def run() -> Response:
            invoices = cached_documents_api().invoices
            invoice, created = invoices.generate(me.tenant_id, wanted.account_id, wanted.month)
            _, download = invoices.get(me.tenant_id, invoice.invoice_id)
            headers = {**JSON, "Location": f"/v1/invoices/{invoice.invoice_id}"}
            return Response(body(InvoiceOut.of(invoice, download)), headers, 201 if created else 200)

        return run_idempotently(cached_http_idempotency(), request, me, "POST /v1/invoices", run)

    @bp.route("/v1/billing-profile", methods=["PUT"])
    @documented(
        Operation(
            "The tenant's brand on receipts and invoices", "invoices", BrandRequest, None, BrandOut, FINANCE
        )
    )
    @mapped
    def put_brand() -> dict[str, Any]:
        me = caller(Role.FINANCE)
        data = BrandRequest.model_validate_json(bp.current_request.raw_body or b"{}")
        brand = Brand.model_validate({**data.model_dump(), "address_lines": tuple(data.address_lines)})
        stored = cached_documents_api().invoices.put_brand(me.tenant_id, brand)
        return body(BrandOut.model_validate(stored.model_dump()))

    @bp.route("/v1/billing-profile", methods=["GET"])
    @documented(
        Operation("The tenant's brand (defaults to the tenant id)", "invoices", None, None, BrandOut, FINANCE)
    )
    @mapped
    def get_brand() -> dict[str, Any]:
        me = caller(Role.FINANCE)
        return body(BrandOut.model_validate(cached_documents_api().invoices.brand(me.tenant_id).model_dump()))

    @bp.route("/v1/billing-accounts/{accountId}", methods=["PUT"])
    @documented(
        Operation(
            "A business account's invoicing details (billing e-mail...)",
            "invoices",
            AccountRequest,
            None,
            AccountOut,
            FINANCE,
            path_patterns=PATTERNS,
        )
    )
    @mapped
    def put_account(accountId: str) -> dict[str, Any]:
        me = caller(Role.FINANCE)
        data = AccountRequest.model_validate_json(bp.current_request.raw_body or b"{}")
        account = BillingAccount.model_validate(
            {**data.model_dump(), "account_id": path_param(PATTERNS, "accountId", accountId)}
        )
        stored = cached_documents_api().invoices.put_account(me.tenant_id, account)
        return body(AccountOut.model_validate(stored.model_dump()))

    @bp.route("/v1/billing-accounts/{accountId}", methods=["GET"])
    @documented(
        Operation(
            "A business account's invoicing details",
            "invoices",
            None,
            None,
            AccountOut,
            FINANCE,
            path_patterns=PATTERNS,
        )
    )
    @mapped
    def get_account(accountId: str) -> dict[str, Any]:
        me = caller(Role.FINANCE)
        account = cached_documents_api().invoices.account(
            me.tenant_id, path_param(PATTERNS, "accountId", accountId)
        )
        return body(AccountOut.model_validate(account.model_dump()))

    return bp
