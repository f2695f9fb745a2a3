"""The OCPP 1.6J central system on in-memory adapters: every CALLERROR path, boot policy, status
persistence, idempotent retries, GoneException handling."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from voltway.chargers.memory import InMemoryChargerRepository, InMemoryConnectionRegistry
from voltway.chargers.model import RegistrationStatus
from voltway.chargers.passwords import hash_password
from voltway.ocpp import schemas
from voltway.ocpp.central_system import CentralSystem
from voltway.ocpp.core import CorePolicy, CoreProfile
from voltway.ocpp.dispatch import Dispatcher
from voltway.ocpp.memory import InMemoryChargerConnections, InMemoryIdempotencyStore, InMemoryMessageAudit

NOW = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
CONN = "conn-1="
CP = "CP001"
BOOT = {"chargePointVendor": "VendorX", "chargePointModel": "M1", "firmwareVersion": "1.0"}


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


class World:
    def __init__(self, policy: str = "pending", *, register: bool = True, enabled: bool = True) -> None:
        self.clock = Clock()
        self.chargers = InMemoryChargerRepository()
        self.connections = InMemoryConnectionRegistry()
        self.audit = InMemoryMessageAudit()
        self.idempotency = InMemoryIdempotencyStore()
        self.sender = InMemoryChargerConnections()
        dispatcher = Dispatcher()
        CoreProfile(self.chargers, CorePolicy(policy, 300)).register(dispatcher)  # type: ignore[arg-type]
        self.system = CentralSystem(
            chargers=self.chargers,
            connections=self.connections,
            dispatcher=dispatcher,
            idempotency=self.idempotency,
            audit=self.audit,
            sender=self.sender,
            clock=self.clock,
        )
        if register:
            self.chargers.save_registration(
                CP,
                "t1",
                password_hash=hash_password("secret-pw"),
                security_profile=1,
                enabled=enabled,
                now=NOW,
            )
        self.connections.register(CONN, CP, NOW)

    def send(self, frame: Any) -> list[Any] | None:
        raw = frame if isinstance(frame, str) else json.dumps(frame)
        outcome = self.system.receive(CONN, raw)
        return json.loads(outcome.reply) if outcome.reply else None

    def boot(self) -> list[Any] | None:
        return self.send([2, "boot-1", "BootNotification", BOOT])


@pytest.fixture
def world() -> World:
    return World()


def error_code(reply: list[Any] | None) -> str:
    assert reply is not None and reply[0] == 4 and len(reply) == 5, reply
    assert isinstance(reply[3], str) and isinstance(reply[4], dict)
    return str(reply[2])


# ---------------------------------------------------------------- BootNotification and policy


def test_boot_of_a_registered_charger_is_accepted_and_recorded(world: World) -> None:
    reply = world.boot()
    assert reply == [
        3,
        "boot-1",
        {"status": "Accepted", "currentTime": "2026-01-02T03:04:05.678Z", "interval": 300},
    ]
    schemas.validate("BootNotificationResponse", reply[2])
    charger = world.chargers.get(CP)
    assert charger is not None and charger.registration_status is RegistrationStatus.ACCEPTED
    assert (
        charger.boot is not None
        and charger.boot.vendor == "VendorX"
        and charger.boot.firmware_version == "1.0"
    )
    assert charger.last_seen == NOW
    assert world.sender.sent == [(CONN, json.dumps(reply, separators=(",", ":")))]


@pytest.mark.parametrize(("policy", "status"), [("pending", "Pending"), ("reject", "Rejected")])
def test_boot_of_an_unregistered_or_disabled_charger_follows_the_policy(policy: str, status: str) -> None:
    for world in (World(policy, register=False), World(policy, enabled=False)):
        reply = world.boot()
        assert reply is not None and reply[2]["status"] == status


def test_calls_before_acceptance_get_security_error() -> None:
    world = World("pending", enabled=False)
    world.boot()
    assert error_code(world.send([2, "hb", "Heartbeat", {}])) == "SecurityError"


# ---------------------------------------------------------------- Heartbeat, StatusNotification


def test_heartbeat_answers_current_time_and_records_last_seen(world: World) -> None:
    world.boot()
    world.clock.now = NOW + timedelta(minutes=5)
    reply = world.send([2, "hb-1", "Heartbeat", {}])
    assert reply == [3, "hb-1", {"currentTime": "2026-01-02T03:09:05.678Z"}]
    charger = world.chargers.get(CP)
    assert charger is not None and charger.last_seen == NOW + timedelta(minutes=5)


def test_null_payload_is_an_empty_payload(world: World) -> None:
    world.boot()
    reply = world.send([2, "hb-1", "Heartbeat", None])
    assert reply is not None and reply[0] == 3


def test_status_notification_is_persisted_per_connector_in_utc(world: World) -> None:
    world.boot()
    payload = {
        "connectorId": 1,
        "errorCode": "GroundFailure",
        "status": "Faulted",
        "info": "rcd",
        "vendorErrorCode": "E42",
        "timestamp": "2026-01-02T05:00:00+02:00",
    }
    assert world.send([2, "sn-1", "StatusNotification", payload]) == [3, "sn-1", {}]
    assert world.send(
        [2, "sn-2", "StatusNotification", {"connectorId": 0, "errorCode": "NoError", "status": "Available"}]
    ) == [3, "sn-2", {}]
    charger = world.chargers.get(CP)
    assert charger is not None
    one = charger.connectors[1]
    assert (one.status, one.error_code, one.info, one.vendor_error_code) == (
        "Faulted",
        "GroundFailure",
        "rcd",
        "E42",
    )
    assert one.timestamp == datetime(2026, 1, 2, 3, 0, tzinfo=UTC)
    assert charger.connectors[0].status == "Available" and charger.connectors[0].timestamp == NOW


# ---------------------------------------------------------------- CALLERROR paths


@pytest.mark.parametrize(
    ("frame", "code", "unique_id"),
    [
        ("not json", "FormationViolation", "-1"),
        ('{"a": 1}', "FormationViolation", "-1"),
        ("[]", "FormationViolation", "-1"),
        ("[2]", "ProtocolError", "-1"),
        ('[2, 5, "Heartbeat", {}]', "FormationViolation", "-1"),
        ('["2", "u1", "Heartbeat", {}]', "FormationViolation", "u1"),
        ('[2, "u1", "Heartbeat"]', "ProtocolError", "u1"),
        ('[2, "u1", "Heartbeat", {}, 5]', "FormationViolation", "u1"),
        ('[2, "u1", 7, {}]', "FormationViolation", "u1"),
        ('[2, "u1", "Heartbeat", []]', "FormationViolation", "u1"),
        ('[2, "u1", "Heartbeat", {"x": NaN}]', "FormationViolation", "-1"),
        (json.dumps([2, "x" * 37, "Heartbeat", {}]), "FormationViolation", "x" * 37),
        ('[2, "u1", "FlyToTheMoon", {}]', "NotImplemented", "u1"),
        ('[2, "u1", "MeterValues", {}]', "NotSupported", "u1"),
        ('[2, "u1", "Reset", {"type": "Hard"}]', "NotSupported", "u1"),
        ('[2, "u1", "Heartbeat", {"extra": 1}]', "FormationViolation", "u1"),
        (
            '[2, "u1", "StatusNotification", {"connectorId": "1", "errorCode": "NoError", "status": "Available"}]',  # noqa: E501
            "TypeConstraintViolation",
            "u1",
        ),
        (
            '[2, "u1", "StatusNotification", {"connectorId": 1, "status": "Available"}]',
            "OccurenceConstraintViolation",
            "u1",
        ),
        (
            '[2, "u1", "StatusNotification", {"connectorId": 1, "errorCode": "Oops", "status": "Available"}]',
            "PropertyConstraintViolation",
            "u1",
        ),
        (
            '[2, "u1", "StatusNotification", {"connectorId": -1, "errorCode": "NoError", "status": "Available"}]',  # noqa: E501
            "PropertyConstraintViolation",
            "u1",
        ),
        (
            '[2, "u1", "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Available", "timestamp": "yesterday"}]',  # noqa: E501
            "PropertyConstraintViolation",
            "u1",
        ),
        (
            '[2, "u1", "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Available", "timestamp": "2026-01-02T03:04:05"}]',  # noqa: E501
            "PropertyConstraintViolation",
            "u1",
        ),
        (
            '[2, "u1", "BootNotification", {"chargePointVendor": "'
            + "v" * 21
            + '", "chargePointModel": "m"}]',
            "PropertyConstraintViolation",
            "u1",
        ),
    ],
)
def test_bad_frames_get_the_ocpp_j_error_code(world: World, frame: str, code: str, unique_id: str) -> None:
    world.boot()
    reply = world.send(frame)
    assert error_code(reply) == code
    assert reply is not None and reply[1] == unique_id


def test_a_handler_crash_is_an_internal_error_and_can_be_retried(world: World) -> None:
    world.boot()

    class Broken(InMemoryChargerRepository):
        def touch(self, charge_point_id: str, seen_at: datetime) -> None:
            raise RuntimeError("disk on fire")

    dispatcher = Dispatcher()
    CoreProfile(Broken(), CorePolicy("pending", 300)).register(dispatcher)
    world.system._dispatcher = dispatcher
    assert error_code(world.send([2, "hb-x", "Heartbeat", {}])) == "InternalError"
    assert (CP, "hb-x") not in world.idempotency.records


def test_answers_from_the_charger_are_accepted_without_reply(world: World) -> None:
    assert world.send([3, "cmd-1", {"status": "Accepted"}]) is None
    assert world.send([4, "cmd-2", "NotSupported", "no", {}]) is None
    assert world.send([5, "x", {}]) is None
    assert [e.direction for e in world.audit.entries] == ["in", "in", "in"]


def test_unknown_connection_gets_security_error() -> None:
    world = World()
    outcome = world.system.receive("other-conn", json.dumps([2, "hb", "Heartbeat", {}]))
    assert outcome.reply is not None and json.loads(outcome.reply)[2] == "SecurityError"


# ---------------------------------------------------------------- idempotency, audit, gone


def test_a_retried_call_gets_the_same_answer_and_changes_nothing(world: World) -> None:
    first = world.boot()
    world.clock.now = NOW + timedelta(seconds=30)
    again = world.boot()  # the same unique id: the charger never got the first answer
    assert again == first
    charger = world.chargers.get(CP)
    assert charger is not None and charger.last_seen == NOW


def test_retry_safe_calls_are_answered_anew_without_the_retry_cache(world: World) -> None:
    world.boot()
    cached = dict(world.idempotency.records)
    first = world.send([2, "hb-1", "Heartbeat", {}])
    world.clock.now = NOW + timedelta(seconds=30)
    again = world.send([2, "hb-1", "Heartbeat", {}])
    assert first is not None and again is not None
    assert (first[2]["currentTime"], again[2]["currentTime"]) == (
        "2026-01-02T03:04:05.678Z",
        "2026-01-02T03:04:35.678Z",
    )
    assert world.idempotency.records == cached  # no claim, no completion: two writes fewer a frame
    charger = world.chargers.get(CP)
    assert charger is not None and charger.last_seen == NOW + timedelta(seconds=30)


def test_a_reused_unique_id_with_a_new_payload_is_a_new_call(world: World) -> None:
    world.boot()
    sn = {"connectorId": 1, "errorCode": "NoError", "status": "Available"}
    world.send([2, "7", "StatusNotification", sn])
    world.send([2, "7", "StatusNotification", {**sn, "status": "Charging"}])
    charger = world.chargers.get(CP)
    assert charger is not None and charger.connectors[1].status == "Charging"


def test_a_call_still_being_handled_elsewhere_gets_an_error(world: World) -> None:
    call = [2, "boot-2", "BootNotification", BOOT]
    from voltway.ocpp.central_system import _fingerprint
    from voltway.ocpp.frames import Call

    world.idempotency.claim(CP, "boot-2", _fingerprint(Call("boot-2", "BootNotification", BOOT)), NOW, NOW)
    assert error_code(world.send(call)) == "GenericError"
    world.clock.now = NOW + timedelta(seconds=31)  # the first delivery's claim went stale
    reply = world.send(call)
    assert reply is not None and reply[0] == 3


def test_frames_are_audited_both_ways(world: World) -> None:
    world.boot()
    entries = world.audit.entries
    assert [(e.direction, e.unique_id, e.action, e.message_type) for e in entries] == [
        ("in", "boot-1", "BootNotification", 2),
        ("out", "boot-1", "BootNotification", 3),
    ]
    page = world.audit.recent(CP, 10, None)
    assert page.items[0].direction == "out"


def test_gone_connection_marks_the_charger_offline_without_raising(world: World) -> None:
    world.chargers.mark_online(CP, CONN, NOW)
    world.sender.gone.add(CONN)
    world.boot()
    charger = world.chargers.get(CP)
    assert charger is not None and not charger.online


def test_our_answers_validate_against_the_response_schemas(world: World) -> None:
    for action, payload in [
        ("BootNotification", BOOT),
        ("Heartbeat", {}),
        ("StatusNotification", {"connectorId": 0, "errorCode": "NoError", "status": "Available"}),
    ]:
        reply = world.send([2, f"id-{action}", action, payload])
        assert reply is not None and reply[0] == 3
        schemas.validate(f"{action}Response", reply[2])


def test_each_frame_logs_only_its_own_correlation_ids(world: World) -> None:
    # Powertools keeps appended keys for the life of a warm process: an id one frame attached (a command,
    # a transaction) must not label the next frame's log lines.
    import logging

    from voltway.observability import SERVICE, correlate, logger

    lines: list[dict[str, Any]] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(json.loads(self.format(record)))

    keep = Keep()
    keep.setFormatter(logger.registered_formatter)
    std = logging.getLogger(SERVICE)  # the standard logger under Powertools' Logger
    std.addHandler(keep)
    try:
        world.boot()
        correlate(command_id="cmd-of-frame-1", transaction_id="7")  # what the first frame's work added
        world.send([2, "bad-2", "Heartbeat", {"unexpected": 1}])  # logged: a CALLERROR for frame 2
    finally:
        std.removeHandler(keep)
    frame_2 = [line for line in lines if line.get("unique_id") == "bad-2"]
    assert frame_2, lines
    for line in frame_2:
        assert line["charge_point_id"] == CP and line["connection_id"] == CONN
        assert "command_id" not in line and "transaction_id" not in line


def test_a_call_puts_the_charger_back_online_over_its_connection(world: World) -> None:
    world.boot()
    # A late $connect of a handshake the charger abandoned left a dead connection id on the record.
    world.chargers.mark_online(CP, "dead-conn=", NOW)
    world.send([2, "hb-1", "Heartbeat", {}])
    charger = world.chargers.get(CP)
    assert charger is not None and charger.online and charger.connection_id == CONN
    # A CALL of ours found the connection gone, or the monitor marked a silent charger offline: the next
    # frame (within the last-seen granularity, too) restores it, so commands reach the charger again.
    world.chargers.mark_offline(CP, CONN)
    world.clock.now = NOW + timedelta(seconds=5)
    world.send([2, "hb-2", "Heartbeat", {}])
    charger = world.chargers.get(CP)
    assert charger is not None and charger.online and charger.connection_id == CONN
    assert charger.last_seen == NOW + timedelta(seconds=5)
