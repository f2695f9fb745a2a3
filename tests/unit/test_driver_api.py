"""Drivers' routes through the Chalice app on moto (tables from template.yaml): happy paths, validation,
roles, and isolation — a driver never sees another driver's (or tenant's) token, session or CDR."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import boto3
import pytest

from tests.unit.test_sites_support import Api, aws
from voltway.adapters import roots
from voltway.adapters.roots_transactions import cached_transactions_api
from voltway.api.idempotency import cached_http_idempotency
from voltway.billing.aws import DynamoCdrs
from voltway.billing.model import CdrKind, IssuedCdr
from voltway.billing.roots import cached_billing
from voltway.drivers.dynamo import DynamoDriverStore
from voltway.drivers.model import TokenKind, TokenLink
from voltway.drivers.roots import cached_drivers
from voltway.payments.roots import cached_payments

__all__ = ["aws"]

API = Api()
CHARGER = "/v1/chargers/{chargePointId}"
SESSION = "/v1/sessions/{sessionId}"


@pytest.fixture(autouse=True)
def stack(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # An endpoint moto intercepts in-process (the template's points at the local runtime).
    monkeypatch.setenv("WS_MANAGEMENT_ENDPOINT", "https://ws1.execute-api.eu-west-1.amazonaws.com/local")
    for cached in (
        cached_drivers,
        cached_billing,
        cached_transactions_api,
        roots.cached_commands,
        cached_http_idempotency,
        cached_payments,
    ):
        cached.cache_clear()
    status, body = API("PUT", CHARGER, {"chargePointId": "CP1"}, body={"password": "secret-pw-1"})
    assert status == 200, body
    # App starts are paid: every driver of these tests has a card (the fake gateway approves tok_ok...).
    for tenant in ("t1", "t2"):
        for user in ("alice", "bob"):
            card = {"token": f"tok_ok_{user}"}
            assert call("PUT", "/v1/me/payment-method", body=card, user=user, tenant=tenant)[0] == 200
    yield
    for cached in (
        cached_drivers,
        cached_billing,
        cached_transactions_api,
        roots.cached_commands,
        cached_http_idempotency,
        cached_payments,
    ):
        cached.cache_clear()


def call(
    method: str,
    resource: str,
    params: dict[str, str] | None = None,
    *,
    user: str = "alice",
    tenant: str = "t1",
    groups: str | None = "[driver]",
    body: Any = None,
    raw_body: str | None = None,
    query: dict[str, str] | None = None,
    key: str | None = None,
) -> tuple[int, dict[str, str], Any]:
    """Like ``Api.full`` with the caller's ``sub`` chosen (drivers are told apart by it)."""
    path = resource
    for k, v in (params or {}).items():
        path = path.replace("{" + k + "}", v)
    headers = {"content-type": "application/json", **({"idempotency-key": key} if key else {})}
    claims = {"sub": user, "custom:tenant": tenant, "cognito:groups": groups, "token_use": "id"}
    event = {
        "version": "1.0",
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": params,
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api1",
            "authorizer": {"claims": claims, "scopes": None} if groups is not None else None,
            "httpMethod": method,
            "path": path,
            "resourcePath": resource,
            "stage": "$default",
            "requestId": "r1",
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "body": raw_body if raw_body is not None else (json.dumps(body) if body is not None else None),
        "isBase64Encoded": False,
    }
    response = API.module.app(event, None)
    payload = json.loads(response["body"]) if response.get("body") else None
    return response["statusCode"], dict(response.get("headers") or {}), payload


def online(cp: str) -> None:
    """Mark the charger connected (moto's post_to_connection accepts any connection)."""
    boto3.client("dynamodb").update_item(
        TableName=os.environ["CHARGERS_TABLE"],
        Key={"charge_point_id": {"S": cp}},
        UpdateExpression="SET #o = :t, connection_id = :c",
        ExpressionAttributeNames={"#o": "online"},
        ExpressionAttributeValues={":t": {"BOOL": True}, ":c": {"S": "conn-1"}},
    )


