"""The document model of receipts, credit notes and invoices.

Money is ``Decimal`` in major units of ``currency`` with two decimals (the billing policy rounds every
cost category to cents, docs/tariffs.md); VAT rates are percentages (``Decimal("19")`` = 19 %), ``None``
when the tariff states none ("VAT not stated", which is not the same as 0 %). Times are UTC.

Invariants (``tests/unit/test_invoice_model.py``): a line's gross is its net plus its VAT amount; the
VAT breakdown groups the lines by rate and each group is the exact sum of its lines; the document's
totals are the sums of the groups. Amounts are never recomputed from rates where the CDR already states
them (a receipt shows exactly what the CDR charged; the invoice is exactly the sum of its receipts).
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"
_SAFE_ID = re.compile(r"^[A-Za-z0-9_.-]{1,20}$")


def money(value: Decimal) -> Decimal:
    """Round half up to cents (VAT of amounts the CDR does not state, e.g. the monthly fee)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def vat_of(net: Decimal, rate: Decimal | None) -> Decimal:
    return ZERO if rate is None else money(net * rate / Decimal(100))


class DocumentKind(StrEnum):
    RECEIPT = "receipt"
    CREDIT_NOTE = "credit_note"
    INVOICE = "invoice"

    @property
    def heading(self) -> str:
        return {"receipt": "Receipt", "credit_note": "Credit note", "invoice": "Invoice"}[self.value]


class Party(BaseModel):
    """Who issues (the brand) or receives (a business account) a document. Drivers' receipts name no
    buyer: a receipt needs no personal data beyond a masked token."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=120)
    address_lines: tuple[str, ...] = Field(default=(), max_length=5)
    vat_id: str | None = Field(default=None, max_length=40)


class DocumentLine(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = Field(min_length=1, max_length=200)
    quantity: Decimal | None = None
    unit: str | None = Field(default=None, max_length=10)
    net: Decimal
    vat_rate: Decimal | None = None
    vat: Decimal = ZERO

    @property
    def gross(self) -> Decimal:
        return self.net + self.vat


class VatGroup(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rate: Decimal | None
    net: Decimal
    vat: Decimal

    @property
    def gross(self) -> Decimal:
        return self.net + self.vat


def vat_breakdown(lines: tuple[DocumentLine, ...] | list[DocumentLine]) -> list[VatGroup]:
    """Lines grouped by VAT rate (ascending, "not stated" last); each group the exact sum of its lines."""
    sums: dict[Decimal | None, tuple[Decimal, Decimal]] = {}
    for line in lines:
        key = None if line.vat_rate is None else line.vat_rate.normalize()
        net, vat = sums.get(key, (ZERO, ZERO))
        sums[key] = (net + line.net, vat + line.vat)
    ordered = sorted(sums, key=lambda r: (r is None, r or ZERO))
    return [VatGroup(rate=r, net=sums[r][0], vat=sums[r][1]) for r in ordered]


class Document(BaseModel):
    """Everything a rendered document shows, fixed when it is issued: re-rendering gives the same
    bytes (the PDF's creation date is ``issued_at``), so retries are harmless."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: DocumentKind
    number: str = Field(min_length=1, max_length=40)
    issued_at: datetime
    currency: str = Field(min_length=3, max_length=3)
    seller: Party
    buyer: Party | None = None
    reference: str | None = Field(default=None, max_length=120)
    """What a credit note corrects, or the period an invoice covers."""
    details: tuple[tuple[str, str], ...] = ()
    """Label/value pairs shown above the lines (session times, charger, location, energy...)."""
    lines: tuple[DocumentLine, ...]
    footer: str | None = Field(default=None, max_length=500)

    @field_validator("issued_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("issued_at must carry a time zone (UTC)")
        return value

    @property
    def vat_groups(self) -> list[VatGroup]:
        return vat_breakdown(self.lines)

    @property
    def total_net(self) -> Decimal:
        return sum((g.net for g in self.vat_groups), ZERO)

    @property
    def total_vat(self) -> Decimal:
        return sum((g.vat for g in self.vat_groups), ZERO)

    @property
    def total_gross(self) -> Decimal:
        return self.total_net + self.total_vat


class Brand(BaseModel):
    """A tenant's brand as printed on its documents (``PUT /v1/billing-profile``). Unset: the tenant id
    is the name and no address is printed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=120)
    address_lines: tuple[str, ...] = Field(default=(), max_length=5)
    vat_id: str | None = Field(default=None, max_length=40)
    footer: str | None = Field(default=None, max_length=500)
    default_vat_percent: Decimal | None = Field(default=None, ge=0, le=100)
    """VAT of a monthly fee when its contract states none."""

    @classmethod
    def fallback(cls, tenant_id: str) -> Brand:
        return cls(name=tenant_id)

    @property
    def party(self) -> Party:
        return Party(name=self.name, address_lines=self.address_lines, vat_id=self.vat_id)


class BillingAccount(BaseModel):
    """A business account's invoicing details (``PUT /v1/billing-accounts/{accountId}``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    account_id: str = Field(min_length=1, max_length=20)
    name: str = Field(min_length=1, max_length=120)
    address_lines: tuple[str, ...] = Field(default=(), max_length=5)
    vat_id: str | None = Field(default=None, max_length=40)
    billing_email: EmailStr | None = None

    @property
    def party(self) -> Party:
        return Party(name=self.name, address_lines=self.address_lines, vat_id=self.vat_id)


class LedgerLine(BaseModel):
    """One CDR of a business account, as its monthly invoice lists it (written when the CDR is issued,
    into the account's month: the month of ``issued_at``, UTC)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cdr_id: str
    issued_at: datetime
    description: str
    currency: str
    energy_kwh: Decimal
    groups: tuple[VatGroup, ...]
    """The CDR's amounts by VAT rate (one group in the usual case)."""


class Receipt(BaseModel):
    """A stored receipt (or credit note) of one CDR."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tenant_id: str
    cdr_id: str
    kind: DocumentKind
    user_id: str | None
    account_id: str | None
    issued_at: datetime
    currency: str
    total_net: Decimal
    total_vat: Decimal
    total_gross: Decimal
    energy_kwh: Decimal
    charge_point_id: str
    file_key: str


class Invoice(BaseModel):
    """A stored monthly invoice: numbered once (the number never changes, never repeats)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tenant_id: str
    invoice_id: str
    sequence: int = Field(ge=1)
    """The tenant's counter value this invoice took (its number is ``INV-<sequence, 6 digits>``)."""
    number: str
    account_id: str
    month: str = Field(pattern=MONTH_PATTERN)
    issued_at: datetime
    currency: str
    total_net: Decimal
    total_vat: Decimal
    total_gross: Decimal
    lines: int
    document_key: str
    """The document's JSON in S3 (fixed before the number is taken: a retry renders the same PDF)."""
    file_key: str
    billing_email: str | None = None


def invoice_id_of(account_id: str, month: str) -> str:
    """One invoice per account and month: its id is a function of both (``2026-10.FLEET-7``); an account
    id with characters unsafe in a URL path is replaced by a digest."""
    if _SAFE_ID.match(account_id):
        return f"{month}.{account_id}"
    return f"{month}.h{hashlib.sha256(account_id.encode()).hexdigest()[:16]}"


def mask_token(uid: str) -> str:
    """A token shown on a receipt: enough to recognise one's card, not enough to copy it."""
    return ("*" * max(len(uid) - 4, 0) + uid[-4:]) if len(uid) > 4 else "*" * len(uid)
