"""Persisted session deadlines. Times are timezone-aware UTC; the deadline is computed from the
charger's StartTransaction timestamp (a late-delivered start keeps its original deadline)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

TIME_LIMIT = "time_limit"


class DeadlineStatus(StrEnum):
    PENDING = "pending"  # waiting for its due minute
    STOP_REQUESTED = "stop_requested"  # the sweep won the claim and sent RemoteStopTransaction
    CLOSED = "closed"  # the transaction stopped before its deadline


@dataclass(frozen=True, slots=True)
class SessionDeadline:
    transaction_id: int
    tenant_id: str
    charge_point_id: str
    connector_id: int
    contract_id: str
    started_at: datetime
    due_at: datetime
    status: DeadlineStatus = DeadlineStatus.PENDING
    stop_requested_at: datetime | None = None


def deadline_of(started_at: datetime, max_session_minutes: Decimal) -> datetime:
    """start + limit, to the microsecond (fractional minutes allowed)."""
    micros = int((max_session_minutes * 60_000_000).to_integral_value())
    return started_at.astimezone(UTC) + timedelta(microseconds=micros)


def minute_bucket(at: datetime) -> str:
    """The due-minute key a deadline is filed under: ``YYYY-MM-DDTHH:MM`` in UTC."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def bucket_start(bucket: str) -> datetime:
    return datetime.strptime(bucket, "%Y-%m-%dT%H:%M").replace(tzinfo=UTC)


def buckets_between(first: str, last: str) -> list[str]:
    """Every minute bucket from ``first`` to ``last`` inclusive (empty when first > last)."""
    out: list[str] = []
    at, end = bucket_start(first), bucket_start(last)
    while at <= end:
        out.append(minute_bucket(at))
        at += timedelta(minutes=1)
    return out
