"""The StopTransaction hook: the archive holds exactly the stops the transaction table holds."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from voltway.archive import Archive, ArchiveKind, ArchiveWriter, MemoryBlobs
from voltway.idtags.memory import InMemoryIdTagRepository
from voltway.idtags.model import IdTag, IdTagStatus
from voltway.idtags.service import IdTagService
from voltway.transactions.memory import InMemoryMeterValueStore, InMemoryTransactionRepository
from voltway.transactions.model import MeterSample, SampledValue
from voltway.transactions.service import StartRequest, StopRequest, TransactionService

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


class FlakyBlobs(MemoryBlobs):
    fail_next = False

    def put(self, key: str, data: bytes) -> None:
        if self.fail_next:
            self.fail_next = False
            raise ConnectionError("S3 unavailable")
        super().put(key, data)


def service(blobs: MemoryBlobs) -> tuple[TransactionService, InMemoryTransactionRepository]:
    tags = IdTagService(InMemoryIdTagRepository())
    tags.put(IdTag("t1", "TAG1", IdTagStatus.ACCEPTED))
    repo = InMemoryTransactionRepository()
    return TransactionService(repo, InMemoryMeterValueStore(), tags, ArchiveWriter(blobs)), repo


def stop(tx_id: int, meter_stop: int = 12_345) -> StopRequest:
    return StopRequest(
        "t1", "CP1", tx_id, meter_stop, T0 + timedelta(hours=1), "Local", "TAG1", [], "u-9", T0
    )


def archived(blobs: MemoryBlobs) -> list[dict[str, object]]:
    archive = Archive(blobs)
    snaps = archive.snapshot(ArchiveKind.SESSIONS, "t1", date(2025, 3, 1), date(2025, 3, 1))
    return list(archive.records(ArchiveKind.SESSIONS, snaps))


def test_stop_archives_the_session_once_even_when_retried() -> None:
    blobs = FlakyBlobs()
    svc, repo = service(blobs)
    started = svc.start(StartRequest("t1", "CP1", 1, "TAG1", 1000, T0, None, T0))
    blobs.fail_next = True
    with pytest.raises(ConnectionError):  # the frame fails: the charger retries StopTransaction
        svc.stop(stop(started.transaction_id))
    assert archived(blobs) == []
    svc.stop(stop(started.transaction_id))
    svc.stop(stop(started.transaction_id))  # a duplicate retry changes nothing
    tx = repo.get(started.transaction_id)
    assert tx is not None and tx.stopped_at is not None
    records = archived(blobs)
    assert len(records) == 1 and len(blobs.objects) == 1
    record = records[0]
    assert record["id"] == f"CP1:{started.transaction_id}"
    assert (record["meter_start_wh"], record["meter_stop_wh"], record["energy_wh"]) == (
        1000,
        12_345,
        tx.energy_wh,
    )
    assert record["stopped_at"] == "2025-03-01T10:00:00.000Z" and record["id_tag"] == "TAG1"


def test_a_second_different_stop_is_not_archived() -> None:
    blobs = MemoryBlobs()
    svc, _ = service(blobs)
    started = svc.start(StartRequest("t1", "CP1", 1, "TAG1", 1000, T0, None, T0))
    svc.stop(stop(started.transaction_id))
    svc.stop(stop(started.transaction_id, meter_stop=99_999))
    assert [r["meter_stop_wh"] for r in archived(blobs)] == [12_345]


def meter_values_archived(blobs: MemoryBlobs) -> list[dict[str, object]]:
    archive = Archive(blobs)
    snaps = archive.snapshot(ArchiveKind.METER_VALUES, "t1", date(2025, 3, 1), date(2025, 3, 1))
    return list(archive.records(ArchiveKind.METER_VALUES, snaps))


def test_meter_values_are_archived_once_per_sample_batched_per_frame() -> None:
    blobs = FlakyBlobs()
    svc, _ = service(blobs)
    started = svc.start(StartRequest("t1", "CP1", 1, "TAG1", 1000, T0, None, T0))
    tx_id = started.transaction_id
    at = T0 + timedelta(minutes=15)
    frame = [
        MeterSample(at, SampledValue("1500")),  # Energy.Active.Import.Register in Wh: the OCPP defaults
        MeterSample(at, SampledValue("7.2", measurand="Power.Active.Import", unit="kW")),
        MeterSample(at, SampledValue("16", measurand="Current.Import", phase="L1", unit="A")),
        MeterSample(at, SampledValue("deadbeef", format="SignedData")),  # not a number: not archived
    ]
    blobs.fail_next = True
    with pytest.raises(ConnectionError):  # the frame fails: the charger retries MeterValues
        svc.meter_values("CP1", 1, tx_id, frame)
    svc.meter_values("CP1", 1, tx_id, frame)
    svc.meter_values("CP1", 1, tx_id, frame)  # a duplicate retry: same ids, same batch object
    later = [MeterSample(at + timedelta(minutes=15), SampledValue("2500"))]
    svc.meter_values("CP1", 1, tx_id, later)
    svc.meter_values("CP1", 1, None, later)  # no transaction: no session to archive it under

    records = meter_values_archived(blobs)
    assert len(blobs.objects) == 2  # one batch per frame
    assert sorted((r["timestamp"], r["measurand"], r["value"], r["unit"]) for r in records) == [
        ("2025-03-01T09:15:00.000Z", "Current.Import", 16.0, "A"),
        ("2025-03-01T09:15:00.000Z", "Energy.Active.Import.Register", 1500.0, "Wh"),
        ("2025-03-01T09:15:00.000Z", "Power.Active.Import", 7.2, "kW"),
        ("2025-03-01T09:30:00.000Z", "Energy.Active.Import.Register", 2500.0, "Wh"),
    ]
    assert [r["phase"] for r in records if r["measurand"] == "Current.Import"] == ["L1"]
    assert all(r["session_id"] == f"CP1:{tx_id}" and r["tenant_id"] == "t1" for r in records)
    assert len({r["id"] for r in records}) == 4
