"""The central-system-initiated OCPP 1.6 actions this platform sends, and how an answer maps to a status.

Requests and responses are validated against the ``ocpp`` wheel's JSON schemas with the project's
fastjsonschema validators (``voltway.ocpp.schemas``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from voltway.ocpp import schemas
from voltway.ocpp.actions import Action
from voltway.ocpp.commands.errors import InvalidCommand, UnknownCommand
from voltway.ocpp.commands.model import CommandStatus
from voltway.ocpp.errors import OcppError

# action -> the values of the response's ``status`` that mean the charger took the request on.
# Actions whose response has no ``status`` field map to ``None``: a valid CALLRESULT is acceptance.
ACCEPTING_STATUSES: Mapping[str, frozenset[str] | None] = {
    Action.cancel_reservation: frozenset({"Accepted"}),
    # "Scheduled": accepted, applied once the transactions in progress have finished (OCPP 1.6 7.8).
    Action.change_availability: frozenset({"Accepted", "Scheduled"}),
    # "RebootRequired": the setting has been changed, effective after a reboot (OCPP 1.6 7.9).
    Action.change_configuration: frozenset({"Accepted", "RebootRequired"}),
    Action.clear_cache: frozenset({"Accepted"}),
    Action.clear_charging_profile: frozenset({"Accepted"}),
    Action.data_transfer: frozenset({"Accepted"}),
    Action.get_composite_schedule: frozenset({"Accepted"}),
    Action.get_configuration: None,
    Action.get_diagnostics: None,
    Action.get_local_list_version: None,
    Action.remote_start_transaction: frozenset({"Accepted"}),
    Action.remote_stop_transaction: frozenset({"Accepted"}),
    Action.reserve_now: frozenset({"Accepted"}),
    Action.reset: frozenset({"Accepted"}),
    Action.send_local_list: frozenset({"Accepted"}),
    Action.set_charging_profile: frozenset({"Accepted"}),
    Action.trigger_message: frozenset({"Accepted"}),
    Action.unlock_connector: frozenset({"Unlocked"}),
    Action.update_firmware: None,
}
ACTIONS: tuple[str, ...] = tuple(sorted(str(a) for a in ACCEPTING_STATUSES))


def require_action(action: str) -> str:
    """``action`` if the platform sends it; ``UnknownCommand`` otherwise."""
    if action not in ACCEPTING_STATUSES:
        raise UnknownCommand(action, ACTIONS)
    return action


def _violation(error: OcppError) -> dict[str, Any]:
    return {"code": error.code, "description": error.description, "details": error.details}


def validate_request(action: str, payload: Any) -> dict[str, Any]:
    """The payload, checked against ``<Action>.json``; ``InvalidCommand`` with the violation otherwise."""
    require_action(action)
    if not isinstance(payload, dict):
        raise InvalidCommand("the body must be a JSON object: the OCPP request payload", {"field": None})
    try:
        schemas.validate(action, payload)
    except OcppError as e:
        raise InvalidCommand(f"invalid {action} request: {e.description}", _violation(e)) from None
    return payload


def response_violation(action: str, payload: dict[str, Any]) -> dict[str, Any] | None:
    """``None`` if ``payload`` conforms to ``<Action>Response.json``, else the violation."""
    try:
        schemas.validate(f"{action}Response", payload)
    except OcppError as e:
        return _violation(e)
    return None


def outcome(action: str, response: dict[str, Any]) -> CommandStatus:
    """Status of a schema-valid CALLRESULT: from its ``status`` field where the action has one."""
    accepting = ACCEPTING_STATUSES[action]
    if accepting is None:
        return CommandStatus.ACCEPTED
    return CommandStatus.ACCEPTED if response.get("status") in accepting else CommandStatus.REJECTED
