"""Ports of the command flow. DynamoDB adapters: ``voltway.adapters.dynamo_commands``; in-memory twins:
``voltway.ocpp.commands.memory``. Every operation on the per-frame and per-request paths is a key lookup
or a conditional write; only the listing and the monitor's sweep read more than one item."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any, Protocol

from voltway.ocpp.commands.model import Command, CommandPage, CommandStatus, InFlight, QueueState
from voltway.ocpp.commands.reported import ReportedState
from voltway.ocpp.frames import CallError, CallResult


class CommandStore(Protocol):
    """Commands by id (GetItem), and per charger newest first (listing only)."""

    def create(self, command: Command) -> None: ...

    def get(self, command_id: str) -> Command | None:
        """Strongly consistent."""
        ...

    def mark_sent(
        self, command_id: str, unique_id: str, connection_id: str, sent_at: datetime, deadline: datetime
    ) -> Command | None:
        """QUEUED -> SENT; ``None`` if the command is not (or no longer) queued. A write of ours that the
        SDK retried after it landed is ours, never ``None`` (adapters: ``voltway.adapters.conditional``)."""
        ...

    def finish(
        self,
        command_id: str,
        status: CommandStatus,
        at: datetime,
        *,
        expected: Collection[CommandStatus],
        unique_id: str | None = None,
        response: dict[str, Any] | None = None,
        error: dict[str, Any] | None = None,
    ) -> Command | None:
        """Set the terminal ``status`` only if the current status is in ``expected`` (and, if given, the
        command was sent with ``unique_id``): the one gate that makes every outcome happen once.
        The finished command, or ``None`` if the condition did not hold."""
        ...

    def list_for_charger(self, charge_point_id: str, limit: int, cursor: str | None) -> CommandPage:
        """Newest first."""
        ...


class CommandQueue(Protocol):
    """Per charger: the ids waiting in creation order, and the ONE in-flight slot. Every change is a
    conditional write on the charger's queue record, so racing writers cannot both take the slot."""

    def state(self, charge_point_id: str) -> QueueState:
        """Strongly consistent; an empty state if the charger never had a command."""
        ...

    def enqueue(self, charge_point_id: str, command_id: str, max_length: int) -> bool:
        """Append; False when ``max_length`` ids are waiting already."""
        ...

    def claim(self, charge_point_id: str, in_flight: InFlight) -> bool:
        """Move the head of the queue into the empty in-flight slot, only if nothing is in flight and
        ``in_flight.command_id`` is still the head. False when another writer got there first."""
        ...

    def release(self, charge_point_id: str, command_id: str) -> bool:
        """Empty the in-flight slot if it holds ``command_id``."""
        ...

    def drain(self, charge_point_id: str, expected: QueueState) -> bool:
        """Empty the queue and the slot, only if the record is still at ``expected.version``."""
        ...

    def due(self, now: datetime) -> list[str]:
        """Charge point ids whose in-flight CALL's deadline has passed (monitor sweep)."""
        ...


class ReportedStateStore(Protocol):
    def get(self, charge_point_id: str) -> ReportedState:
        """Strongly consistent; an empty state (version 0) if nothing was reported yet."""
        ...

    def save(self, state: ReportedState) -> bool:
        """Store ``state`` as version ``state.version + 1``, only if the stored one is still at
        ``state.version``. False when a concurrent writer won."""
        ...


class CommandAnswers(Protocol):
    """What the $default path tells the command flow (``CommandService`` implements it)."""

    def on_answer(self, charge_point_id: str, message: CallResult | CallError, now: datetime) -> object: ...

    def on_frame(self, charge_point_id: str, now: datetime) -> None: ...


class BootReadClaims(Protocol):
    """At most one boot-time configuration read queued per charger per window (a conditional write)."""

    def claim(self, charge_point_id: str, now: datetime, not_before: datetime) -> bool:
        """True (and recorded at ``now``) unless a claim was recorded at or after ``not_before``."""
        ...


class BootHooks(Protocol):
    """What the $default path tells the command flow after it answered an Accepted BootNotification."""

    def after_boot_accepted(self, charge_point_id: str, now: datetime) -> object: ...
