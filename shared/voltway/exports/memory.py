"""In-memory twins of the export ports (unit tests). Thread-safe: tests race workers on them."""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from voltway.exports.errors import IdempotencyConflict
from voltway.exports.model import ExportJob, ExportStatus, PlanTask, ShardTask
from voltway.exports.pipeline import piece_key, plan_key
from voltway.exports.ports import IdempotencyClaim, JobPage, PieceMeta, StoredPiece
from voltway.exports.xlsx import PieceRef, XlsxLayout, write_layout

_OPEN = (ExportStatus.PLANNING, ExportStatus.RUNNING, ExportStatus.MERGING)


class MemoryExportJobs:
    def __init__(self) -> None:
        self.jobs: dict[tuple[str, str], ExportJob] = {}
        self.claims: dict[tuple[str, str], tuple[str, str]] = {}
        self._lock = threading.Lock()

    def _update(self, job: ExportJob, **changes: object) -> ExportJob:
        new = job.model_copy(update=changes)
        self.jobs[(job.tenant_id, job.export_id)] = new
        return new

    def create(self, job: ExportJob, claim: IdempotencyClaim | None) -> tuple[ExportJob, bool]:
        with self._lock:
            if claim is not None:
                seen = self.claims.get((job.tenant_id, claim.key_hash))
                if seen is not None:
                    export_id, fingerprint = seen
                    if fingerprint != claim.fingerprint:
                        raise IdempotencyConflict("this Idempotency-Key was used for a different request")
                    return self.jobs[(job.tenant_id, export_id)], False
                self.claims[(job.tenant_id, claim.key_hash)] = (job.export_id, claim.fingerprint)
            self.jobs[(job.tenant_id, job.export_id)] = job
            return job, True

    def get(self, tenant_id: str, export_id: str) -> ExportJob | None:
        return self.jobs.get((tenant_id, export_id))

    def list_jobs(self, tenant_id: str, limit: int, cursor: str | None) -> JobPage:
        mine = sorted((j for (t, _), j in self.jobs.items() if t == tenant_id), key=lambda j: j.export_id)
        mine.reverse()
        if cursor:
            mine = [j for j in mine if j.export_id < cursor]
        page = mine[:limit]
        return JobPage(page, page[-1].export_id if len(mine) > limit else None)

    def start(
        self,
        tenant_id: str,
        export_id: str,
        *,
        plan_key: str,
        shards_total: int,
        rows_total: int,
        shard_rows: int,
        sheet_capacity: int,
        planned_at: datetime,
    ) -> bool:
        with self._lock:
            job = self.jobs[(tenant_id, export_id)]
            if job.status is not ExportStatus.PLANNING:
                return False
            self._update(
                job,
                status=ExportStatus.RUNNING,
                plan_key=plan_key,
                shards_total=shards_total,
                rows_total=rows_total,
                shard_rows=shard_rows,
                sheet_capacity=sheet_capacity,
                planned_at=planned_at,
            )
            return True

    def complete_shard(self, tenant_id: str, export_id: str, index: int, rows: int) -> ExportJob | None:
        with self._lock:
            job = self.jobs[(tenant_id, export_id)]
            if job.status is not ExportStatus.RUNNING or index in job.done_shards:
                return None
            return self._update(
                job, done_shards=job.done_shards | {index}, rows_written=job.rows_written + rows
            )

    def claim_merge(self, tenant_id: str, export_id: str, owner: str) -> bool:
        with self._lock:
            job = self.jobs[(tenant_id, export_id)]
            if job.status is not ExportStatus.RUNNING:
                return False
            self._update(job, status=ExportStatus.MERGING, merge_owner=owner)
            return True

    def finish(
        self, tenant_id: str, export_id: str, *, owner: str, file_key: str, file_size: int, at: datetime
    ) -> bool:
        with self._lock:
            job = self.jobs[(tenant_id, export_id)]
            if job.status is not ExportStatus.MERGING or job.merge_owner != owner:
                return False
            self._update(
                job, status=ExportStatus.DONE, file_key=file_key, file_size=file_size, finished_at=at
            )
            return True

    def fail(self, tenant_id: str, export_id: str, reason: str, at: datetime) -> bool:
        with self._lock:
            job = self.jobs[(tenant_id, export_id)]
            if job.status not in _OPEN:
                return False
            self._update(job, status=ExportStatus.FAILED, error=reason, finished_at=at)
            return True

    def note_error(self, tenant_id: str, export_id: str, message: str) -> None:
        with self._lock:
            job = self.jobs.get((tenant_id, export_id))
            if job is not None:
                self._update(job, last_error=message)


class MemoryExportFiles:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.metas: dict[str, PieceMeta] = {}
        self.xlsx_writes = 0
        self._lock = threading.Lock()

    def put_plan(self, export_id: str, plan: bytes) -> str:
        key = plan_key(export_id, plan)
        self.objects[key] = plan
        return key

    def get_plan(self, key: str) -> bytes:
        return self.objects[key]

    def put_piece(self, export_id: str, meta: PieceMeta, path: Path) -> None:
        key = piece_key(export_id, meta.index)
        with self._lock:
            self.objects[key] = path.read_bytes()
            self.metas[key] = meta

    def pieces(self, export_id: str) -> list[StoredPiece]:
        prefix = f"parts/{export_id}/piece-"
        with self._lock:
            found = [(k, m) for k, m in self.metas.items() if k.startswith(prefix)]
            return [StoredPiece(m, PieceRef.from_bytes(m.piece, self.objects[k])) for k, m in found]

    def write_xlsx(self, layout: XlsxLayout, key: str) -> int:
        sink = io.BytesIO()
        write_layout(layout, sink)
        with self._lock:
            self.objects[key] = sink.getvalue()
            self.xlsx_writes += 1
        return layout.size

    def delete_parts(self, export_id: str) -> None:
        with self._lock:
            for key in [k for k in self.objects if k.startswith(f"parts/{export_id}/")]:
                del self.objects[key]
                self.metas.pop(key, None)

    def download_url(self, key: str, filename: str, expires_in: int) -> str:
        return f"memory://{key}?filename={filename}&expires={expires_in}"


class MemoryExportQueue:
    def __init__(self) -> None:
        self.plans: list[PlanTask] = []
        self.shards: list[ShardTask] = []

    def send_plan(self, task: PlanTask) -> None:
        self.plans.append(task)

    def send_shards(self, tasks: Sequence[ShardTask]) -> None:
        self.shards.extend(tasks)


class MemoryNotifier:
    def __init__(self) -> None:
        self.ready: list[str] = []
        self.failed: list[tuple[str, str]] = []

    def export_ready(self, job: ExportJob) -> None:
        self.ready.append(job.export_id)

    def export_failed(self, job: ExportJob, reason: str) -> None:
        self.failed.append((job.export_id, reason))
