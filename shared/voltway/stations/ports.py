"""Ports of station search. Adapters: ``voltway.stations.dynamo`` and ``voltway.stations.memory``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from voltway.sites.model import Site
from voltway.stations.model import ChargerLive


class SiteSource(Protocol):
    """Static station data (``SiteRepository`` satisfies it)."""

    def get(self, tenant_id: str, site_id: str) -> Site | None: ...

    def index_version(self, tenant_id: str) -> int: ...

    def all_sites(self, tenant_id: str) -> list[Site]: ...


class LiveStatusSource(Protocol):
    def live(self, tenant_id: str, charge_point_ids: Sequence[str]) -> dict[str, ChargerLive]:
        """Live state of the tenant's chargers among ``charge_point_ids``, read now (never cached):
        the OCPP path writes it. Unknown ids and other tenants' chargers are absent."""
        ...
