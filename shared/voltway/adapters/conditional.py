"""Conditional writes that stay right when the SDK retries them — the one mechanism every guarded
DynamoDB write in the adapters goes through.

botocore retries a call whose answer it did not get (read timeout, reset connection, 5xx after the write
landed). A conditional write whose first attempt was applied then fails its own condition on the retry
(``ConditionalCheckFailedException``), and a caller would believe it lost a race it won: a command stayed
pending for ever that way (docs/decisions/conditional-writes.md). So each guarded write

1. stamps a fresh random token on the item (attribute ``write_token``), and its condition refuses an item
   that already carries this very token — a retry never applies twice (``list_append``/``ADD`` included);
2. on a conditional failure *after the SDK retried* (``ResponseMetadata.RetryAttempts > 0``) reads the
   item back (consistent GetItem): if it carries our token the write was ours and counts as applied (the
   item read is what ``ReturnValues=ALL_NEW`` would have returned); a conditional delete counts as applied
   when the item is gone. A failure on the first attempt is a plain lost race and costs no read.

Limit: if another writer changes the item between our lost answer and the read back, the token is theirs
and we report a loss although our write landed first — callers already treat a loss as "someone else moved
on", which is then true.
"""

from __future__ import annotations

import re
import uuid
from typing import Any, TypeVar

from pynamodb.exceptions import DeleteError, DoesNotExist, PutError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.models import Model

from voltway.observability import count

Item = dict[str, Any]
TOKEN_ATTRIBUTE = "write_token"
_NAME = "#wtok"
_VALUE = ":wtok"
_SET = re.compile(r"\bSET\s", re.IGNORECASE)
M = TypeVar("M", bound=Model)


def new_token() -> str:
    return uuid.uuid4().hex


def _response(error: BaseException) -> dict[str, Any]:
    """The parsed error response of a botocore ClientError, or of the one PynamoDB wraps."""
    for candidate in (error, getattr(error, "cause", None)):
        response = getattr(candidate, "response", None)
        if isinstance(response, dict):
            return response
    return {}


def conditional_failed(error: BaseException) -> bool:
    code = _response(error).get("Error", {}).get("Code")
    return code == "ConditionalCheckFailedException" or (
        getattr(error, "cause_response_code", None) == "ConditionalCheckFailedException"
    )


def _chain(error: BaseException) -> list[BaseException]:
    """The error, what PynamoDB wraps (``cause``) and what it was raised from: PynamoDB keeps only the
    ``Error`` part of the response, the original botocore error (its context) keeps the metadata."""
    seen: list[BaseException] = []
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or any(current is s for s in seen):
            continue
        seen.append(current)
        pending += [getattr(current, "cause", None), current.__cause__, current.__context__]
    return seen


def retried(error: BaseException) -> bool:
    """True when the SDK sent the call more than once (or we cannot tell): only then may the failed
    condition be our own earlier attempt."""
    for link in _chain(error):
        response = getattr(link, "response", None)
        if isinstance(response, dict):
            attempts = response.get("ResponseMetadata", {}).get("RetryAttempts")
            if attempts is not None:
                return int(attempts) > 0
    return True


def _guard(condition: str) -> str:
    return f"(attribute_not_exists({_NAME}) OR {_NAME} <> {_VALUE}) AND ({condition})"


def _with_token_set(update: str) -> str:
    if _SET.search(update):
        return _SET.sub(f"SET {_NAME} = {_VALUE}, ", update, count=1)
    return f"SET {_NAME} = {_VALUE} {update}"


