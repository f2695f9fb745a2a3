"""Fleet time limits end to end: the real template.yaml on the local runtime with the schedule firing every
second. An operator stores a fleet account contract with a 3-second limit (0.05 minutes) and the TxProfile
safety net; a real ``ocpp`` v16 charger starts a transaction with an id tag whose parentIdTag is the fleet
account; the charger receives the TxProfile, then (from the scheduled ChargerMonitorFunction's sweep) one
RemoteStopTransaction, answers Accepted and sends StopTransaction (reason Remote); the transaction and the
CDR say the session ended at the time limit.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as async_connect

from tests.e2e.support import OCPP16, SessionClient, basic_auth, bearer_token, wait_for_cdr
from voltway.local.runtime import LocalRuntime, RuntimeSettings

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

TENANT = "e2e-fleet"
PASSWORD = "e2e-fleet-pw"
CP = "E2E-FLEET-1"
TAG = "FLEETTAG1"
ACCOUNT = "ACME-FLEET"
TARIFF: dict[str, Any] = {
    "country_code": "NL",
    "party_id": "VWY",
    "id": "E2E-FLEET-DEFAULT",
    "currency": "EUR",
    "elements": [{"price_components": [{"type": "ENERGY", "price": 0.30, "vat": 21.0, "step_size": 1}]}],
}
CONTRACT: dict[str, Any] = {
    "scope": "account",
    "subject_id": ACCOUNT,
    "currency": "EUR",
    "max_session_minutes": "0.05",
    "tx_profile_safety_net": True,
}


class Stack:
    def __init__(self, runtime: LocalRuntime) -> None:
        self.runtime = runtime
        token = bearer_token(
            runtime, subject="e2e-fleet-operator", tenant=TENANT, roles=["operator"], ttl_seconds=900
        )
        self.api = SessionClient(runtime, token, timeout=30)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    state_dir: Path = tmp_path_factory.mktemp("voltway-fleet-e2e")
    # rate(1 minute) of the monitor every second; the other schedules scaled alike (crons stay on time).
    settings = RuntimeSettings.for_tests(None, state_dir, schedule_scale=1 / 60)
    with LocalRuntime(settings) as runtime:
        yield Stack(runtime)


class FleetCharger(ChargePoint):  # type: ignore[misc]  # ocpp ships no type hints
    """Accepts SetChargingProfile and RemoteStopTransaction, and records what it was asked."""

    def __init__(self, charge_point_id: str, ws: ClientConnection) -> None:
        super().__init__(charge_point_id, ws, response_timeout=20)
        self.received: list[tuple[float, str, dict[str, Any]]] = []
        self.stop_requested = asyncio.Event()

    @on(Action.get_configuration)  # type: ignore[untyped-decorator]
    def on_get_configuration(self, **_: Any) -> Any:  # the platform reads it after an Accepted boot
        return call_result.GetConfiguration(configuration_key=[])

    @on(Action.set_charging_profile)  # type: ignore[untyped-decorator]
    def on_set_charging_profile(self, connector_id: int, cs_charging_profiles: dict[str, Any]) -> Any:
        self.received.append((time.monotonic(), "SetChargingProfile", cs_charging_profiles))
        return call_result.SetChargingProfile(status="Accepted")

    @on(Action.remote_stop_transaction)  # type: ignore[untyped-decorator]
    def on_remote_stop(self, transaction_id: int) -> Any:
        self.received.append((time.monotonic(), "RemoteStopTransaction", {"transaction_id": transaction_id}))
        self.stop_requested.set()
        return call_result.RemoteStopTransaction(status="Accepted")


def iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def run_session(charger_ws_url: str) -> tuple[int, float, FleetCharger]:
    """Start now; wait for the platform's RemoteStopTransaction; stop with reason Remote. Returns the
    transaction id, the seconds from the start's timestamp to the RemoteStop, and the charger."""

    async def main() -> tuple[int, float, FleetCharger]:
        async with async_connect(
            f"{charger_ws_url}/{CP}",
            subprotocols=OCPP16,
            additional_headers=basic_auth(CP, PASSWORD),
            open_timeout=90,  # cold $connect on a loaded 2-core machine
        ) as ws:
            client = FleetCharger(CP, ws)
            listener = asyncio.create_task(client.start())
            try:
                boot = await client.call(
                    call.BootNotification(charge_point_model="E2E", charge_point_vendor="E2E")
                )
                assert boot.status == "Accepted"
                began = time.monotonic()  # the start's timestamp: the limit counts from it
                started = await client.call(
                    call.StartTransaction(
                        connector_id=1, id_tag=TAG, meter_start=1000, timestamp=iso(datetime.now(UTC))
                    )
                )
                assert started.id_tag_info["status"] == "Accepted"
                assert started.id_tag_info.get("parent_id_tag") == ACCOUNT
                tx_id: int = started.transaction_id
                await asyncio.wait_for(client.stop_requested.wait(), timeout=60)
                waited = time.monotonic() - began
                await client.call(
                    call.StopTransaction(
                        meter_stop=1500,
                        timestamp=iso(datetime.now(UTC)),
                        transaction_id=tx_id,
                        reason="Remote",
                    )
                )
                await asyncio.sleep(3)  # a second RemoteStop would arrive within a few sweeps
                return tx_id, waited, client
            finally:
                listener.cancel()

    return asyncio.run(main())


def test_a_fleet_session_is_stopped_at_its_time_limit(stack: Stack) -> None:
    assert stack.api("PUT", f"/v1/tariffs/{TARIFF['id']}", {**TARIFF, "default": True}).status_code == 200
    stored = stack.api("PUT", "/v1/contracts/fleet-acme", CONTRACT)
    assert stored.status_code == 200, stored.text
    assert stored.json()["max_session_minutes"] == "0.05"
    assert stored.json()["tx_profile_safety_net"] is True
    assert stack.api("PUT", f"/v1/chargers/{CP}", {"password": PASSWORD}).status_code == 200
    tag = stack.api("PUT", f"/v1/id-tags/{TAG}", {"status": "Accepted", "parent_id_tag": ACCOUNT})
    assert tag.status_code == 200, tag.text

    tx_id, waited, charger = run_session(stack.runtime.charger_ws_url)

    actions = [action for _, action, _ in charger.received]
    assert actions == ["SetChargingProfile", "RemoteStopTransaction"], actions  # one stop, never two
    profile = charger.received[0][2]
    assert profile["charging_profile_purpose"] == "TxProfile" and profile["transaction_id"] == tx_id
    assert profile["charging_schedule"]["charging_schedule_period"][-1] == {"start_period": 3, "limit": 0}
    assert charger.received[1][2] == {"transaction_id": tx_id}
    # The limit is 3 s from the start's timestamp; the sweep runs every second here (every minute in AWS).
    assert 2.9 < waited < 30, waited

    tx = stack.api("GET", f"/v1/transactions/{tx_id}")
    assert tx.status_code == 200, tx.text
    body = tx.json()
    assert body["stop_reason"] == "Remote"
    assert body["stop_reason_requested"] == "time_limit" and body["ended_by"] == "time_limit"

    cdr = wait_for_cdr(stack.api, tx_id)
    assert cdr["voltway"]["stop_reason"] == "time_limit"
    assert cdr["remark"] == "stop reason: time_limit"  # OCPI 2.2.1's place for why a session stopped
    assert cdr["voltway"]["contract_id"] == "fleet-acme"
