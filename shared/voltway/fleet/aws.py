"""DynamoDB adapters of the fleet ports.

FleetDeadlinesTable: ``pk`` = ``TX#<transaction id>`` (one deadline per transaction) or ``SWEEP`` (the
sweep's cursor). GSI ``by_due_minute`` (``due_minute`` + ``due_at``) is sparse: only pending deadlines
carry ``due_minute``; the claim removes it, so a swept minute's query returns what is left to do.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from voltway.adapters.conditional import GuardedTable
from voltway.billing.aws import DynamoContracts
from voltway.billing.contracts import select_contract
from voltway.billing.model import Contract
from voltway.fleet.model import DeadlineStatus, SessionDeadline

_SWEEP = "SWEEP"
INDEX = "by_due_minute"


class FleetStoreError(Exception):
    """FleetDeadlinesTable could not be read or written."""


def _key(transaction_id: int) -> dict[str, Any]:
    return {"pk": {"S": f"TX#{transaction_id}"}}


def _iso(at: datetime) -> str:
    return at.isoformat(timespec="microseconds")


class DynamoDeadlines:
    def __init__(self, dynamodb: Any, table: str) -> None:
        self._db = dynamodb
        self._table = table
        self._guarded = GuardedTable(dynamodb, table)

    def add(self, deadline: SessionDeadline, bucket: str) -> bool:
        item = {
            **_key(deadline.transaction_id),
            "transaction_id": {"N": str(deadline.transaction_id)},
            "tenant_id": {"S": deadline.tenant_id},
            "charge_point_id": {"S": deadline.charge_point_id},
            "connector_id": {"N": str(deadline.connector_id)},
            "contract_id": {"S": deadline.contract_id},
            "started_at": {"S": _iso(deadline.started_at)},
            "due_at": {"S": _iso(deadline.due_at)},
            "status": {"S": DeadlineStatus.PENDING.value},
            "due_minute": {"S": bucket},
        }
        try:
            return self._guarded.put(_key(deadline.transaction_id), item, "attribute_not_exists(pk)")
        except ClientError as e:
            raise FleetStoreError("cannot write FleetDeadlinesTable") from e

    def due_in(self, bucket: str, now: datetime) -> list[SessionDeadline]:
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": INDEX,
            "KeyConditionExpression": "due_minute = :b AND due_at <= :now",
            "ExpressionAttributeValues": {":b": {"S": bucket}, ":now": {"S": _iso(now)}},
        }
        try:
            pages = self._db.get_paginator("query").paginate(**request)
            return [self._deadline(i) for page in pages for i in page.get("Items", [])]
        except ClientError as e:
            raise FleetStoreError("cannot query FleetDeadlinesTable") from e

    def _move(self, transaction_id: int, status: DeadlineStatus, now: datetime | None) -> bool:
        values: dict[str, Any] = {":s": {"S": status.value}, ":p": {"S": DeadlineStatus.PENDING.value}}
        update = "SET #st = :s REMOVE due_minute"
        if now is not None:
            update = "SET #st = :s, stop_requested_at = :at REMOVE due_minute"
            values[":at"] = {"S": _iso(now)}
        try:
            moved = self._guarded.update(_key(transaction_id), update, "#st = :p", {"#st": "status"}, values)
        except ClientError as e:
            raise FleetStoreError("cannot update FleetDeadlinesTable") from e
        return moved is not None

    def claim(self, transaction_id: int, now: datetime) -> bool:
        return self._move(transaction_id, DeadlineStatus.STOP_REQUESTED, now)

    def close(self, transaction_id: int) -> None:
        self._move(transaction_id, DeadlineStatus.CLOSED, None)

    def get(self, transaction_id: int) -> SessionDeadline | None:
        try:
            item = self._db.get_item(TableName=self._table, Key=_key(transaction_id), ConsistentRead=True)
        except ClientError as e:
            raise FleetStoreError("cannot read FleetDeadlinesTable") from e
        found = item.get("Item")
        return None if found is None else self._deadline(found)

    def swept_through(self) -> str | None:
        try:
            item = self._db.get_item(TableName=self._table, Key={"pk": {"S": _SWEEP}}, ConsistentRead=True)
        except ClientError as e:
            raise FleetStoreError("cannot read FleetDeadlinesTable") from e
        found = item.get("Item")
        return None if found is None else str(found["swept_through"]["S"])

    def set_swept_through(self, bucket: str) -> None:
        # Only forwards: two overlapping sweeps never move the cursor back past work not yet done.
        try:
            self._guarded.update(
                {"pk": {"S": _SWEEP}},
                "SET swept_through = :b",
                "attribute_not_exists(swept_through) OR swept_through < :b",
                values={":b": {"S": bucket}},
            )
        except ClientError as e:
            raise FleetStoreError("cannot update FleetDeadlinesTable") from e

    @staticmethod
    def _deadline(item: dict[str, Any]) -> SessionDeadline:
        at = item.get("stop_requested_at")
        return SessionDeadline(
            transaction_id=int(item["transaction_id"]["N"]),
            tenant_id=item["tenant_id"]["S"],
            charge_point_id=item["charge_point_id"]["S"],
            connector_id=int(item["connector_id"]["N"]),
            contract_id=item["contract_id"]["S"],
            started_at=datetime.fromisoformat(item["started_at"]["S"]),
            due_at=datetime.fromisoformat(item["due_at"]["S"]),
            status=DeadlineStatus(item["status"]["S"]),
            stop_requested_at=None if at is None else datetime.fromisoformat(at["S"]),
        )


class BillingContractLookup:
    """The contract billing applies (``select_contract``: partner > account > tenant), read from
    TariffsTable: one Query of the tenant's contracts per StartTransaction."""

    def __init__(self, contracts: DynamoContracts) -> None:
        self._contracts = contracts

    def contract_for(self, tenant_id: str, account_id: str | None) -> Contract | None:
        return select_contract(
            self._contracts.list_contracts(tenant_id), account_id=account_id, partner_id=None
        )
