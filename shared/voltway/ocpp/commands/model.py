"""Commands: one CALL the central system sends to one charger, from creation to its outcome.

Times are timezone-aware UTC datetimes. Payloads are kept exactly as on the wire (camelCase JSON).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class CommandStatus(StrEnum):
    # pending: waiting for the charger's slot, or sent and not answered yet
    QUEUED = "queued"
    SENT = "sent"
    # terminal
    ACCEPTED = "accepted"  # CALLRESULT whose status (if the action has one) means acceptance
    REJECTED = "rejected"  # CALLRESULT with any other status
    ERROR = "error"  # CALLERROR, or a CALLRESULT that fails the action's response schema
    TIMEOUT = "timeout"  # no answer before the deadline
    OFFLINE = "offline"  # the charger was not connected, or disconnected before answering

    @property
    def terminal(self) -> bool:
        return self not in (CommandStatus.QUEUED, CommandStatus.SENT)

    @property
    def public(self) -> str:
        """What the API shows: ``pending`` until there is an outcome."""
        return "pending" if not self.terminal else self.value


PENDING = frozenset({CommandStatus.QUEUED, CommandStatus.SENT})


@dataclass(frozen=True, slots=True)
class Command:
    command_id: str
    charge_point_id: str
    tenant_id: str
    action: str
    payload: dict[str, Any]
    status: CommandStatus
    created_at: datetime
    # Set when the CALL is sent: the OCPP-J unique id, the connection it went over, the answer deadline.
    unique_id: str | None = None
    connection_id: str | None = None
    sent_at: datetime | None = None
    deadline: datetime | None = None
    completed_at: datetime | None = None
    response: dict[str, Any] | None = None  # the CALLRESULT payload, as received
    error: dict[str, Any] | None = None  # {"code", "description", "details"}


@dataclass(frozen=True, slots=True)
class InFlight:
    """The one outstanding CALL of a charger (OCPP-J 1.6 section 4.1.1)."""

    command_id: str
    unique_id: str
    connection_id: str
    sent_at: datetime
    deadline: datetime


@dataclass(frozen=True, slots=True)
class QueueState:
    """A charger's command queue: ids waiting in creation order, and the one in flight."""

    queued: tuple[str, ...] = ()
    in_flight: InFlight | None = None
    version: int = 0


@dataclass(frozen=True, slots=True)
class CommandPage:
    items: list[Command]
    cursor: str | None
