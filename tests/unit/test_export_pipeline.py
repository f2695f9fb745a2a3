"""Export pipeline on in-memory adapters: planning, counting once, merging once, failures, the file."""

from __future__ import annotations

import io
import threading
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from voltway.archive import Archive, ArchiveKind, ArchiveWriter, CdrRecord, MemoryBlobs, SessionRecord
from voltway.archive.synthetic import Fleet, archive_rows, sessions
from voltway.exports.kinds import SPECS
from voltway.exports.memory import MemoryExportFiles, MemoryExportJobs, MemoryExportQueue, MemoryNotifier
from voltway.exports.model import ExportFilters, ExportJob, ExportStatus, PlanTask, ShardTask
from voltway.exports.pipeline import ExportPipeline, PieceMeta, file_key, matcher

TENANT = "t1"
NOW = datetime(2025, 6, 1, tzinfo=UTC)


class World:
    def __init__(self, *, shard_rows: int = 40, sheet_capacity: int = 1_048_575, rows: int = 300) -> None:
        self.blobs = MemoryBlobs()
        self.fleet = Fleet.build(TENANT, stations=20, accounts=20)
        self.source = list(sessions(self.fleet, rows, date(2025, 3, 1), 5))
        archive_rows(ArchiveWriter(self.blobs), self.source, TENANT, batch_rows=37)
        self.jobs = MemoryExportJobs()
        self.files = MemoryExportFiles()
        self.queue = MemoryExportQueue()
        self.notifier = MemoryNotifier()
        self.pipeline = self.make_pipeline(self.files, shard_rows, sheet_capacity)

    def make_pipeline(
        self, files: Any, shard_rows: int = 40, sheet_capacity: int = 1_048_575
    ) -> ExportPipeline:
        return ExportPipeline(
            jobs=self.jobs,
            files=files,
            archive=Archive(self.blobs),
            queue=self.queue,
            notifier=self.notifier,
            shard_rows=shard_rows,
            sheet_capacity=sheet_capacity,
            clock=lambda: NOW,
        )

    def request(self, kind: ArchiveKind = ArchiveKind.CDRS, **kwargs: Any) -> ExportJob:
        job = ExportJob(
            tenant_id=TENANT,
            export_id=kwargs.pop("export_id", "e1"),
            kind=kind,
            from_at=kwargs.pop("from_at", datetime(2025, 3, 1, tzinfo=UTC)),
            to_at=kwargs.pop("to_at", datetime(2025, 3, 6, tzinfo=UTC)),
            filters=kwargs.pop("filters", ExportFilters()),
            requested_by="fin-1",
            requester_email="fin@example.com",
            created_at=NOW,
        )
        self.jobs.create(job, None)
        self.pipeline.plan(PlanTask(tenant_id=TENANT, export_id=job.export_id))
        return job

    def run_shards(self) -> None:
        while self.queue.shards:
            task = self.queue.shards.pop(0)
            self.pipeline.run_shard(task, f"msg-{task.index}")

    def job(self, export_id: str = "e1") -> ExportJob:
        job = self.jobs.get(TENANT, export_id)
        assert job is not None
        return job

    def workbook(self, export_id: str = "e1") -> Any:
        return openpyxl.load_workbook(
            io.BytesIO(self.files.objects[file_key(TENANT, export_id)]), read_only=True
        )


def summary_of(book: Any) -> dict[str, Any]:
    return {
        r[0]: r[1] if len(r) > 1 else None for r in book["Summary"].iter_rows(values_only=True) if r and r[0]
    }


def source_lines(world: World, kind: ArchiveKind) -> list[dict[str, Any]]:
    import json

    key = "cdr" if kind is ArchiveKind.CDRS else "session"
    return [json.loads(getattr(r, key)[1]) for r in world.source]


