"""DynamoDB adapters of the command ports: one table (``CommandsTable``), three kinds of items.

- command: pk ``cmd#<command id>``, sk ``cmd``: one CALL (action, payload, status, unique id, deadline)
- charger queue: pk ``cp#<charger id>``, sk ``queue``: ids waiting (a list, creation order), the
  in-flight slot (``in_flight_*``), ``version``
- reported state: pk ``cp#<charger id>``, sk ``reported``: configuration, local list, charging profiles,
  reservations (one JSON document) and ``version``

GSI ``by_charger`` (``charge_point_id``, ``created_key``): commands of one charger, for the listing only.
GSI ``in_flight`` (``in_flight_deadline``, keys only): sparse, holds only queues with a CALL in flight, for
the monitor's sweep. GSI ``reservations_due`` (``reservation_shard``, ``reservation_expiry``, keys only):
sparse, holds only reported items with a reservation still Reserved, for the reservation sweep.
Every other access is GetItem (strongly consistent) or a conditional write; the
in-flight slot is taken with ``attribute_not_exists(in_flight_command_id) AND queue[0] = :head``.
Low-level client on purpose: list operations (``list_append``, ``REMOVE queue[0]``) in conditions. Every
conditional write goes through ``voltway.adapters.conditional.GuardedTable`` (a write the SDK retried after
it landed counts as ours, and never applies twice).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from voltway.adapters.conditional import GuardedTable
from voltway.adapters.cursors import cursor_to_key, key_to_cursor
from voltway.chargers.errors import InvalidCursor
from voltway.ocpp.commands.errors import ConcurrentUpdate
from voltway.ocpp.commands.lifecycle import next_reservation_expiry
from voltway.ocpp.commands.model import Command, CommandPage, CommandStatus, InFlight, QueueState
from voltway.ocpp.commands.reported import ReportedState

Item = dict[str, Any]
_IN_FLIGHT = ("command_id", "unique_id", "connection_id", "sent_at", "deadline")
_REMOVE_IN_FLIGHT = ", ".join(f"in_flight_{name}" for name in _IN_FLIGHT)


def _stamp(moment: datetime) -> str:
    """Fixed-width UTC text: sorts as time sorts."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _s(value: str) -> Item:
    return {"S": value}


def _n(value: int) -> Item:
    return {"N": str(value)}


def _json(value: Any) -> Item:
    return {"S": json.dumps(value, separators=(",", ":"), ensure_ascii=False)}


# Reservations are spread over a few index partitions (no single hot key); the sweep queries each.
RESERVATION_SHARDS = 4


def reservation_shard(charge_point_id: str) -> str:
    return str(zlib.crc32(charge_point_id.encode()) % RESERVATION_SHARDS)


def _command_key(command_id: str) -> Item:
    return {"pk": _s(f"cmd#{command_id}"), "sk": _s("cmd")}


def _charger_key(charge_point_id: str, kind: str) -> Item:
    return {"pk": _s(f"cp#{charge_point_id}"), "sk": _s(kind)}


def _to_command(item: Item) -> Command:
    def text(name: str) -> str | None:
        return item[name]["S"] if name in item else None

    def moment(name: str) -> datetime | None:
        raw = text(name)
        return _time(raw) if raw else None

    def document(name: str) -> Any:
        raw = text(name)
        return json.loads(raw) if raw is not None else None

    return Command(
        command_id=item["command_id"]["S"],
        charge_point_id=item["charge_point_id"]["S"],
        tenant_id=item["tenant_id"]["S"],
        action=item["action"]["S"],
        payload=json.loads(item["payload"]["S"]),
        status=CommandStatus(item["status"]["S"]),
        created_at=_time(item["created_at"]["S"]),
        unique_id=text("unique_id"),
        connection_id=text("connection_id"),
        sent_at=moment("sent_at"),
        deadline=moment("deadline"),
        completed_at=moment("completed_at"),
        response=document("response"),
        error=document("error"),
    )


