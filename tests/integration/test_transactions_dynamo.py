"""The DynamoDB adapters of id tags, transactions and meter values on moto (in-process), tables created
from template.yaml: TransactWriteItems with cancellation reasons, the atomic counter, conditional
totals, the sparse by_charger index."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from moto import mock_aws
from pynamodb.connection import Connection

from voltway.adapters.dynamo import DynamoChargerRepository
from voltway.adapters.dynamo_models import ChargerItem, bind
from voltway.adapters.dynamo_transactions import (
    ChargerReportsItem,
    DynamoChargerReports,
    DynamoIdTagRepository,
    DynamoMeterValueStore,
    DynamoTransactionRepository,
    IdTagItem,
    MeterValueItem,
    TransactionRecord,
    bind_model,
)
from voltway.idtags.model import IdTag, IdTagStatus
from voltway.idtags.service import IdTagService
from voltway.local.resources import provision_template
from voltway.ocpp.ports import StatusReport
from voltway.transactions.errors import IdTagBusy, StartAlreadyRecorded
from voltway.transactions.model import MeterSample, Reading, SampledValue, Transaction, UnmatchedStop
from voltway.transactions.ports import StopRecord
from voltway.transactions.service import StartRequest, TransactionService

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 1, 2, 3, 0, tzinfo=UTC)


class Adapters:
    def __init__(self, tables: dict[str, str]) -> None:
        self.transactions = DynamoTransactionRepository(
            bind_model(TransactionRecord, tables["TransactionsTable"], region="eu-west-1", host=None),
            Connection(region="eu-west-1"),
        )
        self.meter_values = DynamoMeterValueStore(
            bind_model(MeterValueItem, tables["MeterValuesTable"], region="eu-west-1", host=None)
        )
        self.tags = DynamoIdTagRepository(
            bind_model(IdTagItem, tables["IdTagsTable"], region="eu-west-1", host=None)
        )
        self.reports = DynamoChargerReports(
            bind_model(ChargerReportsItem, tables["ChargersTable"], region="eu-west-1", host=None)
        )
        self.chargers = DynamoChargerRepository(
            bind(ChargerItem, tables["ChargersTable"], region="eu-west-1", host=None)
        )


@pytest.fixture
def adapters(monkeypatch: pytest.MonkeyPatch) -> Iterator[Adapters]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        provisioned = provision_template(None, REPO / "template.yaml")
        yield Adapters(provisioned.tables)


def tx(
    transaction_id: int, *, id_tag: str = "TAG1", started_at: datetime = T0, cp: str = "CP1"
) -> Transaction:
    return Transaction(
        transaction_id=transaction_id,
        tenant_id="t1",
        charge_point_id=cp,
        connector_id=1,
        id_tag=id_tag,
        id_tag_status=IdTagStatus.ACCEPTED,
        meter_start=1000,
        started_at=started_at,
        received_at=T0,
    )


def test_the_counter_hands_out_increasing_unique_ids(adapters: Adapters) -> None:
    ids = [adapters.transactions.next_transaction_id() for _ in range(5)]
    assert ids == sorted(set(ids)) and ids[0] >= 1 and len(ids) == 5


def test_create_is_one_transaction_with_start_key_and_lock(adapters: Adapters) -> None:
    repo = adapters.transactions
    repo.create(tx(1), "key-1", lock_tag=True, stale_lock=None)
    stored = repo.get(1)
    assert stored is not None and stored == tx(1)
    assert repo.find_start("key-1") == 1
    assert repo.active_for_tag("t1", "TAG1") == 1
    # The same start key again: the racing delivery learns the winner's id, nothing else is written.
    with pytest.raises(StartAlreadyRecorded) as raced:
        repo.create(tx(2), "key-1", lock_tag=False, stale_lock=None)
    assert raced.value.transaction_id == 1 and repo.get(2) is None
    # The lock is held: IdTagBusy, and the whole transaction is cancelled.
    with pytest.raises(IdTagBusy):
        repo.create(tx(3), "key-3", lock_tag=True, stale_lock=None)
    assert repo.get(3) is None and repo.find_start("key-3") is None
    # A stale lock (left by a stopped transaction) is taken over when named.
    repo.create(tx(4), "key-4", lock_tag=True, stale_lock=1)
    assert repo.active_for_tag("t1", "TAG1") == 4
    repo.release_tag("t1", "TAG1", 1)  # not the holder: nothing happens
    assert repo.active_for_tag("t1", "TAG1") == 4
    repo.release_tag("t1", "TAG1", 4)
    assert repo.active_for_tag("t1", "TAG1") is None


def test_totals_only_move_forward_in_time_and_stop_is_recorded_once(adapters: Adapters) -> None:
    repo = adapters.transactions
    repo.create(tx(1), "k", lock_tag=False, stale_lock=None)
    repo.record_reading(1, Reading(2000, T0 + timedelta(minutes=20), 7000.5, T0 + timedelta(minutes=20)))
    repo.record_reading(1, Reading(1500, T0 + timedelta(minutes=10), 3000, T0 + timedelta(minutes=10)))
    stored = repo.get(1)
    assert stored is not None and (stored.last_register_wh, stored.last_power_w) == (2000, 7000.5)
    repo.flag(1, {"a"})
    stop = StopRecord(T0 + timedelta(hours=1), 2500, "Local", "TAG1", "u-stop")
    assert repo.stop(1, stop, {"b"}) is True
    assert repo.stop(1, replace(stop, meter_stop=9999), set()) is False
    stored = repo.get(1)
    assert stored is not None and stored.meter_stop == 2500 and stored.stop_reason == "Local"
    assert stored.anomalies == {"a", "b"} and stored.energy_wh == 1500 and not stored.active
    assert stored.last_register_wh == 2500


def test_listing_uses_the_sparse_index_newest_first_with_unmatched_stops(adapters: Adapters) -> None:
    repo = adapters.transactions
    for n in range(1, 4):
        repo.create(
            tx(n, id_tag=f"T{n}", started_at=T0 + timedelta(hours=n)), f"k{n}", lock_tag=True, stale_lock=None
        )
    repo.create(tx(9, cp="CP2"), "k9", lock_tag=False, stale_lock=None)
    repo.record_unmatched(
        UnmatchedStop(
            "CP1", "t1", -1, 10, T0 + timedelta(hours=5), None, None, "u-x", T0 + timedelta(hours=6)
        )
    )
    page = repo.list_by_charger("CP1", 2, None)
    assert isinstance(page.items[0], UnmatchedStop) and page.items[0].transaction_id == -1
    assert isinstance(page.items[1], Transaction) and page.items[1].transaction_id == 3
    assert page.cursor is not None
    rest = repo.list_by_charger("CP1", 10, page.cursor)
    assert [getattr(i, "transaction_id") for i in rest.items] == [2, 1]  # noqa: B009


def test_meter_samples_round_trip_oldest_first_and_resent_samples_do_not_duplicate(
    adapters: Adapters,
) -> None:
    store = adapters.meter_values
    samples = [
        MeterSample(
            T0 + timedelta(minutes=m),
            SampledValue(str(m), "Sample.Periodic", "Raw", "Voltage", "L1-N", "Outlet", "V"),
            "MeterValues",
            1,
        )
        for m in (5, 1, 3)
    ] + [MeterSample(T0, SampledValue("1.5", unit="kWh"), "StopTransaction", None)]
    store.add("TX#1", samples)
    store.add("TX#1", samples[:2])  # re-sent
    stored = store.samples("TX#1")
    assert [s.timestamp.minute for s in stored] == [0, 1, 3, 5]
    assert stored[1] == samples[1] and stored[0] == samples[3]


def test_id_tags_and_reports(adapters: Adapters) -> None:
    tag = IdTag("t1", "TAG1", IdTagStatus.BLOCKED, T0, "PARENT", T0)
    adapters.tags.put(tag)
    assert adapters.tags.get("t1", "TAG1") == tag
    assert adapters.tags.get("t2", "TAG1") is None
    adapters.chargers.save_registration(
        "CP1", "t1", password_hash="x", security_profile=1, enabled=True, now=T0
    )
    adapters.reports.record("CP1", "firmware", StatusReport("Installed", T0))
    adapters.reports.record("CP-NONE", "firmware", StatusReport("Installed", T0))  # unknown: ignored
    assert adapters.reports.get("CP1") == {"firmware": StatusReport("Installed", T0)}
    assert adapters.reports.get("CP-NONE") == {}
    # The registry's own model still reads the charger item that now carries report attributes.
    charger = adapters.chargers.get("CP1")
    assert charger is not None and charger.tenant_id == "t1"


def test_the_service_on_dynamodb_retried_start_gets_the_same_id(adapters: Adapters) -> None:
    id_tags = IdTagService(adapters.tags)
    id_tags.put(IdTag("t1", "TAG1", IdTagStatus.ACCEPTED))
    service = TransactionService(adapters.transactions, adapters.meter_values, id_tags)
    request = StartRequest("t1", "CP1", 1, "TAG1", 100, T0, None, T0)
    first = service.start(request)
    again = service.start(request)
    assert again.transaction_id == first.transaction_id and again.retried
    busy = service.start(replace(request, connector_id=2))
    assert busy.id_tag_info.status is IdTagStatus.CONCURRENT_TX
    assert busy.transaction_id not in (first.transaction_id, -1)
