"""How money is rounded and how an absent VAT is read: configurable per tenant, validated once."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

RoundingMode = Literal[
    "ROUND_HALF_UP",
    "ROUND_HALF_EVEN",
    "ROUND_HALF_DOWN",
    "ROUND_UP",
    "ROUND_DOWN",
    "ROUND_CEILING",
    "ROUND_FLOOR",
]


_QUANTA = [Decimal(1).scaleb(-n) for n in range(13)]


class RoundingScope(StrEnum):
    TOTAL = "total"
    """Every reported figure is rounded on its own from the exact amounts (the spec's worked examples:
    exact component amounts, exact total, presented rounded). The total may differ from the sum of the
    rounded components by a rounding unit."""
    COMPONENT = "component"
    """Each cost category (energy, time, parking, fixed, reservation) is rounded, and the total is the sum
    of the rounded categories (then min/max price): totals always add up on an invoice."""


class AbsentVat(StrEnum):
    NOT_APPLICABLE = "not_applicable"
    """OCPI: 'If omitted, no VAT is applicable' - the amount incl. VAT equals the amount excl. VAT."""
    UNKNOWN = "unknown"
    """Treat an absent VAT as unknown: any category priced by such a component, and the total, have no
    ``incl_vat`` (None)."""


class PricingPolicy(BaseModel):
    """Per-tenant pricing policy. The default keeps OCPI's wire precision (numbers use 4 decimals)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    decimals: int = Field(default=4, ge=0, le=12)
    """Decimals of every money figure in the result."""
    rounding: RoundingMode = ROUND_HALF_UP
    scope: RoundingScope = RoundingScope.TOTAL
    absent_vat: AbsentVat = AbsentVat.NOT_APPLICABLE
    quantity_decimals: int = Field(default=4, ge=0, le=12)
    """Decimals of the reported quantities (total_energy in kWh, total_time / total_parking_time in h)."""

    def money(self, amount: Decimal) -> Decimal:
        return amount.quantize(_QUANTA[self.decimals], rounding=self.rounding)

    def quantity(self, amount: Decimal) -> Decimal:
        return amount.quantize(_QUANTA[self.quantity_decimals], rounding=ROUND_HALF_UP)


DEFAULT_POLICY = PricingPolicy()
