"""HTTP views of exports (their errors are mapped with every other context's in voltway.adapters.http)."""

from __future__ import annotations

from typing import Any, ParamSpec

from voltway.exports.model import ExportJob, ExportStatus
from voltway.exports.service import ExportView

P = ParamSpec("P")


def job_view(job: ExportJob) -> dict[str, Any]:
    return {
        "export_id": job.export_id,
        "kind": job.kind.value,
        "from": job.from_at.isoformat(),
        "to": job.to_at.isoformat(),
        "filters": job.filters.model_dump(),
        "status": job.status.value,
        "created_at": job.created_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "shards_done": job.shards_done,
        "shards_total": job.shards_total,
        "rows_written": job.rows_written,
        "rows_total": job.rows_total,
        "error": job.error if job.status is ExportStatus.FAILED else None,
    }


def export_view(view: ExportView) -> dict[str, Any]:
    body = job_view(view.job)
    if view.download_url is not None:
        body["file_size"] = view.job.file_size
        body["download_url"] = view.download_url
        body["download_url_expires_at"] = view.url_expires_at.isoformat() if view.url_expires_at else None
    return body
