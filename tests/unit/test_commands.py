"""Platform-initiated OCPP 1.6J commands on in-memory adapters: validation, queueing (one CALL in flight
per charger), racing sends, correlation, response validation, CALLERROR, timeouts, offline, effects."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from voltway.chargers.errors import ChargerNotFound
from voltway.chargers.memory import InMemoryChargerRepository
from voltway.chargers.passwords import hash_password
from voltway.ocpp import frames
from voltway.ocpp.commands import catalog
from voltway.ocpp.commands.errors import InvalidCommand, QueueFull, UnknownCommand
from voltway.ocpp.commands.memory import (
    InMemoryCommandQueue,
    InMemoryCommandStore,
    InMemoryReportedStateStore,
)
from voltway.ocpp.commands.model import Command, CommandStatus, InFlight
from voltway.ocpp.commands.service import CommandPolicy, CommandService
from voltway.ocpp.commands.views import command_view, reported_view
from voltway.ocpp.memory import InMemoryChargerConnections

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
CP = "CP001"
TENANT = "t1"
CONN = "conn-1="
TIMEOUT = timedelta(seconds=30)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class World:
    def __init__(self, *, online: bool = True, max_queued: int = 20) -> None:
        self.clock = Clock()
        self.chargers = InMemoryChargerRepository()
        self.store = InMemoryCommandStore()
        self.queue = InMemoryCommandQueue()
        self.reported = InMemoryReportedStateStore()
        self.sender = InMemoryChargerConnections()
        self.ids = iter(f"cmd-{i:03d}" for i in range(1000))
        self.service = CommandService(
            chargers=self.chargers,
            store=self.store,
            queue=self.queue,
            reported=self.reported,
            sender=self.sender,
            policy=CommandPolicy(TIMEOUT, max_queued),
            clock=self.clock,
            sleep=self.clock.sleep,
            new_id=lambda: next(self.ids),
        )
        self.chargers.save_registration(
            CP,
            TENANT,
            password_hash=hash_password("secret-pw"),
            security_profile=1,
            enabled=True,
            now=NOW,
        )
        if online:
            self.chargers.mark_online(CP, CONN, NOW)

    def submit(self, action: str, payload: dict[str, Any]) -> Command:
        return self.service.submit(TENANT, CP, action, payload)

    def sent_calls(self) -> list[list[Any]]:
        return [json.loads(frame) for _, frame in self.sender.sent]

    def answer(self, unique_id: str, payload: dict[str, Any]) -> Command | None:
        return self.service.on_answer(CP, frames.CallResult(unique_id, payload), self.clock.now)

    def fail(self, unique_id: str, code: str, description: str = "") -> Command | None:
        message = frames.CallError(unique_id, code, description, {"hint": "x"})
        return self.service.on_answer(CP, message, self.clock.now)

    def status(self, command_id: str) -> CommandStatus:
        command = self.store.get(command_id)
        assert command is not None
        return command.status

    def run(self, action: str, request: dict[str, Any], response: dict[str, Any]) -> Command:
        command = self.submit(action, request)
        done = self.answer(command.command_id, response)
        assert done is not None
        return done


# ---------------------------------------------------------------------------------------- catalog


def test_catalog_lists_every_central_system_initiated_core_action() -> None:
    assert len(catalog.ACTIONS) == 19
    assert "Reset" in catalog.ACTIONS and "BootNotification" not in catalog.ACTIONS


def test_unknown_action_is_refused_with_the_supported_ones() -> None:
    w = World()
    with pytest.raises(UnknownCommand) as e:
        w.submit("BootNotification", {})
    assert "Reset" in e.value.details["supported"]
    assert w.sender.sent == []


@pytest.mark.parametrize(
    ("action", "payload", "code"),
    [
        ("Reset", {"type": "Soft", "extra": 1}, "FormationViolation"),
        ("Reset", {"type": "Lukewarm"}, "PropertyConstraintViolation"),
        ("Reset", {}, "OccurenceConstraintViolation"),
        ("UnlockConnector", {"connectorId": "1"}, "TypeConstraintViolation"),
        ("ReserveNow", {"connectorId": 1, "expiryDate": "tomorrow", "idTag": "T", "reservationId": 1}, None),
    ],
)
def test_invalid_request_payload_is_refused_before_anything_is_sent(
    action: str, payload: dict[str, Any], code: str | None
) -> None:
    w = World()
    with pytest.raises(InvalidCommand) as e:
        w.submit(action, payload)
    if code is not None:
        assert e.value.details["code"] == code
    assert w.sender.sent == [] and w.store.items == {}


def test_body_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(InvalidCommand):
        World().service.submit(TENANT, CP, "ClearCache", ["not", "an", "object"])


def test_other_tenants_charger_is_not_found() -> None:
    w = World()
    with pytest.raises(ChargerNotFound):
        w.service.submit("t2", CP, "ClearCache", {})
    with pytest.raises(ChargerNotFound):
        w.service.submit(TENANT, "NOPE", "ClearCache", {})


# ---------------------------------------------------------------------------------------- send + correlate


def test_command_is_sent_as_a_call_with_its_unique_id_and_deadline() -> None:
    w = World()
    command = w.submit("Reset", {"type": "Soft"})
    assert command.status is CommandStatus.SENT
    assert w.sent_calls() == [[2, command.command_id, "Reset", {"type": "Soft"}]]
    assert w.sender.sent[0][0] == CONN
    assert command.unique_id == command.command_id and command.deadline == NOW + TIMEOUT
    assert command_view(command)["status"] == "pending"


def test_callresult_completes_the_command_with_its_status() -> None:
    w = World()
    command = w.submit("Reset", {"type": "Soft"})
    w.clock.now += timedelta(seconds=2)
    done = w.answer(command.command_id, {"status": "Accepted"})
    assert done is not None and done.status is CommandStatus.ACCEPTED
    assert done.response == {"status": "Accepted"} and done.completed_at == w.clock.now
    view = command_view(done)
    assert view["status"] == "accepted" and view["response"] == {"status": "Accepted"}
    assert w.queue.state(CP).in_flight is None


@pytest.mark.parametrize(
    ("action", "request_payload", "response", "status"),
    [
        ("Reset", {"type": "Hard"}, {"status": "Rejected"}, CommandStatus.REJECTED),
        ("UnlockConnector", {"connectorId": 1}, {"status": "Unlocked"}, CommandStatus.ACCEPTED),
        ("UnlockConnector", {"connectorId": 1}, {"status": "UnlockFailed"}, CommandStatus.REJECTED),
        (
            "ChangeAvailability",
            {"connectorId": 0, "type": "Inoperative"},
            {"status": "Scheduled"},
            CommandStatus.ACCEPTED,
        ),
        (
            "TriggerMessage",
            {"requestedMessage": "Heartbeat"},
            {"status": "NotImplemented"},
            CommandStatus.REJECTED,
        ),
        ("GetDiagnostics", {"location": "ftp://x/y"}, {}, CommandStatus.ACCEPTED),
        (
            "UpdateFirmware",
            {"location": "https://x/fw", "retrieveDate": "2026-01-02T00:00:00Z"},
            {},
            CommandStatus.ACCEPTED,
        ),
        ("ClearChargingProfile", {}, {"status": "Unknown"}, CommandStatus.REJECTED),
    ],
)
def test_status_comes_from_the_response_status_field(
    action: str, request_payload: dict[str, Any], response: dict[str, Any], status: CommandStatus
) -> None:
    assert World().run(action, request_payload, response).status is status


def test_callresult_failing_its_schema_completes_the_command_as_error() -> None:
    w = World()
    done = w.run("Reset", {"type": "Soft"}, {"status": "Maybe"})
    assert done.status is CommandStatus.ERROR
    assert done.response == {"status": "Maybe"}
    assert done.error is not None and done.error["code"] == "PropertyConstraintViolation"
    assert "failed validation" in done.error["description"]


def test_response_is_validated_against_the_action_that_was_sent() -> None:
    # {"currentTime": ...} is a valid HeartbeatResponse, not a valid ResetResponse.
    done = World().run("Reset", {"type": "Soft"}, {"currentTime": "2026-01-02T03:04:05Z"})
    assert done.status is CommandStatus.ERROR and done.error is not None
    assert done.error["code"] in {"OccurenceConstraintViolation", "FormationViolation"}


def test_callerror_completes_the_command_as_error_with_its_code_and_description() -> None:
    w = World()
    command = w.submit("ClearCache", {})
    done = w.fail(command.command_id, "NotSupported", "no cache here")
    assert done is not None and done.status is CommandStatus.ERROR
    assert done.error == {"code": "NotSupported", "description": "no cache here", "details": {"hint": "x"}}


def test_answer_with_unknown_or_stale_unique_id_changes_nothing() -> None:
    w = World()
    command = w.submit("ClearCache", {})
    assert w.answer("someone-else", {"status": "Accepted"}) is None
    assert w.status(command.command_id) is CommandStatus.SENT
    assert w.answer(command.command_id, {"status": "Accepted"}) is not None
    # the duplicate delivery of the same answer
    assert w.answer(command.command_id, {"status": "Rejected"}) is None
    assert w.status(command.command_id) is CommandStatus.ACCEPTED


# ---------------------------------------------------------------------------------------- queueing


def test_second_command_waits_until_the_first_is_answered() -> None:
    w = World()
    first = w.submit("ClearCache", {})
    second = w.submit("Reset", {"type": "Soft"})
    assert second.status is CommandStatus.QUEUED and second.sent_at is None
    assert [c[2] for c in w.sent_calls()] == ["ClearCache"]
    w.clock.now += timedelta(seconds=1)
    w.answer(first.command_id, {"status": "Accepted"})
    assert [c[2] for c in w.sent_calls()] == ["ClearCache", "Reset"]
    sent = w.store.get(second.command_id)
    assert sent is not None and sent.status is CommandStatus.SENT and sent.sent_at == w.clock.now


def test_queue_keeps_creation_order() -> None:
    w = World()
    ids = [w.submit("DataTransfer", {"vendorId": "v", "messageId": str(i)}).command_id for i in range(4)]
    for command_id in ids:
        w.answer(command_id, {"status": "Accepted"})
    assert [c[3]["messageId"] for c in w.sent_calls()] == ["0", "1", "2", "3"]
    assert all(w.status(i) is CommandStatus.ACCEPTED for i in ids)


def test_full_queue_is_refused() -> None:
    w = World(max_queued=1)
    w.submit("ClearCache", {})  # in flight
    w.submit("ClearCache", {})  # queued
    with pytest.raises(QueueFull):
        w.submit("ClearCache", {})
    assert sorted(c.status for c in w.store.items.values()) == ["error", "queued", "sent"]


def test_racing_sends_cannot_both_take_the_slot() -> None:
    w = World()
    first = w.submit("ClearCache", {})
    w.answer(first.command_id, {"status": "Accepted"})
    # two commands enqueued by racing API calls, neither sent yet
    w.store.create(Command("a", CP, TENANT, "ClearCache", {}, CommandStatus.QUEUED, NOW))
    w.store.create(Command("b", CP, TENANT, "ClearCache", {}, CommandStatus.QUEUED, NOW))
    w.queue.enqueue(CP, "a", 10)
    w.queue.enqueue(CP, "b", 10)
    slot_a = InFlight("a", "a", CONN, NOW, NOW + TIMEOUT)
    assert w.queue.claim(CP, slot_a) is True
    assert w.queue.claim(CP, slot_a) is False  # the loser of the race
    assert w.queue.claim(CP, InFlight("b", "b", CONN, NOW, NOW + TIMEOUT)) is False  # not the head, busy
    # a pump racing the holder sees the busy slot and sends nothing
    before = len(w.sender.sent)
    w.service.on_frame(CP, NOW)
    assert len(w.sender.sent) == before


def test_stranded_queue_is_sent_on_the_next_frame() -> None:
    w = World()
    w.store.create(Command("a", CP, TENANT, "ClearCache", {}, CommandStatus.QUEUED, NOW))
    w.queue.enqueue(CP, "a", 10)  # the submitting invocation died before sending
    w.service.on_frame(CP, NOW)
    assert w.sent_calls() == [[2, "a", "ClearCache", {}]]


# ---------------------------------------------------------------------------------------- timeouts


def test_timeout_by_the_monitor_fails_the_command_and_sends_the_next() -> None:
    w = World()
    first = w.submit("ClearCache", {})
    second = w.submit("Reset", {"type": "Soft"})
    w.clock.now += TIMEOUT - timedelta(seconds=1)
    assert w.service.expire_due() == 0
    w.clock.now += timedelta(seconds=1)
    assert w.service.expire_due() == 1
    timed_out = w.store.get(first.command_id)
    assert timed_out is not None and timed_out.status is CommandStatus.TIMEOUT
    assert timed_out.error is not None and timed_out.error["code"] == "Timeout"
    assert w.status(second.command_id) is CommandStatus.SENT
    assert [c[2] for c in w.sent_calls()] == ["ClearCache", "Reset"]
    # the late answer to the timed-out CALL changes nothing
    assert w.answer(first.command_id, {"status": "Accepted"}) is None
    assert w.status(first.command_id) is CommandStatus.TIMEOUT
    assert w.status(second.command_id) is CommandStatus.SENT


def test_timeout_fast_path_on_the_next_frame() -> None:
    w = World()
    first = w.submit("ClearCache", {})
    second = w.submit("ClearCache", {})
    w.clock.now += TIMEOUT
    w.service.on_frame(CP, w.clock.now)  # e.g. a Heartbeat
    assert w.status(first.command_id) is CommandStatus.TIMEOUT
    assert w.status(second.command_id) is CommandStatus.SENT


def test_wait_returns_the_outcome_and_enforces_the_deadline() -> None:
    w = World()
    command = w.submit("ClearCache", {})
    waited = w.service.wait(TENANT, command.command_id, 5)
    assert waited.status is CommandStatus.SENT and w.clock.now == NOW + timedelta(seconds=5)
    waited = w.service.wait(TENANT, command.command_id, 60)
    assert waited.status is CommandStatus.TIMEOUT
    assert w.clock.now <= NOW + TIMEOUT + timedelta(seconds=1)


def test_wait_returns_as_soon_as_the_answer_is_there() -> None:
    w = World()
    command = w.submit("ClearCache", {})
    w.answer(command.command_id, {"status": "Accepted"})
    assert w.service.wait(TENANT, command.command_id, 20).status is CommandStatus.ACCEPTED
    assert w.clock.now == NOW


# ---------------------------------------------------------------------------------------- offline


def test_command_to_an_offline_charger_is_offline_immediately() -> None:
    w = World(online=False)
    command = w.submit("Reset", {"type": "Soft"})
    assert command.status is CommandStatus.OFFLINE and w.sender.sent == []
    assert w.store.get(command.command_id) == command
    assert command_view(command)["status"] == "offline"


def test_gone_connection_fails_in_flight_and_queued_as_offline() -> None:
    w = World()
    w.sender.gone.add(CONN)
    command = w.submit("Reset", {"type": "Soft"})
    assert command.status is CommandStatus.OFFLINE
    charger = w.chargers.get(CP)
    assert charger is not None and not charger.online
    assert w.queue.state(CP).in_flight is None


def test_disconnect_fails_in_flight_and_queued_commands() -> None:
    w = World()
    first = w.submit("ClearCache", {})
    second = w.submit("ClearCache", {})
    w.chargers.mark_offline(CP, CONN)
    w.service.charger_disconnected(CP, CONN)
    assert w.status(first.command_id) is CommandStatus.OFFLINE
    assert w.status(second.command_id) is CommandStatus.OFFLINE
    assert w.queue.state(CP).in_flight is None and w.queue.state(CP).queued == ()


def test_disconnect_of_an_old_connection_after_a_reconnect_keeps_the_queue_going() -> None:
    w = World()
    first = w.submit("ClearCache", {})
    second = w.submit("ClearCache", {})
    w.chargers.mark_online(CP, "conn-2=", NOW)  # the reconnect's $connect came first
    w.service.charger_disconnected(CP, CONN)
    assert w.status(first.command_id) is CommandStatus.OFFLINE
    sent = w.store.get(second.command_id)
    assert sent is not None and sent.status is CommandStatus.SENT and sent.connection_id == "conn-2="
    assert w.sender.sent[-1][0] == "conn-2="


# ---------------------------------------------------------------------------------------- effects


def configuration(w: World) -> dict[str, Any]:
    return {e["key"]: e for e in reported_view(w.reported.get(CP))["configuration"]}


def test_get_configuration_stores_the_keys_as_last_read() -> None:
    w = World()
    w.run(
        "GetConfiguration",
        {},
        {
            "configurationKey": [
                {"key": "HeartbeatInterval", "readonly": False, "value": "300"},
                {"key": "NumberOfConnectors", "readonly": True, "value": "2"},
            ]
        },
    )
    stored = configuration(w)
    assert stored["HeartbeatInterval"]["value"] == "300" and stored["NumberOfConnectors"]["readonly"]
    # a partial read updates the keys read and drops those reported unknown
    w.run(
        "GetConfiguration",
        {"key": ["HeartbeatInterval", "NumberOfConnectors"]},
        {
            "configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "60"}],
            "unknownKey": ["NumberOfConnectors"],
        },
    )
    stored = configuration(w)
    assert set(stored) == {"HeartbeatInterval"} and stored["HeartbeatInterval"]["value"] == "60"
    assert reported_view(w.reported.get(CP))["unknown_configuration_keys"] == ["NumberOfConnectors"]
    # a full read replaces the set
    w.run("GetConfiguration", {}, {"configurationKey": [{"key": "A", "readonly": True}]})
    assert set(configuration(w)) == {"A"}


def test_change_configuration_accepted_updates_the_stored_value_only_when_accepted() -> None:
    w = World()
    w.run("GetConfiguration", {}, {"configurationKey": [{"key": "K", "readonly": False, "value": "1"}]})
    w.run("ChangeConfiguration", {"key": "K", "value": "2"}, {"status": "Rejected"})
    assert configuration(w)["K"]["value"] == "1"
    w.run("ChangeConfiguration", {"key": "K", "value": "3"}, {"status": "Accepted"})
    assert configuration(w)["K"]["value"] == "3"
    w.run("ChangeConfiguration", {"key": "K", "value": "4"}, {"status": "RebootRequired"})
    assert configuration(w)["K"]["value"] == "4" and configuration(w)["K"]["reboot_required"]


def test_send_local_list_tracks_the_version_and_update_type() -> None:
    w = World()
    entries = [{"idTag": "A", "idTagInfo": {"status": "Accepted"}}, {"idTag": "B"}]
    w.run(
        "SendLocalList",
        {"listVersion": 5, "updateType": "Full", "localAuthorizationList": entries},
        {"status": "Accepted"},
    )
    local_list = w.reported.get(CP).local_list
    assert local_list is not None and (local_list["version"], local_list["update_type"]) == (5, "Full")
    w.run("SendLocalList", {"listVersion": 6, "updateType": "Differential"}, {"status": "VersionMismatch"})
    assert w.reported.get(CP).local_list == local_list
    w.run("SendLocalList", {"listVersion": 6, "updateType": "Differential"}, {"status": "Accepted"})
    local_list = w.reported.get(CP).local_list
    assert local_list is not None and (local_list["version"], local_list["update_type"]) == (
        6,
        "Differential",
    )
    w.run("GetLocalListVersion", {}, {"listVersion": 7})
    local_list = w.reported.get(CP).local_list
    assert local_list is not None and local_list["version"] == 7 and local_list["update_type"] is None


def profile(
    profile_id: int, stack_level: int, purpose: str = "TxDefaultProfile", limit: float = 16.0
) -> dict[str, Any]:
    return {
        "chargingProfileId": profile_id,
        "stackLevel": stack_level,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}],
        },
    }


def set_profile(w: World, connector_id: int, body: dict[str, Any], status: str = "Accepted") -> None:
    w.run("SetChargingProfile", {"connectorId": connector_id, "csChargingProfiles": body}, {"status": status})


def installed(w: World) -> list[tuple[int, int, str, int]]:
    return [
        (p["charging_profile_id"], p["connector_id"], p["purpose"], p["stack_level"])
        for p in reported_view(w.reported.get(CP))["charging_profiles"]
    ]


def test_set_charging_profile_replace_rules() -> None:
    w = World()
    set_profile(w, 1, profile(1, 0))
    set_profile(w, 1, profile(2, 1))
    set_profile(w, 2, profile(3, 0))  # same stack level + purpose, other connector: stacked
    set_profile(w, 0, profile(4, 0, "ChargePointMaxProfile"))
    assert installed(w) == [
        (1, 1, "TxDefaultProfile", 0),
        (2, 1, "TxDefaultProfile", 1),
        (3, 2, "TxDefaultProfile", 0),
        (4, 0, "ChargePointMaxProfile", 0),
    ]
    # same stackLevel + purpose on the same connector replaces, whatever the id
    set_profile(w, 1, profile(5, 0, limit=10))
    assert (1, 1, "TxDefaultProfile", 0) not in installed(w) and (5, 1, "TxDefaultProfile", 0) in installed(w)
    # same chargingProfileId replaces, wherever it was installed
    set_profile(w, 2, profile(2, 3))
    assert (2, 1, "TxDefaultProfile", 1) not in installed(w) and (2, 2, "TxDefaultProfile", 3) in installed(w)
    # not accepted: nothing changes
    before = installed(w)
    set_profile(w, 1, profile(9, 0), status="Rejected")
    assert installed(w) == before
    stored = w.reported.get(CP).charging_profiles["5"]
    assert stored["profile"]["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"] == 10


@pytest.mark.parametrize(
    ("criteria", "left"),
    [
        ({}, []),
        ({"id": 2}, [1, 3, 4]),
        ({"connectorId": 1}, [3, 4]),
        ({"chargingProfilePurpose": "TxDefaultProfile", "stackLevel": 0}, [2, 4]),
        ({"connectorId": 2, "stackLevel": 1}, [1, 2, 3, 4]),
        ({"id": 2, "connectorId": 2}, [1, 2, 3, 4]),  # logical AND (errata 3.25)
    ],
)
def test_clear_charging_profile_removes_by_its_criteria(criteria: dict[str, Any], left: list[int]) -> None:
    w = World()
    set_profile(w, 1, profile(1, 0))
    set_profile(w, 1, profile(2, 1))
    set_profile(w, 2, profile(3, 0))
    set_profile(w, 0, profile(4, 0, "ChargePointMaxProfile"))
    w.run("ClearChargingProfile", criteria, {"status": "Accepted"})
    assert [p[0] for p in installed(w)] == left


def test_clear_charging_profile_unknown_changes_nothing() -> None:
    w = World()
    set_profile(w, 1, profile(1, 0))
    w.run("ClearChargingProfile", {"id": 1}, {"status": "Unknown"})
    assert [p[0] for p in installed(w)] == [1]


def test_reserve_now_and_cancel_reservation() -> None:
    w = World()
    reserve = {
        "connectorId": 1,
        "expiryDate": "2026-01-02T05:00:00+01:00",
        "idTag": "TAG",
        "reservationId": 7,
    }
    w.run("ReserveNow", reserve, {"status": "Occupied"})
    assert w.reported.get(CP).reservations == {}
    w.run("ReserveNow", reserve, {"status": "Accepted"})
    stored = w.reported.get(CP).reservations["7"]
    assert stored["status"] == "Reserved" and stored["expiry_date"] == "2026-01-02T05:00:00+01:00"
    w.run("CancelReservation", {"reservationId": 7}, {"status": "Rejected"})
    assert w.reported.get(CP).reservations["7"]["status"] == "Reserved"
    w.run("CancelReservation", {"reservationId": 7}, {"status": "Accepted"})
    cancelled = reported_view(w.reported.get(CP))["reservations"][0]
    assert cancelled["reservation_id"] == 7 and cancelled["status"] == "Cancelled"
    assert cancelled["id_tag"] == "TAG"


def test_effect_failure_does_not_change_the_outcome() -> None:
    w = World()

    def broken(state: Any) -> bool:
        raise RuntimeError("table unavailable")

    w.reported.save = broken  # type: ignore[method-assign]
    done = w.run("GetConfiguration", {}, {"configurationKey": []})
    assert done.status is CommandStatus.ACCEPTED and w.queue.state(CP).in_flight is None


def test_listing_is_newest_first_and_tenant_scoped() -> None:
    w = World()
    ids = []
    for _ in range(3):
        ids.append(w.submit("ClearCache", {}).command_id)
        w.clock.now += timedelta(seconds=1)
    page = w.service.list_for_charger(TENANT, CP, 2, None)
    assert [c.command_id for c in page.items] == ids[::-1][:2] and page.cursor is not None
    with pytest.raises(ChargerNotFound):
        w.service.list_for_charger("t2", CP, 2, None)
