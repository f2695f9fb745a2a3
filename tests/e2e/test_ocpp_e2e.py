"""The OCPP 1.6J central system end to end: the real template.yaml on the local runtime, chargers
registered through the operator HTTP API, a real ``ocpp`` v16 ChargePoint over a real WebSocket, raw
frames for the error paths, and boto3's management API client for the $disconnect path.

One runtime per module keeps the file fast.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import boto3
import pytest
from botocore.exceptions import ClientError
from ocpp.v16 import call
from ocpp.v16.enums import ChargePointErrorCode, ChargePointStatus
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as async_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from tests.e2e.support import OCPP16, PlainCharger, SessionClient, basic_auth, bearer_token
from voltway.local.runtime import LocalRuntime

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

TENANT = "e2e-ocpp"
PASSWORD = "e2e-secret-pw"
T = TypeVar("T")


class Stack:
    """The running local runtime plus an operator's HTTP session on it."""

    def __init__(self, runtime: LocalRuntime) -> None:
        self.runtime = runtime
        token = bearer_token(
            runtime, subject="e2e-operator", tenant=TENANT, roles=["operator"], ttl_seconds=600
        )
        self.api = SessionClient(runtime, token, timeout=20)

    def register(self, charge_point_id: str, *, enabled: bool = True) -> None:
        response = self.api(
            "PUT", f"/v1/chargers/{charge_point_id}", {"password": PASSWORD, "enabled": enabled}
        )
        assert response.status_code == 200, response.text

    def charger(self, charge_point_id: str) -> dict[str, Any]:
        response = self.api("GET", f"/v1/chargers/{charge_point_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def url(self, charge_point_id: str) -> str:
        return f"{self.runtime.charger_ws_url}/{charge_point_id}"

    def wait_until(self, check: Callable[[], bool], timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError("condition not met in time")
            time.sleep(0.1)

    def connection_id(self, charge_point_id: str) -> str:
        """Read from the ChargersTable: the API does not show connection ids."""
        assert self.runtime.provisioned is not None
        dynamodb = boto3.client(
            "dynamodb",
            endpoint_url=self.runtime.aws_endpoint_url,
            region_name="eu-west-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        item = dynamodb.get_item(
            TableName=self.runtime.provisioned.tables["ChargersTable"],
            Key={"charge_point_id": {"S": charge_point_id}},
            ConsistentRead=True,
        )["Item"]
        return str(item["connection_id"]["S"])


@pytest.fixture(scope="module")
def stack(shared_runtime: LocalRuntime) -> Stack:
    return Stack(shared_runtime)


def basic(username: str, password: str = PASSWORD) -> dict[str, str]:
    return basic_auth(username, password)


def run_charger(
    stack: Stack, charge_point_id: str, body: Callable[[PlainCharger, ClientConnection], Awaitable[T]]
) -> T:
    async def main() -> T:
        async with async_connect(
            stack.url(charge_point_id), subprotocols=OCPP16, additional_headers=basic(charge_point_id)
        ) as ws:
            assert ws.subprotocol == "ocpp1.6"
            client = PlainCharger(charge_point_id, ws, response_timeout=15)
            listener = asyncio.create_task(client.start())
            try:
                return await body(client, ws)
            finally:
                listener.cancel()

    return asyncio.run(main())


def boot_payload() -> Any:
    return call.BootNotification(
        charge_point_model="E2E-Model", charge_point_vendor="E2E-Vendor", firmware_version="1.2.3"
    )


def raw_call(ws: Any, frame: str, timeout: float = 15) -> list[Any]:
    """Send ``frame``; return the platform's answer. A CALL the platform sends meanwhile (the configuration
    read after an accepted boot) is answered with an empty CALLRESULT and skipped."""
    ws.send(frame)
    while True:
        reply: list[Any] = json.loads(ws.recv(timeout=timeout))
        if reply[0] != 2:
            return reply
        ws.send(json.dumps([3, reply[1], {}]))


# ---------------------------------------------------------------------------------------------- accepted


def test_accepted_charger_boots_heartbeats_and_reports_status(stack: Stack) -> None:
    cp = "E2E-CP-OK"
    stack.register(cp)

    async def body(client: PlainCharger, ws: ClientConnection) -> tuple[Any, Any, dict[str, Any]]:
        boot = await client.call(boot_payload())
        heartbeat = await client.call(call.Heartbeat())
        await client.call(
            call.StatusNotification(
                connector_id=1,
                error_code=ChargePointErrorCode.no_error,
                status=ChargePointStatus.available,
                timestamp="2026-03-01T10:00:00+01:00",
            )
        )
        return boot, heartbeat, stack.charger(cp)

    boot, heartbeat, seen = run_charger(stack, cp, body)

    assert boot.status == "Accepted" and boot.interval == 300
    assert boot.current_time.endswith("Z")
    assert heartbeat.current_time.endswith("Z")
    assert seen["online"] is True
    assert seen["registration_status"] == "Accepted"
    assert seen["boot"]["vendor"] == "E2E-Vendor" and seen["boot"]["firmware_version"] == "1.2.3"
    (connector,) = seen["connectors"]
    assert connector["connector_id"] == 1 and connector["status"] == "Available"
    assert connector["timestamp"] == "2026-03-01T09:00:00Z"

    messages = stack.api("GET", f"/v1/chargers/{cp}/messages?limit=50").json()["items"]
    directions = {(m["action"], m["direction"]) for m in messages}
    for action in ("BootNotification", "Heartbeat", "StatusNotification"):
        assert (action, "in") in directions and (action, "out") in directions


# ---------------------------------------------------------------------------------------------- refused


def refused_status(url: str, **kwargs: Any) -> int:
    with pytest.raises(InvalidStatus) as refused:
        connect(url, open_timeout=15, **kwargs)
    return refused.value.response.status_code


def test_wrong_password_is_refused_with_403(stack: Stack) -> None:
    cp = "E2E-CP-PW"
    stack.register(cp)
    assert (
        refused_status(stack.url(cp), subprotocols=OCPP16, additional_headers=basic(cp, "nope-nope")) == 403
    )


def test_other_or_no_subprotocol_is_refused(stack: Stack) -> None:
    cp = "E2E-CP-SUB"
    stack.register(cp)
    assert (
        refused_status(stack.url(cp), subprotocols=[Subprotocol("ocpp2.0.1")], additional_headers=basic(cp))
        == 400
    )
    assert refused_status(stack.url(cp), additional_headers=basic(cp)) == 400


def test_unknown_disabled_and_mismatched_chargers_are_refused(stack: Stack) -> None:
    stack.register("E2E-CP-OFF", enabled=False)
    stack.register("E2E-CP-REAL")
    assert (
        refused_status(
            stack.url("E2E-CP-NOBODY"), subprotocols=OCPP16, additional_headers=basic("E2E-CP-NOBODY")
        )
        == 403
    )
    assert (
        refused_status(stack.url("E2E-CP-OFF"), subprotocols=OCPP16, additional_headers=basic("E2E-CP-OFF"))
        == 403
    )
    # Valid credentials of another charger do not open this charger's URL.
    assert (
        refused_status(stack.url("E2E-CP-OFF"), subprotocols=OCPP16, additional_headers=basic("E2E-CP-REAL"))
        == 403
    )
    assert refused_status(stack.url("E2E-CP-REAL"), subprotocols=OCPP16) == 401


# ---------------------------------------------------------------------------------------------- raw frames


def test_malformed_frames_and_unknown_actions_get_callerrors(stack: Stack) -> None:
    cp = "E2E-CP-RAW"
    stack.register(cp)
    with connect(stack.url(cp), subprotocols=OCPP16, additional_headers=basic(cp), open_timeout=15) as ws:
        reply = raw_call(ws, "this is not json")
        assert reply[:3] == [4, "-1", "FormationViolation"]
        assert raw_call(ws, '[2,"m1","Heartbeat"]')[:3] == [4, "m1", "ProtocolError"]
        assert raw_call(ws, '[2,"m2","FlyToTheMoon",{}]')[:3] == [4, "m2", "NotImplemented"]
        # A central-system action sent by a charger is known but not supported in this direction.
        assert raw_call(ws, '[2,"m3","Reset",{"type":"Soft"}]')[:3] == [4, "m3", "NotSupported"]
        # Not yet booted: SecurityError (errata 3.8); after the boot, schema errors.
        assert raw_call(ws, '[2,"m4","Heartbeat",{}]')[:3] == [4, "m4", "SecurityError"]
        boot = raw_call(
            ws, json.dumps([2, "m5", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}])
        )
        assert boot[0] == 3 and boot[2]["status"] == "Accepted"
        assert raw_call(
            ws,
            '[2,"m6","StatusNotification",{"connectorId":"one","errorCode":"NoError","status":"Available"}]',
        )[:3] == [
            4,
            "m6",
            "TypeConstraintViolation",
        ]
        # A retried unique id gets the first answer again, byte for byte (a call with effects; retry-safe
        # calls such as Heartbeat are answered anew).
        first = raw_call(ws, '[2,"m7","DataTransfer",{"vendorId":"com.example","data":"x"}]')
        assert first[0] == 3
        assert raw_call(ws, '[2,"m7","DataTransfer",{"vendorId":"com.example","data":"x"}]') == first


def test_a_frame_over_32_kb_closes_the_socket_with_1009(stack: Stack) -> None:
    cp = "E2E-CP-BIG"
    stack.register(cp)
    with connect(stack.url(cp), subprotocols=OCPP16, additional_headers=basic(cp), open_timeout=15) as ws:
        ws.send(json.dumps([2, "big", "DataTransfer", {"vendorId": "X", "data": "x" * (33 * 1024)}]))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=15)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


