"""DynamoDB adapter of the payments store, on the template's PaymentsTable (``pk``, string).

| item | pk | attributes |
|---|---|---|
| payment | ``PAYMENT#<payment id>`` | the payment (money as Decimal text), ``version``, GSI keys below |
| payment method | ``METHOD#<tenant>#<user>`` | token, label, updated_at |

GSIs (payments only; method items carry neither key, so both are sparse):
``by_tag`` = ``tag_key`` (``<tenant>#<idTag>``) + ``created_sk`` (``<created>#<id>``): capture finds the hold
of a finished transaction (newest first, a few items); ``by_status`` = ``status_key`` (``<tenant>#<status>``)
+ ``updated_sk`` (``<updated>#<id>``): the operators' ``?status=capture_failed`` listing; ``by_open`` =
``open_key`` (``OPEN``, set only while a hold is authorised and unbound to a CDR) + ``created_sk``: the sweep
of stale holds (a few hundred items at most: the holds in flight). Every state change
is a put conditioned on ``version``, through ``GuardedTable`` (a write the SDK retried after it landed is
recognised as ours, docs/decisions/conditional-writes.md).
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from voltway.adapters.conditional import GuardedTable
from voltway.adapters.cursors import cursor_to_key, key_to_cursor
from voltway.payments.errors import PaymentConflict
from voltway.payments.model import Payment, PaymentMethod, PaymentPage, PaymentStatus, Refund

OPEN = "OPEN"


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _pk(payment_id: str) -> str:
    return f"PAYMENT#{payment_id}"


def _item(p: Payment, version: int) -> dict[str, Any]:
    item: dict[str, Any] = {
        "pk": _s(_pk(p.payment_id)),
        "payment_id": _s(p.payment_id),
        "tenant_id": _s(p.tenant_id),
        "user_id": _s(p.user_id),
        "session_id": _s(p.session_id),
        "charge_point_id": _s(p.charge_point_id),
        "connector_id": {"N": str(p.connector_id)},
        "id_tag": _s(p.id_tag),
        "provider": _s(p.provider),
        "currency": _s(p.currency),
        "held": _s(str(p.held)),
        "status": _s(p.status.value),
        "created_at": _s(p.created_at.isoformat()),
        "updated_at": _s(p.updated_at.isoformat()),
        "captured": _s(str(p.captured)),
        "shortfall": _s(str(p.shortfall)),
        "refunded": _s(str(p.refunded)),
        "refunds": _s(
            json.dumps(
                [
                    {"key": r.key, "amount": str(r.amount), "at": r.at.isoformat(), "reference": r.reference}
                    for r in p.refunds
                ]
            )
        ),
        "capture_attempts": {"N": str(p.capture_attempts)},
        "version": {"N": str(version)},
        "tag_key": _s(f"{p.tenant_id}#{p.id_tag}"),
        "created_sk": _s(f"{_stamp(p.created_at)}#{p.payment_id}"),
        "status_key": _s(f"{p.tenant_id}#{p.status.value}"),
        "updated_sk": _s(f"{_stamp(p.updated_at)}#{p.payment_id}"),
    }
    for name, value in (
        ("provider_reference", p.provider_reference),
        ("cdr_id", p.cdr_id),
        ("last_error", p.last_error),
        ("due", None if p.due is None else str(p.due)),
    ):
        if value is not None:
            item[name] = _s(value)
    if p.transaction_id is not None:
        item["transaction_id"] = {"N": str(p.transaction_id)}
    if p.status is PaymentStatus.AUTHORIZED and p.cdr_id is None:
        item["open_key"] = _s(OPEN)
    return item


def _opt(item: dict[str, Any], name: str) -> str | None:
    return item[name]["S"] if name in item else None


def _payment(item: dict[str, Any]) -> Payment:
    due = _opt(item, "due")
    return Payment(
        payment_id=item["payment_id"]["S"],
        tenant_id=item["tenant_id"]["S"],
        user_id=item["user_id"]["S"],
        session_id=item["session_id"]["S"],
        charge_point_id=item["charge_point_id"]["S"],
        connector_id=int(item["connector_id"]["N"]),
        id_tag=item["id_tag"]["S"],
        provider=item["provider"]["S"],
        currency=item["currency"]["S"],
        held=Decimal(item["held"]["S"]),
        status=PaymentStatus(item["status"]["S"]),
        created_at=datetime.fromisoformat(item["created_at"]["S"]),
        updated_at=datetime.fromisoformat(item["updated_at"]["S"]),
        provider_reference=_opt(item, "provider_reference"),
        transaction_id=int(item["transaction_id"]["N"]) if "transaction_id" in item else None,
        cdr_id=_opt(item, "cdr_id"),
        due=Decimal(due) if due is not None else None,
        captured=Decimal(item["captured"]["S"]),
        shortfall=Decimal(item["shortfall"]["S"]),
        refunded=Decimal(item["refunded"]["S"]),
        refunds=tuple(
            Refund(r["key"], Decimal(r["amount"]), datetime.fromisoformat(r["at"]), r.get("reference"))
            for r in json.loads(item["refunds"]["S"])
        ),
        capture_attempts=int(item["capture_attempts"]["N"]),
        last_error=_opt(item, "last_error"),
        version=int(item["version"]["N"]),
    )


class DynamoPaymentStore:
    def __init__(self, dynamodb: Any, table: str) -> None:
        self._db = dynamodb
        self._table = table
        self._guarded = GuardedTable(dynamodb, table)

    def create(self, payment: Payment) -> Payment:
        item = _item(payment, 1)
        key = {"pk": item["pk"]}
        if not self._guarded.put(key, item, "attribute_not_exists(pk)"):
            raise PaymentConflict(payment.payment_id)
        return _payment(item)

    def get(self, payment_id: str) -> Payment | None:
        response = self._db.get_item(
            TableName=self._table, Key={"pk": _s(_pk(payment_id))}, ConsistentRead=True
        )
        item = response.get("Item")
        return _payment(item) if item else None

    def save(self, payment: Payment) -> Payment:
        item = _item(payment, payment.version + 1)
        condition, values = "version = :v", {":v": {"N": str(payment.version)}}
        if not self._guarded.put({"pk": item["pk"]}, item, condition, values=values):
            raise PaymentConflict(payment.payment_id)
        return _payment(item)

    def for_tag(self, tenant_id: str, id_tag: str, limit: int) -> list[Payment]:
        response = self._db.query(
            TableName=self._table,
            IndexName="by_tag",
            KeyConditionExpression="tag_key = :t",
            ExpressionAttributeValues={":t": _s(f"{tenant_id}#{id_tag}")},
            ScanIndexForward=False,
            Limit=limit,
        )
        # A KEYS_ONLY index, eventually consistent: re-read each candidate (a handful) for its current
        # version.
        found = (self.get(i["pk"]["S"].removeprefix("PAYMENT#")) for i in response.get("Items", []))
        return [p for p in found if p is not None]

    def by_status(self, tenant_id: str, status: PaymentStatus, limit: int, cursor: str | None) -> PaymentPage:
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "by_status",
            "KeyConditionExpression": "status_key = :s",
            "ExpressionAttributeValues": {":s": _s(f"{tenant_id}#{status.value}")},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if cursor:
            kwargs["ExclusiveStartKey"] = cursor_to_key(cursor)
        response = self._db.query(**kwargs)
        return PaymentPage(
            [_payment(i) for i in response.get("Items", [])], key_to_cursor(response.get("LastEvaluatedKey"))
        )

    def open_holds(self, created_before: datetime, limit: int) -> list[Payment]:
        response = self._db.query(
            TableName=self._table,
            IndexName="by_open",
            KeyConditionExpression="open_key = :o AND created_sk < :before",
            ExpressionAttributeValues={":o": _s(OPEN), ":before": _s(_stamp(created_before))},
            Limit=limit,
        )
        found = (self.get(i["pk"]["S"].removeprefix("PAYMENT#")) for i in response.get("Items", []))
        return [
            p for p in found if p is not None and p.status is PaymentStatus.AUTHORIZED and p.cdr_id is None
        ]

    def put_method(self, method: PaymentMethod) -> None:
        item: dict[str, Any] = {
            "pk": _s(f"METHOD#{method.tenant_id}#{method.user_id}"),
            "tenant_id": _s(method.tenant_id),
            "user_id": _s(method.user_id),
            "token": _s(method.token),
            "updated_at": _s(method.updated_at.isoformat()),
        }
        if method.label is not None:
            item["label"] = _s(method.label)
        self._db.put_item(TableName=self._table, Item=item)

    def method(self, tenant_id: str, user_id: str) -> PaymentMethod | None:
        item = self._db.get_item(
            TableName=self._table, Key={"pk": _s(f"METHOD#{tenant_id}#{user_id}")}, ConsistentRead=True
        ).get("Item")
        if not item:
            return None
        return PaymentMethod(
            tenant_id,
            user_id,
            item["token"]["S"],
            _opt(item, "label"),
            datetime.fromisoformat(item["updated_at"]["S"]),
        )
