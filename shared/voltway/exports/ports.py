"""Ports of the export pipeline: the job table, the file store (plans, pieces, final files), the queues
and the notifier. Adapters: voltway.exports.aws (DynamoDB, S3, SQS); twins: voltway.exports.memory."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from voltway.exports.model import ExportJob, PlanTask, ShardTask
from voltway.exports.xlsx import Piece, PieceRef, XlsxLayout


@dataclass(frozen=True, slots=True)
class IdempotencyClaim:
    """An Idempotency-Key (hashed with the caller's id) and the fingerprint of the request it named."""

    key_hash: str
    fingerprint: str


@dataclass(frozen=True, slots=True)
class JobPage:
    items: list[ExportJob]
    cursor: str | None


@dataclass(frozen=True, slots=True)
class PieceMeta:
    """A finished piece plus the shard's totals (energy in Wh, money per currency in minor units)."""

    index: int
    piece: Piece
    energy_wh: int
    money_minor: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(
            {"i": self.index, "p": self.piece.to_dict(), "e": self.energy_wh, "m": self.money_minor},
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> PieceMeta:
        data: dict[str, Any] = json.loads(text)
        return cls(int(data["i"]), Piece.from_dict(data["p"]), int(data["e"]), dict(data["m"]))


@dataclass(frozen=True, slots=True)
class StoredPiece:
    meta: PieceMeta
    ref: PieceRef


class ExportJobs(Protocol):
    def create(self, job: ExportJob, claim: IdempotencyClaim | None) -> tuple[ExportJob, bool]:
        """Store a new job; with a claim already used, the job it created and False. Raises
        :class:`~voltway.exports.errors.IdempotencyConflict` when the claim's fingerprint differs."""

    def get(self, tenant_id: str, export_id: str) -> ExportJob | None: ...

    def list_jobs(self, tenant_id: str, limit: int, cursor: str | None) -> JobPage:
        """Newest first."""

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
        """planning → running; False if the job is no longer planning (another planner won)."""

    def complete_shard(self, tenant_id: str, export_id: str, index: int, rows: int) -> ExportJob | None:
        """Count shard ``index`` once (atomically, conditionally); None if already counted or not running."""

    def claim_merge(self, tenant_id: str, export_id: str, owner: str) -> bool:
        """running → merging owned by ``owner``; exactly one caller wins."""

    def finish(
        self, tenant_id: str, export_id: str, *, owner: str, file_key: str, file_size: int, at: datetime
    ) -> bool:
        """merging (by ``owner``) → done."""

    def fail(self, tenant_id: str, export_id: str, reason: str, at: datetime) -> bool:
        """Any unfinished state → failed with a readable reason; False if already done/failed."""

    def note_error(self, tenant_id: str, export_id: str, message: str) -> None:
        """Remember the last error of a shard attempt (the DLQ handler quotes it)."""


class ExportFiles(Protocol):
    def put_plan(self, export_id: str, plan: bytes) -> str: ...

    def get_plan(self, key: str) -> bytes: ...

    def put_piece(self, export_id: str, meta: PieceMeta, path: Path) -> None:
        """Store the piece at a key decided by (export id, shard index): a redelivery overwrites it."""

    def pieces(self, export_id: str) -> list[StoredPiece]: ...

    def write_xlsx(self, layout: XlsxLayout, key: str) -> int:
        """Assemble the file at ``key`` from the layout; returns its size."""

    def delete_parts(self, export_id: str) -> None: ...

    def download_url(self, key: str, filename: str, expires_in: int) -> str: ...


class ExportQueue(Protocol):
    def send_plan(self, task: PlanTask) -> None: ...

    def send_shards(self, tasks: Sequence[ShardTask]) -> None: ...


class ExportNotifier(Protocol):
    def export_ready(self, job: ExportJob) -> None: ...

    def export_failed(self, job: ExportJob, reason: str) -> None: ...
