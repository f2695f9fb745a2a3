"""The command adapters on DynamoDB (moto in-process, CommandsTable created from template.yaml): the
conditions that keep one CALL in flight per charger, and the command flow through the real handlers."""

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
from voltway.adapters import roots
from voltway.adapters.dynamo_commands import (
    DynamoCommandQueue,
    DynamoCommandStore,
    DynamoReportedStateStore,
)
from voltway.ocpp.commands.errors import ConcurrentUpdate
from voltway.ocpp.commands.model import PENDING, Command, CommandStatus, InFlight
from voltway.ocpp.commands.reported import ReportedState

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
EVENTS = REPO / "tests" / "events"
MANAGEMENT = "wss://abc123.execute-api.eu-west-1.amazonaws.com/local"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
CP = "CP001"
FUNCTIONS = ("OcppConnectFunction", "OcppMessageFunction", "OcppDisconnectFunction")


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    functions = (*FUNCTIONS, "ChargerMonitorFunction", "ApiFunction")
    # moto intercepts AWS-shaped hosts only
    with moto_stack(monkeypatch, functions, WS_MANAGEMENT_ENDPOINT=MANAGEMENT) as (_, values):
        yield values


@pytest.fixture
def client(env: dict[str, str]) -> Any:
    return boto3.client("dynamodb", region_name="eu-west-1")


def command(command_id: str, at: datetime = NOW, status: CommandStatus = CommandStatus.QUEUED) -> Command:
    return Command(command_id, CP, "t1", "Reset", {"type": "Soft"}, status, at)


def slot(command_id: str) -> InFlight:
    return InFlight(command_id, command_id, "conn=", NOW, NOW + timedelta(seconds=30))


# ---------------------------------------------------------------------------------------- adapters


def test_command_store_conditions(env: dict[str, str], client: Any) -> None:
    store = DynamoCommandStore(client, env["COMMANDS_TABLE"])
    store.create(command("a"))
    with pytest.raises(ConcurrentUpdate):
        store.create(command("a"))  # ids are never reused
    assert store.get("a") == command("a") and store.get("zzz") is None
    sent = store.mark_sent("a", "a", "conn=", NOW, NOW + timedelta(seconds=30))
    assert (
        sent is not None
        and sent.status is CommandStatus.SENT
        and sent.deadline == NOW + timedelta(seconds=30)
    )
    assert store.mark_sent("a", "a", "conn=", NOW, NOW) is None  # only a queued command is sent
    assert (
        store.finish("a", CommandStatus.ACCEPTED, NOW, expected=(CommandStatus.SENT,), unique_id="x") is None
    )
    done = store.finish(
        "a",
        CommandStatus.ACCEPTED,
        NOW,
        expected=(CommandStatus.SENT,),
        unique_id="a",
        response={"status": "Accepted", "x": 1.5},
    )
    assert done is not None and done.response == {"status": "Accepted", "x": 1.5}
    # the outcome is set once: a late timeout or a duplicate answer changes nothing
    assert store.finish("a", CommandStatus.TIMEOUT, NOW, expected=PENDING, error={"code": "Timeout"}) is None
    assert store.finish("missing", CommandStatus.TIMEOUT, NOW, expected=PENDING) is None
    stored = store.get("a")
    assert stored is not None and stored.status is CommandStatus.ACCEPTED


def test_command_listing_is_newest_first_with_a_cursor(env: dict[str, str], client: Any) -> None:
    store = DynamoCommandStore(client, env["COMMANDS_TABLE"])
    for i in range(3):
        store.create(command(f"c{i}", NOW + timedelta(seconds=i)))
    page = store.list_for_charger(CP, 2, None)
    assert [c.command_id for c in page.items] == ["c2", "c1"] and page.cursor
    rest = store.list_for_charger(CP, 2, page.cursor)
    assert [c.command_id for c in rest.items] == ["c0"]


def test_queue_keeps_order_and_caps_its_length(env: dict[str, str], client: Any) -> None:
    queue = DynamoCommandQueue(client, env["COMMANDS_TABLE"])
    assert queue.state(CP).queued == () and queue.state(CP).in_flight is None
    assert queue.enqueue(CP, "a", 2) and queue.enqueue(CP, "b", 2)
    assert not queue.enqueue(CP, "c", 2)
    assert queue.state(CP).queued == ("a", "b")


def test_only_one_of_racing_claims_takes_the_in_flight_slot(env: dict[str, str], client: Any) -> None:
    queue = DynamoCommandQueue(client, env["COMMANDS_TABLE"])
    queue.enqueue(CP, "a", 10)
    queue.enqueue(CP, "b", 10)
    assert queue.claim(CP, slot("b")) is False  # not the head
    assert queue.claim(CP, slot("a")) is True
    assert queue.claim(CP, slot("a")) is False  # the racing loser: the head moved on, the slot is taken
    assert queue.claim(CP, slot("b")) is False  # the slot is taken
    state = queue.state(CP)
    assert state.queued == ("b",) and state.in_flight == slot("a")
    assert queue.release(CP, "b") is False  # only the holder is released
    assert queue.release(CP, "a") is True
    assert queue.claim(CP, slot("b")) is True


