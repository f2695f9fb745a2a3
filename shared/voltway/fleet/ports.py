"""Ports of the fleet limits context. DynamoDB adapter: ``voltway.fleet.aws``; in-memory twins:
``voltway.fleet.memory``."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from voltway.billing.model import Contract
from voltway.fleet.model import SessionDeadline


class DeadlineStore(Protocol):
    def add(self, deadline: SessionDeadline, bucket: str) -> bool:
        """File a pending deadline under its due-minute ``bucket`` unless the transaction has one
        already (False then: a retried StartTransaction changes nothing)."""
        ...

    def due_in(self, bucket: str, now: datetime) -> list[SessionDeadline]:
        """Pending deadlines of one minute bucket due at or before ``now`` (may be slightly stale:
        ``claim`` decides)."""
        ...

    def claim(self, transaction_id: int, now: datetime) -> bool:
        """pending -> stop_requested, atomically; False if another sweep (or a stop) got there first."""
        ...

    def close(self, transaction_id: int) -> None:
        """pending -> closed (the transaction stopped first); nothing if there is no pending deadline."""
        ...

    def get(self, transaction_id: int) -> SessionDeadline | None: ...

    def swept_through(self) -> str | None:
        """The sweep's cursor: buckets before it need no more queries."""
        ...

    def set_swept_through(self, bucket: str) -> None: ...


class ContractLookup(Protocol):
    def contract_for(self, tenant_id: str, account_id: str | None) -> Contract | None:
        """The contract billing would apply to a session of this account (same precedence)."""
        ...


class ChargerCommands(Protocol):
    """The command service (``voltway.ocpp.commands.service.CommandService``): one queue per charger."""

    def submit(self, tenant_id: str, charge_point_id: str, action: str, payload: Any) -> Any: ...


class StopReasons(Protocol):
    """The transaction repository: records why the platform asked for a stop."""

    def request_stop(self, transaction_id: int, reason: str) -> None: ...
