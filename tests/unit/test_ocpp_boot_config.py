"""Configuration read at boot, on in-memory adapters: an Accepted BootNotification queues a GetConfiguration
that goes out after the BootNotification.conf, the keys are stored as last read with the smart-charging
capabilities, and reconnect storms queue one read at most."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from voltway.adapters.dynamo_commands import DynamoBootReadClaims, DynamoReportedStateStore
from voltway.chargers.memory import InMemoryChargerRepository, InMemoryConnectionRegistry
from voltway.chargers.passwords import hash_password
from voltway.local.resources import provision_template
from voltway.ocpp.central_system import CentralSystem
from voltway.ocpp.commands.lifecycle import ReportedLifecycle, capabilities
from voltway.ocpp.commands.memory import (
    InMemoryBootReadClaims,
    InMemoryCommandQueue,
    InMemoryCommandStore,
    InMemoryReportedStateStore,
)
from voltway.ocpp.commands.model import CommandStatus
from voltway.ocpp.commands.reported import ReportedState
from voltway.ocpp.commands.service import CommandPolicy, CommandService
from voltway.ocpp.commands.views import reported_view
from voltway.ocpp.core import CorePolicy, CoreProfile
from voltway.ocpp.dispatch import Dispatcher
from voltway.ocpp.memory import InMemoryChargerConnections, InMemoryIdempotencyStore, InMemoryMessageAudit

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
CP = "CP001"
CONN = "conn-1="
BOOT = {"chargePointVendor": "VendorX", "chargePointModel": "M1"}
KEYS = [
    {"key": "HeartbeatInterval", "readonly": False, "value": "300"},
    {"key": "ChargeProfileMaxStackLevel", "readonly": True, "value": "8"},
    {"key": "ChargingScheduleAllowedChargingRateUnit", "readonly": True, "value": "Current, Power"},
    {"key": "ChargingScheduleMaxPeriods", "readonly": True, "value": "24"},
    {"key": "MaxChargingProfilesInstalled", "readonly": True, "value": "10"},
    {"key": "ConnectorSwitch3to1PhaseSupported", "readonly": True, "value": "FALSE"},
    {"key": "SupportedFeatureProfiles", "readonly": True, "value": "Core,SmartCharging,Reservation"},
]


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


class World:
    def __init__(self, policy: str = "pending", *, enabled: bool = True) -> None:
        self.clock = Clock()
        self.chargers = InMemoryChargerRepository()
        self.connections = InMemoryConnectionRegistry()
        self.sender = InMemoryChargerConnections()
        self.store = InMemoryCommandStore()
        self.reported = InMemoryReportedStateStore()
        self.claims = InMemoryBootReadClaims()
        self.ids = iter(f"cmd-{i:03d}" for i in range(1000))
        self.commands = CommandService(
            chargers=self.chargers,
            store=self.store,
            queue=InMemoryCommandQueue(),
            reported=self.reported,
            sender=self.sender,
            policy=CommandPolicy(timedelta(seconds=30), 20),
            clock=self.clock,
            new_id=lambda: next(self.ids),
            boot_claims=self.claims,
        )
        dispatcher = Dispatcher()
        CoreProfile(self.chargers, CorePolicy(policy, 300)).register(dispatcher)  # type: ignore[arg-type]
        self.system = CentralSystem(
            chargers=self.chargers,
            connections=self.connections,
            dispatcher=dispatcher,
            idempotency=InMemoryIdempotencyStore(),
            audit=InMemoryMessageAudit(),
            sender=self.sender,
            clock=self.clock,
            commands=self.commands,
            boot_hooks=self.commands,
        )
        self.chargers.save_registration(
            CP, "t1", password_hash=hash_password("pw-123456"), security_profile=1, enabled=enabled, now=NOW
        )
        self.chargers.mark_online(CP, CONN, NOW)
        self.connections.register(CONN, CP, NOW)
        self.boots = 0

    def boot(self) -> list[Any]:
        self.boots += 1
        outcome = self.system.receive(CONN, json.dumps([2, f"boot-{self.boots}", "BootNotification", BOOT]))
        assert outcome.reply is not None
        reply: list[Any] = json.loads(outcome.reply)
        return reply

    def frames(self) -> list[list[Any]]:
        return [json.loads(frame) for _, frame in self.sender.sent]

    def get_configuration_calls(self) -> list[list[Any]]:
        return [f for f in self.frames() if f[0] == 2 and f[2] == "GetConfiguration"]

    def answer(self, unique_id: str, payload: dict[str, Any]) -> None:
        self.system.receive(CONN, json.dumps([3, unique_id, payload]))


def test_accepted_boot_queues_get_configuration_after_the_boot_reply() -> None:
    w = World()
    reply = w.boot()
    assert reply[2]["status"] == "Accepted"
    sent = w.frames()
    # the BootNotification.conf first, then the GetConfiguration CALL (all keys: empty payload)
    assert sent[0][0] == 3 and sent[0][1] == "boot-1"
    assert sent[1][0] == 2 and sent[1][2:] == ["GetConfiguration", {}]
    command = w.store.get(sent[1][1])
    assert command is not None and command.tenant_id == "t1" and command.status is CommandStatus.SENT


def test_keys_are_stored_as_last_read_with_readable_capabilities() -> None:
    w = World()
    w.boot()
    (call,) = w.get_configuration_calls()
    w.answer(call[1], {"configurationKey": KEYS})
    state = w.reported.get(CP)
    assert state.configuration["HeartbeatInterval"]["value"] == "300"
    assert state.configuration_read_at == "2026-01-02T03:04:05.000Z"
    view = reported_view(state, NOW)
    assert view["configuration_read_at"] == "2026-01-02T03:04:05.000Z"
    assert view["capabilities"] == {
        "smart_charging": True,
        "read_at": "2026-01-02T03:04:05.000Z",
        "ChargeProfileMaxStackLevel": 8,
        "ChargingScheduleAllowedChargingRateUnit": ["Current", "Power"],
        "ChargingScheduleMaxPeriods": 24,
        "MaxChargingProfilesInstalled": 10,
        "ConnectorSwitch3to1PhaseSupported": False,
        "SupportedFeatureProfiles": ["Core", "SmartCharging", "Reservation"],
    }


def test_reconnect_storm_queues_one_read() -> None:
    w = World()
    for _ in range(10):
        assert w.boot()[2]["status"] == "Accepted"
    assert len(w.get_configuration_calls()) == 1
    assert all(c.action == "GetConfiguration" for c in w.store.items.values())
    assert len(w.store.items) == 1


def test_read_within_the_fresh_window_is_not_repeated_but_an_old_one_is() -> None:
    w = World()
    w.boot()
    (call,) = w.get_configuration_calls()
    w.answer(call[1], {"configurationKey": KEYS})
    w.clock.now += timedelta(minutes=5)
    w.boot()
    assert len(w.get_configuration_calls()) == 1
    w.clock.now += timedelta(minutes=6)  # 11 min after the read: older than the 10 min window
    w.boot()
    assert len(w.get_configuration_calls()) == 2


def test_a_failed_read_is_retried_by_a_boot_after_the_claim_window() -> None:
    w = World()
    w.boot()
    (call,) = w.get_configuration_calls()
    w.system.receive(CONN, json.dumps([4, call[1], "NotSupported", "no", {}]))
    assert w.store.get(call[1]) is not None
    w.clock.now += timedelta(seconds=30)
    w.boot()  # within the claim window: a reconnect storm, not a new read
    assert len(w.get_configuration_calls()) == 1
    w.clock.now += timedelta(seconds=31)
    w.boot()
    assert len(w.get_configuration_calls()) == 2


def test_pending_boot_queues_nothing() -> None:
    w = World("pending", enabled=False)
    assert w.boot()[2]["status"] == "Pending"
    assert w.get_configuration_calls() == []


def test_retried_boot_frame_with_the_same_unique_id_queues_no_second_read() -> None:
    w = World()
    frame = json.dumps([2, "boot-x", "BootNotification", BOOT])
    w.system.receive(CONN, frame)
    w.system.receive(CONN, frame)
    assert len(w.get_configuration_calls()) == 1


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("abc", None), (" 3 ", 3), ("", None)],
)
def test_capability_integers_are_parsed_leniently(raw: str, expected: int | None) -> None:
    state = ReportedState(CP, configuration={"ChargeProfileMaxStackLevel": {"value": raw, "readonly": True}})
    assert capabilities(state)["ChargeProfileMaxStackLevel"] == expected


def test_capabilities_unknown_before_any_read() -> None:
    caps = capabilities(ReportedState(CP))
    assert caps["smart_charging"] is None and caps["ChargeProfileMaxStackLevel"] is None
    assert caps["read_at"] is None


# ------------------------------------------------------------------ the DynamoDB adapters (moto in-process)


@pytest.fixture
def commands_table(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, str]]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        provisioned = provision_template(None, REPO / "template.yaml")
        table = provisioned.function_environment("ChargerMonitorFunction")["COMMANDS_TABLE"]
        yield boto3.client("dynamodb", region_name="eu-west-1"), table


@pytest.mark.integration
def test_dynamo_boot_claims_and_reservation_sweep(commands_table: tuple[Any, str]) -> None:
    client, table = commands_table
    claims = DynamoBootReadClaims(client, table)
    window = timedelta(seconds=60)
    assert claims.claim(CP, NOW, NOW - window) is True
    assert claims.claim(CP, NOW + timedelta(seconds=30), NOW + timedelta(seconds=30) - window) is False
    later = NOW + timedelta(seconds=61)
    assert claims.claim(CP, later, later - window) is True
    assert claims.claim("CP002", NOW, NOW - window) is True  # per charger

    store = DynamoReportedStateStore(client, table)
    reservation = {"connector_id": 1, "id_tag": "T", "expiry_date": "2026-01-02T04:00:00+01:00"}
    assert store.save(ReportedState(CP, reservations={"1": {**reservation, "status": "Reserved"}}))
    assert store.save(ReportedState("CP002", reservations={"2": {**reservation, "status": "Cancelled"}}))
    assert store.due_reservations(NOW - timedelta(minutes=5)) == []
    assert store.due_reservations(NOW) == [CP]  # 04:00+01:00 is 03:00Z
    lifecycle = ReportedLifecycle(store, store)
    assert lifecycle.expire_reservations(NOW) == 1
    assert store.get(CP).reservations["1"]["status"] == "Expired"
    assert store.due_reservations(NOW) == []  # the attribute left with the last Reserved one


@pytest.mark.integration
def test_reservation_sweep_queries_the_sparse_index_and_finds_exactly_the_expired(
    commands_table: tuple[Any, str],
) -> None:
    client, table = commands_table
    store = DynamoReportedStateStore(client, table)
    expired, future = "2026-01-02T03:04:04Z", "2026-01-02T03:04:06Z"  # NOW is 03:04:05Z
    due = {f"CP-due-{i}" for i in range(12)}  # spread over every shard of the index
    for cp in due:
        store.save(ReportedState(cp, reservations={"1": _reserved(expired, "Reserved")}))
    store.save(ReportedState("CP-future", reservations={"1": _reserved(future, "Reserved")}))
    store.save(ReportedState("CP-cancelled", reservations={"1": _reserved(expired, "Cancelled")}))
    store.save(ReportedState("CP-none", configuration={"K": {"value": "1", "readonly": False}}))
    client.put_item(TableName=table, Item={"pk": {"S": "cp#CP-noise"}, "sk": {"S": "queue"}})

    operations: list[str] = []
    client.meta.events.register("before-call.dynamodb", lambda model, **_: operations.append(model.name))
    assert set(store.due_reservations(NOW)) == due and len(store.due_reservations(NOW)) == len(due)
    assert "Scan" not in operations and "Query" in operations

    lifecycle = ReportedLifecycle(store, store)
    assert lifecycle.expire_reservations(NOW) == len(due)
    assert store.get("CP-future").reservations["1"]["status"] == "Reserved"  # not touched
    assert store.get("CP-future").version == 1
    assert store.due_reservations(NOW) == []
    assert store.due_reservations(NOW + timedelta(seconds=2)) == ["CP-future"]


def _reserved(expiry: str, status: str) -> dict[str, Any]:
    return {"connector_id": 1, "id_tag": "T", "expiry_date": expiry, "status": status}
