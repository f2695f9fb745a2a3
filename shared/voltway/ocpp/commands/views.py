"""HTTP shapes of commands and of what chargers reported (snake_case envelope, OCPP payloads as on the
wire)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from voltway.ocpp.commands.lifecycle import capabilities, reservations_expired
from voltway.ocpp.commands.model import Command
from voltway.ocpp.commands.reported import ReportedState


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None


def command_view(command: Command) -> dict[str, Any]:
    """``status``: pending | accepted | rejected | error | timeout | offline; ``response``: the
    CALLRESULT payload; ``error``: the CALLERROR (or the validation/timeout/offline reason)."""
    return {
        "command_id": command.command_id,
        "charge_point_id": command.charge_point_id,
        "action": command.action,
        "status": command.status.public,
        "request": command.payload,
        "response": command.response,
        "error": command.error,
        "unique_id": command.unique_id,
        "created_at": _iso(command.created_at),
        "sent_at": _iso(command.sent_at),
        "deadline": _iso(command.deadline),
        "completed_at": _iso(command.completed_at),
    }


def reported_view(state: ReportedState, now: datetime | None = None) -> dict[str, Any]:
    """Configuration keys as last read, the smart-charging ``capabilities`` derived from them, the local
    list version, installed charging profiles and reservations, as accepted by the charger. A reservation
    past its expiry shows ``Expired`` even before the monitor's sweep has recorded it."""
    state = reservations_expired(state, now or datetime.now(UTC)) or state
    return {
        "capabilities": capabilities(state),
        "configuration_read_at": state.configuration_read_at,
        "configuration": [{"key": key, **entry} for key, entry in sorted(state.configuration.items())],
        "unknown_configuration_keys": list(state.unknown_configuration_keys),
        "local_list": state.local_list,
        "charging_profiles": [
            {"charging_profile_id": int(pid), **entry}
            for pid, entry in sorted(state.charging_profiles.items(), key=lambda i: int(i[0]))
        ],
        "reservations": [
            {"reservation_id": int(rid), **entry}
            for rid, entry in sorted(state.reservations.items(), key=lambda i: int(i[0]))
        ],
    }
