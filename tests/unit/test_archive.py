"""Archive: idempotent batches, dedupe on read, day partitions, order."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from voltway.archive import (
    Archive,
    ArchiveKind,
    ArchiveReadError,
    ArchiveWriter,
    MemoryBlobs,
    SessionRecord,
    batch_key,
)

T0 = datetime(2025, 3, 1, 22, 0, tzinfo=UTC)


def session(n: int, at: datetime = T0, tenant: str = "t1") -> SessionRecord:
    return SessionRecord(
        id=f"CP{n % 3}:{n}",
        tenant_id=tenant,
        charge_point_id=f"CP{n % 3}",
        connector_id=1,
        site_id="site-a",
        account_id=f"acc-{n % 5}",
        transaction_id=n,
        id_tag=f"TAG{n}",
        started_at=at - timedelta(hours=1),
        stopped_at=at + timedelta(minutes=n),
        meter_start_wh=1000,
        meter_stop_wh=1000 + n,
        energy_wh=n,
    )


def test_replayed_batch_rewrites_the_same_object() -> None:
    blobs = MemoryBlobs()
    writer = ArchiveWriter(blobs)
    first = writer.append([session(1), session(2)])
    again = writer.append([session(2), session(1)])
    assert first == again
    assert len(blobs.objects) == 1


def test_records_are_partitioned_by_tenant_and_utc_day() -> None:
    blobs = MemoryBlobs()
    keys = ArchiveWriter(blobs).append([session(1), session(200), session(3, tenant="t2")])
    assert sorted(k.split("/")[2:4] for k in keys) == [
        ["tenant=t1", "day=2025-03-01"],
        ["tenant=t1", "day=2025-03-02"],
        ["tenant=t2", "day=2025-03-01"],
    ]
    assert Archive(blobs).tenants(ArchiveKind.SESSIONS) == ["t1", "t2"]
    assert Archive(blobs).tenants(ArchiveKind.CDRS) == []


def test_a_record_in_two_batches_is_read_once_and_in_order() -> None:
    blobs = MemoryBlobs()
    writer = ArchiveWriter(blobs)
    writer.append([session(5)])  # hot path: one record
    writer.append([session(n) for n in range(10)])  # bulk batch holding it again
    archive = Archive(blobs)
    snaps = archive.snapshot(ArchiveKind.SESSIONS, "t1", date(2025, 3, 1), date(2025, 3, 1))
    assert len(snaps) == 1 and len(snaps[0].keys) == 2
    rows = archive.read_partition(ArchiveKind.SESSIONS, snaps[0].keys)
    assert [r["transaction_id"] for r in rows] == list(range(10))
    assert rows[0]["stopped_at"] == "2025-03-01T22:00:00.000Z"


def test_long_ranges_list_the_tenant_prefix_once() -> None:
    blobs = MemoryBlobs()
    ArchiveWriter(blobs).append([session(1, T0 + timedelta(days=d)) for d in range(0, 200, 10)])
    snaps = Archive(blobs).snapshot(ArchiveKind.SESSIONS, "t1", date(2025, 3, 15), date(2025, 8, 1))
    assert [s.day for s in snaps] == [date(2025, 3, 1) + timedelta(days=d) for d in range(20, 160, 10)]


def test_batch_key_ignores_order_and_duplicates() -> None:
    day = date(2025, 1, 1)
    assert batch_key(ArchiveKind.CDRS, "t", day, ["b", "a"]) == batch_key(
        ArchiveKind.CDRS, "t", day, ["a", "b", "a"]
    )


def test_corrupt_object_is_a_typed_error() -> None:
    blobs = MemoryBlobs()
    blobs.put("archive/sessions/tenant=t1/day=2025-03-01/x.ndjson.gz", b"not gzip")
    with pytest.raises(ArchiveReadError):
        Archive(blobs).read_partition(
            ArchiveKind.SESSIONS, ["archive/sessions/tenant=t1/day=2025-03-01/x.ndjson.gz"]
        )


def test_count_ids_agrees_with_the_deduplicating_reader() -> None:
    blobs = MemoryBlobs()
    writer = ArchiveWriter(blobs)
    writer.append([session(n) for n in range(0, 30)])
    writer.append([session(n) for n in range(20, 40)])  # 10 records in both batches
    archive = Archive(blobs)
    keys = archive.snapshot(ArchiveKind.SESSIONS, "t1", date(2025, 3, 1), date(2025, 3, 1))[0].keys
    assert archive.count_ids(keys) == len(archive.read_partition(ArchiveKind.SESSIONS, keys)) == 40
