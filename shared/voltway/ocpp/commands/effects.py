"""What an *accepted* answer changes in what we know of the charger: one pure function per action.

``ON_ACCEPTED`` is the table; actions not in it change nothing we track. Each effect gets the state as
stored, the completed command (request payload as sent, response as received) and the completion time,
and returns the new state. Only what the charger confirmed is recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from voltway.ocpp.actions import Action
from voltway.ocpp.commands.model import Command
from voltway.ocpp.commands.reported import ReportedState
from voltway.ocpp.timestamps import format_datetime

Effect = Callable[[ReportedState, Command, datetime], ReportedState]


def _response(command: Command) -> dict[str, Any]:
    return command.response or {}


def configuration_read(state: ReportedState, command: Command, at: datetime) -> ReportedState:
    """GetConfiguration: the keys as last read. A read of all keys (no ``key`` in the request) replaces
    the stored set; a read of some keys updates those and drops the ones the charger called unknown."""
    response = _response(command)
    read = {
        entry["key"]: {
            "value": entry.get("value"),
            "readonly": entry["readonly"],
            "at": format_datetime(at),
            "source": Action.get_configuration.value,
        }
        for entry in response.get("configurationKey") or []
    }
    unknown = tuple(response.get("unknownKey") or ())
    read_at = state.configuration_read_at
    if not command.payload.get("key"):
        configuration = read
        read_at = format_datetime(at)
    else:
        configuration = {k: v for k, v in state.configuration.items() if k not in unknown}
        configuration.update(read)
    return replace(
        state, configuration=configuration, unknown_configuration_keys=unknown, configuration_read_at=read_at
    )


def configuration_changed(state: ReportedState, command: Command, at: datetime) -> ReportedState:
    """ChangeConfiguration Accepted / RebootRequired: the key now holds the value sent."""
    key, value = command.payload["key"], command.payload["value"]
    entry: dict[str, Any] = {
        "value": value,
        # the charger accepted a write, so the key is not read-only
        "readonly": False,
        "at": format_datetime(at),
        "source": Action.change_configuration.value,
    }
    if _response(command).get("status") == "RebootRequired":
        entry["reboot_required"] = True
    return replace(state, configuration={**state.configuration, key: entry})


def local_list_sent(state: ReportedState, command: Command, at: datetime) -> ReportedState:
    """SendLocalList Accepted: the charger's local authorization list is now at ``listVersion``."""
    request = command.payload
    local_list = {
        "version": request["listVersion"],
        "update_type": request["updateType"],
        "entries": len(request.get("localAuthorizationList") or []),
        "at": format_datetime(at),
        "source": Action.send_local_list.value,
    }
    return replace(state, local_list=local_list)


def local_list_version_read(state: ReportedState, command: Command, at: datetime) -> ReportedState:
    """GetLocalListVersion: the version as last read (0: empty list, -1: not supported)."""
    local_list = {
        "version": _response(command)["listVersion"],
        "update_type": None,
        "at": format_datetime(at),
        "source": Action.get_local_list_version.value,
    }
    return replace(state, local_list=local_list)


def charging_profile_set(state: ReportedState, command: Command, at: datetime) -> ReportedState:
    """SetChargingProfile Accepted, with the replace rules of OCPP 1.6 sections 3.13.2 / 5.16.3-4:
    an installed profile with the same ``chargingProfileId`` is replaced, and so is one with the same
    ``stackLevel`` and ``chargingProfilePurpose`` on the same connector; otherwise the profile is added."""
    connector_id = command.payload["connectorId"]
    profile = command.payload["csChargingProfiles"]
    profile_id = profile["chargingProfileId"]
    purpose, stack_level = profile["chargingProfilePurpose"], profile["stackLevel"]
    kept = {
        pid: installed
        for pid, installed in state.charging_profiles.items()
        if pid != str(profile_id)
        and not (
            installed["connector_id"] == connector_id
            and installed["purpose"] == purpose
            and installed["stack_level"] == stack_level
        )
    }
    kept[str(profile_id)] = {
        "connector_id": connector_id,
        "purpose": purpose,
        "stack_level": stack_level,
        "transaction_id": profile.get("transactionId"),
        "profile": profile,
        "installed_at": format_datetime(at),
        "command_id": command.command_id,
    }
    return replace(state, charging_profiles=kept)


def charging_profiles_cleared(state: ReportedState, command: Command, at: datetime) -> ReportedState:
    """ClearChargingProfile Accepted: remove the profiles that match every given criterion (logical AND,
    OCPP 1.6 errata 3.25/3.26); no criteria: all of them."""
    criteria = command.payload

    def matches(pid: str, installed: dict[str, Any]) -> bool:
        return (
            ("id" not in criteria or pid == str(criteria["id"]))
            and ("connectorId" not in criteria or installed["connector_id"] == criteria["connectorId"])
            and (
                "chargingProfilePurpose" not in criteria
                or installed["purpose"] == criteria["chargingProfilePurpose"]
            )
            and ("stackLevel" not in criteria or installed["stack_level"] == criteria["stackLevel"])
        )

    kept = {pid: p for pid, p in state.charging_profiles.items() if not matches(pid, p)}
    return replace(state, charging_profiles=kept)


def reservation_made(state: ReportedState, command: Command, at: datetime) -> ReportedState:
    """ReserveNow Accepted: the reservation, with its expiry. A reservation with the same id is
    replaced (OCPP 1.6 section 5.13)."""
    request = command.payload
    reservation = {
        "connector_id": request["connectorId"],
        "id_tag": request["idTag"],
        "parent_id_tag": request.get("parentIdTag"),
        "expiry_date": request["expiryDate"],
        "status": "Reserved",
        "reserved_at": format_datetime(at),
        "command_id": command.command_id,
    }
    return replace(state, reservations={**state.reservations, str(request["reservationId"]): reservation})


def reservation_cancelled(state: ReportedState, command: Command, at: datetime) -> ReportedState:
    """CancelReservation Accepted: the reservation is cancelled (kept, marked, for the record)."""
    key = str(command.payload["reservationId"])
    existing = state.reservations.get(key)
    if existing is None:
        # Made elsewhere (another central system, before our records): the charger confirmed the id.
        existing = {"connector_id": None, "id_tag": None, "parent_id_tag": None, "expiry_date": None}
    cancelled = {**existing, "status": "Cancelled", "cancelled_at": format_datetime(at)}
    return replace(state, reservations={**state.reservations, key: cancelled})


ON_ACCEPTED: Mapping[str, Effect] = {
    Action.get_configuration: configuration_read,
    Action.change_configuration: configuration_changed,
    Action.send_local_list: local_list_sent,
    Action.get_local_list_version: local_list_version_read,
    Action.set_charging_profile: charging_profile_set,
    Action.clear_charging_profile: charging_profiles_cleared,
    Action.reserve_now: reservation_made,
    Action.cancel_reservation: reservation_cancelled,
}
