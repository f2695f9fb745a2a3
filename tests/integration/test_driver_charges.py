"""``GET /v1/me/charges`` on moto (tables from template.yaml): charges started at the charger with a
driver's RFID card show in that driver's history — and only there (issue 4)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.support import load_handler, moto_stack
from voltway.adapters import roots
from voltway.api import conventions
from voltway.chargers.model import Registration

pytestmark = pytest.mark.integration
EVENTS = Path(__file__).resolve().parents[1] / "events"
MANAGEMENT = "wss://abc123.execute-api.eu-west-1.amazonaws.com/local"
CP = "CP001"
FUNCTIONS = ("OcppConnectFunction", "OcppMessageFunction", "ApiFunction")


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    with moto_stack(monkeypatch, FUNCTIONS, WS_MANAGEMENT_ENDPOINT=MANAGEMENT) as (_, values):
        conventions.default_signer.cache_clear()
        yield values
        conventions.default_signer.cache_clear()


class Driver:
    """The API as one driver (JWT claims as the HTTP API's authorizer passes them)."""

    def __init__(self, api: Any, user: str, tenant: str = "t1", groups: str = "[driver]") -> None:
        self._api, self._user, self._tenant, self._groups = api, user, tenant, groups

    def __call__(
        self, method: str, path: str, *, body: Any = None, query: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        claims = {"sub": self._user, "custom:tenant": self._tenant, "cognito:groups": self._groups}
        event = {
            "version": "1.0",
            "resource": path,
            "path": path,
            "httpMethod": method,
            "headers": {"content-type": "application/json"},
            "multiValueHeaders": {"content-type": ["application/json"]},
            "queryStringParameters": query,
            "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
            "pathParameters": None,
            "stageVariables": None,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "api1",
                "authorizer": {"claims": claims, "scopes": None},
                "httpMethod": method,
                "path": path,
                "resourcePath": path,
                "stage": "$default",
                "requestId": "r1",
                "identity": {"sourceIp": "127.0.0.1"},
            },
            "body": json.dumps(body) if body is not None else None,
            "isBase64Encoded": False,
        }
        response = self._api.app(event, None)
        return response["statusCode"], json.loads(response["body"]) if response.get("body") else None


def _frame(frame: list[Any]) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / "ocpp_message.json").read_text())
    event = copy.deepcopy(loaded)
    event["body"] = json.dumps(frame)
    return event


def _start(message: Any, id_tag: str, connector: int, at: str) -> None:
    payload = {"connectorId": connector, "idTag": id_tag, "meterStart": 1000, "timestamp": at}
    message.handler(_frame([2, f"start-{id_tag}-{at}", "StartTransaction", payload]), None)


def _stop(message: Any, transaction_id: int, at: str) -> None:
    payload = {"transactionId": transaction_id, "meterStop": 8500, "timestamp": at, "reason": "Local"}
    message.handler(_frame([2, f"stop-{transaction_id}", "StopTransaction", payload]), None)


def test_rfid_started_charges_show_in_the_owners_history_only(env: dict[str, str]) -> None:
    api = load_handler("api")
    alice, bob = Driver(api, "alice"), Driver(api, "bob")
    assert alice("POST", "/v1/me/tokens", body={"uid": "CARDA1"})[0] == 201
    assert alice("POST", "/v1/me/tokens", body={"uid": "CARDA2"})[0] == 201
    assert bob("POST", "/v1/me/tokens", body={"uid": "CARDB1"})[0] == 201
    assert alice("GET", "/v1/me/charges") == (200, {"items": [], "next_cursor": None})

    roots.api().chargers.register(Registration(CP, "t1", "secret-pw-1", 1, True))
    assert (
        load_handler("ocpp_connect").handler(json.loads((EVENTS / "ocpp_connect.json").read_text()), None)[
            "statusCode"
        ]
        == 200
    )
    message = load_handler("ocpp_message")
    message.handler(json.loads((EVENTS / "ocpp_message.json").read_text()), None)  # BootNotification
    _start(message, "CARDA1", 1, "2026-01-02T03:00:00Z")
    status, page = alice("GET", "/v1/me/charges")
    assert status == 200, page
    (running,) = page["items"]
    assert (running["id_tag"], running["token_kind"], running["state"]) == ("CARDA1", "rfid", "running")
    _stop(message, running["transaction_id"], "2026-01-02T04:00:00Z")
    _start(message, "CARDB1", 2, "2026-01-02T03:30:00Z")
    _start(message, "CARDA2", 1, "2026-01-02T05:00:00Z")
    _start(message, "CARDA1", 3, "2026-01-02T06:00:00Z")

    status, first = alice("GET", "/v1/me/charges", query={"limit": "2"})
    assert status == 200 and first["next_cursor"]
    assert [(c["id_tag"], c["started_at"]) for c in first["items"]] == [
        ("CARDA1", "2026-01-02T06:00:00Z"),
        ("CARDA2", "2026-01-02T05:00:00Z"),
    ]
    second = alice("GET", "/v1/me/charges", query={"limit": "2", "cursor": first["next_cursor"]})[1]
    assert [c["transaction_id"] for c in second["items"]] == [running["transaction_id"]]
    assert second["next_cursor"] is None
    stopped = second["items"][0]
    assert (stopped["state"], stopped["energy_wh"], stopped["stop_reason"]) == ("stopped", 7500, "Local")

    (bobs,) = bob("GET", "/v1/me/charges")[1]["items"]  # bob sees his card's charge, none of alice's
    assert bobs["id_tag"] == "CARDB1"
    # A cursor is a position in time, scoped to tenant and route: in another driver's hands it still
    # lists only that driver's own charges.
    status, body = bob("GET", "/v1/me/charges", query={"cursor": first["next_cursor"]})
    assert status == 200 and [c["id_tag"] for c in body["items"]] == ["CARDB1"]
    assert Driver(api, "alice", tenant="t2")("GET", "/v1/me/charges")[1]["items"] == []
    assert Driver(api, "op", groups="[operator]")("GET", "/v1/me/charges")[0] == 403