def test_tokens_app_token_rfid_and_block() -> None:
    status, _, tokens = call("GET", "/v1/me/tokens")
    assert status == 200, tokens
    (app,) = tokens["items"]
    assert app["kind"] == "app" and app["status"] == "Accepted" and app["id_tag"].startswith("APP")
    assert call("GET", "/v1/me/tokens")[2] == tokens  # created once
    status, _, card = call("POST", "/v1/me/tokens", body={"uid": "04A1B2C3"})
    assert status == 201 and card["kind"] == "rfid" and card["status"] == "Accepted"
    assert call("POST", "/v1/me/tokens", body={"uid": "04A1B2C3"})[0] == 200
    status, _, err = call("POST", "/v1/me/tokens", body={"uid": "04A1B2C3"}, user="bob")
    assert status == 409 and err["error"]["code"] == "token_owned"
    # The id tag exists for the chargers (operator view of the same tenant).
    status, tag = API("GET", "/v1/id-tags/{idTag}", {"idTag": "04A1B2C3"})
    assert status == 200 and tag["status"] == "Accepted"
    assert call("POST", "/v1/me/tokens/{idTag}/block", {"idTag": "04A1B2C3"}, user="bob")[0] == 404
    assert call("POST", "/v1/me/tokens/{idTag}/block", {"idTag": "04A1B2C3"}, tenant="t2")[0] == 404
    status, _, blocked = call("POST", "/v1/me/tokens/{idTag}/block", {"idTag": "04A1B2C3"})
    assert status == 200 and blocked["status"] == "Blocked"
    assert API("GET", "/v1/id-tags/{idTag}", {"idTag": "04A1B2C3"})[1]["status"] == "Blocked"
    ids = {t["id_tag"]: t["status"] for t in call("GET", "/v1/me/tokens")[2]["items"]}
    assert ids == {app["id_tag"]: "Accepted", "04A1B2C3": "Blocked"}
    bob = call("GET", "/v1/me/tokens", user="bob")[2]["items"]
    assert [t["kind"] for t in bob] == ["app"] and "04A1B2C3" not in str(bob)


def test_token_validation_and_roles() -> None:
    status, _, err = call("POST", "/v1/me/tokens", body={"uid": "x" * 21})
    assert status == 400 and err["error"]["code"] == "validation_error"
    assert call("POST", "/v1/me/tokens", body={"uid": "A1", "extra": 1})[0] == 400
    assert call("POST", "/v1/me/tokens", raw_body="{nope")[0] == 400
    assert call("POST", "/v1/me/tokens/{idTag}/block", {"idTag": "x" * 21})[0] == 400
    assert call("GET", "/v1/me/tokens", groups=None)[0] == 401
    assert call("GET", "/v1/me/tokens", groups="[operator]")[0] == 403
    assert call("GET", "/v1/me/tokens", groups="[finance]")[0] == 403


def test_start_on_an_offline_charger_and_validation() -> None:
    start = {"charge_point_id": "CP1", "connector_id": 1}
    status, headers, session = call("POST", "/v1/sessions", body=start, key="start-key-0001")
    assert status == 202, session
    assert session["state"] == "offline" and headers["Location"] == f"/v1/sessions/{session['session_id']}"
    assert call("POST", "/v1/sessions", body=start)[0] == 400  # Idempotency-Key is required
    for bad in (
        {"charge_point_id": "CP1", "connector_id": 0},
        {"charge_point_id": "bad id!", "connector_id": 1},
        {},
    ):
        assert call("POST", "/v1/sessions", body=bad, key="start-key-0002")[0] == 400
    unknown = {"charge_point_id": "NOPE", "connector_id": 1}
    assert call("POST", "/v1/sessions", body=unknown, key="start-key-0003")[0] == 404
    assert call("POST", "/v1/sessions", body=start, key="start-key-0004", tenant="t2")[0] == 404
    assert call("POST", "/v1/sessions", body=start, key="start-key-0005", groups="[operator]")[0] == 403
    status, _, err = call("POST", SESSION + "/stop", {"sessionId": session["session_id"]})
    assert status == 409 and err["error"]["code"] == "session_not_running"
    assert call("GET", SESSION, {"sessionId": "not-a-uuid"})[0] == 400


def test_start_is_idempotent_and_sessions_are_private() -> None:
    online("CP1")
    start = {"charge_point_id": "CP1", "connector_id": 1}
    status, _, session = call("POST", "/v1/sessions", body=start, key="start-key-0001")
    assert status == 202 and session["state"] == "requested", session
    status, headers, replay = call("POST", "/v1/sessions", body=start, key="start-key-0001")
    assert status == 202 and replay == session and headers.get("Idempotent-Replayed") == "true"
    other = {"charge_point_id": "CP1", "connector_id": 2}
    assert call("POST", "/v1/sessions", body=other, key="start-key-0001")[0] == 422
    sid = {"sessionId": session["session_id"]}
    status, _, got = call("GET", SESSION, sid)
    assert status == 200 and got["state"] == "requested" and got["live"] is None
    # Exactly one RemoteStartTransaction was queued, for the app token.
    status, commands = API("GET", "/v1/chargers/{chargePointId}/commands", {"chargePointId": "CP1"})
    assert [(c["action"], c["request"]) for c in commands["items"]] == [
        ("RemoteStartTransaction", {"connectorId": 1, "idTag": session["id_tag"]})
    ]
    for who in ({"user": "bob"}, {"tenant": "t2"}):
        status, _, err = call("GET", SESSION, sid, **who)  # type: ignore[arg-type]
        assert status == 404 and session["id_tag"] not in json.dumps(err)
        assert call("POST", SESSION + "/stop", sid, **who)[0] == 404  # type: ignore[arg-type]
        assert call("GET", "/v1/me/sessions", **who)[2]["items"] == []  # type: ignore[arg-type]
    status, _, page = call("GET", "/v1/me/sessions")
    assert status == 200 and [s["session_id"] for s in page["items"]] == [session["session_id"]]


