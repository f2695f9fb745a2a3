"""Ports of the transactions context. DynamoDB adapters: ``voltway.adapters.dynamo_transactions``;
in-memory twins: ``voltway.transactions.memory``. Per-frame operations are key lookups, conditional
writes and one TransactWriteItems: never Query or Scan."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from voltway.transactions.model import MeterSample, Reading, Transaction, TransactionPage, UnmatchedStop


@dataclass(frozen=True, slots=True)
class StopRecord:
    stopped_at: datetime
    meter_stop: int
    reason: str | None
    id_tag: str | None
    unique_id: str


class TransactionRepository(Protocol):
    def next_transaction_id(self) -> int:
        """A new id from an atomic counter, unique platform-wide (gaps are allowed)."""
        ...

    def find_start(self, key: str) -> int | None:
        """The transaction a StartTransaction with this ``start_key`` created, if any."""
        ...

    def active_for_tag(self, tenant_id: str, id_tag: str) -> int | None:
        """The transaction holding the id tag's active-transaction lock, if any."""
        ...

    def create(self, transaction: Transaction, key: str, lock_tag: bool, stale_lock: int | None) -> None:
        """Atomically: the transaction, its start key and (``lock_tag``) the id tag's lock — the lock
        may replace ``stale_lock`` (a lock left by a stopped transaction). Raises
        ``StartAlreadyRecorded`` when the start key exists, ``IdTagBusy`` when the lock is held."""
        ...

    def get(self, transaction_id: int) -> Transaction | None: ...

    def record_reading(self, transaction_id: int, reading: Reading) -> None:
        """Running totals, each only if newer than what is stored (late samples never regress them)."""
        ...

    def flag(self, transaction_id: int, anomalies: set[str]) -> None: ...

    def request_stop(self, transaction_id: int, reason: str) -> None:
        """Record why the platform asked the charger to stop (``stop_reason_requested``; idempotent)."""
        ...

    def stop(self, transaction_id: int, stop: StopRecord, anomalies: set[str]) -> bool:
        """Record the stop unless one is recorded already (False then: first stop wins)."""
        ...

    def release_tag(self, tenant_id: str, id_tag: str, transaction_id: int) -> None:
        """Drop the id tag's lock if ``transaction_id`` holds it."""
        ...

    def record_unmatched(self, stop: UnmatchedStop) -> None: ...

    def list_by_charger(self, charge_point_id: str, limit: int, cursor: str | None) -> TransactionPage:
        """Newest start first; unmatched stops included for review."""
        ...


class MeterValueStore(Protocol):
    """High-volume samples, kept out of every table that a listing queries. ``series`` is
    ``TX#<id>`` for a transaction, ``CP#<charger>#<connector>`` for samples outside one."""

    def add(self, series: str, samples: list[MeterSample]) -> None: ...

    def samples(self, series: str) -> list[MeterSample]:
        """Oldest first."""
        ...


def transaction_series(transaction_id: int) -> str:
    return f"TX#{transaction_id}"


def charger_series(charge_point_id: str, connector_id: int) -> str:
    return f"CP#{charge_point_id}#{connector_id}"


def unmatched_series(charge_point_id: str, transaction_id: int) -> str:
    return f"UNMATCHED#{charge_point_id}#{transaction_id}"