class GuardedTable:
    """Guarded PutItem/UpdateItem/DeleteItem on one table through the low-level client. ``key`` names
    the item the write targets (needed to read it back)."""

    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def _args(
        self, token: str, condition: str, names: dict[str, str] | None, values: Item | None
    ) -> dict[str, Any]:
        return {
            "TableName": self._table,
            "ConditionExpression": _guard(condition),
            "ExpressionAttributeNames": {**(names or {}), _NAME: TOKEN_ATTRIBUTE},
            "ExpressionAttributeValues": {**(values or {}), _VALUE: {"S": token}},
        }

    def _ours(self, key: Item, token: str) -> Item | None:
        found = self._client.get_item(TableName=self._table, Key=key, ConsistentRead=True).get("Item")
        if found is not None and found.get(TOKEN_ATTRIBUTE) == {"S": token}:
            count("ConditionalWriteRecovered")
            return dict(found)
        return None

    def put(
        self,
        key: Item,
        item: Item,
        condition: str,
        names: dict[str, str] | None = None,
        values: Item | None = None,
    ) -> bool:
        """True if stored, False if the condition did not hold."""
        token = new_token()
        args = self._args(token, condition, names, values)
        try:
            self._client.put_item(Item={**item, TOKEN_ATTRIBUTE: {"S": token}}, **args)
        except Exception as e:
            if not conditional_failed(e):
                raise
            return retried(e) and self._ours(key, token) is not None
        return True

    def update(
        self,
        key: Item,
        update: str,
        condition: str,
        names: dict[str, str] | None = None,
        values: Item | None = None,
    ) -> Item | None:
        """The item as updated (ALL_NEW), or None if the condition did not hold."""
        token = new_token()
        args = self._args(token, condition, names, values)
        try:
            result = self._client.update_item(
                Key=key, UpdateExpression=_with_token_set(update), ReturnValues="ALL_NEW", **args
            )
        except Exception as e:
            if not conditional_failed(e):
                raise
            return self._ours(key, token) if retried(e) else None
        attributes: Item = result["Attributes"]
        return attributes


# --------------------------------------------------------------------------------------------- PynamoDB


def _refresh_ours(item: Model, token: str) -> bool:
    try:
        item.refresh(consistent_read=True)
    except DoesNotExist:
        return False
    if getattr(item, TOKEN_ATTRIBUTE, None) == token:
        count("ConditionalWriteRecovered")
        return True
    return False


def _model_guard(model: type[Model], token: str, condition: Condition | None) -> Condition:
    attribute = getattr(model, TOKEN_ATTRIBUTE)
    guard: Condition = attribute.does_not_exist() | (attribute != token)
    return guard & condition if condition is not None else guard


def guarded_update(item: Model, actions: list[Any], condition: Condition | None) -> bool:
    """``item.update`` under ``condition``; True if applied (``item`` then holds the stored values),
    False if the condition did not hold. The model must declare ``write_token``."""
    model = type(item)
    token = new_token()
    try:
        item.update(
            actions=[*actions, getattr(model, TOKEN_ATTRIBUTE).set(token)],
            condition=_model_guard(model, token, condition),
        )
    except UpdateError as e:
        if not conditional_failed(e):
            raise
        return retried(e) and _refresh_ours(item, token)
    return True


def guarded_save(item: Model, condition: Condition | None) -> bool:
    """``item.save`` under ``condition``; True if stored, False if the condition did not hold."""
    model = type(item)
    token = new_token()
    setattr(item, TOKEN_ATTRIBUTE, token)
    try:
        item.save(condition=_model_guard(model, token, condition))
    except PutError as e:
        if not conditional_failed(e):
            raise
        probe = model(*_keys(item))
        return retried(e) and _refresh_ours(probe, token)
    return True


def guarded_delete(item: Model, condition: Condition) -> bool:
    """``item.delete`` under ``condition``; True if deleted — or gone after a retried attempt (ours)."""
    try:
        item.delete(condition=condition)
    except DeleteError as e:
        if not conditional_failed(e):
            raise
        if not retried(e):
            return False
        try:
            type(item)(*_keys(item)).refresh(consistent_read=True)
        except DoesNotExist:
            return True
        return False
    return True


def _keys(item: Model) -> tuple[Any, ...]:
    model = type(item)
    keys = [getattr(item, str(model._hash_keyname))]
    if model._range_keyname is not None:
        keys.append(getattr(item, model._range_keyname))
    return tuple(keys)
