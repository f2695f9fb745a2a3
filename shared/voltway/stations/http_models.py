"""HTTP bodies of drivers' station search (pydantic): the query model validates the query string."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from voltway.sites.http_models import CoordinatesModel, OpeningHoursModel, opening_hours_view
from voltway.sites.model import ConnectorType, Coordinates
from voltway.stations.model import LiveStatus, Station, StationQuery

DEFAULT_RADIUS_KM = 25.0


class StationSearchParams(BaseModel):
    """The query string of ``GET /v1/stations``."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    radius_km: float | None = Field(default=None, gt=0, le=500, description=f"default {DEFAULT_RADIUS_KM}")
    q: str | None = Field(
        default=None, min_length=1, max_length=100, description="words in name/address/city"
    )
    connector_type: ConnectorType | None = None
    min_power_kw: float | None = Field(default=None, ge=0, le=2000)
    available: bool = Field(default=False, description="only stations with a matching Available connector")
    cursor: str | None = Field(default=None, max_length=2048)
    limit: int = Field(default=20, ge=1, le=50)

    @model_validator(mode="after")
    def _point(self) -> StationSearchParams:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("give lat and lon together")
        if self.radius_km is not None and self.lat is None:
            raise ValueError("radius_km needs lat and lon")
        return self

    def to_query(self, tenant_id: str) -> StationQuery:
        near = Coordinates(self.lat, self.lon) if self.lat is not None and self.lon is not None else None
        return StationQuery(
            tenant_id=tenant_id,
            near=near,
            radius_km=(self.radius_km or DEFAULT_RADIUS_KM) if near else None,
            text=self.q,
            connector_type=self.connector_type,
            min_power_kw=self.min_power_kw,
            available_only=self.available,
            limit=self.limit,
        )


class StationDetailParams(BaseModel):
    """The query string of ``GET /v1/stations/{siteId}``: a point gives the distance."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)

    @model_validator(mode="after")
    def _point(self) -> StationDetailParams:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("give lat and lon together")
        return self


class StationConnectorView(BaseModel):
    charge_point_id: str
    connector_id: int
    type: ConnectorType
    max_power_kw: float
    status: LiveStatus = Field(description="live: the charger's last StatusNotification, or Offline")
    available: bool


class StationView(BaseModel):
    site_id: str
    name: str
    address: str
    city: str
    country: str
    coordinates: CoordinatesModel
    time_zone: str
    opening_hours: OpeningHoursModel | None
    distance_km: float | None = Field(description="from the given point; null without one")
    max_power_kw: float | None
    connector_types: list[ConnectorType]
    total_connectors: int
    available_connectors: int
    connectors: list[StationConnectorView]

    @classmethod
    def of(cls, station: Station) -> StationView:
        site, d = station.site, station.site.details
        views = station.connectors
        return cls(
            site_id=site.site_id,
            name=d.name,
            address=d.address,
            city=d.city,
            country=d.country,
            coordinates=CoordinatesModel(lat=d.coordinates.lat, lon=d.coordinates.lon),
            time_zone=d.time_zone,
            opening_hours=opening_hours_view(d.opening_hours),
            distance_km=station.distance_km,
            max_power_kw=max((v.max_power_kw for v in views), default=None),
            connector_types=sorted({v.type for v in views}),
            total_connectors=len(views),
            available_connectors=sum(1 for v in views if v.available),
            connectors=[
                StationConnectorView(
                    charge_point_id=v.charge_point_id,
                    connector_id=v.connector_id,
                    type=v.type,
                    max_power_kw=v.max_power_kw,
                    status=v.status,
                    available=v.available,
                )
                for v in views
            ],
        )


class StationPageView(BaseModel):
    items: list[StationView]
    next_cursor: str | None = Field(description="opaque; pass as ?cursor= with the same filters")
