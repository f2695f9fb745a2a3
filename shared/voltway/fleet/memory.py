"""In-memory twins of the fleet ports (unit tests)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from voltway.billing.contracts import select_contract
from voltway.billing.model import Contract
from voltway.fleet.model import DeadlineStatus, SessionDeadline


class InMemoryDeadlines:
    def __init__(self) -> None:
        self.items: dict[int, SessionDeadline] = {}
        self.buckets: dict[int, str] = {}  # the sparse index: only pending deadlines
        self.cursor: str | None = None

    def add(self, deadline: SessionDeadline, bucket: str) -> bool:
        if deadline.transaction_id in self.items:
            return False
        self.items[deadline.transaction_id] = deadline
        self.buckets[deadline.transaction_id] = bucket
        return True

    def due_in(self, bucket: str, now: datetime) -> list[SessionDeadline]:
        return sorted(
            (self.items[t] for t, b in self.buckets.items() if b == bucket and self.items[t].due_at <= now),
            key=lambda d: (d.due_at, d.transaction_id),
        )

    def _move(self, transaction_id: int, status: DeadlineStatus, now: datetime | None) -> bool:
        item = self.items.get(transaction_id)
        if item is None or item.status is not DeadlineStatus.PENDING:
            return False
        self.items[transaction_id] = replace(item, status=status, stop_requested_at=now)
        self.buckets.pop(transaction_id, None)
        return True

    def claim(self, transaction_id: int, now: datetime) -> bool:
        return self._move(transaction_id, DeadlineStatus.STOP_REQUESTED, now)

    def close(self, transaction_id: int) -> None:
        self._move(transaction_id, DeadlineStatus.CLOSED, None)

    def get(self, transaction_id: int) -> SessionDeadline | None:
        return self.items.get(transaction_id)

    def swept_through(self) -> str | None:
        return self.cursor

    def set_swept_through(self, bucket: str) -> None:
        self.cursor = bucket


class InMemoryContracts:
    def __init__(self, contracts: dict[str, list[Contract]] | None = None) -> None:
        self.contracts = contracts or {}

    def contract_for(self, tenant_id: str, account_id: str | None) -> Contract | None:
        return select_contract(self.contracts.get(tenant_id, []), account_id=account_id, partner_id=None)
