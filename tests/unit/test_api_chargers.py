"""The Chalice app's charger routes, invoked as Lambda with API Gateway HTTP API payload-1.0 events
carrying the JWT authorizer's claims (DynamoDB: moto in-process, tables from template.yaml)."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from moto import mock_aws

from voltway.adapters import roots
from voltway.local.resources import provision_template

REPO = Path(__file__).resolve().parents[2]


def load_app() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fn_api", REPO / "functions" / "api" / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


API = load_app()


def call(
    method: str,
    resource: str,
    path_params: dict[str, str] | None = None,
    *,
    body: Any = None,
    query: dict[str, str] | None = None,
    groups: str | None = "[operator]",
    tenant: str = "t1",
) -> tuple[int, Any]:
    path = resource
    for k, v in (path_params or {}).items():
        path = path.replace("{" + k + "}", v)
    authorizer = None
    if groups is not None:
        claims = {"sub": "user-1", "custom:tenant": tenant, "cognito:groups": groups, "token_use": "id"}
        authorizer = {"claims": claims, "scopes": None}
    event = {
        "version": "1.0",
        "resource": resource,
        "path": f"/local{path}",
        "httpMethod": method,
        "headers": {"content-type": "application/json"},
        "multiValueHeaders": {"content-type": ["application/json"]},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": path_params,
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api1",
            "authorizer": authorizer,
            "httpMethod": method,
            "path": f"/local{path}",
            "resourcePath": resource,
            "stage": "local",
            "requestId": "r1",
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "body": json.dumps(body) if body is not None else None,
        "isBase64Encoded": False,
    }
    response = API.app(event, None)
    return response["statusCode"], json.loads(response["body"]) if response.get("body") else None


@pytest.fixture(autouse=True)
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        provisioned = provision_template(None, REPO / "template.yaml")
        for key, value in provisioned.function_environment("ApiFunction").items():
            monkeypatch.setenv(key, value)
        roots.cached_api.cache_clear()
        yield


CHARGER = "/v1/chargers/{chargePointId}"


def test_health_needs_no_auth() -> None:
    assert call("GET", "/v1/health", groups=None) == (200, {"status": "ok"})


def test_register_read_list_and_never_return_the_password() -> None:
    status, body = call("PUT", CHARGER, {"chargePointId": "CP1"}, body={"password": "secret-pw-1"})
    assert status == 200 and body["charge_point_id"] == "CP1" and body["tenant_id"] == "t1"
    assert "password" not in json.dumps(body) and body["online"] is False and body["connectors"] == []
    status, body = call(
        "PUT", CHARGER, {"chargePointId": "CP1"}, body={"enabled": False, "security_profile": 2}
    )
    assert status == 200 and body["enabled"] is False and body["security_profile"] == 2
    call("PUT", CHARGER, {"chargePointId": "CP2"}, body={"password": "secret-pw-2"})
    call("PUT", CHARGER, {"chargePointId": "CP3"}, body={"password": "secret-pw-3"})
    status, page = call("GET", "/v1/chargers", query={"limit": "2"})
    assert status == 200 and [c["charge_point_id"] for c in page["items"]] == ["CP1", "CP2"]
    status, page = call("GET", "/v1/chargers", query={"limit": "2", "cursor": page["next_cursor"]})
    assert [c["charge_point_id"] for c in page["items"]] == ["CP3"] and page["next_cursor"] is None
    assert call("GET", CHARGER, {"chargePointId": "CP1"})[1]["enabled"] is False


def test_tenants_are_isolated() -> None:
    call("PUT", CHARGER, {"chargePointId": "CP1"}, body={"password": "secret-pw-1"})
    status, body = call("GET", CHARGER, {"chargePointId": "CP1"}, tenant="t2")
    assert status == 404 and body["error"]["code"] == "not_found"
    assert call("GET", CHARGER + "/messages", {"chargePointId": "CP1"}, tenant="t2")[0] == 404
    assert (
        call("PUT", CHARGER, {"chargePointId": "CP1"}, body={"password": "secret-pw-9"}, tenant="t2")[0]
        == 409
    )
    assert call("GET", "/v1/chargers", tenant="t2")[1]["items"] == []


def test_errors_have_one_shape() -> None:
    status, body = call(
        "PUT", CHARGER, {"chargePointId": "CP1"}, body={"password": "short", "security_profile": 3}
    )
    assert status == 400 and body["error"]["code"] == "validation_error"
    assert {d["field"] for d in body["error"]["details"]} == {"password", "security_profile"}
    assert (
        call("PUT", CHARGER, {"chargePointId": "CP1"}, body={"enabled": True})[0] == 400
    )  # new: no password
    assert call("GET", CHARGER, {"chargePointId": "CP1"}, groups=None)[0] == 401
    assert call("GET", CHARGER, {"chargePointId": "CP1"}, groups="[driver]")[0] == 403
    body = {"password": "secret-pw-1", "tenant_id": "other"}
    assert call("PUT", CHARGER, {"chargePointId": "CP1"}, body=body)[0] == 403
    assert call("PUT", CHARGER, {"chargePointId": "CP1"}, body=body, groups="[admin]")[0] == 200
    assert call("GET", "/v1/chargers", query={"cursor": "garbage!"})[0] == 400
    assert call("GET", "/v1/chargers", query={"limit": "0"})[0] == 400
    status, body = call("PUT", CHARGER, {"chargePointId": "bad:id"}, body={"password": "secret-pw-1"})
    assert status == 400 and set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}


def test_messages_are_listed_newest_first() -> None:
    from datetime import UTC, datetime, timedelta

    from voltway.ocpp.ports import AuditEntry

    call("PUT", CHARGER, {"chargePointId": "CP1"}, body={"password": "secret-pw-1"})
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    roots.cached_api().messages.record(
        [AuditEntry("CP1", "in", t0 + timedelta(seconds=i), str(i), 2, "Heartbeat", "[]") for i in range(3)]
    )
    status, page = call("GET", CHARGER + "/messages", {"chargePointId": "CP1"}, query={"limit": "2"})
    assert status == 200 and [m["unique_id"] for m in page["items"]] == ["2", "1"] and page["next_cursor"]