class DynamoCommandStore:
    def __init__(self, client: Any, table: str, ttl: timedelta = timedelta(days=90)) -> None:
        self._client = client
        self._table = table
        self._guarded = GuardedTable(client, table)
        self._ttl = ttl

    def create(self, command: Command) -> None:
        item: Item = {
            **_command_key(command.command_id),
            "command_id": _s(command.command_id),
            "charge_point_id": _s(command.charge_point_id),
            "tenant_id": _s(command.tenant_id),
            "action": _s(command.action),
            "payload": _json(command.payload),
            "status": _s(command.status.value),
            "created_at": _s(_stamp(command.created_at)),
            "created_key": _s(f"{_stamp(command.created_at)}#{command.command_id}"),
            "expires_at": _n(int((command.created_at + self._ttl).timestamp())),
        }
        if command.completed_at is not None:
            item["completed_at"] = _s(_stamp(command.completed_at))
        if command.error is not None:
            item["error"] = _json(command.error)
        if not self._guarded.put(_command_key(command.command_id), item, "attribute_not_exists(pk)"):
            raise ConcurrentUpdate(f"command id {command.command_id!r} exists already")

    def get(self, command_id: str) -> Command | None:
        found = self._client.get_item(
            TableName=self._table, Key=_command_key(command_id), ConsistentRead=True
        ).get("Item")
        return _to_command(found) if found else None

    def _update(
        self, command_id: str, update: str, condition: str, names: dict[str, str], values: Item
    ) -> Command | None:
        updated = self._guarded.update(_command_key(command_id), update, condition, names, values)
        return _to_command(updated) if updated is not None else None

    def mark_sent(
        self, command_id: str, unique_id: str, connection_id: str, sent_at: datetime, deadline: datetime
    ) -> Command | None:
        return self._update(
            command_id,
            "SET #s = :sent, unique_id = :u, connection_id = :c, sent_at = :at, deadline = :d",
            "#s = :queued",
            {"#s": "status"},
            {
                ":sent": _s(CommandStatus.SENT.value),
                ":queued": _s(CommandStatus.QUEUED.value),
                ":u": _s(unique_id),
                ":c": _s(connection_id),
                ":at": _s(_stamp(sent_at)),
                ":d": _s(_stamp(deadline)),
            },
        )

    def finish(
        self,
        command_id: str,
        status: CommandStatus,
        at: datetime,
        *,
        expected: Collection[CommandStatus],
        unique_id: str | None = None,
        response: dict[str, Any] | None = None,
        error: dict[str, Any] | None = None,
    ) -> Command | None:
        values: Item = {":status": _s(status.value), ":at": _s(_stamp(at))}
        names = {"#s": "status"}
        sets = ["#s = :status", "completed_at = :at"]
        if response is not None:
            sets.append("#r = :response")
            names["#r"] = "response"
            values[":response"] = _json(response)
        if error is not None:
            sets.append("#e = :error")
            names["#e"] = "error"
            values[":error"] = _json(error)
        allowed = []
        for i, state in enumerate(sorted(expected)):
            values[f":x{i}"] = _s(state.value)
            allowed.append(f":x{i}")
        condition = f"attribute_exists(pk) AND #s IN ({', '.join(allowed)})"
        if unique_id is not None:
            condition += " AND unique_id = :uid"
            values[":uid"] = _s(unique_id)
        return self._update(command_id, "SET " + ", ".join(sets), condition, names, values)

    def list_for_charger(self, charge_point_id: str, limit: int, cursor: str | None) -> CommandPage:
        kwargs: dict[str, Any] = {}
        if cursor:
            kwargs["ExclusiveStartKey"] = cursor_to_key(cursor, InvalidCursor)
        result = self._client.query(
            TableName=self._table,
            IndexName="by_charger",
            KeyConditionExpression="charge_point_id = :cp",
            ExpressionAttributeValues={":cp": _s(charge_point_id)},
            ScanIndexForward=False,
            Limit=limit,
            **kwargs,
        )
        last = result.get("LastEvaluatedKey")
        next_cursor = key_to_cursor(last)
        return CommandPage([_to_command(i) for i in result.get("Items", [])], next_cursor)


