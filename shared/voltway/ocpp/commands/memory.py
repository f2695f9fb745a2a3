"""In-memory twins of the command ports, with the same conditional semantics as the DynamoDB adapters."""

from __future__ import annotations

import copy
from collections.abc import Collection
from dataclasses import replace
from datetime import datetime
from typing import Any

from voltway.chargers.errors import InvalidCursor
from voltway.ocpp.commands.lifecycle import next_reservation_expiry
from voltway.ocpp.commands.model import Command, CommandPage, CommandStatus, InFlight, QueueState
from voltway.ocpp.commands.reported import ReportedState


class InMemoryCommandStore:
    def __init__(self) -> None:
        self.items: dict[str, Command] = {}

    def create(self, command: Command) -> None:
        if command.command_id in self.items:
            raise ValueError(f"command {command.command_id} exists")
        self.items[command.command_id] = command

    def get(self, command_id: str) -> Command | None:
        return self.items.get(command_id)

    def mark_sent(
        self, command_id: str, unique_id: str, connection_id: str, sent_at: datetime, deadline: datetime
    ) -> Command | None:
        existing = self.items.get(command_id)
        if existing is None or existing.status is not CommandStatus.QUEUED:
            return None
        sent = replace(
            existing,
            status=CommandStatus.SENT,
            unique_id=unique_id,
            connection_id=connection_id,
            sent_at=sent_at,
            deadline=deadline,
        )
        self.items[command_id] = sent
        return sent

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
        existing = self.items.get(command_id)
        if existing is None or existing.status not in expected:
            return None
        if unique_id is not None and existing.unique_id != unique_id:
            return None
        done = replace(existing, status=status, completed_at=at, response=response, error=error)
        self.items[command_id] = done
        return done

    def list_for_charger(self, charge_point_id: str, limit: int, cursor: str | None) -> CommandPage:
        mine = sorted(
            (c for c in self.items.values() if c.charge_point_id == charge_point_id),
            key=lambda c: (c.created_at, c.command_id),
            reverse=True,
        )
        if cursor and not cursor.isdigit():
            raise InvalidCursor("invalid cursor")
        start = int(cursor) if cursor else 0
        page = mine[start : start + limit]
        return CommandPage(page, str(start + limit) if start + limit < len(mine) else None)


class InMemoryCommandQueue:
    def __init__(self) -> None:
        self.items: dict[str, QueueState] = {}
        self.claims = 0  # successful claims, for tests

    def state(self, charge_point_id: str) -> QueueState:
        return self.items.get(charge_point_id, QueueState())

    def enqueue(self, charge_point_id: str, command_id: str, max_length: int) -> bool:
        state = self.state(charge_point_id)
        if len(state.queued) >= max_length:
            return False
        self.items[charge_point_id] = replace(
            state, queued=(*state.queued, command_id), version=state.version + 1
        )
        return True

    def claim(self, charge_point_id: str, in_flight: InFlight) -> bool:
        state = self.state(charge_point_id)
        if state.in_flight is not None or not state.queued or state.queued[0] != in_flight.command_id:
            return False
        self.items[charge_point_id] = QueueState(state.queued[1:], in_flight, state.version + 1)
        self.claims += 1
        return True

    def release(self, charge_point_id: str, command_id: str) -> bool:
        state = self.state(charge_point_id)
        if state.in_flight is None or state.in_flight.command_id != command_id:
            return False
        self.items[charge_point_id] = QueueState(state.queued, None, state.version + 1)
        return True

    def drain(self, charge_point_id: str, expected: QueueState) -> bool:
        state = self.state(charge_point_id)
        if state.version != expected.version:
            return False
        self.items[charge_point_id] = QueueState((), None, state.version + 1)
        return True

    def due(self, now: datetime) -> list[str]:
        return [cp for cp, s in self.items.items() if s.in_flight is not None and s.in_flight.deadline <= now]


class InMemoryReportedStateStore:
    def __init__(self) -> None:
        self.items: dict[str, ReportedState] = {}

    def get(self, charge_point_id: str) -> ReportedState:
        stored = self.items.get(charge_point_id)
        return copy.deepcopy(stored) if stored is not None else ReportedState(charge_point_id)

    def save(self, state: ReportedState) -> bool:
        stored = self.items.get(state.charge_point_id)
        if (stored.version if stored is not None else 0) != state.version:
            return False
        self.items[state.charge_point_id] = replace(copy.deepcopy(state), version=state.version + 1)
        return True

    def due_reservations(self, now: datetime) -> list[str]:
        return [
            cp
            for cp, state in self.items.items()
            if (expiry := next_reservation_expiry(state)) is not None and expiry <= now
        ]


class InMemoryBootReadClaims:
    def __init__(self) -> None:
        self.claimed_at: dict[str, datetime] = {}

    def claim(self, charge_point_id: str, now: datetime, not_before: datetime) -> bool:
        previous = self.claimed_at.get(charge_point_id)
        if previous is not None and previous >= not_before:
            return False
        self.claimed_at[charge_point_id] = now
        return True
