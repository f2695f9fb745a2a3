"""Errors of the command context. The HTTP transport maps them once (voltway.adapters.commands_http)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class CommandError(Exception):
    """Base of the command context's errors."""

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.details = details


class UnknownCommand(CommandError):
    """Not an action the central system sends (OCPP 1.6, central-system-initiated)."""

    def __init__(self, action: str, supported: Sequence[str]) -> None:
        super().__init__(
            f"unknown command {action!r}: not an OCPP 1.6 action the central system sends",
            {"action": action, "supported": list(supported)},
        )


class InvalidCommand(CommandError):
    """The request payload does not conform to the action's OCPP 1.6 schema."""


class CommandNotFound(CommandError):
    """No such command (or not in the caller's tenant: the two are indistinguishable)."""


class QueueFull(CommandError):
    """Too many commands are waiting for this charger already."""


class ConcurrentUpdate(CommandError):
    """An optimistic write kept losing to concurrent writers."""