class DynamoCommandQueue:
    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table
        self._guarded = GuardedTable(client, table)

    def _write(
        self, charge_point_id: str, update: str, condition: str, names: dict[str, str], values: Item
    ) -> bool:
        key = _charger_key(charge_point_id, "queue")
        return self._guarded.update(key, update, condition, names, values) is not None

    def state(self, charge_point_id: str) -> QueueState:
        item = self._client.get_item(
            TableName=self._table, Key=_charger_key(charge_point_id, "queue"), ConsistentRead=True
        ).get("Item")
        if not item:
            return QueueState()
        in_flight = None
        if "in_flight_command_id" in item:
            in_flight = InFlight(
                command_id=item["in_flight_command_id"]["S"],
                unique_id=item["in_flight_unique_id"]["S"],
                connection_id=item["in_flight_connection_id"]["S"],
                sent_at=_time(item["in_flight_sent_at"]["S"]),
                deadline=_time(item["in_flight_deadline"]["S"]),
            )
        queued = tuple(v["S"] for v in item.get("queue", {}).get("L", []))
        return QueueState(queued, in_flight, int(item.get("version", {}).get("N", "0")))

    def enqueue(self, charge_point_id: str, command_id: str, max_length: int) -> bool:
        return self._write(
            charge_point_id,
            "SET #q = list_append(if_not_exists(#q, :empty), :ids), charge_point_id = :cp ADD #v :one",
            "attribute_not_exists(#q) OR size(#q) < :max",
            {"#q": "queue", "#v": "version"},
            {
                ":empty": {"L": []},
                ":ids": {"L": [_s(command_id)]},
                ":cp": _s(charge_point_id),
                ":one": _n(1),
                ":max": _n(max_length),
            },
        )

    def claim(self, charge_point_id: str, in_flight: InFlight) -> bool:
        return self._write(
            charge_point_id,
            "SET in_flight_command_id = :id, in_flight_unique_id = :u, "
            "in_flight_connection_id = :c, in_flight_sent_at = :at, in_flight_deadline = :d "
            "REMOVE #q[0] ADD #v :one",
            "attribute_not_exists(in_flight_command_id) AND #q[0] = :id",
            {"#q": "queue", "#v": "version"},
            {
                ":id": _s(in_flight.command_id),
                ":u": _s(in_flight.unique_id),
                ":c": _s(in_flight.connection_id),
                ":at": _s(_stamp(in_flight.sent_at)),
                ":d": _s(_stamp(in_flight.deadline)),
                ":one": _n(1),
            },
        )

    def release(self, charge_point_id: str, command_id: str) -> bool:
        return self._write(
            charge_point_id,
            f"REMOVE {_REMOVE_IN_FLIGHT} ADD #v :one",
            "in_flight_command_id = :id",
            {"#v": "version"},
            {":id": _s(command_id), ":one": _n(1)},
        )

    def drain(self, charge_point_id: str, expected: QueueState) -> bool:
        return self._write(
            charge_point_id,
            f"SET #q = :empty REMOVE {_REMOVE_IN_FLIGHT} ADD #v :one",
            "#v = :v",
            {"#q": "queue", "#v": "version"},
            {
                ":empty": {"L": []},
                ":v": _n(expected.version),
                ":one": _n(1),
            },
        )

    def due(self, now: datetime) -> list[str]:
        found: list[str] = []
        kwargs: dict[str, Any] = {}
        while True:
            page = self._client.scan(
                TableName=self._table,
                IndexName="in_flight",
                FilterExpression="in_flight_deadline <= :now",
                ExpressionAttributeValues={":now": _s(_stamp(now))},
                **kwargs,
            )
            found += [i["pk"]["S"].removeprefix("cp#") for i in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return found
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


class DynamoReportedStateStore:
    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table
        self._guarded = GuardedTable(client, table)

    def get(self, charge_point_id: str) -> ReportedState:
        item = self._client.get_item(
            TableName=self._table, Key=_charger_key(charge_point_id, "reported"), ConsistentRead=True
        ).get("Item")
        if not item:
            return ReportedState(charge_point_id)
        return ReportedState.from_document(
            charge_point_id, json.loads(item["document"]["S"]), int(item["version"]["N"])
        )

    def save(self, state: ReportedState) -> bool:
        item: Item = {
            **_charger_key(state.charge_point_id, "reported"),
            "charge_point_id": _s(state.charge_point_id),
            "document": _json(state.to_document()),
            "version": _n(state.version + 1),
        }
        expiry = next_reservation_expiry(state)
        if expiry is not None:
            # sparse: only reported items with a reservation still Reserved carry the index's keys
            item["reservation_shard"] = _s(reservation_shard(state.charge_point_id))
            item["reservation_expiry"] = _s(_stamp(expiry))
        key = _charger_key(state.charge_point_id, "reported")
        if state.version == 0:
            return self._guarded.put(key, item, "attribute_not_exists(pk)")
        return self._guarded.put(key, item, "#v = :v", {"#v": "version"}, {":v": _n(state.version)})

    def due_reservations(self, now: datetime) -> list[str]:
        """Charge point ids with a reservation still Reserved past its expiry: one Query per shard of the
        sparse GSI ``reservations_due`` (``reservation_shard``, ``reservation_expiry`` <= now) — it holds
        only reported items with a Reserved reservation, so the sweep reads what is due and nothing else."""
        found: list[str] = []
        for shard in range(RESERVATION_SHARDS):
            kwargs: dict[str, Any] = {}
            while True:
                page = self._client.query(
                    TableName=self._table,
                    IndexName="reservations_due",
                    KeyConditionExpression="reservation_shard = :shard AND reservation_expiry <= :now",
                    ExpressionAttributeValues={":shard": _s(str(shard)), ":now": _s(_stamp(now))},
                    **kwargs,
                )
                found += [i["pk"]["S"].removeprefix("cp#") for i in page.get("Items", [])]
                if "LastEvaluatedKey" not in page:
                    break
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return found


class DynamoBootReadClaims:
    """One item per charger (pk ``cp#<id>``, sk ``boot-config-read``): the last time a boot queued a
    GetConfiguration. Taken with a conditional write, so a reconnect storm queues one read, not many."""

    def __init__(self, client: Any, table: str) -> None:
        self._guarded = GuardedTable(client, table)

    def claim(self, charge_point_id: str, now: datetime, not_before: datetime) -> bool:
        key = _charger_key(charge_point_id, "boot-config-read")
        return self._guarded.put(
            key,
            {**key, "claimed_at": _s(_stamp(now))},
            "attribute_not_exists(pk) OR claimed_at < :cutoff",
            values={":cutoff": _s(_stamp(not_before))},
        )
