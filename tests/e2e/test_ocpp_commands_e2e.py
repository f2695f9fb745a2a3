"""Platform -> charger commands end to end: the local runtime on the real template.yaml (one per module),
real `ocpp` v16 chargers over real WebSockets, the operator API over HTTP with the local issuer's JWTs.

The command timeout is the `local` stage's CommandTimeoutSeconds (stacks/samconfig.toml: 5 s).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
from ocpp.exceptions import NotSupportedError
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action
from websockets.asyncio.client import ClientConnection

from tests.e2e.support import (
    ChargerSockets,
    JsonClient,
    Loop,
    bearer_token,
    boot_accepted,
    stack_on,
)
from voltway.local.runtime import LocalRuntime

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]
PASSWORD = "e2e-charger-pw"
LOOP_TIMEOUT = 20  # seconds for a call on the chargers' loop


# ---------------------------------------------------------------------------------------- harness


class ScriptedCharger(ChargePoint):  # type: ignore[misc]  # ocpp ships no type hints
    """Answers the central system's CALLs; ``silent`` never answers ClearCache."""

    def __init__(self, charge_point_id: str, ws: ClientConnection, *, silent: bool = False) -> None:
        super().__init__(charge_point_id, ws)
        self.silent = silent
        self.received: list[tuple[float, str, dict[str, Any]]] = []

    def _got(self, action: str, **payload: Any) -> None:
        self.received.append((time.monotonic(), action, payload))

    @on(Action.reset)  # type: ignore[untyped-decorator]
    def on_reset(self, type: str, **_: Any) -> Any:
        self._got("Reset", type=type)
        return call_result.Reset(status="Accepted")

    @on(Action.get_configuration)  # type: ignore[untyped-decorator]
    def on_get_configuration(self, key: list[str] | None = None, **_: Any) -> Any:
        self._got("GetConfiguration", key=key)
        return call_result.GetConfiguration(
            configuration_key=[
                {"key": "HeartbeatInterval", "readonly": False, "value": "300"},
                {"key": "NumberOfConnectors", "readonly": True, "value": "2"},
            ]
        )

    @on(Action.remote_start_transaction)  # type: ignore[untyped-decorator]
    def on_remote_start(self, id_tag: str, connector_id: int | None = None, **_: Any) -> Any:
        self._got("RemoteStartTransaction", id_tag=id_tag, connector_id=connector_id)
        return call_result.RemoteStartTransaction(status="Accepted")

    @on(Action.unlock_connector)  # type: ignore[untyped-decorator]
    def on_unlock(self, connector_id: int, **_: Any) -> Any:
        self._got("UnlockConnector", connector_id=connector_id)
        raise NotSupportedError(description="this charger has no connector lock")

    @on(Action.data_transfer)  # type: ignore[untyped-decorator]
    async def on_data_transfer(self, vendor_id: str, message_id: str | None = None, **_: Any) -> Any:
        self._got("DataTransfer", message_id=message_id)
        await asyncio.sleep(0.5)  # slow enough that the next command is submitted meanwhile
        return call_result.DataTransfer(status="Accepted")

    @on(Action.clear_cache)  # type: ignore[untyped-decorator]
    async def on_clear_cache(self, **_: Any) -> Any:
        self._got("ClearCache")
        if self.silent:
            await asyncio.sleep(3600)
        return call_result.ClearCache(status="Accepted")


class Stack:
    def __init__(self, runtime: LocalRuntime, loop: Loop) -> None:
        self.loop = loop
        token = bearer_token(runtime, subject="operator-1", tenant="e2e-commands", roles=["operator"])
        self.http = JsonClient(runtime, token, timeout=40)
        self.chargers = ChargerSockets(runtime, loop)

    def register(self, charge_point_id: str) -> None:
        status, body = self.http("PUT", f"/v1/chargers/{charge_point_id}", {"password": PASSWORD})
        assert status == 200, body

    def connect(self, charge_point_id: str, *, silent: bool = False) -> ScriptedCharger:
        self.register(charge_point_id)
        return self.loop.run(self._connect(charge_point_id, silent), LOOP_TIMEOUT)

    async def _connect(self, charge_point_id: str, silent: bool) -> ScriptedCharger:
        charger = await self.chargers.open(
            charge_point_id, PASSWORD, lambda cp, ws: ScriptedCharger(cp, ws, silent=silent)
        )
        await boot_accepted(charger)
        return charger

    def command(
        self, charge_point_id: str, action: str, body: Any, wait: int | None = None
    ) -> tuple[int, Any]:
        query = f"?wait={wait}" if wait is not None else ""
        return self.http("POST", f"/v1/chargers/{charge_point_id}/commands/{action}{query}", body)

    def close(self) -> None:
        self.chargers.close(LOOP_TIMEOUT)


@pytest.fixture(scope="module")
def stack(shared_runtime: LocalRuntime) -> Iterator[Stack]:
    with stack_on(shared_runtime, Stack) as s:
        yield s


TERMINAL = {"accepted", "rejected", "error", "timeout", "offline"}


