"""DynamoDB adapter of the drivers store, on the template's DriversTable (``pk`` + ``sk``, strings).

| item | pk | sk | attributes |
|---|---|---|---|
| token owner | ``TAG#<tenant>#<idTag>`` | ``OWNER`` | tenant_id, id_tag, user_id, kind, created_at |
| user's token | ``USER#<tenant>#<user>`` | ``TOKEN#<idTag>`` | tenant_id, id_tag, user_id, kind, created_at |
| user's app token | ``USER#<tenant>#<user>`` | ``APP`` | id_tag |
| session | ``SESSION#<id>`` | ``SESSION`` | the session, ``version``, ``user_key``, ``list_sk`` |

GSI ``by_user`` (``user_key`` + ``list_sk`` = ``<created, fixed width>#<id>``, ALL) is sparse: only
sessions carry its attributes; it serves the history listing only. Everything else is GetItem or a
conditional write.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from voltway.adapters.conditional import GuardedTable
from voltway.adapters.cursors import cursor_to_key, key_to_cursor
from voltway.drivers.errors import SessionConflict
from voltway.drivers.model import ChargingSession, SessionPage, SessionState, TokenKind, TokenLink

OWNER = "OWNER"
APP = "APP"
SESSION = "SESSION"


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _user_pk(tenant_id: str, user_id: str) -> str:
    return f"USER#{tenant_id}#{user_id}"


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _opt_time(item: dict[str, Any], name: str) -> datetime | None:
    return datetime.fromisoformat(item[name]["S"]) if name in item else None


def _opt_int(item: dict[str, Any], name: str) -> int | None:
    return int(item[name]["N"]) if name in item else None


def _session_key(item: dict[str, Any]) -> dict[str, Any]:
    return {"pk": item["pk"], "sk": item["sk"]}


class DynamoDriverStore:
    def __init__(self, dynamodb: Any, table: str) -> None:
        self._db = dynamodb
        self._table = table
        # Session writes the SDK retried after they landed stay ours (voltway.adapters.conditional).
        self._guarded = GuardedTable(dynamodb, table)

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        response = self._db.get_item(
            TableName=self._table, Key={"pk": _s(pk), "sk": _s(sk)}, ConsistentRead=True
        )
        item: dict[str, Any] | None = response.get("Item")
        return item

    # ------------------------------------------------------------------ tokens
    @staticmethod
    def _link(item: dict[str, Any]) -> TokenLink:
        return TokenLink(
            tenant_id=item["tenant_id"]["S"],
            user_id=item["user_id"]["S"],
            id_tag=item["id_tag"]["S"],
            kind=TokenKind(item["kind"]["S"]),
            created_at=datetime.fromisoformat(item["created_at"]["S"]),
        )

    def claim_token(self, link: TokenLink) -> TokenLink:
        data = {
            "tenant_id": _s(link.tenant_id),
            "user_id": _s(link.user_id),
            "id_tag": _s(link.id_tag),
            "kind": _s(link.kind.value),
            "created_at": _s(link.created_at.isoformat()),
        }
        try:
            self._db.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": {
                                "pk": _s(f"TAG#{link.tenant_id}#{link.id_tag}"),
                                "sk": _s(OWNER),
                                **data,
                            },
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": {
                                "pk": _s(_user_pk(link.tenant_id, link.user_id)),
                                "sk": _s(f"TOKEN#{link.id_tag}"),
                                **data,
                            },
                        }
                    },
                ]
            )
            return link
        except self._db.exceptions.TransactionCanceledException:
            held = self.owner_of(link.tenant_id, link.id_tag)
            if held is None:
                raise
            return held

    def owner_of(self, tenant_id: str, id_tag: str) -> TokenLink | None:
        item = self._get(f"TAG#{tenant_id}#{id_tag}", OWNER)
        return self._link(item) if item else None

    def tokens_of(self, tenant_id: str, user_id: str) -> list[TokenLink]:
        # One small partition per user (their cards): a Query, not on any per-frame path.
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :token)",
            "ExpressionAttributeValues": {":pk": _s(_user_pk(tenant_id, user_id)), ":token": _s("TOKEN#")},
        }
        while True:
            response = self._db.query(**kwargs)
            items += response.get("Items", [])
            if "LastEvaluatedKey" not in response:
                break
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return [self._link(i) for i in items]

    def app_token(self, tenant_id: str, user_id: str) -> str | None:
        item = self._get(_user_pk(tenant_id, user_id), APP)
        return item["id_tag"]["S"] if item else None

    def claim_app_token(self, tenant_id: str, user_id: str, id_tag: str) -> str:
        try:
            self._db.put_item(
                TableName=self._table,
                Item={"pk": _s(_user_pk(tenant_id, user_id)), "sk": _s(APP), "id_tag": _s(id_tag)},
                ConditionExpression="attribute_not_exists(pk)",
            )
            return id_tag
        except self._db.exceptions.ConditionalCheckFailedException:
            held = self.app_token(tenant_id, user_id)
            if held is None:
                raise
            return held

    # ------------------------------------------------------------------ sessions
    @staticmethod
    def _item(session: ChargingSession, version: int) -> dict[str, Any]:
        s = session
        item: dict[str, Any] = {
            "pk": _s(f"SESSION#{s.session_id}"),
            "sk": _s(SESSION),
            "session_id": _s(s.session_id),
            "tenant_id": _s(s.tenant_id),
            "user_id": _s(s.user_id),
            "charge_point_id": _s(s.charge_point_id),
            "connector_id": {"N": str(s.connector_id)},
            "id_tag": _s(s.id_tag),
            "state": _s(s.state.value),
            "created_at": _s(s.created_at.isoformat()),
            "start_command_id": _s(s.start_command_id),
            "version": {"N": str(version)},
            "user_key": _s(f"{s.tenant_id}#{s.user_id}"),
            "list_sk": _s(f"{_stamp(s.created_at)}#{s.session_id}"),
        }
        for name, moment in (
            ("answered_at", s.answered_at),
            ("started_at", s.started_at),
            ("stopped_at", s.stopped_at),
            ("stop_requested_at", s.stop_requested_at),
        ):
            if moment is not None:
                item[name] = _s(moment.isoformat())
        if s.transaction_id is not None:
            item["transaction_id"] = {"N": str(s.transaction_id)}
        if s.stop_command_id is not None:
            item["stop_command_id"] = _s(s.stop_command_id)
        return item

    @staticmethod
    def _session(item: dict[str, Any]) -> ChargingSession:
        return ChargingSession(
            session_id=item["session_id"]["S"],
            tenant_id=item["tenant_id"]["S"],
            user_id=item["user_id"]["S"],
            charge_point_id=item["charge_point_id"]["S"],
            connector_id=int(item["connector_id"]["N"]),
            id_tag=item["id_tag"]["S"],
            state=SessionState(item["state"]["S"]),
            created_at=datetime.fromisoformat(item["created_at"]["S"]),
            start_command_id=item["start_command_id"]["S"],
            answered_at=_opt_time(item, "answered_at"),
            transaction_id=_opt_int(item, "transaction_id"),
            started_at=_opt_time(item, "started_at"),
            stopped_at=_opt_time(item, "stopped_at"),
            stop_command_id=item["stop_command_id"]["S"] if "stop_command_id" in item else None,
            stop_requested_at=_opt_time(item, "stop_requested_at"),
            version=int(item["version"]["N"]),
        )

    def create_session(self, session: ChargingSession) -> None:
        item = self._item(session, 1)
        if not self._guarded.put(_session_key(item), item, "attribute_not_exists(pk)"):
            raise SessionConflict(session.session_id)

    def get_session(self, session_id: str) -> ChargingSession | None:
        item = self._get(f"SESSION#{session_id}", SESSION)
        return self._session(item) if item else None

    def save_session(self, session: ChargingSession) -> ChargingSession:
        item = self._item(session, session.version + 1)
        stored = self._guarded.put(
            _session_key(item), item, "version = :v", values={":v": {"N": str(session.version)}}
        )
        if not stored:
            raise SessionConflict(session.session_id)
        return self._session(item)

    def sessions_of(self, tenant_id: str, user_id: str, limit: int, cursor: str | None) -> SessionPage:
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "by_user",
            "KeyConditionExpression": "user_key = :u",
            "ExpressionAttributeValues": {":u": _s(f"{tenant_id}#{user_id}")},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if cursor:
            kwargs["ExclusiveStartKey"] = cursor_to_key(cursor)
        response = self._db.query(**kwargs)
        last = response.get("LastEvaluatedKey")
        next_cursor = key_to_cursor(last)
        return SessionPage([self._session(i) for i in response.get("Items", [])], next_cursor)