def test_multi_shard_cdr_export_matches_the_source_row_by_row() -> None:
    world = World()
    world.request()
    assert len(world.queue.shards) == 8  # 300 rows / 40
    world.run_shards()
    job = world.job()
    assert job.status is ExportStatus.DONE and job.rows_written == 300 and job.shards_done == 8
    book = world.workbook()
    assert book.sheetnames == ["Summary", "CDRs"]
    rows = list(book["CDRs"].iter_rows(values_only=True))
    assert rows[0] == tuple(c.name for c in SPECS[ArchiveKind.CDRS].columns)
    expected = source_lines(world, ArchiveKind.CDRS)
    assert [r[0] for r in rows[1:]] == [e["id"] for e in expected]
    for got, want in zip(rows[1:], expected, strict=True):
        assert got[2] == want["charge_point_id"]
        assert got[9] == datetime.fromisoformat(want["stopped_at"][:-1])
        assert got[11] == pytest.approx(want["energy_wh"] / 1000)
        assert got[15] == pytest.approx(want["price_incl_vat_minor"] / 100)
    summary = summary_of(book)
    assert summary["Rows"] == 300
    assert summary["Energy (kWh)"] == pytest.approx(sum(e["energy_wh"] for e in expected) / 1000)
    for currency in ("EUR", "GBP"):
        total = sum(e["price_incl_vat_minor"] for e in expected if e["currency"] == currency)
        assert summary[f"Total {currency}"] == pytest.approx(total / 100)
    assert world.notifier.ready == ["e1"]
    assert not [k for k in world.files.objects if k.startswith("parts/")]  # parts cleaned up


def test_filters_and_time_bounds() -> None:
    world = World()
    station = world.fleet.stations[3][0]
    world.request(
        kind=ArchiveKind.SESSIONS,
        from_at=datetime(2025, 3, 2, 12, tzinfo=UTC),
        to_at=datetime(2025, 3, 4, tzinfo=UTC),
        filters=ExportFilters(stations=[station]),
    )
    world.run_shards()
    got = [r[0] for r in list(world.workbook()["Sessions"].iter_rows(values_only=True))[1:]]
    want = [
        s["id"]
        for s in source_lines(world, ArchiveKind.SESSIONS)
        if s["charge_point_id"] == station and "2025-03-02T12" <= s["stopped_at"] < "2025-03-04"
    ]
    assert got == want and want


def test_redelivered_shard_is_written_again_but_counted_once() -> None:
    world = World()
    world.request()
    first = world.queue.shards[0]
    assert world.pipeline.run_shard(first, "m0") == "counted"
    assert world.pipeline.run_shard(first, "m0") == "already counted"
    job = world.job()
    assert job.shards_done == 1 and job.rows_written == first.rows
    world.run_shards()
    assert world.job().rows_written == 300


def test_crash_mid_shard_retry_gives_identical_file() -> None:
    clean = World()
    clean.request()
    clean.run_shards()

    class CrashOnce(MemoryExportFiles):
        crashed = False

        def put_piece(self, export_id: str, meta: PieceMeta, path: Path) -> None:
            if meta.index == 2 and not self.crashed:
                CrashOnce.crashed = True
                self.objects[f"parts/{export_id}/piece-000002.xml.deflate"] = b"half a piece"
                raise ConnectionError("worker died mid-upload")
            super().put_piece(export_id, meta, path)

    world = World()
    world.files = CrashOnce()
    world.pipeline = world.make_pipeline(world.files)
    world.request()
    tasks = list(world.queue.shards)
    world.queue.shards.clear()
    for task in tasks:
        try:
            world.pipeline.run_shard(task, f"m{task.index}")
        except ConnectionError:
            world.queue.shards.append(task)  # SQS redelivers it
    assert world.job().status is ExportStatus.RUNNING
    world.run_shards()
    assert world.job().status is ExportStatus.DONE
    assert world.files.objects[file_key(TENANT, "e1")] == clean.files.objects[file_key(TENANT, "e1")]


