"""Operators' site catalog: create/update sites, place chargers at sites with their connectors."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from voltway.observability import count
from voltway.sites.errors import SiteConflict, SiteNotFound
from voltway.sites.model import ConnectorSpec, Placement, Site, SiteDetails, SitePage
from voltway.sites.ports import ChargerLookup, SiteRepository

Clock = Callable[[], datetime]


class SiteCatalog:
    def __init__(self, sites: SiteRepository, chargers: ChargerLookup, clock: Clock | None = None) -> None:
        self._sites = sites
        self._chargers = chargers
        self._clock: Clock = clock or (lambda: datetime.now(UTC))

    def put_site(self, tenant_id: str, site_id: str, details: SiteDetails) -> Site:
        site = self._sites.save_details(tenant_id, site_id, details, self._clock())
        count("SiteSaved")
        return site

    def get_site(self, tenant_id: str, site_id: str) -> Site:
        site = self._sites.get(tenant_id, site_id)
        if site is None:
            raise SiteNotFound(site_id)
        return site

    def list_sites(self, tenant_id: str, limit: int, cursor: str | None) -> SitePage:
        return self._sites.list_sites(tenant_id, limit, cursor)

    def place_charger(
        self, tenant_id: str, site_id: str, charge_point_id: str, connectors: Sequence[ConnectorSpec]
    ) -> Site:
        """Place the tenant's charger at the site (moving it from another site). ``ChargerNotFound``
        for another tenant's charger, ``SiteNotFound`` for an unknown site."""
        ids = [c.connector_id for c in connectors]
        if len(set(ids)) != len(ids):
            raise SiteConflict("each connector_id may appear once")
        self._chargers.get(tenant_id, charge_point_id)
        placement = Placement(charge_point_id, tuple(sorted(connectors, key=lambda c: c.connector_id)))
        site = self._sites.place_charger(tenant_id, site_id, placement, self._clock())
        count("ChargerPlaced")
        return site

    def remove_charger(self, tenant_id: str, site_id: str, charge_point_id: str) -> Site:
        return self._sites.remove_charger(tenant_id, site_id, charge_point_id, self._clock())