# ---------------------------------------------------------------------------------------------- $disconnect


def test_after_close_the_connection_is_gone_and_the_charger_offline(stack: Stack) -> None:
    cp = "E2E-CP-BYE"
    stack.register(cp)

    async def body(client: PlainCharger, ws: ClientConnection) -> str:
        await client.call(boot_payload())
        assert stack.charger(cp)["online"] is True
        return stack.connection_id(cp)

    connection_id = run_charger(stack, cp, body)
    stack.wait_until(lambda: stack.charger(cp)["online"] is False)
    management = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=stack.runtime.management_url,
        region_name="eu-west-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    with pytest.raises(ClientError) as gone:
        management.post_to_connection(ConnectionId=connection_id, Data=b'[2,"x","Reset",{"type":"Soft"}]')
    assert gone.value.response["Error"]["Code"] == "GoneException"


# ---------------------------------------------------------------------------------------------- transactions


def test_full_session_authorize_start_meter_values_stop(stack: Stack) -> None:
    cp = "E2E-CP-TX"
    stack.register(cp)
    tag = stack.api("PUT", "/v1/id-tags/E2E-TAG-1", {"status": "Accepted", "parent_id_tag": "E2E-FLEET"})
    assert tag.status_code == 200, tag.text
    assert stack.api("GET", "/v1/id-tags/E2E-TAG-1").json()["parent_id_tag"] == "E2E-FLEET"

    start = call.StartTransaction(
        connector_id=1, id_tag="E2E-TAG-1", meter_start=10_000, timestamp="2026-03-01T10:00:00+01:00"
    )

    async def body(client: PlainCharger, ws: ClientConnection) -> tuple[Any, Any, Any, Any, Any]:
        await client.call(boot_payload())
        authorized = await client.call(call.Authorize(id_tag="E2E-TAG-1"))
        unknown = await client.call(call.Authorize(id_tag="E2E-NOBODY"))
        started = await client.call(start)
        retried = await client.call(start)  # a retry with a new unique id: the same transaction
        await client.call(
            call.MeterValues(
                connector_id=1,
                transaction_id=started.transaction_id,
                meter_value=[
                    {
                        "timestamp": "2026-03-01T09:15:00Z",
                        "sampledValue": [
                            {"value": "12.5", "measurand": "Energy.Active.Import.Register", "unit": "kWh"},
                            {"value": "11000", "measurand": "Power.Active.Import", "unit": "W"},
                            {"value": "16.1", "measurand": "Current.Import", "unit": "A", "phase": "L1"},
                        ],
                    }
                ],
            )
        )
        stopped = await client.call(
            call.StopTransaction(
                meter_stop=15_000,
                timestamp="2026-03-01T09:30:00Z",
                transaction_id=started.transaction_id,
                id_tag="E2E-TAG-1",
                reason="Local",
            )
        )
        return authorized, unknown, started, retried, stopped

    authorized, unknown, started, retried, stopped = run_charger(stack, cp, body)
    assert authorized.id_tag_info == {"status": "Accepted", "parent_id_tag": "E2E-FLEET"}  # ocpp snake-cases
    assert unknown.id_tag_info == {"status": "Invalid"}
    assert started.transaction_id > 0 and started.id_tag_info["status"] == "Accepted"
    assert retried.transaction_id == started.transaction_id
    assert stopped.id_tag_info["status"] == "Accepted"

    detail = stack.api("GET", f"/v1/transactions/{started.transaction_id}")
    assert detail.status_code == 200, detail.text
    tx = detail.json()
    assert tx["status"] == "stopped" and tx["charge_point_id"] == cp
    assert tx["started_at"] == "2026-03-01T09:00:00Z" and tx["stopped_at"] == "2026-03-01T09:30:00Z"
    assert (tx["meter_start"], tx["meter_stop"], tx["energy_wh"]) == (10_000, 15_000, 5_000)
    assert tx["last_power_w"] == 11000 and tx["anomalies"] == []
    assert {(s["measurand"], s["value"], s["unit"], s["phase"]) for s in tx["samples"]} == {
        ("Energy.Active.Import.Register", "12.5", "kWh", None),
        ("Power.Active.Import", "11000", "W", None),
        ("Current.Import", "16.1", "A", "L1"),
    }
    listing = stack.api("GET", f"/v1/chargers/{cp}/transactions").json()["items"]
    assert [t["transaction_id"] for t in listing] == [started.transaction_id]
    assert len(listing[0]["samples"]) == 3


