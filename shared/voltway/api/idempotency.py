"""Idempotency keys for POSTs that start things (remote start, exports, payments...).

Route authors: read the ``Idempotency-Key`` header and wrap the operation::

    @app.route("/v1/sessions", methods=["POST"])
    @documented(Operation("Start", "sessions", StartRequest, response=SessionView, idempotency_key=True))
    @mapped
    def start_session() -> Response:
        caller = principal(request.context)
        return run_idempotently(
            cached_http_idempotency(), request, caller, "POST /v1/sessions",
            lambda: body(start(...)),
        )

The first request with a key runs the action and stores its answer (status + JSON body, for 24 h);
a retry with the same key and the same body gets the stored answer again with
``Idempotent-Replayed: true`` and starts nothing; the same key with another body is 422
``idempotency_key_reused``; a retry while the first is still running is 409 ``request_in_progress``.
Keys are scoped to tenant, user and route. Failures (exceptions, 5xx) are not stored: a retry runs again.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from chalice.app import Request, Response
from pydantic import Field

from voltway.adapters.aws import client
from voltway.adapters.conditional import GuardedTable
from voltway.adapters.http import BadRequest, error_response
from voltway.config import AwsSettings
from voltway.identity import Principal

HEADER = "Idempotency-Key"
_KEY = re.compile(r"^[A-Za-z0-9._:\-]{8,128}$")


@dataclass(frozen=True, slots=True)
class Held:
    fingerprint: str
    status: int | None  # None: the first request is still running
    body: str | None


class IdempotencyKeys(Protocol):
    def claim(self, record_id: str, fingerprint: str, now: float) -> Held | None:
        """None if this caller now owns the key; else what the key holds."""
        ...

    def complete(self, record_id: str, status: int, body: str) -> None: ...

    def release(self, record_id: str) -> None: ...


class InMemoryIdempotencyKeys:
    def __init__(self, ttl_seconds: float = 86400, stale_after_seconds: float = 60) -> None:
        self.items: dict[str, tuple[Held, float]] = {}
        self._ttl = ttl_seconds
        self._stale = stale_after_seconds

    def claim(self, record_id: str, fingerprint: str, now: float) -> Held | None:
        held = self.items.get(record_id)
        if held is not None:
            record, at = held
            expired = now - at > self._ttl or (record.status is None and now - at > self._stale)
            if not expired:
                return record
        self.items[record_id] = (Held(fingerprint, None, None), now)
        return None

    def complete(self, record_id: str, status: int, body: str) -> None:
        record, at = self.items[record_id]
        self.items[record_id] = (Held(record.fingerprint, status, body), at)

    def release(self, record_id: str) -> None:
        self.items.pop(record_id, None)


class DynamoIdempotencyKeys:
    """On the template's IdempotencyTable (key ``id``, TTL attribute ``expiration``, epoch seconds)."""

    def __init__(
        self, dynamodb: Any, table: str, ttl_seconds: int = 86400, stale_after_seconds: int = 60
    ) -> None:
        self._db = dynamodb
        self._table = table
        self._guarded = GuardedTable(dynamodb, table)
        self._ttl = ttl_seconds
        self._stale = stale_after_seconds

    def claim(self, record_id: str, fingerprint: str, now: float) -> Held | None:
        key = {"id": {"S": record_id}}
        claimed = self._guarded.put(
            key,
            {
                **key,
                "fingerprint": {"S": fingerprint},
                "claimed_at": {"N": str(int(now))},
                "expiration": {"N": str(int(now + self._ttl))},
            },
            # Take it if new, expired (TTL deletion lags), or an abandoned claim.
            "attribute_not_exists(id) OR expiration < :now OR "
            "(attribute_not_exists(#s) AND claimed_at < :stale)",
            {"#s": "status"},
            {":now": {"N": str(int(now))}, ":stale": {"N": str(int(now - self._stale))}},
        )
        if claimed:
            return None
        item = self._db.get_item(
            TableName=self._table, Key={"id": {"S": record_id}}, ConsistentRead=True
        ).get("Item")
        if not item:
            return self.claim(record_id, fingerprint, now)
        status = int(item["status"]["N"]) if "status" in item else None
        return Held(item["fingerprint"]["S"], status, item.get("body", {}).get("S"))

    def complete(self, record_id: str, status: int, body: str) -> None:
        self._db.update_item(
            TableName=self._table,
            Key={"id": {"S": record_id}},
            UpdateExpression="SET #s = :s, body = :b",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":s": {"N": str(status)}, ":b": {"S": body}},
        )

    def release(self, record_id: str) -> None:
        self._db.delete_item(TableName=self._table, Key={"id": {"S": record_id}})


def run_idempotently(
    store: IdempotencyKeys,
    request: Request,
    caller: Principal,
    route: str,
    action: Callable[[], Response | Mapping[str, Any]],
    *,
    clock: Callable[[], float] = time.time,
) -> Response:
    headers = request.headers
    key = headers.get(HEADER.lower()) if headers is not None else None
    if key is None:
        raise BadRequest(f"the {HEADER} header is required", {"field": HEADER})
    if not _KEY.match(key):
        raise BadRequest(f"{HEADER} must be 8-128 of A-Z a-z 0-9 . _ : -", {"field": HEADER})
    record_id = f"http#{caller.tenant_id}#{caller.user_id}#{route}#{key}"
    raw = request.raw_body or b""
    fingerprint = hashlib.sha256(raw.encode() if isinstance(raw, str) else raw).hexdigest()
    held = store.claim(record_id, fingerprint, clock())
    if held is None:
        try:
            result = action()
        except Exception:
            store.release(record_id)
            raise
        response = result if isinstance(result, Response) else Response(body=dict(result))
        if response.status_code >= 500:
            store.release(record_id)
        else:
            store.complete(record_id, response.status_code, json.dumps(response.body))
        return response
    if held.fingerprint != fingerprint:
        return error_response(422, "idempotency_key_reused", f"this {HEADER} was used with another body")
    if held.status is None or held.body is None:
        return error_response(409, "request_in_progress", f"a request with this {HEADER} is still running")
    return Response(
        body=json.loads(held.body),
        status_code=held.status,
        headers={"Content-Type": "application/json", "Idempotent-Replayed": "true"},
    )


class HttpIdempotencySettings(AwsSettings):
    http_idempotency_table: str
    http_idempotency_ttl_seconds: int = Field(default=86400, ge=60)


def http_idempotency(environ: Mapping[str, str] | None = None) -> DynamoIdempotencyKeys:
    settings = HttpIdempotencySettings.from_env(environ)
    dynamodb = client("dynamodb", region=settings.aws_region, endpoint_url=settings.aws_endpoint_url)
    return DynamoIdempotencyKeys(
        dynamodb, settings.http_idempotency_table, settings.http_idempotency_ttl_seconds
    )


cached_http_idempotency = functools.cache(http_idempotency)
