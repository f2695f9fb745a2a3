"""Authorize, StartTransaction, MeterValues, StopTransaction, DataTransfer, Diagnostics/Firmware status
through the central system on in-memory adapters: every edge of the transaction path."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from voltway.chargers.memory import InMemoryChargerRepository, InMemoryConnectionRegistry
from voltway.chargers.passwords import hash_password
from voltway.idtags.memory import InMemoryIdTagRepository
from voltway.idtags.model import IdTag, IdTagStatus
from voltway.idtags.service import IdTagService
from voltway.ocpp.central_system import CentralSystem
from voltway.ocpp.core import CorePolicy, CoreProfile
from voltway.ocpp.dispatch import CallContext, Dispatcher
from voltway.ocpp.memory import (
    InMemoryChargerConnections,
    InMemoryChargerReports,
    InMemoryDataTransferLog,
    InMemoryIdempotencyStore,
    InMemoryMessageAudit,
)
from voltway.ocpp.reports import ReportsProfile, VendorAnswer
from voltway.ocpp.transactions import TransactionProfile
from voltway.transactions.errors import TransactionNotFound
from voltway.transactions.memory import InMemoryMeterValueStore, InMemoryTransactionRepository
from voltway.transactions.model import Anomaly, UnmatchedStop
from voltway.transactions.service import StartRequest, TransactionDetail, TransactionService

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
CONN = "conn-1="
CP = "CP001"
TENANT = "t1"
START = {"connectorId": 1, "idTag": "TAG1", "meterStart": 1000, "timestamp": "2026-01-02T04:00:00+01:00"}


def echo_vendor(ctx: CallContext, message_id: str | None, data: str | None) -> VendorAnswer:
    if message_id not in (None, "ping"):
        return VendorAnswer("UnknownMessageId")
    return VendorAnswer("Accepted", data)


class World:
    def __init__(self) -> None:
        self.now = NOW
        self.chargers = InMemoryChargerRepository()
        self.connections = InMemoryConnectionRegistry()
        self.audit = InMemoryMessageAudit()
        self.sender = InMemoryChargerConnections()
        self.tags = InMemoryIdTagRepository()
        self.id_tags = IdTagService(self.tags, clock=lambda: self.now)
        self.transactions = InMemoryTransactionRepository()
        self.meter_values = InMemoryMeterValueStore()
        self.service = TransactionService(self.transactions, self.meter_values, self.id_tags)
        self.reports = InMemoryChargerReports()
        self.data_transfers = InMemoryDataTransferLog()
        dispatcher = Dispatcher()
        CoreProfile(self.chargers, CorePolicy("pending", 300)).register(dispatcher)
        TransactionProfile(self.id_tags, self.service).register(dispatcher)
        ReportsProfile(self.reports, self.data_transfers, {"com.voltway": echo_vendor}).register(dispatcher)
        self.system = CentralSystem(
            chargers=self.chargers,
            connections=self.connections,
            dispatcher=dispatcher,
            idempotency=InMemoryIdempotencyStore(),
            audit=self.audit,
            sender=self.sender,
            clock=lambda: self.now,
        )
        self._ids = 0
        for cp, tenant in ((CP, TENANT), ("CP002", TENANT), ("CP-OTHER", "t2")):
            self.chargers.save_registration(
                cp,
                tenant,
                password_hash=hash_password("pw-12345678"),
                security_profile=1,
                enabled=True,
                now=NOW,
            )
            self.connections.register(f"conn-{cp}", cp, NOW)
            self.call("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}, cp=cp)
        self.tag("TAG1")

    def tag(self, id_tag: str, status: str = "Accepted", tenant: str = TENANT, **kwargs: Any) -> None:
        self.id_tags.put(IdTag(tenant, id_tag, IdTagStatus(status), **kwargs))

    def call(
        self, action: str, payload: dict[str, Any], *, cp: str = CP, unique_id: str | None = None
    ) -> Any:
        self._ids += 1
        frame = [2, unique_id or f"u{self._ids}", action, payload]
        outcome = self.system.receive(f"conn-{cp}", json.dumps(frame))
        assert outcome.reply is not None
        return json.loads(outcome.reply)

    def ok(self, action: str, payload: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        reply = self.call(action, payload, **kwargs)
        assert reply[0] == 3, reply
        result: dict[str, Any] = reply[2]
        return result

    def start(self, **changes: Any) -> dict[str, Any]:
        return self.ok("StartTransaction", {**START, **changes})


def meter(tx: int | None, stamp: str, *values: dict[str, Any], connector: int = 1) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "connectorId": connector,
        "meterValue": [{"timestamp": stamp, "sampledValue": list(values)}],
    }
    if tx is not None:
        payload["transactionId"] = tx
    return payload


def register(value: str, **extra: Any) -> dict[str, Any]:
    return {"value": value, "measurand": "Energy.Active.Import.Register", "unit": "Wh", **extra}


@pytest.fixture
def world() -> World:
    return World()


# ------------------------------------------------------------------------------------------ Authorize


def test_authorize_answers_from_the_id_tags(world: World) -> None:
    world.tag("PARENTED", parent_id_tag="FLEET", expiry_date=NOW + timedelta(days=1))
    world.tag("BLOCKED", "Blocked")
    world.tag("OLD", expiry_date=NOW - timedelta(seconds=1))
    world.tag("FOREIGN", tenant="t2")
    assert world.ok("Authorize", {"idTag": "TAG1"}) == {"idTagInfo": {"status": "Accepted"}}
    assert world.ok("Authorize", {"idTag": "PARENTED"}) == {
        "idTagInfo": {"status": "Accepted", "expiryDate": "2026-01-03T03:04:05.000Z", "parentIdTag": "FLEET"}
    }
    assert world.ok("Authorize", {"idTag": "BLOCKED"})["idTagInfo"]["status"] == "Blocked"
    assert world.ok("Authorize", {"idTag": "OLD"})["idTagInfo"]["status"] == "Expired"
    assert world.ok("Authorize", {"idTag": "NOBODY"})["idTagInfo"]["status"] == "Invalid"
    # A tag of another tenant is unknown here, and the other tenant's charger sees it.
    assert world.ok("Authorize", {"idTag": "FOREIGN"})["idTagInfo"]["status"] == "Invalid"
    assert world.ok("Authorize", {"idTag": "FOREIGN"}, cp="CP-OTHER")["idTagInfo"]["status"] == "Accepted"


def test_authorize_validates_the_payload(world: World) -> None:
    assert world.call("Authorize", {"idTag": "X" * 21})[2] == "PropertyConstraintViolation"
    assert world.call("Authorize", {})[2] == "OccurenceConstraintViolation"


# ------------------------------------------------------------------------------------------ StartTransaction


def test_start_gives_unique_ids_from_the_counter_and_keeps_charger_time(world: World) -> None:
    world.tag("TAG2")
    first = world.start()
    second = world.start(connectorId=2, idTag="TAG2")
    assert first["idTagInfo"] == {"status": "Accepted"}
    assert first["transactionId"] >= 1 and second["transactionId"] == first["transactionId"] + 1
    tx = world.transactions.get(first["transactionId"])
    assert tx is not None and tx.active and tx.tenant_id == TENANT
    assert tx.started_at == datetime(2026, 1, 2, 3, 0, tzinfo=UTC) and tx.received_at == NOW
    assert tx.meter_start == 1000 and tx.connector_id == 1


def test_a_retried_start_with_a_new_unique_id_gets_the_same_transaction(world: World) -> None:
    first = world.start()
    again = world.start()  # a new unique id each call
    assert again == first
    assert len(world.transactions.transactions) == 1
    # A different meterStart or timestamp is a different transaction (here: ConcurrentTx for the tag).
    other = world.start(meterStart=1001)
    assert other["transactionId"] != first["transactionId"]


def test_the_same_unique_id_gets_the_stored_reply(world: World) -> None:
    first = world.call("StartTransaction", START, unique_id="same")
    assert world.call("StartTransaction", START, unique_id="same") == first


def test_concurrent_tx_while_the_tag_has_an_active_transaction(world: World) -> None:
    first = world.start()
    busy = world.start(connectorId=2, timestamp="2026-01-02T03:10:00Z", meterStart=5)
    assert busy["idTagInfo"]["status"] == "ConcurrentTx"
    assert busy["transactionId"] not in (first["transactionId"], -1)
    # On another charger of the tenant, too.
    assert (
        world.ok("StartTransaction", {**START, "meterStart": 7}, cp="CP002")["idTagInfo"]["status"]
        == "ConcurrentTx"
    )
    world.ok(
        "StopTransaction",
        {"transactionId": first["transactionId"], "meterStop": 1500, "timestamp": "2026-01-02T03:30:00Z"},
    )
    again = world.start(connectorId=2, timestamp="2026-01-02T03:40:00Z", meterStart=9)
    assert again["idTagInfo"]["status"] == "Accepted"


def test_a_lock_left_by_a_stopped_transaction_is_taken_over(world: World) -> None:
    first = world.start()
    world.ok(
        "StopTransaction",
        {"transactionId": first["transactionId"], "meterStop": 1500, "timestamp": "2026-01-02T03:30:00Z"},
    )
    tx_id = first["transactionId"]
    world.transactions.locks[(TENANT, "TAG1")] = tx_id  # as if the release had been lost
    assert world.start(timestamp="2026-01-02T03:40:00Z")["idTagInfo"]["status"] == "Accepted"


@pytest.mark.parametrize(
    ("tag", "status"), [("NOBODY", "Invalid"), ("BLOCKED", "Blocked"), ("OLD", "Expired")]
)
def test_start_with_a_refused_tag_still_gets_an_id(world: World, tag: str, status: str) -> None:
    world.tag("BLOCKED", "Blocked")
    world.tag("OLD", expiry_date=datetime(2026, 1, 2, 2, 0, tzinfo=UTC))
    reply = world.start(idTag=tag)
    assert reply["idTagInfo"]["status"] == status and reply["transactionId"] > 0
    tx = world.transactions.get(reply["transactionId"])
    assert tx is not None and tx.id_tag_status.value == status
    assert (TENANT, tag) not in world.transactions.locks


def test_start_on_connector_0_is_refused(world: World) -> None:
    assert world.call("StartTransaction", {**START, "connectorId": 0})[2] == "PropertyConstraintViolation"


def test_start_before_boot_is_a_security_error() -> None:
    world = World()
    world.chargers.save_registration(
        "CP-NEW",
        TENANT,
        password_hash=hash_password("pw-12345678"),
        security_profile=1,
        enabled=True,
        now=NOW,
    )
    world.connections.register("conn-CP-NEW", "CP-NEW", NOW)
    assert world.call("StartTransaction", START, cp="CP-NEW")[2] == "SecurityError"


# ------------------------------------------------------------------------------------------ MeterValues


def test_every_sampled_value_is_stored_and_totals_kept(world: World) -> None:
    tx = world.start()["transactionId"]
    world.ok(
        "MeterValues",
        meter(
            tx,
            "2026-01-02T03:05:00Z",
            register("1.2", unit="kWh", context="Sample.Periodic", location="Outlet", format="Raw"),
            {"value": "7200", "measurand": "Power.Active.Import", "unit": "W"},
            {"value": "16", "measurand": "Current.Import", "unit": "A", "phase": "L1"},
            {"value": "230.1", "measurand": "Voltage", "unit": "V", "phase": "L1-N"},
            {"value": "55", "measurand": "SoC", "unit": "Percent", "location": "EV"},
        ),
    )
    samples = world.service.get(TENANT, tx).samples
    assert len(samples) == 5
    current = next(s for s in samples if s.sampled.measurand == "Current.Import")
    assert (current.sampled.phase, current.sampled.unit, current.sampled.value) == ("L1", "A", "16")
    energy = samples[[s.sampled.measurand for s in samples].index("Energy.Active.Import.Register")]
    assert (energy.sampled.context, energy.sampled.location, energy.sampled.format) == (
        "Sample.Periodic",
        "Outlet",
        "Raw",
    )
    stored = world.transactions.get(tx)
    assert stored is not None
    assert stored.last_register_wh == 1200 and stored.last_power_w == 7200
    assert stored.energy_wh == 200 and not stored.anomalies


def test_late_samples_are_stored_but_never_regress_totals(world: World) -> None:
    tx = world.start()["transactionId"]
    world.ok("MeterValues", meter(tx, "2026-01-02T03:20:00Z", register("3000")))
    world.ok("MeterValues", meter(tx, "2026-01-02T03:10:00Z", register("2000")))  # delivered late
    stored = world.transactions.get(tx)
    assert stored is not None and stored.last_register_wh == 3000
    assert stored.last_register_at == datetime(2026, 1, 2, 3, 20, tzinfo=UTC)
    assert [s.timestamp.minute for s in world.service.get(TENANT, tx).samples] == [10, 20]
    assert not stored.anomalies


def test_a_register_going_backwards_is_an_anomaly(world: World) -> None:
    tx = world.start()["transactionId"]
    world.ok("MeterValues", meter(tx, "2026-01-02T03:10:00Z", register("3000")))
    world.ok("MeterValues", meter(tx, "2026-01-02T03:20:00Z", register("2500")))
    stored = world.transactions.get(tx)
    assert stored is not None and Anomaly.REGISTER_WENT_BACKWARDS in stored.anomalies


def test_meter_values_outside_a_transaction_or_for_an_unknown_one(world: World) -> None:
    world.ok("MeterValues", meter(None, "2026-01-02T03:00:00Z", register("10"), connector=0))
    world.ok("MeterValues", meter(-1, "2026-01-02T03:00:00Z", register("20")))
    world.ok("MeterValues", meter(424242, "2026-01-02T03:00:00Z", register("30")))
    assert len(world.meter_values.samples("CP#CP001#0")) == 1
    assert len(world.meter_values.samples("UNMATCHED#CP001#-1")) == 1
    assert len(world.meter_values.samples("UNMATCHED#CP001#424242")) == 1


def test_meter_values_of_another_chargers_transaction_do_not_touch_it(world: World) -> None:
    tx = world.start()["transactionId"]
    world.ok("MeterValues", meter(tx, "2026-01-02T03:10:00Z", register("9999")), cp="CP002")
    stored = world.transactions.get(tx)
    assert stored is not None and stored.last_register_wh is None


def test_meter_values_with_a_bad_timestamp_are_refused(world: World) -> None:
    assert world.call("MeterValues", meter(1, "yesterday", register("1")))[2] == "PropertyConstraintViolation"


# ------------------------------------------------------------------------------------------ StopTransaction


def test_stop_with_transaction_data_computes_energy(world: World) -> None:
    tx = world.start()["transactionId"]
    reply = world.ok(
        "StopTransaction",
        {
            "transactionId": tx,
            "meterStop": 4500,
            "timestamp": "2026-01-02T05:00:00+01:00",
            "idTag": "TAG1",
            "reason": "Local",
            "transactionData": [
                {
                    "timestamp": "2026-01-02T03:30:00Z",
                    "sampledValue": [register("2500", context="Sample.Periodic")],
                },
                {
                    "timestamp": "2026-01-02T04:00:00Z",
                    "sampledValue": [register("4500", context="Transaction.End")],
                },
            ],
        },
    )
    assert reply == {"idTagInfo": {"status": "Accepted"}}
    stored = world.transactions.get(tx)
    assert stored is not None and not stored.active
    assert stored.stopped_at == datetime(2026, 1, 2, 4, 0, tzinfo=UTC)
    assert stored.meter_stop == 4500 and stored.energy_wh == 3500 and stored.stop_reason == "Local"
    assert not stored.anomalies
    assert {s.source for s in world.service.get(TENANT, tx).samples} == {"StopTransaction"}


def test_stop_without_id_tag_has_no_id_tag_info(world: World) -> None:
    tx = world.start()["transactionId"]
    reply = world.ok(
        "StopTransaction",
        {"transactionId": tx, "meterStop": 1100, "timestamp": "2026-01-02T03:30:00Z", "reason": "Reboot"},
    )
    assert reply == {}


def test_meter_stop_below_meter_start_is_flagged_never_negative(world: World) -> None:
    tx = world.start()["transactionId"]
    world.ok("StopTransaction", {"transactionId": tx, "meterStop": 900, "timestamp": "2026-01-02T03:30:00Z"})
    stored = world.transactions.get(tx)
    assert stored is not None and stored.energy_wh == 0
    assert Anomaly.METER_STOP_BELOW_START in stored.anomalies


def test_meter_stop_below_the_last_register_is_flagged(world: World) -> None:
    tx = world.start()["transactionId"]
    world.ok("MeterValues", meter(tx, "2026-01-02T03:10:00Z", register("3000")))
    world.ok("StopTransaction", {"transactionId": tx, "meterStop": 2000, "timestamp": "2026-01-02T03:30:00Z"})
    stored = world.transactions.get(tx)
    assert stored is not None and stored.energy_wh == 1000
    assert stored.anomalies == {Anomaly.REGISTER_WENT_BACKWARDS}


def test_stop_retries_are_harmless_and_a_different_second_stop_is_flagged(world: World) -> None:
    tx = world.start()["transactionId"]
    stop = {"transactionId": tx, "meterStop": 2000, "timestamp": "2026-01-02T03:30:00Z", "idTag": "TAG1"}
    first = world.ok("StopTransaction", stop)
    assert world.ok("StopTransaction", stop) == first  # new unique id: handled again, same effect
    stored = world.transactions.get(tx)
    assert stored is not None and stored.meter_stop == 2000 and not stored.anomalies
    world.ok("StopTransaction", {**stop, "meterStop": 2500})
    stored = world.transactions.get(tx)
    assert stored is not None and stored.meter_stop == 2000
    assert stored.anomalies == {Anomaly.STOPPED_TWICE}


@pytest.mark.parametrize("tx_id", [-1, 987654])
def test_stop_of_an_unknown_transaction_is_answered_and_kept_for_review(world: World, tx_id: int) -> None:
    with_tag = world.ok(
        "StopTransaction",
        {"transactionId": tx_id, "meterStop": 10, "timestamp": "2026-01-02T03:30:00Z", "idTag": "TAG1"},
    )
    assert with_tag == {"idTagInfo": {"status": "Accepted"}}
    without = world.ok(
        "StopTransaction", {"transactionId": tx_id, "meterStop": 11, "timestamp": "2026-01-02T03:31:00Z"}
    )
    assert without == {}
    assert [u.meter_stop for u in world.transactions.unmatched] == [10, 11]
    listed = world.service.list_for_charger(CP, 10, None)[0]
    assert all(isinstance(i, UnmatchedStop) for i in listed)


def test_a_late_session_keeps_its_original_times_and_order(world: World) -> None:
    world.now = NOW + timedelta(hours=6)  # everything below arrives hours after it happened
    tx = world.start(timestamp="2026-01-02T01:00:00Z", meterStart=0)["transactionId"]
    world.ok("MeterValues", meter(tx, "2026-01-02T01:30:00+00:00", register("5000")))
    world.ok(
        "StopTransaction", {"transactionId": tx, "meterStop": 9000, "timestamp": "2026-01-02T04:00:00+02:00"}
    )
    stored = world.transactions.get(tx)
    assert stored is not None
    assert stored.started_at == datetime(2026, 1, 2, 1, 0, tzinfo=UTC)
    assert stored.stopped_at == datetime(2026, 1, 2, 2, 0, tzinfo=UTC)
    assert stored.energy_wh == 9000 and stored.received_at == NOW + timedelta(hours=6)


# ------------------------------------------------------------------------------------------ operator reads


def test_reads_are_tenant_scoped(world: World) -> None:
    tx = world.start()["transactionId"]
    assert world.service.get(TENANT, tx).transaction.transaction_id == tx
    with pytest.raises(TransactionNotFound):
        world.service.get("t2", tx)
    with pytest.raises(TransactionNotFound):
        world.service.get(TENANT, 999)


def test_listing_is_newest_first_with_samples(world: World) -> None:
    world.tag("TAG2")
    a = world.start(timestamp="2026-01-02T01:00:00Z")["transactionId"]
    b = world.start(idTag="TAG2", connectorId=2, timestamp="2026-01-02T02:00:00Z")["transactionId"]
    world.ok("MeterValues", meter(a, "2026-01-02T01:10:00Z", register("1500")))
    items, cursor = world.service.list_for_charger(CP, 1, None)
    assert cursor is not None
    more, _ = world.service.list_for_charger(CP, 1, cursor)
    details = [i for i in items + more if isinstance(i, TransactionDetail)]
    assert [d.transaction.transaction_id for d in details] == [b, a]
    assert len(details[1].samples) == 1


# ------------------------------------------------------------------------------------------ reports


def test_data_transfer_unknown_vendor_and_known_vendor(world: World) -> None:
    assert world.ok("DataTransfer", {"vendorId": "com.unknown", "data": "x"}) == {"status": "UnknownVendorId"}
    assert world.ok("DataTransfer", {"vendorId": "com.voltway", "messageId": "ping", "data": "hi"}) == {
        "status": "Accepted",
        "data": "hi",
    }
    assert world.ok("DataTransfer", {"vendorId": "com.voltway", "messageId": "what"}) == {
        "status": "UnknownMessageId"
    }
    stored = [(r.vendor_id, r.message_id, r.data, r.status) for r in world.data_transfers.records]
    assert stored == [
        ("com.unknown", None, "x", "UnknownVendorId"),
        ("com.voltway", "ping", "hi", "Accepted"),
        ("com.voltway", "what", None, "UnknownMessageId"),
    ]


def test_firmware_and_diagnostics_status_are_stored_on_the_charger(world: World) -> None:
    world.ok("FirmwareStatusNotification", {"status": "Downloading"})
    world.ok("DiagnosticsStatusNotification", {"status": "Uploaded"})
    world.ok("FirmwareStatusNotification", {"status": "Installed"})
    reports = world.reports.get(CP)
    assert reports["firmware"].status == "Installed" and reports["diagnostics"].status == "Uploaded"
    assert (
        world.call("FirmwareStatusNotification", {"status": "Exploded"})[2] == "PropertyConstraintViolation"
    )


class RacingRepository(InMemoryTransactionRepository):
    """Lets a rival write land between the service's reads and its TransactWriteItems."""

    def __init__(self) -> None:
        super().__init__()
        self.before_create: list[Any] = []

    def create(self, transaction: Any, key: str, lock_tag: bool, stale_lock: int | None) -> None:
        while self.before_create:
            self.before_create.pop(0)()
        super().create(transaction, key, lock_tag, stale_lock)