def test_transactions_are_tenant_scoped_and_reports_show_on_the_charger(stack: Stack) -> None:
    cp = "E2E-CP-REPORTS"
    stack.register(cp)

    async def body(client: PlainCharger, ws: ClientConnection) -> Any:
        await client.call(boot_payload())
        await client.call(call.FirmwareStatusNotification(status="Installed"))
        await client.call(call.DiagnosticsStatusNotification(status="Uploaded"))
        transfer = await client.call(call.DataTransfer(vendor_id="com.example.unknown", data="hello"))
        started = await client.call(
            call.StartTransaction(
                connector_id=1, id_tag="E2E-STRANGER", meter_start=0, timestamp="2026-03-01T08:00:00Z"
            )
        )
        return transfer, started

    transfer, started = run_charger(stack, cp, body)
    assert transfer.status == "UnknownVendorId" and transfer.data is None
    assert started.id_tag_info["status"] == "Invalid" and started.transaction_id > 0
    seen = stack.charger(cp)
    assert seen["firmware_status"]["status"] == "Installed"
    assert seen["diagnostics_status"]["status"] == "Uploaded"

    other_tenant = bearer_token(
        stack.runtime, subject="e2e-other", tenant="e2e-other-tenant", roles=["operator"]
    )
    response = SessionClient(stack.runtime, other_tenant, timeout=20)(
        "GET", f"/v1/transactions/{started.transaction_id}"
    )
    assert response.status_code == 404
    assert stack.api("GET", "/v1/transactions/not-a-number").status_code == 400
