"""The in-process station index of one tenant: static site data arranged for geo and text search.

Built from every site of the tenant (10,000 sites build in tens of ms) and reused while the tenant's
index version is unchanged. Geo search narrows by a latitude band (bisect on sorted latitudes), then
by longitude span, then by exact great-circle distance.
"""

from __future__ import annotations

import bisect
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from voltway.sites.model import ConnectorSpec, Site
from voltway.stations.geo import KM_PER_DEGREE_LAT, haversine_km, lon_span_degrees
from voltway.stations.model import StationQuery

SortKey = tuple[int, str]  # (distance in metres, or 0 without a point; site id)


def normalize(text: str) -> str:
    """Lower case without accents: 'Zürich Hbf' and 'zurich hbf' match."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@dataclass(frozen=True, slots=True)
class Entry:
    site: Site
    lat: float
    lon: float
    text: str
    connectors: tuple[tuple[str, ConnectorSpec], ...]

    def matches_connector(self, query: StationQuery) -> bool:
        if query.connector_type is None and query.min_power_kw is None:
            return True
        return any(connector_matches(spec, query) for _, spec in self.connectors)


def connector_matches(spec: ConnectorSpec, query: StationQuery) -> bool:
    if query.connector_type is not None and spec.type is not query.connector_type:
        return False
    return query.min_power_kw is None or spec.max_power_kw >= query.min_power_kw


class StationIndex:
    def __init__(self, sites: Iterable[Site], version: int = 0) -> None:
        self.version = version
        entries = []
        for site in sites:
            d = site.details
            connectors = tuple(
                (cp, spec) for cp, placement in sorted(site.chargers.items()) for spec in placement.connectors
            )
            text = normalize(f"{d.name} {d.address} {d.city}")
            entries.append(Entry(site, d.coordinates.lat, d.coordinates.lon, text, connectors))
        self._by_id = sorted(entries, key=lambda e: e.site.site_id)
        self._ids = [e.site.site_id for e in self._by_id]
        entries.sort(key=lambda e: e.lat)
        self._entries = entries
        self._lats = [e.lat for e in entries]

    def __len__(self) -> int:
        return len(self._entries)

    def _near(self, query: StationQuery) -> list[tuple[SortKey, Entry]]:
        assert query.near is not None and query.radius_km is not None
        lat, lon, radius = query.near.lat, query.near.lon, query.radius_km
        band = radius / KM_PER_DEGREE_LAT
        lo = bisect.bisect_left(self._lats, lat - band)
        hi = bisect.bisect_right(self._lats, lat + band)
        span = lon_span_degrees(lat, radius)
        found = []
        for entry in self._entries[lo:hi]:
            dlon = abs((entry.lon - lon + 180.0) % 360.0 - 180.0)  # across the antimeridian too
            if dlon > span:
                continue
            distance = haversine_km(lat, lon, entry.lat, entry.lon)
            if distance <= radius:
                found.append(((round(distance * 1000), entry.site.site_id), entry))
        return found

    def candidates(
        self, query: StationQuery, after: SortKey | None = None
    ) -> Iterator[tuple[SortKey, Entry]]:
        """Entries that pass the static filters, lazily, in result order, strictly after ``after``."""
        words = normalize(query.text).split() if query.text else []

        def keep(entry: Entry) -> bool:
            return all(w in entry.text for w in words) and entry.matches_connector(query)

        if query.near is not None and query.radius_km is not None:
            found = [(k, e) for k, e in self._near(query) if (after is None or k > after) and keep(e)]
            found.sort(key=lambda pair: pair[0])
            yield from found
            return
        # Without a point: site id order, already sorted, so a page stops early (no per-query sort).
        start = 0
        if after is not None:
            start = bisect.bisect_right(self._ids, after[1])
        for entry in self._by_id[start:]:
            if keep(entry):
                yield (0, entry.site.site_id), entry
