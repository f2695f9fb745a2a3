"""Ports of the sites context. Adapters: ``voltway.sites.dynamo`` (DynamoDB) and ``voltway.sites.memory``."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from voltway.chargers.model import Charger
from voltway.sites.model import Placement, Site, SiteDetails, SitePage


class SiteRepository(Protocol):
    """Sites of a tenant. Every write also bumps the tenant's station index version, atomically, so
    readers that cache the index notice the change with one key lookup."""

    def get(self, tenant_id: str, site_id: str) -> Site | None: ...

    def save_details(self, tenant_id: str, site_id: str, details: SiteDetails, now: datetime) -> Site:
        """Create the site or replace its details; its chargers are kept."""
        ...

    def list_sites(self, tenant_id: str, limit: int, cursor: str | None) -> SitePage:
        """Sites ordered by id; ``cursor`` is what the previous page returned (``InvalidSiteCursor``)."""
        ...

    def place_charger(self, tenant_id: str, site_id: str, placement: Placement, now: datetime) -> Site:
        """Put the charger at ``site_id``, moving it from any other site of the tenant in the same
        atomic write. ``SiteNotFound`` if the site does not exist."""
        ...

    def remove_charger(self, tenant_id: str, site_id: str, charge_point_id: str, now: datetime) -> Site:
        """``SiteNotFound`` unless the charger is placed at this site."""
        ...

    def index_version(self, tenant_id: str) -> int:
        """A number that changes with every site write of the tenant (0: never written)."""
        ...

    def all_sites(self, tenant_id: str) -> list[Site]:
        """Every site of the tenant (the station index is built from these)."""
        ...


class ChargerLookup(Protocol):
    """The chargers domain as the sites context needs it (``ChargerRegistry`` satisfies it)."""

    def get(self, tenant_id: str, charge_point_id: str) -> Charger:
        """The caller's tenant's charger, else ``ChargerNotFound``."""
        ...