def test_two_workers_finishing_together_merge_once() -> None:
    world = World()
    world.request()
    tasks = list(world.queue.shards)
    for task in tasks[:-2]:
        world.pipeline.run_shard(task, f"m{task.index}")
    barrier = threading.Barrier(2)
    original = world.jobs.complete_shard

    def complete_then_wait(*args: Any) -> Any:
        result = original(*args)
        barrier.wait(timeout=5)  # both have counted before either looks at the total
        return result

    world.jobs.complete_shard = complete_then_wait  # type: ignore[method-assign]
    outcomes: list[str] = []
    threads = [
        threading.Thread(target=lambda t=t: outcomes.append(world.pipeline.run_shard(t, f"m{t.index}")))
        for t in tasks[-2:]
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["counted", "merged"]
    assert world.files.xlsx_writes == 1 and world.notifier.ready == ["e1"]


def test_crash_mid_merge_is_resumed_by_the_same_delivery_only() -> None:
    world = World()
    world.request()
    tasks = list(world.queue.shards)
    for task in tasks[:-1]:
        world.pipeline.run_shard(task, f"m{task.index}")
    original = world.files.write_xlsx
    world.files.write_xlsx = lambda *a: (_ for _ in ()).throw(TimeoutError("killed"))  # type: ignore[method-assign]
    with pytest.raises(TimeoutError):
        world.pipeline.run_shard(tasks[-1], "last")
    assert world.job().status is ExportStatus.MERGING
    world.files.write_xlsx = original  # type: ignore[method-assign]
    assert world.pipeline.run_shard(tasks[0], "m0") == "already counted"  # not the owner: no merge
    assert world.pipeline.run_shard(tasks[-1], "last") == "merged"
    assert world.job().status is ExportStatus.DONE and world.files.xlsx_writes == 1


def test_poison_shard_fails_the_export_with_a_reason() -> None:
    world = World(rows=100)
    bad = CdrRecord.model_validate(
        {
            **source_lines(world, ArchiveKind.CDRS)[50],
            "id": "CDR-poison",
            "stopped_at": "2025-03-03T10:00:00Z",
        }
    )
    writer = ArchiveWriter(world.blobs)
    key = writer.append([bad])[0]
    # Damage the record the way a bug upstream could: a currency the writer cannot print as money.
    import gzip
    import json

    line = json.loads(gzip.decompress(world.blobs.objects[key]))
    line["price_incl_vat_minor"] = "n/a"
    world.blobs.objects[key] = gzip.compress(json.dumps(line).encode() + b"\n")
    world.request()
    poison: ShardTask | None = None
    for task in list(world.queue.shards):
        try:
            world.pipeline.run_shard(task, f"m{task.index}")
        except Exception as error:
            world.pipeline.note_failure(TENANT, "e1", f"{type(error).__name__}: {error}")
            poison = task
    assert poison is not None
    assert world.pipeline.dead_letter(poison, 3)
    job = world.job()
    assert job.status is ExportStatus.FAILED
    assert (
        job.error is not None
        and f"shard {poison.index + 1} of" in job.error
        and "failed 3 times" in job.error
    )
    assert "n/a" in job.error or "str" in job.error
    assert world.notifier.failed and not [k for k in world.files.objects if k.startswith("parts/")]
    # A late redelivery changes nothing.
    assert world.pipeline.run_shard(poison, "late") == "ignored"


def test_empty_range_gives_a_valid_file_with_headers_and_zero_summary() -> None:
    world = World()
    world.request(from_at=datetime(2024, 1, 1, tzinfo=UTC), to_at=datetime(2024, 2, 1, tzinfo=UTC))
    assert world.queue.shards == []
    job = world.job()
    assert job.status is ExportStatus.DONE and job.rows_total == 0 and job.shards_total == 0
    book = world.workbook()
    rows = list(book["CDRs"].iter_rows(values_only=True))
    assert len(rows) == 1 and rows[0][0] == "CDR id"
    summary = summary_of(book)
    assert summary["Rows"] == 0 and summary["Energy (kWh)"] == 0


def test_sheet_boundary_splits_into_several_sheets() -> None:
    world = World(shard_rows=40, sheet_capacity=100, rows=250)
    world.request(kind=ArchiveKind.SESSIONS)
    assert [t.rows for t in world.queue.shards] == [40, 40, 20, 40, 40, 20, 40, 10]
    world.run_shards()
    book = world.workbook()
    assert book.sheetnames == ["Summary", "Sessions", "Sessions (2)", "Sessions (3)"]
    ids = []
    for name in book.sheetnames[1:]:
        rows = list(book[name].iter_rows(values_only=True))
        assert rows[0][0] == "Session id"
        ids += [r[0] for r in rows[1:]]
    assert ids == [s["id"] for s in source_lines(world, ArchiveKind.SESSIONS)]


def test_plan_replay_reuses_the_stored_plan() -> None:
    world = World()
    world.request()
    first = [t.model_dump() for t in world.queue.shards]
    # New records arriving after planning do not change a replayed plan.
    extra = SessionRecord.model_validate({**source_lines(world, ArchiveKind.SESSIONS)[0], "id": "late:1"})
    ArchiveWriter(world.blobs).append([extra])
    world.queue.shards.clear()
    world.pipeline.plan(PlanTask(tenant_id=TENANT, export_id="e1"))
    assert [t.model_dump() for t in world.queue.shards] == first


def test_shard_tasks_cover_the_rows_exactly() -> None:
    world = World(shard_rows=23)
    job = world.request()
    tasks = list(world.queue.shards)
    assert sum(t.rows for t in tasks) == 300
    # 300 rows at 23 need 14 shards; balanced to 22 rows each (the last one 14) so workers finish together
    assert [t.first_row for t in tasks] == list(range(0, 300, 22))
    ids = [r["id"] for t in tasks for r in world.pipeline.shard_records(world.job(), t)]
    assert ids == [c["id"] for c in source_lines(world, job.kind)]


def test_matcher_bounds_are_half_open() -> None:
    match = matcher(
        ArchiveKind.SESSIONS,
        datetime(2025, 1, 1, tzinfo=UTC),
        datetime(2025, 1, 2, tzinfo=UTC),
        ExportFilters(accounts=["a"]),
    )
    base = {"charge_point_id": "cp", "account_id": "a"}
    assert match({**base, "stopped_at": "2025-01-01T00:00:00.000Z"})
    assert not match({**base, "stopped_at": "2025-01-02T00:00:00.000Z"})
    assert not match({**base, "account_id": "b", "stopped_at": "2025-01-01T10:00:00.000Z"})


def test_synthetic_lines_are_valid_records() -> None:
    fleet = Fleet.build("t9", stations=5, accounts=5)
    for row in list(sessions(fleet, 20, date(2025, 1, 1), 1, meter_values=2)):
        import json

        SessionRecord.model_validate(json.loads(row.session[1]))
        cdr = CdrRecord.model_validate(json.loads(row.cdr[1]))
        assert cdr.price_incl_vat_minor == cdr.price_excl_vat_minor + cdr.vat_minor
        assert Decimal(cdr.energy_wh) >= 0
        assert len(row.meter_values) == 2


def test_balanced_shard_rows_keep_the_shard_count_and_sheet_tiling() -> None:
    from voltway.exports.pipeline import balanced_shard_rows

    assert balanced_shard_rows(100_000, 69_905, 1_048_575) == 50_000  # 2 equal shards, not 69,905 + 30,095
    assert balanced_shard_rows(1_000_000, 69_905, 1_048_575) == 66_667  # still 15 shards
    assert balanced_shard_rows(50_000, 69_905, 1_048_575) == 69_905  # one shard
    assert balanced_shard_rows(2_000_000, 69_905, 1_048_575) == 69_905  # over a sheet: keep the tiling size