def test_drain_loses_to_a_concurrent_change(env: dict[str, str], client: Any) -> None:
    queue = DynamoCommandQueue(client, env["COMMANDS_TABLE"])
    queue.enqueue(CP, "a", 10)
    queue.claim(CP, slot("a"))
    seen = queue.state(CP)
    queue.enqueue(CP, "b", 10)  # lands between the read and the drain
    assert queue.drain(CP, seen) is False
    assert queue.drain(CP, queue.state(CP)) is True
    assert queue.state(CP).queued == () and queue.state(CP).in_flight is None


def test_due_lists_only_queues_with_an_overdue_call(env: dict[str, str], client: Any) -> None:
    queue = DynamoCommandQueue(client, env["COMMANDS_TABLE"])
    for cp in ("CP1", "CP2", "CP3"):
        queue.enqueue(cp, f"{cp}-a", 10)
    queue.claim("CP1", slot("CP1-a"))
    late = InFlight("CP2-a", "CP2-a", "conn=", NOW, NOW + timedelta(seconds=90))
    queue.claim("CP2", late)
    assert queue.due(NOW + timedelta(seconds=29)) == []
    assert queue.due(NOW + timedelta(seconds=30)) == ["CP1"]
    assert sorted(queue.due(NOW + timedelta(seconds=90))) == ["CP1", "CP2"]
    queue.release("CP1", "CP1-a")
    assert queue.due(NOW + timedelta(days=1)) == ["CP2"]


def test_reported_state_is_versioned(env: dict[str, str], client: Any) -> None:
    reported = DynamoReportedStateStore(client, env["COMMANDS_TABLE"])
    empty = reported.get(CP)
    assert empty.version == 0
    first = ReportedState(CP, configuration={"K": {"value": "1", "readonly": False}})
    assert reported.save(first) is True
    assert reported.save(first) is False  # a writer that read version 0 lost the race
    stored = reported.get(CP)
    assert stored.version == 1 and stored.configuration["K"]["value"] == "1"
    assert reported.save(ReportedState(CP, local_list={"version": 3}, version=1)) is True
    assert reported.get(CP).local_list == {"version": 3}


# ---------------------------------------------------------------------------------------- handlers


def event(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return copy.deepcopy(loaded)


def frame_event(frame: list[Any]) -> dict[str, Any]:
    e = event("ocpp_message")
    e["body"] = json.dumps(frame)
    return e


def test_command_flow_through_the_real_handlers(env: dict[str, str]) -> None:
    from voltway.chargers.model import Registration

    roots.api().chargers.register(Registration(CP, "t1", "secret-pw-1", 1, True))
    connect, message, disconnect, monitor = (
        load_handler(f) for f in ("ocpp_connect", "ocpp_message", "ocpp_disconnect", "charger_monitor")
    )
    assert connect.handler(event("ocpp_connect"), None)["statusCode"] == 200
    message.handler(event("ocpp_message"), None)  # BootNotification

    # An accepted boot queues the configuration read (docs/ocpp.md); answer it to free the charger's slot.
    commands = roots.cached_commands()
    (boot_read,) = commands.list_for_charger("t1", CP, 10, None).items
    assert (boot_read.action, boot_read.payload) == ("GetConfiguration", {})
    message.handler(frame_event([3, boot_read.unique_id, {"configurationKey": []}]), None)
    first = commands.submit("t1", CP, "GetConfiguration", {"key": ["HeartbeatInterval"]})
    second = commands.submit("t1", CP, "Reset", {"type": "Soft"})
    assert (first.status, second.status) == (CommandStatus.SENT, CommandStatus.QUEUED)

    answer = {"configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "300"}]}
    message.handler(frame_event([3, first.unique_id, answer]), None)
    done = commands.get("t1", first.command_id)
    assert done.status is CommandStatus.ACCEPTED and done.response == answer
    assert commands.reported(CP).configuration["HeartbeatInterval"]["value"] == "300"
    assert commands.get("t1", second.command_id).status is CommandStatus.SENT

    message.handler(frame_event([4, second.command_id, "InternalError", "busy", {}]), None)
    failed = commands.get("t1", second.command_id)
    assert failed.status is CommandStatus.ERROR and failed.error is not None
    assert failed.error["code"] == "InternalError"

    third = commands.submit("t1", CP, "ClearCache", {})
    fourth = commands.submit("t1", CP, "ClearCache", {})
    # the monitor's sweep is a no-op before the deadline
    assert monitor.handler({}, None)["command_queues_swept"] == 0
    disconnect.handler(event("ocpp_disconnect"), None)
    assert commands.get("t1", third.command_id).status is CommandStatus.OFFLINE
    assert commands.get("t1", fourth.command_id).status is CommandStatus.OFFLINE
    offline = commands.submit("t1", CP, "ClearCache", {})
    assert offline.status is CommandStatus.OFFLINE
