"""In-memory twin of the site repository, with the same atomicity and conditions as the DynamoDB one."""

from __future__ import annotations

import base64
import binascii
from dataclasses import replace
from datetime import datetime

from voltway.sites.errors import InvalidSiteCursor, SiteNotFound
from voltway.sites.model import Placement, Site, SiteDetails, SitePage


class InMemorySiteRepository:
    def __init__(self) -> None:
        self.sites: dict[tuple[str, str], Site] = {}
        self.placed_at: dict[tuple[str, str], str] = {}  # (tenant, charge point) -> site id
        self.versions: dict[str, int] = {}

    def _bump(self, tenant_id: str) -> None:
        self.versions[tenant_id] = self.versions.get(tenant_id, 0) + 1

    def get(self, tenant_id: str, site_id: str) -> Site | None:
        return self.sites.get((tenant_id, site_id))

    def save_details(self, tenant_id: str, site_id: str, details: SiteDetails, now: datetime) -> Site:
        existing = self.sites.get((tenant_id, site_id))
        if existing is None:
            site = Site(tenant_id, site_id, details, {}, now, now, 1)
        else:
            site = replace(existing, details=details, updated_at=now, version=existing.version + 1)
        self.sites[(tenant_id, site_id)] = site
        self._bump(tenant_id)
        return site

    def list_sites(self, tenant_id: str, limit: int, cursor: str | None) -> SitePage:
        try:
            after = base64.urlsafe_b64decode(cursor.encode()).decode() if cursor else ""
        except (binascii.Error, UnicodeDecodeError) as e:
            raise InvalidSiteCursor("invalid cursor") from e
        ids = sorted(s for (t, s) in self.sites if t == tenant_id and s > after)
        page = ids[:limit]
        more = len(ids) > limit and page
        next_cursor = base64.urlsafe_b64encode(page[-1].encode()).decode() if more else None
        return SitePage([self.sites[(tenant_id, s)] for s in page], next_cursor)

    def place_charger(self, tenant_id: str, site_id: str, placement: Placement, now: datetime) -> Site:
        site = self.sites.get((tenant_id, site_id))
        if site is None:
            raise SiteNotFound(site_id)
        cp = placement.charge_point_id
        previous = self.placed_at.get((tenant_id, cp))
        if previous is not None and previous != site_id:
            old = self.sites[(tenant_id, previous)]
            chargers = {k: v for k, v in old.chargers.items() if k != cp}
            self.sites[(tenant_id, previous)] = replace(
                old, chargers=chargers, updated_at=now, version=old.version + 1
            )
        site = replace(
            site, chargers={**site.chargers, cp: placement}, updated_at=now, version=site.version + 1
        )
        self.sites[(tenant_id, site_id)] = site
        self.placed_at[(tenant_id, cp)] = site_id
        self._bump(tenant_id)
        return site

    def remove_charger(self, tenant_id: str, site_id: str, charge_point_id: str, now: datetime) -> Site:
        site = self.sites.get((tenant_id, site_id))
        if site is None or charge_point_id not in site.chargers:
            raise SiteNotFound(f"{site_id}/{charge_point_id}")
        chargers = {k: v for k, v in site.chargers.items() if k != charge_point_id}
        site = replace(site, chargers=chargers, updated_at=now, version=site.version + 1)
        self.sites[(tenant_id, site_id)] = site
        self.placed_at.pop((tenant_id, charge_point_id), None)
        self._bump(tenant_id)
        return site

    def index_version(self, tenant_id: str) -> int:
        return self.versions.get(tenant_id, 0)

    def all_sites(self, tenant_id: str) -> list[Site]:
        return [s for (t, _), s in sorted(self.sites.items()) if t == tenant_id]
