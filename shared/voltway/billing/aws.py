"""AWS adapters of the billing ports (boto3's low-level clients), plus thin adapters over the
transactions, id tags, sites and archive contexts.

TariffsTable (key ``tenant_id`` + ``sk``): ``TARIFF#<id>`` (the OCPI tariff JSON), ``DEFAULT`` (the
tenant's default tariff id), ``CHARGER#<cp>`` (a charger's own tariff id), ``CONTRACT#<id>`` (a contract).
CdrsTable (key ``cdr_id``; sparse GSI ``by_charger`` = ``charge_point_id`` + ``list_sk``
``<issued_at>#<cdr id>``): one item per CDR, written once with ``attribute_not_exists(cdr_id)``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from voltway.adapters.cursors import cursor_to_key, key_to_cursor
from voltway.archive.archive import ArchiveWriter
from voltway.archive.records import CdrRecord
from voltway.archive.s3 import S3Blobs
from voltway.billing.errors import BillingError, CdrAlreadyIssued
from voltway.billing.model import CdrKind, CdrPage, Contract, IssuedCdr, StoredTariff
from voltway.billing.ports import ChargerLocation
from voltway.idtags.ports import IdTagRepository
from voltway.sites.ports import SiteRepository
from voltway.tariffs import Tariff
from voltway.transactions.model import MeterSample, Transaction
from voltway.transactions.ports import MeterValueStore, TransactionRepository, transaction_series

_TARIFF = "TARIFF#"
_CHARGER = "CHARGER#"
_CONTRACT = "CONTRACT#"
_DEFAULT = "DEFAULT"


class BillingStoreError(BillingError):
    """DynamoDB/SQS failed (wrapped SDK error)."""


class DynamoTariffs:
    def __init__(self, dynamodb: Any, table: str) -> None:
        self._db = dynamodb
        self._table = table

    def _key(self, tenant_id: str, sk: str) -> dict[str, Any]:
        return {"tenant_id": {"S": tenant_id}, "sk": {"S": sk}}

    def _get(self, tenant_id: str, sk: str) -> dict[str, Any] | None:
        try:
            item: dict[str, Any] | None = self._db.get_item(
                TableName=self._table, Key=self._key(tenant_id, sk), ConsistentRead=True
            ).get("Item")
        except ClientError as e:
            raise BillingStoreError("cannot read TariffsTable") from e
        return item

    def _put(self, item: dict[str, Any]) -> None:
        try:
            self._db.put_item(TableName=self._table, Item=item)
        except ClientError as e:
            raise BillingStoreError("cannot write TariffsTable") from e

    def put(self, tariff: StoredTariff) -> None:
        self._put(
            {
                **self._key(tariff.tenant_id, _TARIFF + tariff.tariff_id),
                "tariff": {"S": tariff.tariff.model_dump_json(exclude_none=True)},
                "updated_at": {"S": tariff.updated_at.isoformat()},
            }
        )
        if tariff.is_default:
            self._put({**self._key(tariff.tenant_id, _DEFAULT), "tariff_id": {"S": tariff.tariff_id}})

    def _stored(self, tenant_id: str, item: dict[str, Any]) -> StoredTariff:
        tariff = Tariff.model_validate_json(item["tariff"]["S"])
        return StoredTariff(
            tenant_id,
            tariff,
            self.default_id(tenant_id) == tariff.id,
            datetime.fromisoformat(item["updated_at"]["S"]),
        )

    def get(self, tenant_id: str, tariff_id: str) -> StoredTariff | None:
        item = self._get(tenant_id, _TARIFF + tariff_id)
        return None if item is None else self._stored(tenant_id, item)

    def list_tariffs(
        self, tenant_id: str, limit: int, cursor: str | None
    ) -> tuple[list[StoredTariff], str | None]:
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "tenant_id = :t AND begins_with(sk, :p)",
            "ExpressionAttributeValues": {":t": {"S": tenant_id}, ":p": {"S": _TARIFF}},
            "Limit": limit,
        }
        start = cursor_to_key(cursor) if cursor else None
        if start:
            request["ExclusiveStartKey"] = start
        try:
            response = self._db.query(**request)
        except ClientError as e:
            raise BillingStoreError("cannot query TariffsTable") from e
        default = self.default_id(tenant_id)
        items = [
            StoredTariff(
                tenant_id,
                Tariff.model_validate_json(i["tariff"]["S"]),
                i["sk"]["S"] == _TARIFF + (default or ""),
                datetime.fromisoformat(i["updated_at"]["S"]),
            )
            for i in response.get("Items", [])
        ]
        return items, key_to_cursor(response.get("LastEvaluatedKey"))

    def default_id(self, tenant_id: str) -> str | None:
        item = self._get(tenant_id, _DEFAULT)
        return None if item is None else str(item["tariff_id"]["S"])

    def charger_tariff(self, tenant_id: str, charge_point_id: str) -> str | None:
        item = self._get(tenant_id, _CHARGER + charge_point_id)
        return None if item is None else str(item["tariff_id"]["S"])

    def assign_charger(self, tenant_id: str, charge_point_id: str, tariff_id: str | None) -> None:
        key = self._key(tenant_id, _CHARGER + charge_point_id)
        if tariff_id is None:
            try:
                self._db.delete_item(TableName=self._table, Key=key)
            except ClientError as e:
                raise BillingStoreError("cannot write TariffsTable") from e
            return
        self._put({**key, "tariff_id": {"S": tariff_id}})


class DynamoContracts:
    """Contracts live in TariffsTable, beside the tariffs they transform (one partition per tenant)."""

    def __init__(self, tariffs: DynamoTariffs) -> None:
        self._tariffs = tariffs

    def put(self, tenant_id: str, contract: Contract) -> None:
        self._tariffs._put(
            {
                **self._tariffs._key(tenant_id, _CONTRACT + contract.contract_id),
                "contract": {"S": contract.model_dump_json()},
            }
        )

    def get(self, tenant_id: str, contract_id: str) -> Contract | None:
        item = self._tariffs._get(tenant_id, _CONTRACT + contract_id)
        return None if item is None else Contract.model_validate_json(item["contract"]["S"])

    def list_contracts(self, tenant_id: str) -> list[Contract]:
        db, table = self._tariffs._db, self._tariffs._table
        request: dict[str, Any] = {
            "TableName": table,
            "KeyConditionExpression": "tenant_id = :t AND begins_with(sk, :p)",
            "ExpressionAttributeValues": {":t": {"S": tenant_id}, ":p": {"S": _CONTRACT}},
        }
        contracts: list[Contract] = []
        try:
            for page in db.get_paginator("query").paginate(**request):
                contracts.extend(
                    Contract.model_validate_json(i["contract"]["S"]) for i in page.get("Items", [])
                )
        except ClientError as e:
            raise BillingStoreError("cannot query TariffsTable") from e
        return contracts


class DynamoCdrs:
    def __init__(self, dynamodb: Any, table: str) -> None:
        self._db = dynamodb
        self._table = table

    def put_new(self, cdr: IssuedCdr) -> None:
        item: dict[str, Any] = {
            "cdr_id": {"S": cdr.cdr_id},
            "tenant_id": {"S": cdr.tenant_id},
            "charge_point_id": {"S": cdr.charge_point_id},
            "connector_id": {"N": str(cdr.connector_id)},
            "transaction_id": {"N": str(cdr.transaction_id)},
            "kind": {"S": cdr.kind.value},
            "issued_at": {"S": cdr.issued_at.isoformat()},
            "list_sk": {"S": f"{cdr.issued_at.isoformat()}#{cdr.cdr_id}"},
            "currency": {"S": cdr.currency},
            "total_excl_vat": {"S": str(cdr.total_excl_vat)},
            "ocpi": {"S": json.dumps(cdr.ocpi, separators=(",", ":"))},
            "anomalies": {"L": [{"S": a} for a in cdr.anomalies]},
        }
        for name, value in (
            ("total_incl_vat", cdr.total_incl_vat),
            ("credit_of", cdr.credit_of),
            ("tariff_id", cdr.tariff_id),
            ("contract_id", cdr.contract_id),
            ("stop_reason", cdr.stop_reason),
        ):
            if value is not None:
                item[name] = {"S": str(value)}
        try:
            self._db.put_item(
                TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(cdr_id)"
            )
        except ClientError as e:
            if e.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise CdrAlreadyIssued(cdr.cdr_id) from e
            raise BillingStoreError("cannot write CdrsTable") from e

    @staticmethod
    def _cdr(item: dict[str, Any]) -> IssuedCdr:
        def opt(name: str) -> str | None:
            return str(item[name]["S"]) if name in item else None

        incl = opt("total_incl_vat")
        return IssuedCdr(
            cdr_id=item["cdr_id"]["S"],
            tenant_id=item["tenant_id"]["S"],
            charge_point_id=item["charge_point_id"]["S"],
            connector_id=int(item["connector_id"]["N"]),
            transaction_id=int(item["transaction_id"]["N"]),
            kind=CdrKind(item["kind"]["S"]),
            issued_at=datetime.fromisoformat(item["issued_at"]["S"]),
            currency=item["currency"]["S"],
            total_excl_vat=Decimal(item["total_excl_vat"]["S"]),
            total_incl_vat=None if incl is None else Decimal(incl),
            ocpi=json.loads(item["ocpi"]["S"]),
            credit_of=opt("credit_of"),
            tariff_id=opt("tariff_id"),
            contract_id=opt("contract_id"),
            anomalies=tuple(a["S"] for a in item.get("anomalies", {}).get("L", [])),
            stop_reason=opt("stop_reason"),
        )

    def get(self, cdr_id: str) -> IssuedCdr | None:
        try:
            item = self._db.get_item(
                TableName=self._table, Key={"cdr_id": {"S": cdr_id}}, ConsistentRead=True
            ).get("Item")
        except ClientError as e:
            raise BillingStoreError("cannot read CdrsTable") from e
        return None if item is None else self._cdr(item)

    def issued(self, cdr_ids: Sequence[str]) -> set[str]:
        """BatchGetItem (100 keys a call, keys only); unprocessed keys are asked again (bounded)."""
        found: set[str] = set()
        ids = list(dict.fromkeys(cdr_ids))
        for start in range(0, len(ids), 100):
            pending: dict[str, Any] = {
                self._table: {
                    "Keys": [{"cdr_id": {"S": i}} for i in ids[start : start + 100]],
                    "ProjectionExpression": "cdr_id",
                    "ConsistentRead": True,
                }
            }
            for attempt in range(8):
                try:
                    answer = self._db.batch_get_item(RequestItems=pending)
                except ClientError as e:
                    raise BillingStoreError("cannot read CdrsTable") from e
                found.update(item["cdr_id"]["S"] for item in answer.get("Responses", {}).get(self._table, []))
                pending = answer.get("UnprocessedKeys") or {}
                if not pending:
                    break
                time.sleep(min(0.05 * 2**attempt, 2.0))
            else:
                raise BillingStoreError("CdrsTable kept keys unprocessed")
        return found

    def list_by_charger(self, charge_point_id: str, limit: int, cursor: str | None) -> CdrPage:
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "by_charger",
            "KeyConditionExpression": "charge_point_id = :c",
            "ExpressionAttributeValues": {":c": {"S": charge_point_id}},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        start = cursor_to_key(cursor) if cursor else None
        if start:
            request["ExclusiveStartKey"] = start
        try:
            response = self._db.query(**request)
        except ClientError as e:
            raise BillingStoreError("cannot query CdrsTable") from e
        items = [self._cdr(i) for i in response.get("Items", [])]
        return CdrPage(items, key_to_cursor(response.get("LastEvaluatedKey")))


class TransactionSessions:
    """The transactions context as the billing's session source."""

    def __init__(self, transactions: TransactionRepository, meter_values: MeterValueStore) -> None:
        self._transactions = transactions
        self._meter_values = meter_values

    def transaction(self, transaction_id: int) -> Transaction | None:
        return self._transactions.get(transaction_id)

    def samples(self, transaction_id: int) -> list[MeterSample]:
        return self._meter_values.samples(transaction_series(transaction_id))