def settled(stack: Stack, charge_point_id: str, timeout: float = 60) -> None:
    """Wait until the charger has no command in flight: an accepted boot queues a configuration read
    (docs/ocpp.md), which a cold stack may still be answering when the first test starts."""
    deadline = time.monotonic() + timeout
    while True:
        status, body = stack.http("GET", f"/v1/chargers/{charge_point_id}/commands")
        if status == 200 and body["items"] and all(c["status"] in TERMINAL for c in body["items"]):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"commands still open after {timeout} s: {body}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def charger(stack: Stack) -> ScriptedCharger:
    scripted = stack.connect("E2E-CP-1")
    settled(stack, "E2E-CP-1")
    return scripted


# ---------------------------------------------------------------------------------------- tests


def test_reset_accepted_with_wait(stack: Stack, charger: ScriptedCharger) -> None:
    status, body = stack.command("E2E-CP-1", "Reset", {"type": "Soft"}, wait=10)
    assert status == 200, body
    assert body["status"] == "accepted" and body["response"] == {"status": "Accepted"}
    assert any(r[1] == "Reset" and r[2] == {"type": "Soft"} for r in charger.received)
    status, again = stack.http("GET", f"/v1/commands/{body['command_id']}")
    assert status == 200 and again["status"] == "accepted" and again["action"] == "Reset"


def test_get_configuration_is_stored_on_the_charger(stack: Stack, charger: ScriptedCharger) -> None:
    status, body = stack.command("E2E-CP-1", "GetConfiguration", {}, wait=10)
    assert (status, body["status"]) == (200, "accepted"), body
    status, view = stack.http("GET", "/v1/chargers/E2E-CP-1")
    assert status == 200
    configuration = {e["key"]: e for e in view["reported"]["configuration"]}
    assert configuration["HeartbeatInterval"]["value"] == "300"
    assert configuration["NumberOfConnectors"]["readonly"] is True


def test_remote_start_transaction(stack: Stack, charger: ScriptedCharger) -> None:
    status, body = stack.command(
        "E2E-CP-1", "RemoteStartTransaction", {"idTag": "TAG-1", "connectorId": 1}, wait=10
    )
    assert (status, body["status"]) == (200, "accepted"), body
    assert ("RemoteStartTransaction", {"id_tag": "TAG-1", "connector_id": 1}) in [
        (r[1], r[2]) for r in charger.received
    ]


def test_charger_answering_with_callerror(stack: Stack, charger: ScriptedCharger) -> None:
    status, body = stack.command("E2E-CP-1", "UnlockConnector", {"connectorId": 1}, wait=10)
    assert (status, body["status"]) == (200, "error"), body
    assert body["error"]["code"] == "NotSupported"
    assert body["error"]["description"] == "this charger has no connector lock"


def test_two_commands_are_sent_one_after_the_other(stack: Stack, charger: ScriptedCharger) -> None:
    first_status, first = stack.command(
        "E2E-CP-1", "DataTransfer", {"vendorId": "voltway", "messageId": "one"}
    )
    second_status, second = stack.command(
        "E2E-CP-1", "DataTransfer", {"vendorId": "voltway", "messageId": "two"}
    )
    assert (first_status, second_status) == (202, 202)
    assert first["status"] == second["status"] == "pending"
    assert second["sent_at"] is None  # queued behind the one in flight
    _, second = stack.http("GET", f"/v1/commands/{second['command_id']}?wait=10")
    _, first = stack.http("GET", f"/v1/commands/{first['command_id']}")
    assert first["status"] == second["status"] == "accepted"
    assert second["sent_at"] >= first["completed_at"]
    order = [r[2]["message_id"] for r in charger.received if r[1] == "DataTransfer"]
    assert order == ["one", "two"]
    status, listing = stack.http("GET", "/v1/chargers/E2E-CP-1/commands?limit=2")
    assert status == 200, listing
    assert [c["command_id"] for c in listing["items"]] == [
        second["command_id"],
        first["command_id"],
    ]


def test_charger_that_never_answers_times_out(stack: Stack) -> None:
    stack.connect("E2E-CP-SILENT", silent=True)
    started = time.monotonic()
    status, body = stack.command("E2E-CP-SILENT", "ClearCache", {}, wait=15)
    assert (status, body["status"]) == (200, "timeout"), body
    assert body["error"]["code"] == "Timeout"
    assert time.monotonic() - started < 12  # the deadline (5 s locally), not the wait, ended it


def test_command_to_an_offline_charger(stack: Stack) -> None:
    stack.register("E2E-CP-OFFLINE")
    status, body = stack.command("E2E-CP-OFFLINE", "Reset", {"type": "Hard"})
    assert (status, body["status"]) == (200, "offline"), body


def test_invalid_payload_and_unknown_action_are_refused(stack: Stack, charger: ScriptedCharger) -> None:
    status, body = stack.command("E2E-CP-1", "Reset", {"type": "Warm"})
    assert status == 400 and body["error"]["details"]["code"] == "PropertyConstraintViolation"
    status, body = stack.command("E2E-CP-1", "Explode", {})
    assert status == 400 and "Reset" in body["error"]["details"]["supported"]
