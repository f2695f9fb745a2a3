"""The site entity. Coordinates are WGS-84 degrees, power is kW, times are timezone-aware UTC."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class ConnectorType(StrEnum):
    """Plug/socket standards, named as OCPI 2.2.1 ``ConnectorType`` names them."""

    CHADEMO = "CHADEMO"
    CHAOJI = "CHAOJI"
    DOMESTIC_A = "DOMESTIC_A"
    DOMESTIC_B = "DOMESTIC_B"
    DOMESTIC_C = "DOMESTIC_C"
    DOMESTIC_D = "DOMESTIC_D"
    DOMESTIC_E = "DOMESTIC_E"
    DOMESTIC_F = "DOMESTIC_F"
    DOMESTIC_G = "DOMESTIC_G"
    DOMESTIC_H = "DOMESTIC_H"
    DOMESTIC_I = "DOMESTIC_I"
    DOMESTIC_J = "DOMESTIC_J"
    DOMESTIC_K = "DOMESTIC_K"
    DOMESTIC_L = "DOMESTIC_L"
    DOMESTIC_M = "DOMESTIC_M"
    DOMESTIC_N = "DOMESTIC_N"
    DOMESTIC_O = "DOMESTIC_O"
    GBT_AC = "GBT_AC"
    GBT_DC = "GBT_DC"
    IEC_60309_2_single_16 = "IEC_60309_2_single_16"
    IEC_60309_2_three_16 = "IEC_60309_2_three_16"
    IEC_60309_2_three_32 = "IEC_60309_2_three_32"
    IEC_60309_2_three_64 = "IEC_60309_2_three_64"
    IEC_62196_T1 = "IEC_62196_T1"
    IEC_62196_T1_COMBO = "IEC_62196_T1_COMBO"
    IEC_62196_T2 = "IEC_62196_T2"
    IEC_62196_T2_COMBO = "IEC_62196_T2_COMBO"
    IEC_62196_T3A = "IEC_62196_T3A"
    IEC_62196_T3C = "IEC_62196_T3C"
    NEMA_5_20 = "NEMA_5_20"
    NEMA_6_30 = "NEMA_6_30"
    NEMA_6_50 = "NEMA_6_50"
    NEMA_10_30 = "NEMA_10_30"
    NEMA_10_50 = "NEMA_10_50"
    NEMA_14_30 = "NEMA_14_30"
    NEMA_14_50 = "NEMA_14_50"
    PANTOGRAPH_BOTTOM_UP = "PANTOGRAPH_BOTTOM_UP"
    PANTOGRAPH_TOP_DOWN = "PANTOGRAPH_TOP_DOWN"
    TESLA_R = "TESLA_R"
    TESLA_S = "TESLA_S"


@dataclass(frozen=True, slots=True)
class ConnectorSpec:
    """One physical connector of a charger (OCPP ``connectorId`` ≥ 1) and its maximum power in kW."""

    connector_id: int
    type: ConnectorType
    max_power_kw: float


@dataclass(frozen=True, slots=True)
class Placement:
    """A charger placed at a site, with the connector metadata drivers filter on."""

    charge_point_id: str
    connectors: tuple[ConnectorSpec, ...]


@dataclass(frozen=True, slots=True)
class Coordinates:
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class RegularHours:
    """Open on ``weekday`` (1 = Monday … 7 = Sunday, as OCPI) from ``period_begin`` to ``period_end``
    (``HH:MM`` local time of the site)."""

    weekday: int
    period_begin: str
    period_end: str


@dataclass(frozen=True, slots=True)
class OpeningHours:
    twentyfourseven: bool
    regular_hours: tuple[RegularHours, ...] = ()


@dataclass(frozen=True, slots=True)
class SiteDetails:
    """What an operator sets for a site. ``time_zone`` is an IANA name; ``grid_limit_kw`` the grid
    connection's limit in kW."""

    name: str
    address: str
    city: str
    country: str
    coordinates: Coordinates
    time_zone: str
    grid_limit_kw: float
    opening_hours: OpeningHours | None = None


@dataclass(frozen=True, slots=True)
class Site:
    tenant_id: str
    site_id: str
    details: SiteDetails
    chargers: dict[str, Placement] = field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    version: int = 1


@dataclass(frozen=True, slots=True)
class SitePage:
    items: list[Site]
    cursor: str | None
