"""The export pipeline: plan → shards (fan-out) → count once → merge once → done, or failed.

- ``plan``: snapshot the day partitions of the range (object keys frozen), count the matching rows of
  each, cut shards with :func:`plan_shards` (never across a sheet), store the plan, running, send one
  message per shard. Replays reuse the stored plan (same shards, same row numbers).
- ``run_shard``: stream the shard's rows from the snapshot, write the piece to a key decided by
  (export, shard index) — a redelivery rewrites the same object — then count the shard with a conditional
  update that adds its index to a set (a redelivery is not counted twice). The delivery whose count
  completes the set claims the merge (conditional: exactly one winner); if it crashes, the redelivered
  message (same delivery id) resumes its own merge.
- ``merge``: build the xlsx layout from the pieces' metadata and assemble the file by copying their bytes
  (S3 multipart, UploadPartCopy), mark done (conditional on the claim), delete the parts, e-mail.
- ``dead_letter``: a shard that kept failing fails the export with a readable reason.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from voltway.archive import Archive, ArchiveKind, PartitionSnapshot, format_ts
from voltway.archive.archive import decode_lines
from voltway.archive.records import RECORD_TYPES
from voltway.exports.errors import ExportSourceChanged, ExportStateError
from voltway.exports.kinds import SPECS, money
from voltway.exports.model import ExportFilters, ExportJob, ExportStatus, PlanTask, ShardTask
from voltway.exports.ports import ExportFiles, ExportJobs, ExportNotifier, ExportQueue, PieceMeta
from voltway.exports.xlsx import SHEET_DATA_CAPACITY, ExportSummary, build_layout, plan_shards, write_piece
from voltway.observability import count, logger

Clock = Callable[[], datetime]
Record = dict[str, Any]

#: Partitions counted at once by the planner (S3 GETs overlap; gunzip releases the GIL).
COUNT_THREADS = 4

#: 1,048,575 / 15: tiles every sheet exactly; ~1-2 s of work per shard, far inside a worker's timeout.
DEFAULT_SHARD_ROWS = 69_905


def utc_now() -> datetime:
    return datetime.now(UTC)


def matcher(
    kind: ArchiveKind, from_at: datetime, to_at: datetime, filters: ExportFilters
) -> Callable[[Record], bool]:
    """Does an archived record belong to the export? Time in [from, to), every non-empty filter."""
    low, high = format_ts(from_at), format_ts(to_at)
    time_field = RECORD_TYPES[kind].time_field
    dimensions = (
        ("charge_point_id", filters.stations),
        ("site_id", filters.sites),
        ("account_id", filters.accounts),
        ("partner_id", filters.partners),
    )
    conditions = [(name, frozenset(values)) for name, values in dimensions if values]

    def match(record: Record) -> bool:
        if not low <= record[time_field] < high:
            return False
        return all(record.get(name) in allowed for name, allowed in conditions)

    return match


def balanced_shard_rows(total: int, shard_rows: int, sheet_capacity: int) -> int:
    """Shards of (almost) equal size, never more of them than ``shard_rows`` gives: 100,000 rows at
    69,905 become 2 x 50,000 instead of 69,905 + 30,095, so parallel workers finish together. Exports
    over one sheet keep ``shard_rows`` (sizes that divide the sheet capacity tile every sheet)."""
    if total <= shard_rows or total > sheet_capacity:
        return shard_rows
    shards = -(-total // shard_rows)
    return -(-total // shards)


def every_record_matches(job: ExportJob, day: date) -> bool:
    """No filters and the whole UTC day inside [from, to): every record of the partition belongs."""
    if any(job.filters.model_dump().values()):
        return False
    day_start = datetime.combine(day, datetime.min.time(), UTC)
    return job.from_at <= day_start and day_start + timedelta(days=1) <= job.to_at


@dataclass(frozen=True, slots=True)
class ExportPlan:
    """Matching rows per day partition and the shards cut over their concatenation."""

    parts: list[PartitionSnapshot]
    counts: list[int]
    shard_rows: int
    sheet_capacity: int

    @property
    def total(self) -> int:
        return sum(self.counts)

    def shard_tasks(self, tenant_id: str, export_id: str) -> list[ShardTask]:
        starts = [0]
        for n in self.counts:
            starts.append(starts[-1] + n)
        tasks = []
        first_part = 0
        for shard in plan_shards(self.total, self.shard_rows, sheet_capacity=self.sheet_capacity):
            while starts[first_part + 1] <= shard.first_row:
                first_part += 1
            last_part = first_part
            end = shard.first_row + shard.rows
            while starts[last_part + 1] < end:
                last_part += 1
            tasks.append(
                ShardTask(
                    tenant_id=tenant_id,
                    export_id=export_id,
                    index=shard.index,
                    first_row=shard.first_row,
                    rows=shard.rows,
                    skip=shard.first_row - starts[first_part],
                    parts=[p.to_json() for p in self.parts[first_part : last_part + 1]],
                )
            )
        return tasks

    def to_bytes(self) -> bytes:
        body = {
            "parts": [p.to_json() for p in self.parts],
            "counts": self.counts,
            "shard_rows": self.shard_rows,
            "sheet_capacity": self.sheet_capacity,
        }
        return json.dumps(body, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> ExportPlan:
        body = json.loads(data)
        return cls(
            [PartitionSnapshot.from_json(p) for p in body["parts"]],
            [int(n) for n in body["counts"]],
            int(body["shard_rows"]),
            int(body["sheet_capacity"]),
        )


def plan_key(export_id: str, plan: bytes) -> str:
    return f"parts/{export_id}/plan-{hashlib.sha256(plan).hexdigest()[:16]}.json"


def piece_key(export_id: str, index: int) -> str:
    return f"parts/{export_id}/piece-{index:06d}.xml.deflate"


def file_key(tenant_id: str, export_id: str) -> str:
    return f"exports/{tenant_id}/{export_id}.xlsx"


def file_name(job: ExportJob) -> str:
    return f"voltway-{job.kind.value}-{job.from_at:%Y%m%d}-{job.to_at:%Y%m%d}-{job.export_id}.xlsx"


class ExportPipeline:
    def __init__(
        self,
        *,
        jobs: ExportJobs,
        files: ExportFiles,
        archive: Archive,
        queue: ExportQueue,
        notifier: ExportNotifier,
        shard_rows: int = DEFAULT_SHARD_ROWS,
        sheet_capacity: int = SHEET_DATA_CAPACITY,
        clock: Clock = utc_now,
        work_dir: str | None = None,
    ) -> None:
        self._jobs = jobs
        self._files = files
        self._archive = archive
        self._queue = queue
        self._notifier = notifier
        self._shard_rows = shard_rows
        self._sheet_capacity = sheet_capacity
        self._clock = clock
        self._work_dir = work_dir

    # ------------------------------------------------------------------ plan
    def plan(self, task: PlanTask) -> None:
        job = self._jobs.get(task.tenant_id, task.export_id)
        if job is None or job.status not in (ExportStatus.PLANNING, ExportStatus.RUNNING):
            return
        if job.status is ExportStatus.PLANNING:
            began = time.perf_counter()
            plan = self.count(job)
            count_seconds = time.perf_counter() - began
            data = plan.to_bytes()
            key = self._files.put_plan(job.export_id, data)
            started = self._jobs.start(
                job.tenant_id,
                job.export_id,
                plan_key=key,
                shards_total=len(plan.shard_tasks(job.tenant_id, job.export_id)),
                rows_total=plan.total,
                shard_rows=plan.shard_rows,
                sheet_capacity=plan.sheet_capacity,
                planned_at=self._clock(),
            )
            logger.info(
                "export planned",
                extra={"rows": plan.total, "won": started, "count_seconds": round(count_seconds, 3)},
            )
            job = self._jobs.get(task.tenant_id, task.export_id)
            if job is None or job.status is not ExportStatus.RUNNING:
                return
        # Running: (re)send the stored plan's shards. Duplicates are harmless: a shard counts once.
        assert job.plan_key is not None
        plan = ExportPlan.from_bytes(self._files.get_plan(job.plan_key))
        tasks = plan.shard_tasks(job.tenant_id, job.export_id)
        if not tasks:
            owner = f"plan:{job.export_id}"
            if self._jobs.claim_merge(job.tenant_id, job.export_id, owner):
                self.merge(job.tenant_id, job.export_id, owner)
            return
        self._queue.send_shards(tasks)
        count("ExportShardsSent", len(tasks))

    def count(self, job: ExportJob) -> ExportPlan:
        """Snapshot the range's partitions and count the matching rows of each."""
        last = job.to_at - timedelta(microseconds=1)
        snaps = self._archive.snapshot(job.kind, job.tenant_id, job.from_at.date(), last.date())
        match = matcher(job.kind, job.from_at, job.to_at, job.filters)

        def count_partition(snap: PartitionSnapshot) -> int:
            if every_record_matches(job, snap.day):  # count ids (lines of a one-object day), no decoding
                return self._archive.count_ids(snap.keys)
            return sum(1 for record in self._archive.read_partition(job.kind, snap.keys) if match(record))

        # Partitions are independent: GETs overlap and gunzip releases the GIL.
        with ThreadPoolExecutor(max_workers=COUNT_THREADS) as pool:
            found = list(pool.map(count_partition, snaps))
        parts = [snap for snap, n in zip(snaps, found, strict=True) if n]
        counts = [n for n in found if n]
        shard_rows = balanced_shard_rows(sum(counts), self._shard_rows, self._sheet_capacity)
        return ExportPlan(parts, counts, shard_rows, self._sheet_capacity)

    # ------------------------------------------------------------------ shards
    def run_shard(self, task: ShardTask, delivery_id: str) -> str:
        """Process one shard delivery; returns what happened (for logs and tests)."""
        job = self._jobs.get(task.tenant_id, task.export_id)
        if job is None or job.status not in (ExportStatus.RUNNING, ExportStatus.MERGING):
            return "ignored"
        outcome = "already counted"
        if job.status is ExportStatus.RUNNING and task.index not in job.done_shards:
            meta = self.write_shard(job, task)
            counted = self._jobs.complete_shard(job.tenant_id, job.export_id, task.index, meta.piece.rows)
            outcome = "counted" if counted is not None else "already counted"
            job = counted or self._jobs.get(task.tenant_id, task.export_id) or job
            if job.status is ExportStatus.FAILED:  # failed while we wrote: leave no piece behind
                self._files.delete_parts(job.export_id)
                return "ignored"
        if job.status is ExportStatus.RUNNING and job.shards_done == job.shards_total:
            if self._jobs.claim_merge(job.tenant_id, job.export_id, delivery_id):
                self.merge(job.tenant_id, job.export_id, delivery_id)
                return "merged"
        elif job.status is ExportStatus.MERGING and job.merge_owner == delivery_id:
            self.merge(job.tenant_id, job.export_id, delivery_id)  # our earlier attempt crashed mid-merge
            return "merged"
        return outcome

    def shard_records(self, job: ExportJob, task: ShardTask) -> Iterator[Record]:
        """The shard's rows: matching records ``skip .. skip + rows`` of its snapshot partitions.

        A day that is whole in the range, unfiltered and one object (the usual shape of a closed day)
        has its lines sliced before decoding: the rows other shards write are never decoded here.
        """
        match = matcher(job.kind, job.from_at, job.to_at, job.filters)
        skip, left = task.skip, task.rows
        for snap in task.snapshots():
            if left <= 0:
                return
            if len(snap.keys) == 1 and every_record_matches(job, snap.day):
                lines = self._archive.lines(snap.keys[0])
                chosen = lines[skip : skip + left]
                skip = max(0, skip - len(lines))
                left -= len(chosen)
                yield from decode_lines(chosen, snap.keys[0])
                continue
            for record in self._archive.read_partition(job.kind, snap.keys):
                if not match(record):
                    continue
                if skip:
                    skip -= 1
                    continue
                yield record
                left -= 1
                if left <= 0:
                    return

    def write_shard(self, job: ExportJob, task: ShardTask) -> PieceMeta:
        spec = SPECS[job.kind]
        energy = 0
        amounts: dict[str, int] = defaultdict(int)

        read_seconds = 0.0

        def timed(records: Iterator[Record]) -> Iterator[Record]:
            # Time spent pulling records out of the archive (S3 GET, gunzip, JSON, filter), not encoding.
            nonlocal read_seconds
            while True:
                began = time.perf_counter()
                record = next(records, None)
                read_seconds += time.perf_counter() - began
                if record is None:
                    return
                yield record

        def rows(records: Iterable[Record]) -> Iterator[tuple[Any, ...]]:
            nonlocal energy
            for record in records:
                energy += spec.energy_wh(record)
                amount = spec.amount(record)
                if amount is not None:
                    amounts[amount[0]] += amount[1]
                yield spec.row(record)

        capacity = job.sheet_capacity or self._sheet_capacity
        fd, name = tempfile.mkstemp(prefix=f"piece-{task.index}-", dir=self._work_dir)
        os.close(fd)
        path = Path(name)
        try:
            began = time.perf_counter()
            piece = write_piece(
                rows(timed(self.shard_records(job, task))),
                spec.columns,
                task.first_row,
                path,
                sheet_capacity=capacity,
            )
            if piece.rows != task.rows:
                raise ExportSourceChanged(
                    f"shard {task.index} planned {task.rows} rows but its snapshot holds {piece.rows}"
                )
            written = time.perf_counter()
            meta = PieceMeta(task.index, piece, energy, dict(amounts))
            self._files.put_piece(job.export_id, meta, path)
            logger.info(
                "shard written",
                extra={
                    "shard": task.index,
                    "rows": piece.rows,
                    "read_seconds": round(read_seconds, 3),
                    "write_seconds": round(written - began - read_seconds, 3),
                    "upload_seconds": round(time.perf_counter() - written, 3),
                },
            )
        finally:
            path.unlink(missing_ok=True)
        count("ExportShardWritten")
        return meta

    # ------------------------------------------------------------------ merge
    def merge(self, tenant_id: str, export_id: str, owner: str) -> None:
        job = self._jobs.get(tenant_id, export_id)
        if job is None or job.status is not ExportStatus.MERGING or job.merge_owner != owner:
            return
        began = time.perf_counter()
        spec = SPECS[job.kind]
        stored = sorted(self._files.pieces(export_id), key=lambda s: s.meta.index)
        if [s.meta.index for s in stored] != list(range(job.shards_total or 0)):
            raise ExportStateError(
                f"export {export_id}: pieces {[s.meta.index for s in stored]} do not match the plan"
            )
        totals: dict[str, int] = defaultdict(int)
        for s in stored:
            for currency, minor in s.meta.money_minor.items():
                totals[currency] += minor
        summary = ExportSummary(
            row_count=sum(s.meta.piece.rows for s in stored),
            energy_kwh_total=Decimal(sum(s.meta.energy_wh for s in stored)).scaleb(-3),
            money_totals={currency: money(minor, currency) for currency, minor in totals.items()},
            generated_at=job.planned_at or job.created_at,
            filters={
                "Kind": job.kind.value,
                "From (UTC)": format_ts(job.from_at),
                "To (UTC, excluded)": format_ts(job.to_at),
                **job.filters.describe(),
            },
            title=f"{spec.title} export",
        )
        layout = build_layout(
            spec.columns,
            [s.ref for s in stored],
            summary,
            sheet_title=spec.title,
            sheet_capacity=job.sheet_capacity or self._sheet_capacity,
        )
        key = file_key(tenant_id, export_id)
        size = self._files.write_xlsx(layout, key)
        if self._jobs.finish(
            tenant_id, export_id, owner=owner, file_key=key, file_size=size, at=self._clock()
        ):
            self._files.delete_parts(export_id)
            self._notifier.export_ready(job)
            count("ExportDone")
            merge_seconds = round(time.perf_counter() - began, 3)
            logger.info(
                "export done",
                extra={"rows": summary.row_count, "bytes": size, "merge_seconds": merge_seconds},
            )

    # ------------------------------------------------------------------ failures
    def note_failure(self, tenant_id: str, export_id: str, message: str) -> None:
        self._jobs.note_error(tenant_id, export_id, message[:500])

    def dead_letter(self, task: ShardTask | PlanTask, receive_count: int) -> bool:
        """A message that kept failing: fail its export with a readable reason. True if it did."""
        job = self._jobs.get(task.tenant_id, task.export_id)
        if job is None:
            return False
        if isinstance(task, ShardTask):
            rows = f"rows {task.first_row + 1}-{task.first_row + task.rows}"
            what = f"shard {task.index + 1} of {job.shards_total} ({rows})"
        else:
            what = "planning"
        reason = f"{what} failed {receive_count} times"
        if job.last_error:
            reason += f"; last error: {job.last_error}"
        failed = self._jobs.fail(task.tenant_id, task.export_id, reason, self._clock())
        if failed:
            self._files.delete_parts(task.export_id)
            self._notifier.export_failed(job, reason)
            count("ExportFailed")
        return failed
