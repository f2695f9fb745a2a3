"""The archive compactor on the in-memory blob store: small hot-path batches of a day are folded into one
batch, readers see the same records before, during and after, inputs are deleted only after the grace,
and a crash between the batch and its manifest is harmless."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from voltway.archive import Archive, ArchiveKind, ArchiveWriter, MemoryBlobs, SessionRecord
from voltway.archive.archive import partition_prefix
from voltway.archive.compaction import MANIFEST, ArchiveCompactor, CompactionSettings

DAY_START = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def session(n: int, tenant: str = "t1") -> SessionRecord:
    stopped = DAY_START + timedelta(minutes=n)
    return SessionRecord(
        id=f"CP1:{n}",
        tenant_id=tenant,
        charge_point_id="CP1",
        connector_id=1,
        transaction_id=n,
        started_at=stopped - timedelta(minutes=30),
        stopped_at=stopped,
        meter_start_wh=0,
        meter_stop_wh=n,
        energy_wh=n,
    )


def hot_path(blobs: MemoryBlobs, numbers: list[int], tenant: str = "t1") -> None:
    writer = ArchiveWriter(blobs)
    for n in numbers:  # one batch per event, as TransactionService.stop writes them
        writer.append([session(n, tenant)])


def partition(blobs: MemoryBlobs, tenant: str = "t1") -> list[str]:
    prefix = partition_prefix(ArchiveKind.SESSIONS, tenant, DAY_START.date())
    return sorted(k for k in blobs.objects if k.startswith(prefix))


def records(blobs: MemoryBlobs, tenant: str = "t1") -> list[dict[str, object]]:
    archive = Archive(blobs)
    snaps = archive.snapshot(ArchiveKind.SESSIONS, tenant, DAY_START.date(), DAY_START.date())
    return list(archive.records(ArchiveKind.SESSIONS, snaps))


def compactor(blobs: MemoryBlobs, at: datetime, **settings: Any) -> ArchiveCompactor:
    return ArchiveCompactor(blobs, settings=CompactionSettings(**settings), clock=lambda: at)


def test_small_batches_are_folded_and_deleted_after_the_grace() -> None:
    blobs = MemoryBlobs()
    hot_path(blobs, [5, 1, 3, 2, 4])
    ArchiveWriter(blobs).append([session(3), session(4)])  # a retried event: records in two batches
    before = records(blobs)
    assert [r["id"] for r in before] == [f"CP1:{n}" for n in (1, 2, 3, 4, 5)]
    inputs = partition(blobs)
    assert len(inputs) == 6

    first = compactor(blobs, NOW).run()
    assert (first.batches_written, first.objects_compacted, first.objects_deleted) == (1, 6, 0)
    assert records(blobs) == before  # inputs and output side by side: the reader dedupes
    assert set(inputs) < set(partition(blobs))  # nothing deleted yet: planned exports still find them

    again = compactor(blobs, NOW + timedelta(hours=1)).run()
    assert (again.batches_written, again.objects_deleted, again.manifests_pending) == (0, 0, 1)

    later = compactor(blobs, NOW + timedelta(hours=25)).run()
    assert later.objects_deleted == 6
    (only,) = partition(blobs)  # one batch: exports take the one-object fast path again
    assert not only.rsplit("/", 1)[-1].startswith(MANIFEST)
    assert records(blobs) == before
    assert len(Archive(blobs).lines(only)) == 5


def test_a_late_record_is_folded_in_by_a_later_run() -> None:
    blobs = MemoryBlobs()
    hot_path(blobs, [1, 2, 3])
    compactor(blobs, NOW).run()
    compactor(blobs, NOW + timedelta(hours=25)).run()
    hot_path(blobs, [9])  # an offline charger's stop, delivered a day late
    compactor(blobs, NOW + timedelta(hours=26)).run()
    compactor(blobs, NOW + timedelta(hours=51)).run()
    (only,) = partition(blobs)
    assert [r["id"] for r in records(blobs)] == ["CP1:1", "CP1:2", "CP1:3", "CP1:9"]
    assert len(Archive(blobs).lines(only)) == 4


def test_large_batches_and_other_partitions_are_left_alone() -> None:
    blobs = MemoryBlobs()
    ArchiveWriter(blobs).append([session(n) for n in range(1, 50)])  # a bulk batch (seed, backfill)
    hot_path(blobs, [60])
    hot_path(blobs, [1, 2], tenant="t2")
    big = max(partition(blobs), key=lambda k: len(blobs.objects[k]))
    result = compactor(blobs, NOW, small_bytes=len(blobs.objects[big])).run()
    assert result.batches_written == 1  # t2's two batches; t1 has one small batch and one large one
    assert len(partition(blobs)) == 2
    assert len(partition(blobs, "t2")) == 4  # two inputs, the batch, its manifest


def test_groups_are_bounded() -> None:
    blobs = MemoryBlobs()
    hot_path(blobs, list(range(1, 8)))
    result = compactor(blobs, NOW, max_group_records=3).run()
    assert (result.batches_written, result.objects_compacted) == (2, 6)  # 3 + 3; the 7th waits


class CrashOnManifest(MemoryBlobs):
    def __init__(self) -> None:
        super().__init__()
        self.crash = True

    def put(self, key: str, data: bytes) -> None:
        if self.crash and MANIFEST in key:
            raise RuntimeError("killed before the manifest")
        super().put(key, data)


def test_a_crash_before_the_manifest_is_harmless() -> None:
    blobs = CrashOnManifest()
    hot_path(blobs, [1, 2, 3])
    before = records(blobs)
    with pytest.raises(RuntimeError):
        compactor(blobs, NOW).run()
    blobs.crash = False
    result = compactor(blobs, NOW + timedelta(minutes=5)).run()
    assert result.batches_written == 1
    assert len(partition(blobs)) == 5  # 3 inputs + the same batch (same ids, same key) + one manifest
    compactor(blobs, NOW + timedelta(hours=30)).run()
    assert len(partition(blobs)) == 1
    assert records(blobs) == before
