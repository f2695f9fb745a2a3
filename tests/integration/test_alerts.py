"""Operators' alerts on moto (tables from template.yaml): opened and resolved by the real monitor and
$default handlers, listed and acknowledged through the API routes (roles, tenants, cursors)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.integration.support import load_handler, moto_stack
from tests.unit.test_sites_support import Api
from voltway.adapters import roots
from voltway.api import conventions
from voltway.chargers.model import Registration

pytestmark = pytest.mark.integration
EVENTS = Path(__file__).resolve().parents[1] / "events"
MANAGEMENT = "wss://abc123.execute-api.eu-west-1.amazonaws.com/local"
CP = "CP001"
ALERTS = "/v1/alerts"
ACK = "/v1/alerts/{alertId}/acknowledge"
CHARGER = "/v1/chargers/{chargePointId}"
FUNCTIONS = (
    "OcppConnectFunction",
    "OcppMessageFunction",
    "OcppDisconnectFunction",
    "ChargerMonitorFunction",
    "ApiFunction",
)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    with moto_stack(monkeypatch, FUNCTIONS, WS_MANAGEMENT_ENDPOINT=MANAGEMENT) as (_, values):
        conventions.default_signer.cache_clear()
        yield values
        conventions.default_signer.cache_clear()


def _event(name: str, frame: Any = None) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    event = copy.deepcopy(loaded)
    if frame is not None:
        event["body"] = json.dumps(frame)
    return event


def _status(connector: int, status: str, error_code: str = "NoError", unique: str = "s1") -> list[Any]:
    payload = {"connectorId": connector, "status": status, "errorCode": error_code, "info": "door"}
    return [2, unique, "StatusNotification", payload]


def _silence(env: dict[str, str], minutes: int) -> None:
    """The charger was last heard ``minutes`` ago."""
    at = (datetime.now(UTC) - timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.%f+0000")
    boto3.client("dynamodb", region_name="eu-west-1").update_item(
        TableName=env["CHARGERS_TABLE"],
        Key={"charge_point_id": {"S": CP}},
        UpdateExpression="SET last_seen = :at",
        ExpressionAttributeValues={":at": {"S": at}},
    )


@pytest.fixture
def charger(env: dict[str, str]) -> Any:
    roots.api().chargers.register(Registration(CP, "t1", "secret-pw-1", 1, True))
    assert load_handler("ocpp_connect").handler(_event("ocpp_connect"), None)["statusCode"] == 200
    message = load_handler("ocpp_message")
    message.handler(_event("ocpp_message"), None)  # BootNotification: Accepted
    return message


def test_offline_alert_is_opened_by_the_monitor_and_resolved_when_the_charger_is_back(
    env: dict[str, str], charger: Any
) -> None:
    api, monitor = Api(), load_handler("charger_monitor")
    _silence(env, 30)
    assert monitor.handler({}, None)["offline"] == [CP]
    status, page = api("GET", ALERTS)
    assert status == 200, page
    (alert,) = page["items"]
    assert (alert["kind"], alert["status"], alert["charge_point_id"]) == ("charger_offline", "open", CP)
    assert alert["alert_id"] == f"{CP}~charger_offline~0~1" and alert["details"]["last_seen"]
    assert monitor.handler({}, None)["offline"] == []  # one alert per absence
    assert monitor.handler({}, None)["offline_alerts_resolved"] == 0  # still silent
    assert api("GET", CHARGER, {"chargePointId": CP})[1]["online"] is False

    charger.handler(_event("ocpp_message", [2, "hb1", "Heartbeat", {}]), None)  # back
    assert api("GET", CHARGER, {"chargePointId": CP})[1]["online"] is True  # and commands reach it again
    assert monitor.handler({}, None)["offline_alerts_resolved"] == 1
    assert api("GET", ALERTS)[1]["items"] == []
    (resolved,) = api("GET", ALERTS, query={"status": "resolved"})[1]["items"]
    assert resolved["resolved_at"] and resolved["alert_id"] == alert["alert_id"]

    _silence(env, 30)  # a new absence is a new occurrence
    monitor.handler({}, None)
    (again,) = api("GET", ALERTS)[1]["items"]
    assert again["alert_id"] == f"{CP}~charger_offline~0~2"


def test_faulted_connector_opens_an_alert_with_its_error_code_and_leaving_faulted_resolves_it(
    env: dict[str, str], charger: Any
) -> None:
    api = Api()
    charger.handler(_event("ocpp_message", _status(1, "Available")), None)
    assert api("GET", ALERTS)[1]["items"] == []  # nothing to tell
    charger.handler(_event("ocpp_message", _status(1, "Faulted", "GroundFailure", "s2")), None)
    charger.handler(_event("ocpp_message", _status(1, "Faulted", "GroundFailure", "s3")), None)  # still
    (alert,) = api("GET", ALERTS)[1]["items"]
    assert alert["kind"] == "connector_faulted" and alert["subject"] == "1"
    assert alert["details"]["error_code"] == "GroundFailure" and alert["details"]["info"] == "door"
    charger.handler(_event("ocpp_message", _status(1, "Available", unique="s4")), None)
    assert api("GET", ALERTS)[1]["items"] == []
    assert api("GET", ALERTS, query={"status": "resolved"})[1]["items"][0]["alert_id"] == alert["alert_id"]


def test_a_stop_of_an_unknown_transaction_opens_an_alert(env: dict[str, str], charger: Any) -> None:
    stop = {"transactionId": 4711, "meterStop": 1200, "timestamp": "2026-01-02T03:04:05Z", "reason": "Local"}
    charger.handler(_event("ocpp_message", [2, "st1", "StopTransaction", stop]), None)
    (alert,) = Api()("GET", ALERTS)[1]["items"]
    assert alert["kind"] == "unknown_transaction_stop" and alert["subject"] == "4711"
    assert alert["details"]["meter_stop"] == 1200


def test_acknowledge_roles_tenants_and_cursors(env: dict[str, str], charger: Any) -> None:
    api = Api()
    for connector in (1, 2, 3):
        frame = _status(connector, "Faulted", "HighTemperature", f"f{connector}")
        charger.handler(_event("ocpp_message", frame), None)
    status, first = api("GET", ALERTS, query={"limit": "2"})
    assert status == 200 and len(first["items"]) == 2 and first["next_cursor"]
    second = api("GET", ALERTS, query={"limit": "2", "cursor": first["next_cursor"]})[1]
    assert len(second["items"]) == 1 and second["next_cursor"] is None
    ids = [a["alert_id"] for a in first["items"] + second["items"]]
    assert len(set(ids)) == 3

    # roles: drivers and finance see no alerts; admins do
    assert api("GET", ALERTS, groups="[driver]")[0] == 403
    assert api("POST", ACK, {"alertId": ids[0]}, groups="[finance]")[0] == 403
    assert api("GET", ALERTS, groups="[admin]")[0] == 200
    # tenants: another tenant sees none, cannot acknowledge, cannot reuse a cursor
    assert api("GET", ALERTS, tenant="t2")[1]["items"] == []
    status, body = api("POST", ACK, {"alertId": ids[0]}, tenant="t2")
    assert status == 404 and body["error"]["code"] == "not_found"
    status, body = api("GET", ALERTS, query={"cursor": first["next_cursor"]}, tenant="t2")
    assert status == 400 and body["error"]["code"] == "invalid_cursor"

    status, acked = api("POST", ACK, {"alertId": ids[0]})
    assert status == 200 and acked["status"] == "acknowledged" and acked["acknowledged_by"] == "user-1"
    assert api("POST", ACK, {"alertId": ids[0]}) == (200, acked)  # again: as it is
    assert [a["alert_id"] for a in api("GET", ALERTS, query={"status": "acknowledged"})[1]["items"]] == [
        ids[0]
    ]
    assert ids[0] not in [a["alert_id"] for a in api("GET", ALERTS)[1]["items"]]
    assert api("POST", ACK, {"alertId": f"{CP}~connector_faulted~9~1"})[0] == 404
    assert api("POST", ACK, {"alertId": "nonsense"})[0] == 404
    status, body = api("POST", ACK, {"alertId": "no spaces"})  # not an alert id at all: 400, no lookup
    assert status == 400 and body["error"]["details"] == {"field": "alertId"}
    assert api("POST", ACK, {"alertId": f"{ids[2]}\n"})[0] == 400  # the whole value must match
    assert api("GET", ALERTS, query={"status": "closed"})[0] == 400

    # resolved: acknowledging is a conflict
    connector = ids[1].split("~")[2]
    charger.handler(_event("ocpp_message", _status(int(connector), "Available", unique="ok")), None)
    status, body = api("POST", ACK, {"alertId": ids[1]})
    assert status == 409 and body["error"]["code"] == "alert_resolved"


def test_a_meter_anomaly_opens_an_alert_once_per_transaction(env: dict[str, str], charger: Any) -> None:
    api = Api()
    start = {"connectorId": 1, "idTag": "TAG1", "meterStart": 5000, "timestamp": "2026-01-02T03:00:00Z"}
    charger.handler(_event("ocpp_message", [2, "tx1", "StartTransaction", start]), None)
    status, page = api("GET", "/v1/chargers/{chargePointId}/transactions", {"chargePointId": CP})
    assert status == 200, page
    transaction_id = page["items"][0]["transaction_id"]
    stop = {"transactionId": transaction_id, "meterStop": 4000, "timestamp": "2026-01-02T04:00:00Z"}
    charger.handler(_event("ocpp_message", [2, "tx2", "StopTransaction", stop]), None)
    (alert,) = api("GET", ALERTS)[1]["items"]
    assert alert["kind"] == "meter_anomaly" and alert["subject"] == str(transaction_id)
    assert alert["details"]["anomalies"] == ["meter_stop_below_meter_start"]


def test_a_reconnect_resolves_the_offline_alert_at_once(env: dict[str, str], charger: Any) -> None:
    api, monitor = Api(), load_handler("charger_monitor")
    _silence(env, 30)
    monitor.handler({}, None)
    assert [a["kind"] for a in api("GET", ALERTS)[1]["items"]] == ["charger_offline"]
    load_handler("ocpp_disconnect").handler(_event("ocpp_disconnect"), None)
    assert load_handler("ocpp_connect").handler(_event("ocpp_connect"), None)["statusCode"] == 200
    assert api("GET", ALERTS)[1]["items"] == []  # no monitor run needed
    assert monitor.handler({}, None)["offline_alerts_resolved"] == 0
