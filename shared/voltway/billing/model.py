"""Billing records: stored tariffs, contracts, and issued CDRs. Money is ``Decimal`` in the tariff's
currency (major units, as OCPI); energy in the samples is Wh, in the CDR kWh (OCPI); times are UTC."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from voltway.tariffs import Tariff

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,35}$"
CDR_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,38}$"


def cdr_id_of(transaction_id: int) -> str:
    """The CDR of a transaction has a fixed id (transaction ids are platform-unique), so a retried
    StopTransaction or a redelivered queue message can never issue a second CDR."""
    return f"TX{transaction_id}"


def credit_id_of(cdr_id: str) -> str:
    """OCPI allows credit CDR ids up to 39 characters 'to allow something appended to the original ID'."""
    return f"{cdr_id}-CR"


@dataclass(frozen=True, slots=True)
class StoredTariff:
    tenant_id: str
    tariff: Tariff
    is_default: bool
    updated_at: datetime

    @property
    def tariff_id(self) -> str:
        return self.tariff.id


class ContractScope(StrEnum):
    TENANT = "tenant"
    ACCOUNT = "account"
    PARTNER = "partner"


class Contract(BaseModel):
    """A negotiated price: applied to the station's OCPI tariff as a transformation (docs/billing.md).

    ``discount_percent`` lowers every price of the tariff (after the other terms); ``energy_price_per_kwh``
    replaces every ENERGY price (and prices energy where the tariff has none); ``session_fee`` is a FLAT
    price that replaces the tariff's start fee; ``monthly_fee`` is not part of any session (it is invoiced
    monthly, outside CDRs). Amounts exclude VAT; VAT of a fee is ``vat`` (absent = the tariff's).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    contract_id: str = Field(pattern=ID_PATTERN)
    scope: ContractScope
    subject_id: str | None = Field(default=None, min_length=1, max_length=64)
    """The account id (OCPP parent id tag, the fleet's group) or the roaming partner id; none for tenant."""
    currency: str = Field(min_length=3, max_length=3)
    discount_percent: Decimal = Field(default=Decimal(0), ge=0, le=100)
    energy_price_per_kwh: Decimal | None = Field(default=None, ge=0)
    session_fee: Decimal | None = Field(default=None, ge=0)
    monthly_fee: Decimal | None = Field(default=None, ge=0)
    vat: Decimal | None = Field(default=None, ge=0)
    description: str | None = Field(default=None, max_length=255)
    max_session_minutes: Decimal | None = Field(default=None, gt=0, le=1440)
    """Fleet time limit (docs/fleet-limits.md): each session is stopped this many minutes after its start
    (fractions allowed, e.g. 0.05 = 3 s in tests). Only account contracts are consulted for it."""
    tx_profile_safety_net: bool = False
    """With ``max_session_minutes``: also send a TxProfile dropping to 0 W at the limit."""

    @model_validator(mode="after")
    def _subject(self) -> Contract:
        if (self.scope is ContractScope.TENANT) != (self.subject_id is None):
            raise ValueError("subject_id: required for account/partner contracts, absent for tenant ones")
        return self


class CdrKind(StrEnum):
    DEBIT = "DEBIT"
    CREDIT = "CREDIT"


@dataclass(frozen=True, slots=True)
class IssuedCdr:
    """An issued CDR: ``ocpi`` is its OCPI 2.2.1 JSON (immutable once stored); the other fields are the
    keys and filters the platform reads without parsing it."""

    cdr_id: str
    tenant_id: str
    charge_point_id: str
    connector_id: int
    transaction_id: int
    kind: CdrKind
    issued_at: datetime
    currency: str
    total_excl_vat: Decimal
    total_incl_vat: Decimal | None
    ocpi: dict[str, Any]
    credit_of: str | None = None
    tariff_id: str | None = None
    contract_id: str | None = None
    anomalies: tuple[str, ...] = field(default_factory=tuple)
    stop_reason: str | None = None  # why the session ended (Transaction.ended_by), e.g. "time_limit"


@dataclass(frozen=True, slots=True)
class CdrPage:
    items: list[IssuedCdr]
    cursor: str | None
