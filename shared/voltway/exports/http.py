"""HTTP views of exports, and the export errors' HTTP statuses.

The errors are mapped here, in front of the shared mapping (voltway.adapters.http.mapped), because that
module is owned elsewhere; folding these three lines into its ``_STATUS`` table is a drop-in change.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec

from voltway.adapters.http import error_response, mapped
from voltway.exports.errors import ExportNotFound, IdempotencyConflict, InvalidExportRequest
from voltway.exports.model import ExportJob, ExportStatus
from voltway.exports.service import ExportView

P = ParamSpec("P")

_STATUS: list[tuple[type[Exception], int, str]] = [
    (ExportNotFound, 404, "not_found"),
    (IdempotencyConflict, 409, "idempotency_conflict"),
    (InvalidExportRequest, 400, "invalid_request"),
]


def export_errors(view: Callable[P, Any]) -> Callable[P, Any]:
    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
        try:
            return view(*args, **kwargs)
        except tuple(kind for kind, _, _ in _STATUS) as error:
            status, code = next((s, c) for k, s, c in _STATUS if isinstance(error, k))
            return error_response(status, code, str(error))

    return mapped(wrapper)


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
