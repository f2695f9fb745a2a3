"""OCPI 2.2.1 tariffs: models and the pricing engine (pure domain code, no AWS).

    price_session(tariff, periods, timezone="Europe/Amsterdam", end=..., policy=PricingPolicy())

See docs/tariffs.md for the semantics and the rounding policy.
"""

from __future__ import annotations

from voltway.tariffs.engine import (
    CompiledTariff,
    CostCategory,
    Phase,
    PricedLine,
    SessionPrice,
    compile_tariff,
    price_cdr,
    price_session,
)
from voltway.tariffs.errors import SessionInputError, TariffError, UnknownTimeZoneError
from voltway.tariffs.models import (
    Cdr,
    CdrDimension,
    CdrDimensionType,
    ChargingPeriod,
    DayOfWeek,
    Price,
    PriceComponent,
    ReservationRestrictionType,
    Tariff,
    TariffDimensionType,
    TariffElement,
    TariffRestrictions,
    TariffType,
)
from voltway.tariffs.policy import DEFAULT_POLICY, AbsentVat, PricingPolicy, RoundingScope

__all__ = [
    "DEFAULT_POLICY",
    "AbsentVat",
    "Cdr",
    "CdrDimension",
    "CdrDimensionType",
    "ChargingPeriod",
    "CompiledTariff",
    "CostCategory",
    "DayOfWeek",
    "Phase",
    "Price",
    "PriceComponent",
    "PricedLine",
    "PricingPolicy",
    "ReservationRestrictionType",
    "RoundingScope",
    "SessionInputError",
    "SessionPrice",
    "Tariff",
    "TariffDimensionType",
    "TariffElement",
    "TariffError",
    "TariffRestrictions",
    "TariffType",
    "UnknownTimeZoneError",
    "compile_tariff",
    "price_cdr",
    "price_session",
]