class IdTagAccounts:
    """An id tag bills to its OCPP parent id tag (the group: a fleet's account), if it has one."""

    def __init__(self, tags: IdTagRepository) -> None:
        self._tags = tags

    def account_of(self, tenant_id: str, id_tag: str) -> str | None:
        tag = self._tags.get(tenant_id, id_tag)
        return None if tag is None else tag.parent_id_tag


class SiteLocations:
    """Where a charger is placed (sites context): time zone and address for the CDR. Sites carry no
    tariff yet, so ``tariff_id`` stays None (docs/billing.md)."""

    def __init__(self, sites: SiteRepository) -> None:
        self._sites = sites

    def location(self, tenant_id: str, charge_point_id: str, connector_id: int) -> ChargerLocation | None:
        for site in self._sites.all_sites(tenant_id):
            placement = site.chargers.get(charge_point_id)
            if placement is None:
                continue
            d = site.details
            standard = next(
                (c.type.value for c in placement.connectors if c.connector_id == connector_id), None
            )
            return ChargerLocation(
                site.site_id,
                d.name,
                d.address,
                d.city,
                d.country,
                d.coordinates.lat,
                d.coordinates.lon,
                d.time_zone,
                standard,
            )
        return None


class ArchiveCdrs:
    """Issued CDRs into the append-only export archive (``voltway.archive``): one batch per CDR."""

    def __init__(self, s3: Any, bucket: str) -> None:
        self._writer = ArchiveWriter(S3Blobs(s3, bucket))

    def archive(self, cdr: IssuedCdr) -> None:
        o = cdr.ocpi
        excl = cdr.total_excl_vat
        incl = cdr.total_incl_vat if cdr.total_incl_vat is not None else excl
        record = CdrRecord(
            id=cdr.cdr_id,
            tenant_id=cdr.tenant_id,
            charge_point_id=cdr.charge_point_id,
            connector_id=cdr.connector_id,
            site_id=None if o["cdr_location"]["id"] == "#NA" else o["cdr_location"]["id"],
            account_id=None,
            partner_id=None,
            session_id=str(cdr.transaction_id),
            id_tag=o["cdr_token"]["uid"],
            started_at=datetime.fromisoformat(o["start_date_time"]),
            stopped_at=datetime.fromisoformat(o["end_date_time"]),
            energy_wh=round(Decimal(str(o["total_energy"])) * 1000),
            tariff_id=cdr.tariff_id,
            currency=cdr.currency,
            price_excl_vat_minor=_minor(excl),
            vat_minor=_minor(incl) - _minor(excl),
            price_incl_vat_minor=_minor(incl),
            issued_at=cdr.issued_at,
        )
        self._writer.append([record])


def _minor(amount: Decimal) -> int:
    """Minor units of a 2-decimal currency (the billing policy rounds to cents)."""
    return int((amount * 100).to_integral_value())


class SqsCdrQueue:
    def __init__(self, sqs: Any, queue_url: str) -> None:
        self._sqs = sqs
        self._url = queue_url

    def enqueue(self, transaction_id: int) -> None:
        try:
            self._sqs.send_message(
                QueueUrl=self._url, MessageBody=json.dumps({"transaction_id": transaction_id})
            )
        except ClientError as e:
            raise BillingStoreError("cannot enqueue the CDR request") from e
