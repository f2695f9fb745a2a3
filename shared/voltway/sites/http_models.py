"""HTTP bodies of the operators' site API (pydantic): requests validate, responses document."""

from __future__ import annotations

import re
import zoneinfo
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from voltway.sites.model import (
    ConnectorSpec,
    ConnectorType,
    Coordinates,
    OpeningHours,
    RegularHours,
    Site,
    SiteDetails,
)

SITE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$"
_IANA = re.compile(r"^(UTC|[A-Z][A-Za-z_\-]+(/[A-Za-z0-9_\-+]+){1,2})$")
_HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


def _strict() -> ConfigDict:
    return ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class CoordinatesModel(BaseModel):
    model_config = _strict()

    lat: float = Field(ge=-90, le=90, description="WGS-84 latitude in degrees")
    lon: float = Field(ge=-180, le=180, description="WGS-84 longitude in degrees")


class RegularHoursModel(BaseModel):
    model_config = _strict()

    weekday: int = Field(ge=1, le=7, description="1 = Monday … 7 = Sunday")
    period_begin: str = Field(pattern=_HHMM, description="HH:MM, the site's local time")
    period_end: str = Field(pattern=r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$")

    @model_validator(mode="after")
    def _ordered(self) -> RegularHoursModel:
        if self.period_end <= self.period_begin:
            raise ValueError("period_end must be after period_begin")
        return self


class OpeningHoursModel(BaseModel):
    model_config = _strict()

    twentyfourseven: bool
    regular_hours: list[RegularHoursModel] = Field(default_factory=list, max_length=70)

    @model_validator(mode="after")
    def _consistent(self) -> OpeningHoursModel:
        if self.twentyfourseven == bool(self.regular_hours):
            raise ValueError("give regular_hours exactly when twentyfourseven is false")
        return self


class PutSiteRequest(BaseModel):
    model_config = _strict()

    name: str = Field(min_length=1, max_length=120)
    address: str = Field(min_length=1, max_length=200)
    city: str = Field(min_length=1, max_length=100)
    country: str = Field(pattern=r"^[A-Z]{2,3}$", description="ISO 3166-1 alpha-2 or alpha-3")
    coordinates: CoordinatesModel
    time_zone: str = Field(max_length=64, description="IANA time zone, e.g. Europe/Berlin")
    grid_limit_kw: float = Field(gt=0, le=100_000, description="grid connection limit in kW")
    opening_hours: OpeningHoursModel | None = None

    @field_validator("time_zone")
    @classmethod
    def _iana(cls, value: str) -> str:
        if not _IANA.match(value):
            raise ValueError("not an IANA time zone name")
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as e:
            raise ValueError("unknown IANA time zone") from e
        return value

    def to_details(self) -> SiteDetails:
        hours = self.opening_hours
        return SiteDetails(
            name=self.name,
            address=self.address,
            city=self.city,
            country=self.country,
            coordinates=Coordinates(self.coordinates.lat, self.coordinates.lon),
            time_zone=self.time_zone,
            grid_limit_kw=self.grid_limit_kw,
            opening_hours=None
            if hours is None
            else OpeningHours(
                hours.twentyfourseven,
                tuple(RegularHours(r.weekday, r.period_begin, r.period_end) for r in hours.regular_hours),
            ),
        )


class ConnectorModel(BaseModel):
    model_config = _strict()

    connector_id: int = Field(ge=1, le=99, description="OCPP connectorId")
    type: ConnectorType = Field(description="OCPI 2.2.1 ConnectorType")
    max_power_kw: float = Field(gt=0, le=2000)


class PutSiteChargerRequest(BaseModel):
    model_config = _strict()

    connectors: list[ConnectorModel] = Field(min_length=1, max_length=16)

    def to_specs(self) -> list[ConnectorSpec]:
        return [ConnectorSpec(c.connector_id, c.type, c.max_power_kw) for c in self.connectors]


class PlacementView(BaseModel):
    charge_point_id: str
    connectors: list[ConnectorModel]


class SiteView(BaseModel):
    site_id: str
    name: str
    address: str
    city: str
    country: str
    coordinates: CoordinatesModel
    time_zone: str
    grid_limit_kw: float
    opening_hours: OpeningHoursModel | None
    chargers: list[PlacementView]
    created_at: datetime | None = Field(description="ISO-8601 UTC")
    updated_at: datetime | None = Field(description="ISO-8601 UTC")
    version: int

    @classmethod
    def of(cls, site: Site) -> SiteView:
        d = site.details
        return cls(
            site_id=site.site_id,
            name=d.name,
            address=d.address,
            city=d.city,
            country=d.country,
            coordinates=CoordinatesModel(lat=d.coordinates.lat, lon=d.coordinates.lon),
            time_zone=d.time_zone,
            grid_limit_kw=d.grid_limit_kw,
            opening_hours=opening_hours_view(d.opening_hours),
            chargers=[
                PlacementView(
                    charge_point_id=cp,
                    connectors=[
                        ConnectorModel(connector_id=c.connector_id, type=c.type, max_power_kw=c.max_power_kw)
                        for c in p.connectors
                    ],
                )
                for cp, p in sorted(site.chargers.items())
            ],
            created_at=site.created_at,
            updated_at=site.updated_at,
            version=site.version,
        )


def opening_hours_view(hours: OpeningHours | None) -> OpeningHoursModel | None:
    if hours is None:
        return None
    return OpeningHoursModel(
        twentyfourseven=hours.twentyfourseven,
        regular_hours=[
            RegularHoursModel(weekday=r.weekday, period_begin=r.period_begin, period_end=r.period_end)
            for r in hours.regular_hours
        ],
    )


class SitePageView(BaseModel):
    items: list[SiteView]
    next_cursor: str | None = Field(description="opaque; pass as ?cursor= for the next page")
