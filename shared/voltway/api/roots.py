"""Composition root of the sites and stations routes (built once per process, like ``cached_api``)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import Field

from voltway.adapters.aws import client
from voltway.adapters.roots import cached_api
from voltway.config import AwsSettings
from voltway.sites.dynamo import DynamoSiteRepository
from voltway.sites.service import SiteCatalog
from voltway.stations.dynamo import DynamoLiveStatus
from voltway.stations.service import StationSearch


class SitesSettings(AwsSettings):
    chargers_table: str
    sites_table: str
    # Upper bound on trusting a cached station index; changes show at once through the index version.
    station_index_max_age_seconds: int = Field(default=300, ge=1)


@dataclass(frozen=True, slots=True)
class SitesRoot:
    catalog: SiteCatalog
    search: StationSearch


def sites_root(environ: Mapping[str, str] | None = None) -> SitesRoot:
    settings = SitesSettings.from_env(environ)
    dynamodb = client("dynamodb", region=settings.aws_region, endpoint_url=settings.aws_endpoint_url)
    sites = DynamoSiteRepository(dynamodb, settings.sites_table)
    return SitesRoot(
        SiteCatalog(sites, cached_api().chargers),
        StationSearch(
            sites,
            DynamoLiveStatus(dynamodb, settings.chargers_table),
            max_age_seconds=settings.station_index_max_age_seconds,
        ),
    )


cached_sites_root = functools.cache(sites_root)
