"""Fleet time limits on in-memory twins: deadlines from the charger's start time, late starts, one stop
under repeated sweeps, restarts, the safety net and the CDR-facing stop reason."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from voltway.billing.model import Contract, ContractScope
from voltway.fleet.memory import InMemoryContracts, InMemoryDeadlines
from voltway.fleet.model import DeadlineStatus, deadline_of
from voltway.fleet.service import FleetLimits, StartedSession
from voltway.idtags.model import IdTagInfo, IdTagStatus
from voltway.ocpp.commands import catalog
from voltway.transactions.model import Transaction

T0 = datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC)


@dataclass
class RecordingCommands:
    sent: list[tuple[str, str, str, Any]] = field(default_factory=list)

    def submit(self, tenant_id: str, charge_point_id: str, action: str, payload: Any) -> Any:
        self.sent.append((tenant_id, charge_point_id, action, payload))
        return None


@dataclass
class RecordingReasons:
    reasons: dict[int, str] = field(default_factory=dict)

    def request_stop(self, transaction_id: int, reason: str) -> None:
        self.reasons[transaction_id] = reason


def fleet_contract(minutes: str = "30", safety_net: bool = False) -> Contract:
    return Contract(
        contract_id="fleet-acme",
        scope=ContractScope.ACCOUNT,
        subject_id="ACME",
        currency="EUR",
        max_session_minutes=Decimal(minutes),
        tx_profile_safety_net=safety_net,
    )


def session(tx: int = 7, started_at: datetime = T0, received_at: datetime | None = None) -> StartedSession:
    return StartedSession(
        tenant_id="t1",
        charge_point_id="CP1",
        connector_id=1,
        transaction_id=tx,
        id_tag_info=IdTagInfo(IdTagStatus.ACCEPTED, parent_id_tag="ACME"),
        started_at=started_at,
        received_at=received_at or started_at,
    )


class World:
    def __init__(self, contract: Contract | None = None, now: datetime = T0) -> None:
        self.now = now
        self.deadlines = InMemoryDeadlines()
        self.contracts = InMemoryContracts({"t1": [contract or fleet_contract()]})
        self.commands = RecordingCommands()
        self.reasons = RecordingReasons()

    def fleet(self) -> FleetLimits:
        """A fresh process: nothing but the persisted stores is shared."""
        return FleetLimits(
            deadlines=self.deadlines,
            contracts=self.contracts,
            commands=self.commands,
            stop_reasons=self.reasons,
            clock=lambda: self.now,
        )

    def stops(self) -> list[Any]:
        return [p for (_, _, a, p) in self.commands.sent if a == "RemoteStopTransaction"]


def test_deadline_is_the_chargers_start_plus_the_limit() -> None:
    w = World()
    started = T0 - timedelta(minutes=5)  # delivered 5 minutes late
    d = w.fleet().transaction_started(session(started_at=started, received_at=T0))
    assert d is not None and d.due_at == started + timedelta(minutes=30)
    assert deadline_of(T0, Decimal("0.05")) == T0 + timedelta(seconds=3)


def test_no_contract_limit_no_deadline_and_not_accepted_no_deadline() -> None:
    plain = Contract(contract_id="c", scope=ContractScope.ACCOUNT, subject_id="ACME", currency="EUR")
    w = World(plain)
    assert w.fleet().transaction_started(session()) is None
    w2 = World()
    blocked = replace(session(), id_tag_info=IdTagInfo(IdTagStatus.BLOCKED))
    assert w2.fleet().transaction_started(blocked) is None
    other = replace(session(), id_tag_info=IdTagInfo(IdTagStatus.ACCEPTED, parent_id_tag="OTHER"))
    assert w2.fleet().transaction_started(other) is None


def test_stop_at_the_deadline_exactly_once_under_repeated_sweeps() -> None:
    w = World()
    w.fleet().transaction_started(session())
    w.now = T0 + timedelta(minutes=29, seconds=59)
    assert w.fleet().sweep() == 0
    w.now = T0 + timedelta(minutes=30, seconds=20)
    assert w.fleet().sweep() == 1
    for _ in range(3):  # the same minute again, and later ones
        assert w.fleet().sweep() == 0
        w.now += timedelta(minutes=1)
    assert w.stops() == [{"transactionId": 7}]
    assert w.reasons.reasons == {7: "time_limit"}
    item = w.deadlines.get(7)
    assert item is not None and item.status is DeadlineStatus.STOP_REQUESTED


def test_late_start_whose_deadline_passed_is_stopped_at_the_next_sweep() -> None:
    w = World(fleet_contract("1"))
    w.now = T0 + timedelta(minutes=10)
    w.fleet().sweep()  # the cursor is past T0+1min already
    w.fleet().transaction_started(session(started_at=T0, received_at=w.now))
    w.now += timedelta(seconds=30)
    assert w.fleet().sweep() == 1
    assert w.stops() == [{"transactionId": 7}]


def test_restart_reads_persisted_deadlines_and_cursor() -> None:
    w = World()
    w.fleet().transaction_started(session(tx=1))
    w.fleet().transaction_started(session(tx=2, started_at=T0 + timedelta(minutes=3)))
    w.now = T0 + timedelta(minutes=31)
    assert w.fleet().sweep() == 1  # process A
    # process A dies; the monitor is down for a while; process B starts
    w.now = T0 + timedelta(minutes=50)
    assert w.fleet().sweep() == 1
    assert [p["transactionId"] for p in w.stops()] == [1, 2]


def test_stop_before_the_deadline_cancels_it() -> None:
    w = World()
    w.fleet().transaction_started(session())
    w.fleet().transaction_stopped(7)
    w.now = T0 + timedelta(hours=1)
    assert w.fleet().sweep() == 0 and w.stops() == []


def test_retried_start_records_once_and_sends_one_safety_net() -> None:
    w = World(fleet_contract("30", safety_net=True))
    w.fleet().transaction_started(session())
    w.fleet().transaction_started(session())
    profiles = [p for (_, _, a, p) in w.commands.sent if a == "SetChargingProfile"]
    assert len(profiles) == 1
    schedule = profiles[0]["csChargingProfiles"]["chargingSchedule"]
    assert profiles[0]["csChargingProfiles"]["chargingProfilePurpose"] == "TxProfile"
    assert profiles[0]["csChargingProfiles"]["transactionId"] == 7
    assert schedule["chargingSchedulePeriod"][-1] == {"startPeriod": 1800, "limit": 0}


def test_safety_net_payload_is_a_valid_set_charging_profile() -> None:
    w = World(fleet_contract("0.05", safety_net=True))
    w.fleet().transaction_started(session())
    (_, _, action, payload) = w.commands.sent[0]
    catalog.validate_request(action, payload)  # raises on a schema violation
    assert payload["csChargingProfiles"]["chargingSchedule"]["chargingSchedulePeriod"][-1]["startPeriod"] == 3


def test_ended_by_is_time_limit_only_after_a_remote_stop() -> None:
    tx = Transaction(
        transaction_id=7,
        tenant_id="t1",
        charge_point_id="CP1",
        connector_id=1,
        id_tag="TAG",
        id_tag_status=IdTagStatus.ACCEPTED,
        meter_start=0,
        started_at=T0,
        stop_reason_requested="time_limit",
    )
    assert tx.ended_by is None
    assert replace(tx, stopped_at=T0, stop_reason="Remote").ended_by == "time_limit"
    assert replace(tx, stopped_at=T0, stop_reason="EVDisconnected").ended_by == "EVDisconnected"
