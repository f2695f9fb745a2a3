"""DynamoDB adapter of live status: BatchGetItem on the chargers table, projected to what search needs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from voltway.stations.model import ChargerLive

_FIELDS = ("charge_point_id", "tenant_id", "online", "enabled", "connectors")
_PROJECTION = ", ".join(f"#f{i}" for i in range(len(_FIELDS)))  # 'online' is a reserved word
_NAMES = {f"#f{i}": name for i, name in enumerate(_FIELDS)}


class DynamoLiveStatus:
    def __init__(self, client: Any, chargers_table: str) -> None:
        self._db = client
        self._table = chargers_table

    def live(self, tenant_id: str, charge_point_ids: Sequence[str]) -> dict[str, ChargerLive]:
        result: dict[str, ChargerLive] = {}
        pending: dict[str, Any] = {
            self._table: {
                "Keys": [{"charge_point_id": {"S": cp}} for cp in charge_point_ids],
                "ProjectionExpression": _PROJECTION,
                "ExpressionAttributeNames": _NAMES,
            }
        }
        if not charge_point_ids:
            return result
        for _ in range(5):  # unprocessed keys come back under throttling: retry them a few times
            response = self._db.batch_get_item(RequestItems=pending)
            for item in response.get("Responses", {}).get(self._table, []):
                if item.get("tenant_id", {}).get("S") != tenant_id:
                    continue
                statuses = {
                    int(cid): str(value["M"]["status"]["S"])
                    for cid, value in item.get("connectors", {}).get("M", {}).items()
                    if "status" in value.get("M", {})
                }
                result[item["charge_point_id"]["S"]] = ChargerLive(
                    online=bool(item.get("online", {}).get("BOOL", False)),
                    enabled=bool(item.get("enabled", {}).get("BOOL", True)),
                    connectors=statuses,
                )
            pending = response.get("UnprocessedKeys") or {}
            if not pending:
                break
        return result
