"""What the HTTP API offers finance users: request an export, follow it, download it, list them.

Tenant-scoped by construction: every lookup is keyed by the caller's tenant, so another tenant's export
is simply not found (404, never 403: existence is not disclosed).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from voltway.exports.errors import ExportNotFound
from voltway.exports.model import ExportJob, ExportRequest, ExportStatus, PlanTask
from voltway.exports.pipeline import Clock, file_name, utc_now
from voltway.exports.ports import ExportFiles, ExportJobs, ExportQueue, IdempotencyClaim, JobPage
from voltway.identity import Principal, Role
from voltway.observability import count

MAX_URL_EXPIRY = 7 * 24 * 3600  # S3 SigV4 presigned URLs live at most 7 days


def new_export_id() -> str:
    """Time-ordered (newest sorts last), unguessable: 12 hex digits of ms + 12 random hex digits."""
    return f"{int(time.time() * 1000):012x}{secrets.token_hex(6)}"


@dataclass(frozen=True, slots=True)
class ExportView:
    job: ExportJob
    download_url: str | None = None
    url_expires_at: datetime | None = None


class ExportService:
    def __init__(
        self,
        *,
        jobs: ExportJobs,
        files: ExportFiles,
        queue: ExportQueue,
        url_expiry_seconds: int,
        clock: Clock = utc_now,
        new_id: Callable[[], str] = new_export_id,
    ) -> None:
        if not 1 <= url_expiry_seconds <= MAX_URL_EXPIRY:
            raise ValueError(f"url expiry must be 1..{MAX_URL_EXPIRY} seconds")
        self._jobs = jobs
        self._files = files
        self._queue = queue
        self._expiry = url_expiry_seconds
        self._clock = clock
        self._new_id = new_id

    def request(
        self, caller: Principal, body: ExportRequest, idempotency_key: str | None = None
    ) -> ExportJob:
        caller.require(Role.FINANCE)
        claim = None
        if idempotency_key:
            scoped = f"{caller.tenant_id}\n{caller.user_id}\n{idempotency_key}"
            claim = IdempotencyClaim(hashlib.sha256(scoped.encode()).hexdigest(), body.fingerprint())
        job = ExportJob(
            tenant_id=caller.tenant_id,
            export_id=self._new_id(),
            kind=body.kind,
            from_at=body.from_at,
            to_at=body.to_at,
            filters=body.filters,
            requested_by=caller.user_id,
            requester_email=caller.email,
            created_at=self._clock(),
        )
        stored, created = self._jobs.create(job, claim)
        if created or stored.status is ExportStatus.PLANNING:
            # A replay of a request whose plan message may have been lost sends it again (planning is
            # idempotent on the export id).
            self._queue.send_plan(PlanTask(tenant_id=stored.tenant_id, export_id=stored.export_id))
        if created:
            count("ExportRequested")
        return stored

    def get(self, caller: Principal, export_id: str) -> ExportView:
        caller.require(Role.FINANCE)
        job = self._jobs.get(caller.tenant_id, export_id)
        if job is None:
            raise ExportNotFound(f"no export {export_id}")
        if job.status is not ExportStatus.DONE or job.file_key is None:
            return ExportView(job)
        # Signed on every request, never stored: a URL cannot outlive the credentials that signed it.
        url = self._files.download_url(job.file_key, file_name(job), self._expiry)
        return ExportView(job, url, self._clock() + timedelta(seconds=self._expiry))

    def list(self, caller: Principal, limit: int, cursor: str | None) -> JobPage:
        caller.require(Role.FINANCE)
        return self._jobs.list_jobs(caller.tenant_id, limit, cursor)
