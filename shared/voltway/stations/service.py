"""Station search for drivers: static data from a cached per-tenant index, live status read fresh.

The index is rebuilt when the tenant's index version (one consistent key lookup per search) differs
from the cached one, so an operator's change shows on the next search; ``max_age`` bounds how long an
index may be trusted at all. Connector status is never cached: every search reads the chargers it is
about to return (batched key lookups), so a StatusNotification shows as soon as the OCPP path wrote it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from voltway.observability import count
from voltway.sites.errors import InvalidSiteCursor, SiteNotFound
from voltway.sites.model import Site
from voltway.stations.geo import haversine_km
from voltway.stations.index import Entry, SortKey, StationIndex, connector_matches
from voltway.stations.model import (
    ChargerLive,
    ConnectorView,
    LiveStatus,
    Station,
    StationPage,
    StationQuery,
)
from voltway.stations.ports import LiveStatusSource, SiteSource

Monotonic = Callable[[], float]
_WHOLE_CHARGER_DOWN = {LiveStatus.UNAVAILABLE.value, LiveStatus.FAULTED.value}
LIVE_BATCH = 100  # chargers per live-status read (DynamoDB BatchGetItem's limit)


def effective_status(live: ChargerLive | None, connector_id: int) -> LiveStatus:
    if live is None or not live.online:
        return LiveStatus.OFFLINE
    if not live.enabled:
        return LiveStatus.UNAVAILABLE
    whole = live.connectors.get(0)
    if whole in _WHOLE_CHARGER_DOWN:
        return LiveStatus(whole)
    status = live.connectors.get(connector_id)
    try:
        return LiveStatus(status) if status is not None else LiveStatus.UNKNOWN
    except ValueError:
        return LiveStatus.UNKNOWN


def connector_views(site: Site, live: dict[str, ChargerLive]) -> tuple[ConnectorView, ...]:
    return tuple(
        ConnectorView(
            cp,
            spec.connector_id,
            spec.type,
            spec.max_power_kw,
            effective_status(live.get(cp), spec.connector_id),
        )
        for cp, placement in sorted(site.chargers.items())
        for spec in placement.connectors
    )


def _fingerprint(query: StationQuery) -> str:
    parts = [
        query.tenant_id,
        query.near,
        query.radius_km,
        query.text,
        query.connector_type,
        query.min_power_kw,
        query.available_only,
    ]
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


def encode_cursor(key: SortKey, query: StationQuery) -> str:
    raw = json.dumps({"k": list(key), "f": _fingerprint(query)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_cursor(cursor: str | None, query: StationQuery) -> SortKey | None:
    if not cursor:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        metres, site_id = value["k"]
        fingerprint = value["f"]
    except (binascii.Error, ValueError, TypeError, KeyError) as e:
        raise InvalidSiteCursor("invalid cursor") from e
    if fingerprint != _fingerprint(query) or not isinstance(metres, int) or not isinstance(site_id, str):
        raise InvalidSiteCursor("the cursor belongs to another query")
    return metres, site_id


@dataclass(slots=True)
class _Cached:
    index: StationIndex
    loaded_at: float


class StationSearch:
    def __init__(
        self,
        sites: SiteSource,
        live: LiveStatusSource,
        *,
        max_age_seconds: float = 300.0,
        monotonic: Monotonic = time.monotonic,
    ) -> None:
        self._sites = sites
        self._live = live
        self._max_age = max_age_seconds
        self._monotonic = monotonic
        self._cache: dict[str, _Cached] = {}
        self._lock = threading.Lock()

    def index(self, tenant_id: str) -> StationIndex:
        version = self._sites.index_version(tenant_id)
        now = self._monotonic()
        cached = self._cache.get(tenant_id)
        if cached is not None and cached.index.version == version and now - cached.loaded_at < self._max_age:
            return cached.index
        with self._lock:
            index = StationIndex(self._sites.all_sites(tenant_id), version)
            self._cache[tenant_id] = _Cached(index, now)
        count("StationIndexLoaded")
        return index

    def _live_for(self, tenant_id: str, entries: Sequence[Entry]) -> dict[str, ChargerLive]:
        ids = sorted({cp for e in entries for cp in e.site.chargers})
        live: dict[str, ChargerLive] = {}
        for start in range(0, len(ids), LIVE_BATCH):
            live.update(self._live.live(tenant_id, ids[start : start + LIVE_BATCH]))
        return live

    def search(self, query: StationQuery, cursor: str | None = None) -> StationPage:
        """Up to ``query.limit`` stations in distance order (site id order without a point)."""
        after = decode_cursor(cursor, query)
        candidates = self.index(query.tenant_id).candidates(query, after)
        found: list[tuple[SortKey, Station]] = []
        chunk = query.limit + 1
        while len(found) <= query.limit:
            batch = list(itertools.islice(candidates, chunk))
            if not batch:
                break
            live = self._live_for(query.tenant_id, [e for _, e in batch])
            for key, entry in batch:
                views = connector_views(entry.site, live)
                if query.available_only and not any(
                    v.available and connector_matches_view(v, query) for v in views
                ):
                    continue
                distance = key[0] / 1000 if query.near is not None else None
                found.append((key, Station(entry.site, distance, views)))
            chunk = min(chunk * 2, 400)  # sparse availability: read further ahead each round
        page = found[: query.limit]
        next_cursor = encode_cursor(page[-1][0], query) if len(found) > query.limit else None
        return StationPage([s for _, s in page], next_cursor)

    def station(self, tenant_id: str, site_id: str, near: tuple[float, float] | None = None) -> Station:
        site = self._sites.get(tenant_id, site_id)
        if site is None:
            raise SiteNotFound(site_id)
        live = self._live.live(tenant_id, sorted(site.chargers))
        distance = None
        if near is not None:
            c = site.details.coordinates
            distance = round(haversine_km(near[0], near[1], c.lat, c.lon), 3)
        return Station(site, distance, connector_views(site, live))


def connector_matches_view(view: ConnectorView, query: StationQuery) -> bool:
    if query.connector_type is not None and view.type is not query.connector_type:
        return False
    return query.min_power_kw is None or view.max_power_kw >= query.min_power_kw


__all__ = ["StationSearch", "connector_matches", "effective_status"]