def test_history_pages_newest_first_with_signed_cursors() -> None:
    ids = []
    for i in range(3):
        status, _, s = call(
            "POST",
            "/v1/sessions",
            body={"charge_point_id": "CP1", "connector_id": i + 1},
            key=f"start-key-10{i}",
        )
        assert status == 202
        ids.append(s["session_id"])
    seen: list[str] = []
    cursor = None
    while True:
        query = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        status, _, page = call("GET", "/v1/me/sessions", query=query)
        assert status == 200, page
        seen += [s["session_id"] for s in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert cursor.startswith("v1.")
        assert call("GET", "/v1/me/sessions", query={"cursor": cursor}, tenant="t2")[0] == 400
    assert seen == ids[::-1]
    assert call("GET", "/v1/me/sessions", query={"limit": "0"})[0] == 400


def test_cdrs_of_my_tokens_only() -> None:
    call("POST", "/v1/me/tokens", body={"uid": "CARDA"})
    store = DynamoCdrs(boto3.client("dynamodb"), os.environ["CDRS_TABLE"])
    at = datetime(2026, 3, 2, 11, tzinfo=UTC)
    for cdr_id, tenant, uid in (("TX1", "t1", "CARDA"), ("TX2", "t1", "SOMEONE"), ("TX3", "t2", "CARDA")):
        ocpi = {"id": cdr_id, "cdr_token": {"uid": uid, "contract_id": uid}, "total_cost": {"excl_vat": 1.5}}
        store.put_new(
            IssuedCdr(
                cdr_id,
                tenant,
                "CP1",
                1,
                int(cdr_id[2:]),
                CdrKind.DEBIT,
                at,
                "EUR",
                Decimal("1.50"),
                None,
                ocpi,
            )
        )
    status, _, cdr = call("GET", "/v1/me/cdrs/{cdrId}", {"cdrId": "TX1"})
    assert status == 200 and cdr["id"] == "TX1" and cdr["voltway"]["transaction_id"] == 1
    for cdr_id, who in (("TX2", {}), ("TX1", {"user": "bob"}), ("TX3", {}), ("TX9", {})):
        status, _, err = call("GET", "/v1/me/cdrs/{cdrId}", {"cdrId": cdr_id}, **who)  # type: ignore[arg-type]
        assert status == 404 and err["error"]["code"] == "not_found" and "total_cost" not in json.dumps(err)
    assert call("GET", "/v1/me/cdrs/{cdrId}", {"cdrId": "TX1"}, groups="[operator]")[0] == 403


def test_dynamo_store_claims_are_exclusive() -> None:
    store = DynamoDriverStore(boto3.client("dynamodb"), os.environ["DRIVERS_TABLE"])
    at = datetime(2026, 3, 2, tzinfo=UTC)
    first = store.claim_token(TokenLink("t1", "alice", "RACE1", TokenKind.RFID, at))
    second = store.claim_token(TokenLink("t1", "bob", "RACE1", TokenKind.RFID, at))
    assert first.user_id == "alice" and second.user_id == "alice"
    assert [t.id_tag for t in store.tokens_of("t1", "bob")] == []
    assert store.claim_app_token("t1", "alice", "APPA") == "APPA"
    assert store.claim_app_token("t1", "alice", "APPB") == "APPA"


def test_openapi_documents_the_driver_routes() -> None:
    status, doc = API("GET", "/v1/openapi.json", groups=None)
    assert status == 200
    start = doc["paths"]["/v1/sessions"]["post"]
    assert start["x-roles"] == ["admin", "driver"] and "202" in start["responses"]
    assert any(p["name"] == "Idempotency-Key" and p["required"] for p in start["parameters"])
    assert start["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "StartSessionRequest"
    )
    for path in ("/v1/me/tokens", "/v1/me/sessions", "/v1/sessions/{sessionId}", "/v1/me/cdrs/{cdrId}"):
        assert doc["paths"][path]["get"]["tags"] == ["drivers"]
