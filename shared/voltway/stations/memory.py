"""In-memory live status: reads the chargers domain's repository (its in-memory twin in tests)."""

from __future__ import annotations

from collections.abc import Sequence

from voltway.chargers.ports import ChargerRepository
from voltway.stations.model import ChargerLive


class RepositoryLiveStatus:
    def __init__(self, chargers: ChargerRepository) -> None:
        self._chargers = chargers

    def live(self, tenant_id: str, charge_point_ids: Sequence[str]) -> dict[str, ChargerLive]:
        result: dict[str, ChargerLive] = {}
        for cp in charge_point_ids:
            charger = self._chargers.get(cp)
            if charger is not None and charger.tenant_id == tenant_id:
                statuses = {cid: state.status for cid, state in charger.connectors.items()}
                result[cp] = ChargerLive(charger.online, charger.enabled, statuses)
        return result
