"""Payments of app-started charging sessions. Money is ``Decimal`` in major units of ``currency`` (ISO
4217, as the tariff); times are timezone-aware UTC.

Idempotency keys are functions of platform ids, so a retry (HTTP, SQS redelivery, operator) never
charges twice: the provider receives the same key again and answers the first result.

| operation | key |
|---|---|
| pre-authorisation | ``preauth:<session id>`` |
| capture | ``capture:<CDR id>`` |
| void | ``void:<payment id>`` |
| refund | ``refund:<payment id>:<the request's Idempotency-Key>`` |
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

CENT = Decimal("0.01")


def payment_id_of(session_id: str) -> str:
    """One payment per session (the session id is a UUID)."""
    return f"PAY-{session_id}"


def preauth_key(session_id: str) -> str:
    return f"preauth:{session_id}"


def capture_key(cdr_id: str) -> str:
    return f"capture:{cdr_id}"


def void_key(payment_id: str) -> str:
    return f"void:{payment_id}"


def refund_key(payment_id: str, request_key: str) -> str:
    return f"refund:{payment_id}:{request_key}"


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if self.amount != self.amount.quantize(CENT) or self.amount < 0:
            raise ValueError(f"amount {self.amount} must be >= 0 with at most 2 decimals")
        if len(self.currency) != 3:
            raise ValueError(f"currency {self.currency!r} is not ISO 4217")


class PaymentStatus(StrEnum):
    PENDING = "pending"  # stored, the provider has not answered the pre-authorisation yet
    AUTHORIZED = "authorized"  # the hold is in place
    DECLINED = "declined"  # the provider declined the hold: the session was not started
    FAILED = "failed"  # the provider was unreachable for the hold: the session was not started
    CAPTURED = "captured"
    CAPTURE_FAILED = "capture_failed"  # retried by SQS, then by operators (POST .../capture)
    VOIDED = "voided"  # the hold was released (no transaction, or nothing to pay)
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"

    @property
    def capturable(self) -> bool:
        return self in (PaymentStatus.AUTHORIZED, PaymentStatus.CAPTURE_FAILED)

    @property
    def refundable(self) -> bool:
        return self in (PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED)


@dataclass(frozen=True, slots=True)
class ProviderResult:
    """A provider's answer. ``approved`` False is a business refusal (decline); transport failures
    raise ``PaymentProviderUnavailable`` instead."""

    approved: bool
    reference: str | None = None  # the provider's transaction id (captures/voids/refunds refer to it)
    reason: str | None = None  # decline / error text from the provider


@dataclass(frozen=True, slots=True)
class Refund:
    key: str  # the request's Idempotency-Key
    amount: Decimal
    at: datetime
    reference: str | None = None


@dataclass(frozen=True, slots=True)
class Payment:
    """The payment of one app-started session. ``held`` is the pre-authorised amount; ``due`` the CDR's
    total incl. VAT; ``captured`` <= ``held``; ``shortfall`` = ``due`` - ``captured`` when the total
    exceeded the hold (collected off-line, docs/payments.md). ``version`` guards racing writers."""

    payment_id: str
    tenant_id: str
    user_id: str
    session_id: str
    charge_point_id: str
    connector_id: int
    id_tag: str
    provider: str
    currency: str
    held: Decimal
    status: PaymentStatus
    created_at: datetime
    updated_at: datetime
    provider_reference: str | None = None
    transaction_id: int | None = None
    cdr_id: str | None = None
    due: Decimal | None = None
    captured: Decimal = Decimal(0)
    shortfall: Decimal = Decimal(0)
    refunded: Decimal = Decimal(0)
    refunds: tuple[Refund, ...] = field(default_factory=tuple)
    capture_attempts: int = 0
    last_error: str | None = None
    version: int = 0


@dataclass(frozen=True, slots=True)
class PaymentMethod:
    """The provider's reusable card token of a driver (never a card number)."""

    tenant_id: str
    user_id: str
    token: str
    label: str | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class PaymentPage:
    items: list[Payment]
    cursor: str | None


@dataclass(frozen=True, slots=True)
class ChargeFacts:
    """What capture needs of an issued CDR (billing's ``IssuedCdr``, reduced)."""

    cdr_id: str
    tenant_id: str
    charge_point_id: str
    connector_id: int
    transaction_id: int
    id_tag: str
    currency: str
    total_incl_vat: Decimal
    ended_at: datetime
