"""The CDR sweep: stopped transactions whose CDR request was lost are asked for again.

The $default function asks for a CDR with one SendMessage after the charger has its answer
(``voltway.billing.trigger``); if that send fails the request is gone. The stop itself is recorded, and
its session is in the export archive (``archive/sessions/tenant=<t>/day=<d>/``, written by
``TransactionService.stop``) — the sweep reads the sessions that stopped in its window, checks which CDRs
exist (one batched read per 100) and enqueues the missing ones. Issuing is idempotent (the CDR id is a
function of the transaction id), so a request that was only slow, not lost, costs a no-op.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from voltway.archive import Archive, ArchiveKind, format_ts
from voltway.billing.model import cdr_id_of
from voltway.billing.ports import CdrQueue, CdrRepository
from voltway.observability import count, logger


@dataclass(frozen=True, slots=True)
class SweepResult:
    checked: int
    requested: int

    def to_dict(self) -> dict[str, int]:
        return {"checked": self.checked, "requested": self.requested}


class CdrSweeper:
    """Sessions stopped in ``[now - lookback, now - grace)`` without a CDR → a new CDR request each.

    ``grace`` leaves the normal path (queue → worker) time to finish; ``lookback`` is how long a lost
    request can still be recovered, and bounds the re-requests of a stop that cannot be billed yet (no
    tariff: such a request ends in the dead-letter queue again, see docs/billing.md).
    """

    def __init__(
        self,
        archive: Archive,
        cdrs: CdrRepository,
        queue: CdrQueue,
        *,
        lookback: timedelta,
        grace: timedelta,
        clock: Callable[[], datetime],
    ) -> None:
        if lookback <= grace:
            raise ValueError("lookback must be longer than grace")
        self._archive = archive
        self._cdrs = cdrs
        self._queue = queue
        self._lookback = lookback
        self._grace = grace
        self._clock = clock

    def sweep(self) -> SweepResult:
        now = self._clock()
        since, until = now - self._lookback, now - self._grace
        low, high = format_ts(since), format_ts(until)  # archive times are fixed-width UTC strings
        checked = requested = 0
        for tenant_id in self._archive.tenants(ArchiveKind.SESSIONS):
            snapshots = self._archive.snapshot(ArchiveKind.SESSIONS, tenant_id, since.date(), until.date())
            stopped = {
                cdr_id_of(r["transaction_id"]): int(r["transaction_id"])
                for r in self._archive.records(ArchiveKind.SESSIONS, snapshots)
                if low <= r["stopped_at"] < high
            }
            issued = self._cdrs.issued(list(stopped))
            for cdr_id, transaction_id in stopped.items():
                if cdr_id in issued:
                    continue
                self._queue.enqueue(transaction_id)
                requested += 1
                logger.warning("CDR requested again by the sweep", transaction_id=transaction_id)
            checked += len(stopped)
        if requested:
            count("CdrSweepRequested", requested)
        return SweepResult(checked, requested)
