"""The local WebSocket gateway and @connections API, driven by a real WebSocket client and boto3."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from voltway.local.runtime import LocalRuntime

pytestmark = pytest.mark.e2e


def test_connect_accepted_with_the_subprotocol_the_function_names(runtime: LocalRuntime, probes: Any) -> None:
    url = f"{runtime.charger_ws_url}/CP-SUB"
    with connect(
        url, subprotocols=[Subprotocol("ocpp1.6")], additional_headers={"Authorization": "Basic Q1A6cHc="}
    ) as ws:
        assert ws.subprotocol == "ocpp1.6"
    (event,) = probes.wait_for("connect", lambda e: e["queryStringParameters"]["chargePointId"] == "CP-SUB")
    context = event["requestContext"]
    assert context["routeKey"] == "$connect" and context["eventType"] == "CONNECT"
    assert context["stage"] == "test" and context["messageDirection"] == "IN"
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert len(context["connectionId"]) == 16 and context["connectionId"].endswith("=")
    assert event["headers"]["Authorization"] == "Basic Q1A6cHc="
    assert event["headers"]["Sec-WebSocket-Protocol"] == "ocpp1.6"
    assert event["multiValueHeaders"]["Authorization"] == ["Basic Q1A6cHc="]
    assert event["isBase64Encoded"] is False


def test_connect_without_subprotocol_in_the_response(runtime: LocalRuntime) -> None:
    with connect(f"{runtime.charger_ws_url}/CP-PLAIN") as ws:
        assert ws.subprotocol is None


def test_connect_refused_with_the_functions_status(runtime: LocalRuntime) -> None:
    with pytest.raises(InvalidStatus) as refused:
        connect(f"{runtime.charger_ws_url}/REFUSE-1", subprotocols=[Subprotocol("ocpp1.6")])
    assert refused.value.response.status_code == 401


def test_other_paths_are_not_found(runtime: LocalRuntime) -> None:
    base = runtime.charger_ws_url.rsplit("/", 1)[0]
    with pytest.raises(InvalidStatus) as refused:
        connect(f"{base}/elsewhere/CP1")
    assert refused.value.response.status_code == 404


def test_default_route_echoes_through_post_to_connection(runtime: LocalRuntime) -> None:
    with connect(f"{runtime.charger_ws_url}/CP-ECHO", subprotocols=[Subprotocol("ocpp1.6")]) as ws:
        ws.send('[2,"1","Heartbeat",{}]')
        reply = json.loads(ws.recv(timeout=15))
        assert reply == {
            "echo": '[2,"1","Heartbeat",{}]',
            "routeKey": "$default",
            "function": "voltway-local-EchoFunction",
        }


def test_failing_invocation_keeps_the_socket_open(runtime: LocalRuntime) -> None:
    with connect(f"{runtime.charger_ws_url}/CP-BOOM") as ws:
        ws.send("boom")
        error = json.loads(ws.recv(timeout=15))
        assert error["message"] == "Internal server error"
        ws.send("still here")
        assert json.loads(ws.recv(timeout=15))["echo"] == "still here"


def test_management_api_get_post_delete_and_gone(
    runtime: LocalRuntime, probes: Any, aws: Callable[..., Any]
) -> None:
    # The client exactly as a function builds it: endpoint_url = <management API>/<stage>
    management = aws("apigatewaymanagementapi", endpoint_url=runtime.management_url)
    with connect(f"{runtime.charger_ws_url}/CP-MGMT") as ws:
        (event,) = probes.wait_for(
            "connect", lambda e: e["queryStringParameters"]["chargePointId"] == "CP-MGMT"
        )
        connection_id = event["requestContext"]["connectionId"]

        management.post_to_connection(ConnectionId=connection_id, Data=b'{"hello":"charger"}')
        assert ws.recv(timeout=5) == '{"hello":"charger"}'
        info = management.get_connection(ConnectionId=connection_id)
        assert info["Identity"]["SourceIp"] == "127.0.0.1"
        assert info["ConnectedAt"] <= info["LastActiveAt"]

        management.delete_connection(ConnectionId=connection_id)
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=5)

    with pytest.raises(management.exceptions.GoneException):
        management.post_to_connection(ConnectionId=connection_id, Data=b"too late")
    with pytest.raises(management.exceptions.GoneException):
        management.get_connection(ConnectionId="AAAAAAAAAAAAAAA=")
    (gone,) = probes.wait_for("disconnect", lambda e: e["requestContext"]["connectionId"] == connection_id)
    assert gone["requestContext"]["eventType"] == "DISCONNECT"
    assert gone["requestContext"]["routeKey"] == "$disconnect"


def test_frame_over_the_limit_closes_with_1009(runtime: LocalRuntime, probes: Any, frame_limit: int) -> None:
    with connect(f"{runtime.charger_ws_url}/CP-BIG") as ws:
        ws.send("x" * (frame_limit + 1))
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=5)
        assert ws.close_code == 1009
    (event,) = probes.wait_for(
        "disconnect", lambda e: e["requestContext"]["disconnectStatusCode"] == 1009, timeout=15
    )
    assert event["requestContext"]["eventType"] == "DISCONNECT"


def test_idle_connection_is_closed_going_away(runtime: LocalRuntime) -> None:
    started = time.monotonic()
    with connect(f"{runtime.charger_ws_url}/CP-IDLE") as ws:
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=15)
        assert ws.close_code == 1001
    assert time.monotonic() - started >= 7.5
