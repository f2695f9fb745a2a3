"""AlertsTable (DynamoDB). One item per (charger, kind, subject): pk ``<charger>#<kind>#<subject>``,
``occurrence`` counts how often it was opened. Every write is conditional and goes through
``voltway.adapters.conditional`` (a write the SDK retried after it landed stays ours).

- GSI ``by_tenant_status`` (``tenant_status`` = ``<tenant>#<status>``, ``raised_key``; ALL): the operators'
  listing per status, newest first — tenant-scoped by key.
- GSI ``unresolved`` (``open_kind`` = the kind while open or acknowledged, ``raised_key``; ALL; sparse): the
  monitor's sweep of offline alerts whose charger came back.
Resolved alerts carry a TTL (``expires_at``, 90 days after resolution).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from voltway.adapters.conditional import GuardedTable
from voltway.adapters.cursors import cursor_to_key, key_to_cursor
from voltway.alerts.model import Alert, AlertKey, AlertKind, AlertPage, AlertStatus
from voltway.chargers.errors import InvalidCursor

Item = dict[str, Any]
_KEEP_RESOLVED = timedelta(days=90)


def _s(value: str) -> Item:
    return {"S": value}


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _key(key: AlertKey) -> Item:
    return {"pk": _s(f"{key.charge_point_id}#{key.kind.value}#{key.subject}")}


def _to_alert(item: Item) -> Alert:
    def moment(name: str) -> datetime | None:
        return _time(item[name]["S"]) if name in item else None

    raised_at = moment("raised_at")
    assert raised_at is not None
    return Alert(
        key=AlertKey(item["charge_point_id"]["S"], AlertKind(item["kind"]["S"]), item["subject"]["S"]),
        tenant_id=item["tenant_id"]["S"],
        occurrence=int(item["occurrence"]["N"]),
        status=AlertStatus(item["status"]["S"]),
        raised_at=raised_at,
        details=json.loads(item["details"]["S"]) if "details" in item else {},
        acknowledged_at=moment("acknowledged_at"),
        acknowledged_by=item["acknowledged_by"]["S"] if "acknowledged_by" in item else None,
        resolved_at=moment("resolved_at"),
    )


class DynamoAlertStore:
    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table
        self._guarded = GuardedTable(client, table)

    def open(self, key: AlertKey, tenant_id: str, at: datetime, details: dict[str, Any]) -> Alert | None:
        item_key = _key(key)
        updated = self._guarded.update(
            item_key,
            "SET tenant_id = :t, charge_point_id = :cp, kind = :k, subject = :sub, #s = :open, "
            "tenant_status = :ts, open_kind = :k, raised_at = :at, raised_key = :rk, details = :d "
            "REMOVE acknowledged_at, acknowledged_by, resolved_at, expires_at ADD occurrence :one",
            "attribute_not_exists(pk) OR #s = :resolved",
            {"#s": "status"},
            {
                ":t": _s(tenant_id),
                ":cp": _s(key.charge_point_id),
                ":k": _s(key.kind.value),
                ":sub": _s(key.subject),
                ":open": _s(AlertStatus.OPEN.value),
                ":resolved": _s(AlertStatus.RESOLVED.value),
                ":ts": _s(f"{tenant_id}#{AlertStatus.OPEN.value}"),
                ":at": _s(_stamp(at)),
                ":rk": _s(f"{_stamp(at)}#{item_key['pk']['S']}"),
                ":d": _s(json.dumps(details, separators=(",", ":"), default=str)),
                ":one": {"N": "1"},
            },
        )
        return _to_alert(updated) if updated is not None else None

    def resolve(self, key: AlertKey, at: datetime) -> Alert | None:
        current = self.get(key)
        if current is None or current.status is AlertStatus.RESOLVED:
            return None
        updated = self._guarded.update(
            _key(key),
            "SET #s = :resolved, tenant_status = :ts, resolved_at = :at, expires_at = :exp REMOVE open_kind",
            "#s IN (:open, :ack) AND occurrence = :n",
            {"#s": "status"},
            {
                ":resolved": _s(AlertStatus.RESOLVED.value),
                ":open": _s(AlertStatus.OPEN.value),
                ":ack": _s(AlertStatus.ACKNOWLEDGED.value),
                ":ts": _s(f"{current.tenant_id}#{AlertStatus.RESOLVED.value}"),
                ":at": _s(_stamp(at)),
                ":exp": {"N": str(int((at + _KEEP_RESOLVED).timestamp()))},
                ":n": {"N": str(current.occurrence)},
            },
        )
        return _to_alert(updated) if updated is not None else None

    def acknowledge(
        self, key: AlertKey, occurrence: int, tenant_id: str, by: str, at: datetime
    ) -> Alert | None:
        updated = self._guarded.update(
            _key(key),
            "SET #s = :ack, tenant_status = :ts, acknowledged_at = :at, acknowledged_by = :by",
            "attribute_exists(pk) AND tenant_id = :t AND occurrence = :n AND #s = :open",
            {"#s": "status"},
            {
                ":ack": _s(AlertStatus.ACKNOWLEDGED.value),
                ":open": _s(AlertStatus.OPEN.value),
                ":ts": _s(f"{tenant_id}#{AlertStatus.ACKNOWLEDGED.value}"),
                ":at": _s(_stamp(at)),
                ":by": _s(by),
                ":t": _s(tenant_id),
                ":n": {"N": str(occurrence)},
            },
        )
        return _to_alert(updated) if updated is not None else None

    def get(self, key: AlertKey) -> Alert | None:
        found = self._client.get_item(TableName=self._table, Key=_key(key), ConsistentRead=True).get("Item")
        return _to_alert(found) if found else None

    def listing(self, tenant_id: str, status: AlertStatus, limit: int, cursor: str | None) -> AlertPage:
        kwargs: dict[str, Any] = {}
        if cursor:
            kwargs["ExclusiveStartKey"] = cursor_to_key(cursor, InvalidCursor)
        result = self._client.query(
            TableName=self._table,
            IndexName="by_tenant_status",
            KeyConditionExpression="tenant_status = :ts",
            ExpressionAttributeValues={":ts": _s(f"{tenant_id}#{status.value}")},
            ScanIndexForward=False,
            Limit=limit,
            **kwargs,
        )
        last = result.get("LastEvaluatedKey")
        next_cursor = key_to_cursor(last)
        return AlertPage([_to_alert(i) for i in result.get("Items", [])], next_cursor)

    def unresolved(self, kind: AlertKind) -> list[Alert]:
        found: list[Alert] = []
        kwargs: dict[str, Any] = {}
        while True:
            page = self._client.query(
                TableName=self._table,
                IndexName="unresolved",
                KeyConditionExpression="open_kind = :k",
                ExpressionAttributeValues={":k": _s(kind.value)},
                **kwargs,
            )
            found += [_to_alert(i) for i in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return found
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
