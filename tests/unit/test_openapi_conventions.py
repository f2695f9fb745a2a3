"""Shared HTTP conventions: tamper-evident cursors and idempotency keys (in memory and on moto)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from chalice.app import Request, Response
from moto import mock_aws

from voltway.api.idempotency import (
    DynamoIdempotencyKeys,
    IdempotencyKeys,
    InMemoryIdempotencyKeys,
    run_idempotently,
)
from voltway.api.pagination import CursorRejected, CursorSigner
from voltway.identity import Principal, Role

CALLER = Principal("u1", "t1", frozenset({Role.DRIVER}))


def test_cursors_are_opaque_and_bound_to_their_scope() -> None:
    signer = CursorSigner(b"k" * 32)
    token = signer.sign('{"k": 1}', "t1\n/v1/sites")
    assert "k" not in token.split(".")[1] or token.startswith("v1.")
    assert signer.verify(token, "t1\n/v1/sites") == '{"k": 1}'
    for scope in ("t2\n/v1/sites", "t1\n/v1/chargers"):
        with pytest.raises(CursorRejected):
            signer.verify(token, scope)
    prefix, payload, mac = token.split(".")
    for forged in (f"{prefix}.{payload}x.{mac}", f"{prefix}.{payload}.{mac[:-1]}A", "garbage", ""):
        with pytest.raises(CursorRejected):
            signer.verify(forged, "t1\n/v1/sites")
    with pytest.raises(CursorRejected):
        CursorSigner(b"other-key-" * 3).verify(token, "t1\n/v1/sites")


def request(key: str | None, body: dict[str, Any]) -> Request:
    headers = {"content-type": "application/json", **({"idempotency-key": key} if key else {})}
    event = {
        "multiValueQueryStringParameters": None,
        "headers": headers,
        "pathParameters": None,
        "requestContext": {"httpMethod": "POST", "resourcePath": "/v1/things"},
        "body": json.dumps(body),
        "isBase64Encoded": False,
        "stageVariables": None,
    }
    return Request(event)


@pytest.fixture(params=["memory", "dynamodb"])
def store(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[IdempotencyKeys]:
    if request.param == "memory":
        yield InMemoryIdempotencyKeys()
        return
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        db = boto3.client(
            "dynamodb", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
        )
        db.create_table(
            TableName="idem",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        )
        yield DynamoIdempotencyKeys(db, "idem")


def test_a_retry_replays_the_first_answer_and_starts_nothing(store: IdempotencyKeys) -> None:
    started: list[int] = []

    def start() -> Response:
        started.append(1)
        return Response(body={"session": len(started)}, status_code=202)

    first = run_idempotently(store, request("key-00001", {"a": 1}), CALLER, "POST /v1/things", start)
    again = run_idempotently(store, request("key-00001", {"a": 1}), CALLER, "POST /v1/things", start)
    assert (first.status_code, first.body) == (202, {"session": 1})
    assert (again.status_code, again.body, again.headers["Idempotent-Replayed"]) == (
        202,
        {"session": 1},
        "true",
    )
    assert started == [1]
    reused = run_idempotently(store, request("key-00001", {"a": 2}), CALLER, "POST /v1/things", start)
    assert reused.status_code == 422 and reused.body["error"]["code"] == "idempotency_key_reused"
    other_user = Principal("u2", "t1", frozenset({Role.DRIVER}))
    assert run_idempotently(
        store, request("key-00001", {"a": 1}), other_user, "POST /v1/things", start
    ).body == {"session": 2}


def test_failures_are_not_stored_and_a_key_is_required(store: IdempotencyKeys) -> None:
    def boom() -> Response:
        raise RuntimeError("charger unreachable")

    with pytest.raises(RuntimeError):
        run_idempotently(store, request("key-00002", {}), CALLER, "POST /v1/things", boom)
    ok = run_idempotently(store, request("key-00002", {}), CALLER, "POST /v1/things", lambda: {"ok": True})
    assert ok.status_code == 200 and ok.body == {"ok": True}
    from voltway.adapters.http import BadRequest

    for key in (None, "short", "bad key with spaces"):
        with pytest.raises(BadRequest):
            run_idempotently(store, request(key, {}), CALLER, "POST /v1/things", lambda: {})


def test_a_concurrent_retry_is_told_to_wait() -> None:
    store = InMemoryIdempotencyKeys()
    assert store.claim("r", "f", 0.0) is None
    response = run_idempotently(store, request("key-00003", {}), CALLER, "x", lambda: {}, clock=lambda: 1.0)
    assert response.status_code == 200  # different record id: scope includes the route
    held = store.claim("r", "f", 1.0)
    assert held is not None and held.status is None
    assert store.claim("r", "f", 100.0) is None  # an abandoned claim is taken over