def racing_service() -> tuple[TransactionService, RacingRepository]:
    tags = IdTagService(InMemoryIdTagRepository())
    tags.put(IdTag(TENANT, "TAG1", IdTagStatus.ACCEPTED))
    repo = RacingRepository()
    return TransactionService(repo, InMemoryMeterValueStore(), tags), repo


def start_request(**changes: Any) -> StartRequest:
    base = StartRequest(TENANT, CP, 1, "TAG1", 0, NOW, None, NOW)
    return replace(base, **changes)


def test_a_racing_duplicate_start_returns_the_winners_id() -> None:
    service, repo = racing_service()
    rival = start_request()
    repo.before_create.append(lambda: service.start(rival))
    mine = service.start(start_request())
    assert mine.retried and len(repo.transactions) == 1
    assert mine.transaction_id == next(iter(repo.transactions))


def test_losing_the_tag_lock_race_gives_concurrent_tx_and_still_a_transaction() -> None:
    service, repo = racing_service()
    repo.before_create.append(lambda: service.start(start_request(connector_id=2)))
    mine = service.start(start_request())
    assert mine.id_tag_info.status is IdTagStatus.CONCURRENT_TX
    stored = repo.get(mine.transaction_id)
    assert stored is not None and stored.id_tag_status is IdTagStatus.CONCURRENT_TX
    assert len(repo.transactions) == 2
