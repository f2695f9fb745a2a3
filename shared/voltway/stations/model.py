"""Search queries and results. Distances in km, power in kW, coordinates in WGS-84 degrees."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from voltway.sites.model import ConnectorType, Coordinates, Site


class LiveStatus(StrEnum):
    """A connector's status as drivers see it: OCPP 1.6 ``ChargePointStatus`` plus two of our own."""

    AVAILABLE = "Available"
    PREPARING = "Preparing"
    CHARGING = "Charging"
    SUSPENDED_EVSE = "SuspendedEVSE"
    SUSPENDED_EV = "SuspendedEV"
    FINISHING = "Finishing"
    RESERVED = "Reserved"
    UNAVAILABLE = "Unavailable"
    FAULTED = "Faulted"
    OFFLINE = "Offline"  # the charger is not connected
    UNKNOWN = "Unknown"  # connected, but no StatusNotification for this connector yet


@dataclass(frozen=True, slots=True)
class ChargerLive:
    """What the OCPP path stored on the charger item: connection and last StatusNotification per
    connector (connector 0 = the whole charger)."""

    online: bool
    enabled: bool
    connectors: dict[int, str]


@dataclass(frozen=True, slots=True)
class ConnectorView:
    charge_point_id: str
    connector_id: int
    type: ConnectorType
    max_power_kw: float
    status: LiveStatus

    @property
    def available(self) -> bool:
        return self.status is LiveStatus.AVAILABLE


@dataclass(frozen=True, slots=True)
class Station:
    site: Site
    distance_km: float | None
    connectors: tuple[ConnectorView, ...]


@dataclass(frozen=True, slots=True)
class StationQuery:
    """``near`` + ``radius_km`` bound the search; ``text`` matches every word in name/address/city;
    the connector filters apply to one connector (type AND power AND, if asked, availability)."""

    tenant_id: str
    near: Coordinates | None = None
    radius_km: float | None = None
    text: str | None = None
    connector_type: ConnectorType | None = None
    min_power_kw: float | None = None
    available_only: bool = False
    limit: int = 20


@dataclass(frozen=True, slots=True)
class StationPage:
    items: list[Station]
    cursor: str | None
