"""Reservations end (expiryDate reached -> Expired by the monitor's sweep, used by a StartTransaction with
the reservationId -> Used) and TxProfiles end with their transaction, through the central system on
in-memory adapters."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from voltway.chargers.memory import InMemoryChargerRepository, InMemoryConnectionRegistry
from voltway.chargers.passwords import hash_password
from voltway.idtags.memory import InMemoryIdTagRepository
from voltway.idtags.model import IdTag, IdTagStatus
from voltway.idtags.service import IdTagService
from voltway.ocpp.central_system import CentralSystem
from voltway.ocpp.commands.lifecycle import (
    ReportedLifecycle,
    next_reservation_expiry,
    reservations_expired,
    tx_profiles_ended,
)
from voltway.ocpp.commands.memory import InMemoryReportedStateStore
from voltway.ocpp.commands.reported import ReportedState
from voltway.ocpp.commands.views import reported_view
from voltway.ocpp.core import CorePolicy, CoreProfile
from voltway.ocpp.dispatch import Dispatcher
from voltway.ocpp.memory import InMemoryChargerConnections, InMemoryIdempotencyStore, InMemoryMessageAudit
from voltway.ocpp.transactions import TransactionProfile
from voltway.transactions.memory import InMemoryMeterValueStore, InMemoryTransactionRepository
from voltway.transactions.service import TransactionService

NOW = datetime(2026, 1, 2, 3, 0, 0, tzinfo=UTC)
CP = "CP001"
CONN = "conn-1="


def reservation(rid: int, expiry: str, connector: int = 1, status: str = "Reserved") -> dict[str, Any]:
    return {
        str(rid): {
            "connector_id": connector,
            "id_tag": "TAG1",
            "parent_id_tag": None,
            "expiry_date": expiry,
            "status": status,
            "reserved_at": "2026-01-02T02:00:00.000Z",
            "command_id": f"cmd-{rid}",
        }
    }


def profile(pid: int, connector: int, purpose: str, tx: int | None = None) -> dict[str, Any]:
    return {
        str(pid): {
            "connector_id": connector,
            "purpose": purpose,
            "stack_level": pid,
            "transaction_id": tx,
            "profile": {},
            "installed_at": "2026-01-02T02:00:00.000Z",
            "command_id": f"cmd-p{pid}",
        }
    }


class World:
    def __init__(self) -> None:
        self.now = NOW
        self.chargers = InMemoryChargerRepository()
        self.connections = InMemoryConnectionRegistry()
        self.reported = InMemoryReportedStateStore()
        self.lifecycle = ReportedLifecycle(self.reported, self.reported)
        id_tags = IdTagService(InMemoryIdTagRepository(), clock=lambda: self.now)
        id_tags.put(IdTag("t1", "TAG1", IdTagStatus.ACCEPTED))
        service = TransactionService(InMemoryTransactionRepository(), InMemoryMeterValueStore(), id_tags)
        dispatcher = Dispatcher()
        CoreProfile(self.chargers, CorePolicy("reject", 300), status_observer=self.lifecycle).register(
            dispatcher
        )
        TransactionProfile(id_tags, service, lifecycle=self.lifecycle).register(dispatcher)
        self.system = CentralSystem(
            chargers=self.chargers,
            connections=self.connections,
            dispatcher=dispatcher,
            idempotency=InMemoryIdempotencyStore(),
            audit=InMemoryMessageAudit(),
            sender=InMemoryChargerConnections(),
            clock=lambda: self.now,
        )
        self.chargers.save_registration(
            CP, "t1", password_hash=hash_password("pw-123456"), security_profile=1, enabled=True, now=NOW
        )
        self.connections.register(CONN, CP, NOW)
        self.n = 0
        self.call("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"})

    def call(self, action: str, payload: dict[str, Any], unique_id: str | None = None) -> Any:
        self.n += 1
        outcome = self.system.receive(CONN, json.dumps([2, unique_id or f"u{self.n}", action, payload]))
        assert outcome.reply is not None
        reply = json.loads(outcome.reply)
        assert reply[0] == 3, reply
        return reply[2]

    def seed(self, **kwargs: Any) -> None:
        assert self.reported.save(ReportedState(CP, **kwargs))

    def start(self, connector: int = 1, **extra: Any) -> int:
        payload = {"connectorId": connector, "idTag": "TAG1", "meterStart": 0}
        payload |= {"timestamp": "2026-01-02T03:00:00Z", **extra}
        tx: int = self.call("StartTransaction", payload)["transactionId"]
        return tx

    def stop(self, tx: int) -> None:
        self.call(
            "StopTransaction", {"transactionId": tx, "meterStop": 100, "timestamp": "2026-01-02T03:30:00Z"}
        )


def statuses(w: World) -> dict[str, str]:
    return {rid: r["status"] for rid, r in w.reported.get(CP).reservations.items()}


def test_monitor_sweep_expires_due_reservations_only() -> None:
    w = World()
    w.seed(
        reservations={**reservation(1, "2026-01-02T03:00:00Z"), **reservation(2, "2026-01-02T05:00:00+01:00")}
    )
    assert w.reported.due_reservations(NOW) == [CP]
    assert w.lifecycle.expire_reservations(NOW) == 1
    assert statuses(w) == {"1": "Expired", "2": "Reserved"}
    assert w.reported.get(CP).reservations["1"]["ended_at"] == "2026-01-02T03:00:00.000Z"
    assert w.lifecycle.expire_reservations(NOW) == 0  # nothing due any more: idempotent
    later = NOW + timedelta(hours=1)  # 05:00+01:00 is 04:00Z
    assert w.lifecycle.expire_reservations(later) == 1
    assert statuses(w) == {"1": "Expired", "2": "Expired"}
    assert w.reported.due_reservations(later) == []


def test_view_shows_expired_before_the_sweep_ran() -> None:
    w = World()
    w.seed(reservations=reservation(7, "2026-01-02T02:59:59Z"))
    (shown,) = reported_view(w.reported.get(CP), NOW)["reservations"]
    assert shown["reservation_id"] == 7 and shown["status"] == "Expired"
    assert statuses(w) == {"7": "Reserved"}  # stored state unchanged until the monitor writes it


def test_start_transaction_with_the_reservation_id_consumes_it() -> None:
    w = World()
    w.seed(reservations=reservation(3, "2026-01-02T04:00:00Z"))
    tx = w.start(reservationId=3)
    used = w.reported.get(CP).reservations["3"]
    assert used["status"] == "Used" and used["transaction_id"] == tx
    assert w.lifecycle.expire_reservations(NOW + timedelta(hours=2)) == 0  # a used one never expires
    assert next_reservation_expiry(w.reported.get(CP)) is None


def test_retried_start_and_unknown_reservation_ids_are_harmless() -> None:
    w = World()
    w.seed(reservations=reservation(3, "2026-01-02T04:00:00Z"))
    version = w.reported.get(CP).version
    tx = w.start(reservationId=3)
    assert w.start(reservationId=3) == tx  # the same StartTransaction retried: same transaction id
    assert w.reported.get(CP).version == version + 1
    w.start(connector=2, reservationId=99, timestamp="2026-01-02T03:01:00Z")
    assert w.reported.get(CP).reservations["99"]["status"] == "Used"  # made elsewhere: recorded


def test_status_available_after_expiry_is_consistent() -> None:
    w = World()
    w.seed(reservations=reservation(4, "2026-01-02T02:30:00Z"))
    w.lifecycle.expire_reservations(NOW)
    w.call(
        "StatusNotification",
        {
            "connectorId": 1,
            "errorCode": "NoError",
            "status": "Available",
            "timestamp": "2026-01-02T03:00:01Z",
        },
    )
    charger = w.chargers.get(CP)
    assert charger is not None and charger.connectors[1].status == "Available"
    assert statuses(w) == {"4": "Expired"}


def test_stop_transaction_removes_its_tx_profiles_only() -> None:
    w = World()
    tx1 = w.start(connector=1)
    tx2 = w.start(connector=2, timestamp="2026-01-02T03:00:05Z")
    w.seed(
        charging_profiles={
            **profile(1, 1, "TxProfile", tx1),
            **profile(2, 1, "TxProfile"),  # no transaction id: applies to connector 1's transaction
            **profile(3, 2, "TxProfile", tx2),
            **profile(4, 1, "TxDefaultProfile"),
            **profile(5, 0, "ChargePointMaxProfile"),
        }
    )
    w.stop(tx1)
    assert sorted(w.reported.get(CP).charging_profiles) == ["3", "4", "5"]
    w.stop(tx1)  # a retried stop changes nothing
    assert sorted(w.reported.get(CP).charging_profiles) == ["3", "4", "5"]
    w.stop(tx2)
    assert sorted(w.reported.get(CP).charging_profiles) == ["4", "5"]


def test_stop_without_tx_profiles_writes_nothing() -> None:
    w = World()
    w.seed(charging_profiles=profile(4, 1, "TxDefaultProfile"))
    version = w.reported.get(CP).version
    w.stop(w.start())
    assert w.reported.get(CP).version == version


def test_pure_functions_return_none_when_nothing_changes() -> None:
    state = ReportedState(CP, reservations=reservation(1, "2026-01-02T04:00:00Z", status="Cancelled"))
    assert reservations_expired(state, NOW + timedelta(days=1)) is None
    assert tx_profiles_ended(state, 5, 1) is None
    assert next_reservation_expiry(state) is None


def status(w: World, connector: int, value: str, at: str = "2026-01-02T03:00:01Z") -> None:
    payload = {"connectorId": connector, "errorCode": "NoError", "status": value, "timestamp": at}
    w.call("StatusNotification", payload)


def test_faulted_or_unavailable_connector_removes_its_reservations() -> None:
    w = World()
    w.seed(
        reservations={
            **reservation(1, "2026-01-02T04:00:00Z", connector=1),
            **reservation(2, "2026-01-02T04:00:00Z", connector=2),
        }
    )
    version = w.reported.get(CP).version
    status(w, 1, "Available")
    status(w, 1, "Reserved")
    assert w.reported.get(CP).version == version  # other statuses write nothing
    status(w, 1, "Faulted")
    assert statuses(w) == {"1": "Removed", "2": "Reserved"}
    removed = w.reported.get(CP).reservations["1"]
    assert removed["ended_reason"] == "Faulted" and removed["ended_at"] == "2026-01-02T03:00:01.000Z"
    status(w, 0, "Unavailable")  # the whole charger
    assert statuses(w) == {"1": "Removed", "2": "Removed"}
    assert w.reported.get(CP).reservations["2"]["ended_reason"] == "Unavailable"


def test_a_late_status_older_than_the_reservation_ends_nothing() -> None:
    w = World()
    w.seed(reservations=reservation(1, "2026-01-02T04:00:00Z"))  # reserved at 02:00Z
    status(w, 1, "Unavailable", at="2026-01-02T01:59:59Z")
    assert statuses(w) == {"1": "Reserved"}
