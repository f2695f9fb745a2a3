"""OCPI 2.2.1 Tariff and CDR charging-period models (pydantic), as the spec's JSON spells them.

Numbers are parsed into :class:`~decimal.Decimal` (never binary floats). Timestamps without a zone
designator are UTC, as OCPI's DateTime type says. Unknown fields are ignored: a receiver of partners'
tariffs must be liberal in what it accepts, but every field the engine reads is validated.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_TIME_PATTERN = r"^([0-1][0-9]|2[0-3]):[0-5][0-9]$"
_DATE_PATTERN = r"^([12][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


def _as_utc(value: datetime) -> datetime:
    """OCPI: 'The absence of the timezone designator implies a UTC timestamp'."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


class TariffDimensionType(StrEnum):
    ENERGY = "ENERGY"
    FLAT = "FLAT"
    PARKING_TIME = "PARKING_TIME"
    TIME = "TIME"


class TariffType(StrEnum):
    AD_HOC_PAYMENT = "AD_HOC_PAYMENT"
    PROFILE_CHEAP = "PROFILE_CHEAP"
    PROFILE_FAST = "PROFILE_FAST"
    PROFILE_GREEN = "PROFILE_GREEN"
    REGULAR = "REGULAR"


class DayOfWeek(StrEnum):
    MONDAY = "MONDAY"
    TUESDAY = "TUESDAY"
    WEDNESDAY = "WEDNESDAY"
    THURSDAY = "THURSDAY"
    FRIDAY = "FRIDAY"
    SATURDAY = "SATURDAY"
    SUNDAY = "SUNDAY"

    @property
    def iso_index(self) -> int:
        """0 = Monday ... 6 = Sunday (``datetime.weekday()``)."""
        return list(DayOfWeek).index(self)


class ReservationRestrictionType(StrEnum):
    RESERVATION = "RESERVATION"
    RESERVATION_EXPIRES = "RESERVATION_EXPIRES"


class CdrDimensionType(StrEnum):
    CURRENT = "CURRENT"
    ENERGY = "ENERGY"
    ENERGY_EXPORT = "ENERGY_EXPORT"
    ENERGY_IMPORT = "ENERGY_IMPORT"
    MAX_CURRENT = "MAX_CURRENT"
    MIN_CURRENT = "MIN_CURRENT"
    MAX_POWER = "MAX_POWER"
    MIN_POWER = "MIN_POWER"
    PARKING_TIME = "PARKING_TIME"
    POWER = "POWER"
    RESERVATION_TIME = "RESERVATION_TIME"
    STATE_OF_CHARGE = "STATE_OF_CHARGE"
    TIME = "TIME"


class Price(_Model):
    """OCPI ``Price``: ``incl_vat`` is optional (unknown), which is not the same as equal to ``excl_vat``."""

    excl_vat: Decimal
    incl_vat: Decimal | None = None


class DisplayText(_Model):
    language: str
    text: str


class PriceComponent(_Model):
    """How one dimension is priced. ``price`` excludes VAT; ``vat`` is a percentage; absent ``vat`` means
    'no VAT applicable', which OCPI distinguishes from 0 %. ``step_size`` is in Wh (ENERGY) or seconds
    (TIME, PARKING_TIME); FLAT has no unit."""

    type: TariffDimensionType
    price: Decimal = Field(ge=0)
    vat: Decimal | None = Field(default=None, ge=0)
    step_size: int = Field(ge=0)


class TariffRestrictions(_Model):
    """When a Tariff Element is active. All present properties must match (logical AND)."""

    start_time: str | None = Field(default=None, pattern=_TIME_PATTERN)
    end_time: str | None = Field(default=None, pattern=_TIME_PATTERN)
    start_date: str | None = Field(default=None, pattern=_DATE_PATTERN)
    end_date: str | None = Field(default=None, pattern=_DATE_PATTERN)
    min_kwh: Decimal | None = Field(default=None, ge=0)
    max_kwh: Decimal | None = Field(default=None, ge=0)
    min_current: Decimal | None = None
    max_current: Decimal | None = None
    min_power: Decimal | None = None
    max_power: Decimal | None = None
    min_duration: int | None = Field(default=None, ge=0)
    max_duration: int | None = Field(default=None, ge=0)
    day_of_week: list[DayOfWeek] | None = None
    reservation: ReservationRestrictionType | None = None


class TariffElement(_Model):
    price_components: list[PriceComponent] = Field(min_length=1)
    restrictions: TariffRestrictions | None = None

    @model_validator(mode="after")
    def _reservation_dimensions(self) -> TariffElement:
        # mod_tariffs: "A reservation can only have: FLAT and TIME TariffDimensions".
        if self.restrictions is not None and self.restrictions.reservation is not None:
            bad = {c.type for c in self.price_components} - {
                TariffDimensionType.FLAT,
                TariffDimensionType.TIME,
            }
            if bad:
                raise ValueError(
                    f"a reservation tariff element can only price FLAT and TIME, not {sorted(bad)}"
                )
        return self


class Tariff(_Model):
    """OCPI 2.2.1 Tariff object (``last_updated`` optional: the spec's own PUT example omits it)."""

    country_code: str = Field(min_length=2, max_length=2)
    party_id: str = Field(min_length=1, max_length=3)
    id: str = Field(min_length=1, max_length=36)
    currency: str = Field(min_length=3, max_length=3)
    type: TariffType | None = None
    tariff_alt_text: list[DisplayText] = Field(default_factory=list)
    tariff_alt_url: str | None = None
    min_price: Price | None = None
    max_price: Price | None = None
    elements: list[TariffElement] = Field(min_length=1)
    start_date_time: datetime | None = None
    end_date_time: datetime | None = None
    energy_mix: dict[str, Any] | None = None
    last_updated: datetime | None = None

    @field_validator("start_date_time", "end_date_time", "last_updated")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else _as_utc(value)


class CdrDimension(_Model):
    type: CdrDimensionType
    volume: Decimal


class ChargingPeriod(_Model):
    """A period starts at ``start_date_time`` and ends when the next one starts (the last one: at the
    session end). Volumes: ENERGY in kWh, TIME / PARKING_TIME / RESERVATION_TIME in hours, currents in A,
    powers in kW."""

    start_date_time: datetime
    dimensions: list[CdrDimension] = Field(min_length=1)
    tariff_id: str | None = None

    @field_validator("start_date_time")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return _as_utc(value)


class Cdr(_Model):
    """The part of an OCPI CDR the tariff engine reads; everything else is ignored."""

    id: str | None = None
    start_date_time: datetime | None = None
    end_date_time: datetime | None = None
    currency: str | None = None
    tariffs: list[Tariff] = Field(default_factory=list)
    charging_periods: list[ChargingPeriod] = Field(min_length=1)
    total_cost: Price | None = None
    time_zone: str | None = None
    """Not an OCPI 2.2.1 CDR field; read when a producer adds it (also from ``cdr_location.time_zone``)."""

    @field_validator("start_date_time", "end_date_time")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else _as_utc(value)

    @model_validator(mode="before")
    @classmethod
    def _location_time_zone(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("time_zone") is None:
            location = data.get("cdr_location")
            if isinstance(location, dict) and isinstance(location.get("time_zone"), str):
                return {**data, "time_zone": location["time_zone"]}
        return data
