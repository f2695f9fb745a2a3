"""In-memory twins of the transactions ports, with the DynamoDB adapters' conditional semantics."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import datetime

from voltway.chargers.errors import InvalidCursor
from voltway.transactions.errors import IdTagBusy, StartAlreadyRecorded
from voltway.transactions.model import MeterSample, Reading, Transaction, TransactionPage, UnmatchedStop
from voltway.transactions.ports import StopRecord


class InMemoryTransactionRepository:
    def __init__(self, first_id: int = 1) -> None:
        self.transactions: dict[int, Transaction] = {}
        self.start_keys: dict[str, int] = {}
        self.locks: dict[tuple[str, str], int] = {}
        self.unmatched: list[UnmatchedStop] = []
        self._counter = itertools.count(first_id)

    def next_transaction_id(self) -> int:
        return next(self._counter)

    def find_start(self, key: str) -> int | None:
        return self.start_keys.get(key)

    def active_for_tag(self, tenant_id: str, id_tag: str) -> int | None:
        return self.locks.get((tenant_id, id_tag))

    def create(self, transaction: Transaction, key: str, lock_tag: bool, stale_lock: int | None) -> None:
        if key in self.start_keys:
            raise StartAlreadyRecorded(self.start_keys[key])
        lock = (transaction.tenant_id, transaction.id_tag)
        if lock_tag and self.locks.get(lock, stale_lock) != stale_lock:
            raise IdTagBusy(transaction.id_tag)
        self.transactions[transaction.transaction_id] = transaction
        self.start_keys[key] = transaction.transaction_id
        if lock_tag:
            self.locks[lock] = transaction.transaction_id

    def get(self, transaction_id: int) -> Transaction | None:
        return self.transactions.get(transaction_id)

    def record_reading(self, transaction_id: int, reading: Reading) -> None:
        tx = self.transactions.get(transaction_id)
        if tx is None:
            return
        at = reading.register_at
        if reading.register_wh is not None and at is not None and not _older(at, tx.last_register_at):
            tx = replace(tx, last_register_wh=reading.register_wh, last_register_at=reading.register_at)
        power_at = reading.power_at
        if reading.power_w is not None and power_at is not None and not _older(power_at, tx.last_power_at):
            tx = replace(tx, last_power_w=reading.power_w, last_power_at=power_at)
        self.transactions[transaction_id] = tx

    def flag(self, transaction_id: int, anomalies: set[str]) -> None:
        tx = self.transactions.get(transaction_id)
        if tx is not None and anomalies:
            self.transactions[transaction_id] = replace(tx, anomalies=tx.anomalies | anomalies)

    def request_stop(self, transaction_id: int, reason: str) -> None:
        tx = self.transactions.get(transaction_id)
        if tx is not None:
            self.transactions[transaction_id] = replace(tx, stop_reason_requested=reason)

    def stop(self, transaction_id: int, stop: StopRecord, anomalies: set[str]) -> bool:
        tx = self.transactions.get(transaction_id)
        if tx is None or tx.stopped_at is not None:
            return False
        newer = tx.last_register_at is None or tx.last_register_at <= stop.stopped_at
        self.transactions[transaction_id] = replace(
            tx,
            stopped_at=stop.stopped_at,
            meter_stop=stop.meter_stop,
            stop_reason=stop.reason,
            stop_id_tag=stop.id_tag,
            last_register_wh=stop.meter_stop if newer else tx.last_register_wh,
            last_register_at=stop.stopped_at if newer else tx.last_register_at,
            anomalies=tx.anomalies | anomalies,
        )
        return True

    def release_tag(self, tenant_id: str, id_tag: str, transaction_id: int) -> None:
        if self.locks.get((tenant_id, id_tag)) == transaction_id:
            del self.locks[(tenant_id, id_tag)]

    def record_unmatched(self, stop: UnmatchedStop) -> None:
        if stop not in self.unmatched:
            self.unmatched.append(stop)

    def list_by_charger(self, charge_point_id: str, limit: int, cursor: str | None) -> TransactionPage:
        mine: list[Transaction | UnmatchedStop] = [
            t for t in self.transactions.values() if t.charge_point_id == charge_point_id
        ]
        mine += [u for u in self.unmatched if u.charge_point_id == charge_point_id]
        mine.sort(key=lambda t: t.started_at if isinstance(t, Transaction) else t.stopped_at, reverse=True)
        if cursor and not cursor.isdigit():
            raise InvalidCursor("invalid cursor")
        start = int(cursor) if cursor else 0
        page = mine[start : start + limit]
        return TransactionPage(page, str(start + limit) if start + limit < len(mine) else None)


def _older(at: datetime, stored: datetime | None) -> bool:
    return stored is not None and at <= stored


class InMemoryMeterValueStore:
    def __init__(self) -> None:
        self.series: dict[str, dict[tuple[str, str, str], MeterSample]] = {}

    def add(self, series: str, samples: list[MeterSample]) -> None:
        stored = self.series.setdefault(series, {})
        for s in samples:
            stored[(s.timestamp.isoformat(), s.source, s.seq)] = s

    def samples(self, series: str) -> list[MeterSample]:
        stored = self.series.get(series, {})
        return [stored[k] for k in sorted(stored)]
