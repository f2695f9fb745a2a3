"""DynamoDB adapter of the site repository (boto3's low-level client).

One table, partition = tenant: ``site_id`` is the site (ids start with a letter or digit), and two kinds
of bookkeeping items sort before every site: ``#index`` (the tenant's station index version) and
``#cp#<chargePointId>`` (where a charger is placed, so a move is one guarded transaction).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from voltway.sites import snapshot
from voltway.sites.errors import InvalidSiteCursor, SiteConflict, SiteNotFound
from voltway.sites.model import (
    ConnectorSpec,
    ConnectorType,
    Coordinates,
    OpeningHours,
    Placement,
    RegularHours,
    Site,
    SiteDetails,
    SitePage,
)

INDEX_KEY = "#index"
FIRST_SITE_KEY = "0"  # '0' sorts after '#': a key condition ``site_id >= '0'`` skips bookkeeping items
_SER = TypeSerializer()
_DES = TypeDeserializer()


def _placement_key(charge_point_id: str) -> str:
    return f"#cp#{charge_point_id}"


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _num(value: float) -> Decimal:
    return Decimal(str(value))


def _av(value: Any) -> dict[str, Any]:
    return dict(_SER.serialize(value))


def placement_value(placement: Placement) -> dict[str, Any]:
    return {
        "connectors": [
            {"connector_id": c.connector_id, "type": c.type.value, "max_power_kw": _num(c.max_power_kw)}
            for c in placement.connectors
        ]
    }


def details_values(details: SiteDetails) -> dict[str, Any]:
    hours = details.opening_hours
    return {
        "name": details.name,
        "address": details.address,
        "city": details.city,
        "country": details.country,
        "lat": _num(details.coordinates.lat),
        "lon": _num(details.coordinates.lon),
        "time_zone": details.time_zone,
        "grid_limit_kw": _num(details.grid_limit_kw),
        "opening_hours": None
        if hours is None
        else json.dumps(
            {
                "twentyfourseven": hours.twentyfourseven,
                "regular_hours": [[r.weekday, r.period_begin, r.period_end] for r in hours.regular_hours],
            }
        ),
    }


def site_from_item(raw: dict[str, Any]) -> Site:
    item = {k: _DES.deserialize(v) for k, v in raw.items()}
    hours_raw = json.loads(item["opening_hours"]) if item.get("opening_hours") else None
    hours = (
        None
        if hours_raw is None
        else OpeningHours(
            bool(hours_raw["twentyfourseven"]),
            tuple(RegularHours(int(w), str(b), str(e)) for w, b, e in hours_raw["regular_hours"]),
        )
    )
    details = SiteDetails(
        name=item["name"],
        address=item["address"],
        city=item["city"],
        country=item["country"],
        coordinates=Coordinates(float(item["lat"]), float(item["lon"])),
        time_zone=item["time_zone"],
        grid_limit_kw=float(item["grid_limit_kw"]),
        opening_hours=hours,
    )
    chargers = {
        cp: Placement(
            cp,
            tuple(
                ConnectorSpec(int(c["connector_id"]), ConnectorType(c["type"]), float(c["max_power_kw"]))
                for c in value["connectors"]
            ),
        )
        for cp, value in (item.get("chargers") or {}).items()
    }
    return Site(
        tenant_id=item["tenant_id"],
        site_id=item["site_id"],
        details=details,
        chargers=chargers,
        created_at=datetime.fromisoformat(item["created_at"]) if item.get("created_at") else None,
        updated_at=datetime.fromisoformat(item["updated_at"]) if item.get("updated_at") else None,
        version=int(item.get("version", 1)),
    )


def _cancellation_codes(error: ClientError) -> list[str]:
    reasons = error.response.get("CancellationReasons") or []
    return [str(r.get("Code", "None")) for r in reasons]


class DynamoSiteRepository:
    def __init__(self, client: Any, table: str) -> None:
        self._db = client
        self._table = table

    def _key(self, tenant_id: str, sort_key: str) -> dict[str, Any]:
        return {"tenant_id": {"S": tenant_id}, "site_id": {"S": sort_key}}

    def _bump_index(self, tenant_id: str) -> dict[str, Any]:
        return {
            "TableName": self._table,
            "Key": self._key(tenant_id, INDEX_KEY),
            "UpdateExpression": "ADD #v :one",
            "ExpressionAttributeNames": {"#v": "version"},
            "ExpressionAttributeValues": {":one": {"N": "1"}},
        }

    # ------------------------------------------------------------------ reads
    def get(self, tenant_id: str, site_id: str) -> Site | None:
        item = self._db.get_item(TableName=self._table, Key=self._key(tenant_id, site_id)).get("Item")
        return site_from_item(item) if item else None

    def _get_consistent(self, tenant_id: str, site_id: str) -> Site:
        item = self._db.get_item(
            TableName=self._table, Key=self._key(tenant_id, site_id), ConsistentRead=True
        ).get("Item")
        if not item:
            raise SiteNotFound(site_id)
        return site_from_item(item)

    def index_version(self, tenant_id: str) -> int:
        item = self._db.get_item(
            TableName=self._table, Key=self._key(tenant_id, INDEX_KEY), ConsistentRead=True
        ).get("Item")
        return int(item["version"]["N"]) if item else 0

    def _query(self, tenant_id: str, limit: int | None, start: dict[str, Any] | None) -> dict[str, Any]:
        args: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "tenant_id = :t AND site_id >= :first",
            "ExpressionAttributeValues": {":t": {"S": tenant_id}, ":first": {"S": FIRST_SITE_KEY}},
        }
        if limit is not None:
            args["Limit"] = limit
        if start:
            args["ExclusiveStartKey"] = start
        result: dict[str, Any] = self._db.query(**args)
        return result

    def list_sites(self, tenant_id: str, limit: int, cursor: str | None) -> SitePage:
        start = None
        if cursor:
            try:
                site_id = base64.urlsafe_b64decode(cursor.encode()).decode()
            except ValueError as e:
                raise InvalidSiteCursor("invalid cursor") from e
            start = self._key(tenant_id, site_id)
        result = self._query(tenant_id, limit, start)
        items = [site_from_item(i) for i in result.get("Items", [])]
        last = result.get("LastEvaluatedKey")
        next_cursor = (
            base64.urlsafe_b64encode(last["site_id"]["S"].encode()).decode() if last and items else None
        )
        return SitePage(items, next_cursor)

    def _all_items(self, tenant_id: str) -> Iterator[dict[str, Any]]:
        start: dict[str, Any] | None = None
        while True:
            result = self._query(tenant_id, None, start)
            yield from result.get("Items", [])
            start = result.get("LastEvaluatedKey")
            if not start:
                return

    def all_sites(self, tenant_id: str) -> list[Site]:
        """From the index snapshot: one BatchGetItem, whatever the number of sites."""
        keys = [self._key(tenant_id, snapshot.shard_key(i)) for i in range(snapshot.SHARDS)]
        request: dict[str, Any] = {self._table: {"Keys": keys, "ConsistentRead": True}}
        sites: list[Site] = []
        while request:
            response = self._db.batch_get_item(RequestItems=request)
            for item in response.get("Responses", {}).get(self._table, []):
                for site_id, raw in snapshot.unpack(item["blob"]["B"]).items():
                    sites.append(snapshot.decode_site(tenant_id, site_id, raw))
            request = response.get("UnprocessedKeys") or {}
        return sorted(sites, key=lambda s: s.site_id)

    def rebuild_index(self, tenant_id: str) -> int:
        """Rewrite the tenant's snapshot from the site items (repair after a failed write); the count."""
        shards: dict[int, dict[str, list[Any]]] = {i: {} for i in range(snapshot.SHARDS)}
        count = 0
        for item in self._all_items(tenant_id):
            site = site_from_item(item)
            shards[snapshot.shard_of(site.site_id)][site.site_id] = snapshot.encode_site(site)
            count += 1
        for shard, entries in shards.items():
            self._db.put_item(
                TableName=self._table,
                Item={
                    **self._key(tenant_id, snapshot.shard_key(shard)),
                    "blob": {"B": snapshot.pack(entries)},
                    "rev": {"N": "0"},
                },
            )
        self._db.update_item(**self._bump_index(tenant_id))
        return count

    def _index_site(self, site: Site) -> None:
        """Put ``site`` into its snapshot shard (optimistic revision check, retried), then bump the
        tenant's index version. Runs after the site item was written."""
        key = self._key(site.tenant_id, snapshot.shard_key(snapshot.shard_of(site.site_id)))
        for _ in range(8):
            item = self._db.get_item(TableName=self._table, Key=key, ConsistentRead=True).get("Item")
            entries = snapshot.unpack(item["blob"]["B"]) if item else {}
            rev = int(item["rev"]["N"]) if item else None
            entries[site.site_id] = snapshot.encode_site(site)
            args: dict[str, Any] = {
                "TableName": self._table,
                "Item": {**key, "blob": {"B": snapshot.pack(entries)}, "rev": {"N": str((rev or 0) + 1)}},
            }
            if rev is None:
                args["ConditionExpression"] = "attribute_not_exists(site_id)"
            else:
                args["ConditionExpression"] = "rev = :rev"
                args["ExpressionAttributeValues"] = {":rev": {"N": str(rev)}}
            try:
                self._db.put_item(**args)
            except self._db.exceptions.ConditionalCheckFailedException:
                continue  # another writer updated the shard: read it again
            self._db.update_item(**self._bump_index(site.tenant_id))
            return
        raise SiteConflict("the station index is busy; retry")

    # ------------------------------------------------------------------ writes
    def save_details(self, tenant_id: str, site_id: str, details: SiteDetails, now: datetime) -> Site:
        values = details_values(details)
        names = {f"#{k}": k for k in values}
        sets = [f"#{k} = :{k}" for k in values if values[k] is not None]
        removes = [f"#{k}" for k in values if values[k] is None]
        attr_values = {f":{k}": _av(v) for k, v in values.items() if v is not None}
        names.update({"#u": "updated_at", "#c": "created_at", "#ch": "chargers", "#v": "version"})
        attr_values.update({":now": _av(_stamp(now)), ":empty": {"M": {}}, ":zero": {"N": "0"}})
        attr_values[":one"] = {"N": "1"}
        sets += [
            "#u = :now",
            "#c = if_not_exists(#c, :now)",
            "#ch = if_not_exists(#ch, :empty)",
            "#v = if_not_exists(#v, :zero) + :one",
        ]
        expression = "SET " + ", ".join(sets)
        if removes:
            expression += " REMOVE " + ", ".join(removes)
        result = self._db.update_item(
            TableName=self._table,
            Key=self._key(tenant_id, site_id),
            UpdateExpression=expression,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=attr_values,
            ReturnValues="ALL_NEW",
        )
        site = site_from_item(result["Attributes"])
        self._index_site(site)
        return site

    def place_charger(self, tenant_id: str, site_id: str, placement: Placement, now: datetime) -> Site:
        cp = placement.charge_point_id
        marker = self._db.get_item(
            TableName=self._table, Key=self._key(tenant_id, _placement_key(cp)), ConsistentRead=True
        ).get("Item")
        previous = marker["placed_at"]["S"] if marker else None
        stamp = _av(_stamp(now))
        writes: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": self._key(tenant_id, site_id),
                    "UpdateExpression": "SET #ch.#cp = :p, #u = :now ADD #v :one",
                    "ConditionExpression": "attribute_exists(site_id)",
                    "ExpressionAttributeNames": {
                        "#ch": "chargers",
                        "#cp": cp,
                        "#u": "updated_at",
                        "#v": "version",
                    },
                    "ExpressionAttributeValues": {
                        ":p": _av(placement_value(placement)),
                        ":now": stamp,
                        ":one": {"N": "1"},
                    },
                }
            },
            {
                "Put": {
                    "TableName": self._table,
                    "Item": {**self._key(tenant_id, _placement_key(cp)), "placed_at": {"S": site_id}},
                    # Guards against a racing move of the same charger: the marker is what we read.
                    "ConditionExpression": "attribute_not_exists(site_id)"
                    if previous is None
                    else "placed_at = :prev",
                    **({"ExpressionAttributeValues": {":prev": {"S": previous}}} if previous else {}),
                }
            },
            {"Update": self._bump_index(tenant_id)},
        ]
        if previous is not None and previous != site_id:
            writes.append(
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": self._key(tenant_id, previous),
                        "UpdateExpression": "REMOVE #ch.#cp SET #u = :now ADD #v :one",
                        "ConditionExpression": "attribute_exists(site_id)",
                        "ExpressionAttributeNames": {
                            "#ch": "chargers",
                            "#cp": cp,
                            "#u": "updated_at",
                            "#v": "version",
                        },
                        "ExpressionAttributeValues": {":now": stamp, ":one": {"N": "1"}},
                    }
                }
            )
        self._transact(writes, site_id)
        if previous is not None and previous != site_id:
            self._index_site(self._get_consistent(tenant_id, previous))
        site = self._get_consistent(tenant_id, site_id)
        self._index_site(site)
        return site

    def remove_charger(self, tenant_id: str, site_id: str, charge_point_id: str, now: datetime) -> Site:
        writes: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": self._key(tenant_id, site_id),
                    "UpdateExpression": "REMOVE #ch.#cp SET #u = :now ADD #v :one",
                    "ConditionExpression": "attribute_exists(#ch.#cp)",
                    "ExpressionAttributeNames": {
                        "#ch": "chargers",
                        "#cp": charge_point_id,
                        "#u": "updated_at",
                        "#v": "version",
                    },
                    "ExpressionAttributeValues": {":now": _av(_stamp(now)), ":one": {"N": "1"}},
                }
            },
            {
                "Delete": {
                    "TableName": self._table,
                    "Key": self._key(tenant_id, _placement_key(charge_point_id)),
                }
            },
            {"Update": self._bump_index(tenant_id)},
        ]
        self._transact(writes, f"{site_id}/{charge_point_id}")
        site = self._get_consistent(tenant_id, site_id)
        self._index_site(site)
        return site

    def _transact(self, writes: list[dict[str, Any]], what: str) -> None:
        try:
            self._db.transact_write_items(TransactItems=writes)
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            codes = _cancellation_codes(e)
            if codes and codes[0] == "ConditionalCheckFailed":
                raise SiteNotFound(what) from e
            raise SiteConflict("the charger was moved concurrently; retry") from e
