"""How a simulated charger answers the central system's CALLs: one handler per action, in one table.

A handler gets the charger and the CALL's payload (snake_case keywords, as the ``ocpp`` package passes them)
and returns a ``Reply``: the CALLRESULT payload, plus an optional follow-up coroutine that runs after the
answer has been sent (starting a session, rebooting, sending the triggered message). Handlers never await
the central system themselves: the receive loop is blocked while they run. Actions missing from the table
are answered by the ``ocpp`` package with a ``NotImplemented`` CALLERROR.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ocpp.v16 import call, call_result, datatypes
from ocpp.v16.enums import (
    Action,
    AvailabilityStatus,
    AvailabilityType,
    ChargePointStatus,
    ClearCacheStatus,
    ConfigurationStatus,
    DataTransferStatus,
    DiagnosticsStatus,
    FirmwareStatus,
    Measurand,
    MessageTrigger,
    ReadingContext,
    Reason,
    RegistrationStatus,
    RemoteStartStopStatus,
    ResetStatus,
    ResetType,
    TriggerMessageStatus,
    UnlockStatus,
)

from voltway.simulator.meter import parse_measurands

if TYPE_CHECKING:
    from voltway.simulator.charger import SimulatedCharger


@dataclass(frozen=True)
class Reply:
    """A handler's answer to a central-system CALL, and what to do once it has been sent."""

    payload: Any
    then: Callable[[], Coroutine[Any, Any, None]] | None = None


CommandHandler = Callable[..., Reply]

# Keys GetConfiguration must not reveal (security whitepaper: AuthorizationKey is write-only).
WRITE_ONLY_KEYS = frozenset({"AuthorizationKey"})


def reset(cp: SimulatedCharger, *, type: str, **_: Any) -> Reply:
    reason = Reason.hard_reset if type == ResetType.hard else Reason.soft_reset
    return Reply(call_result.Reset(status=ResetStatus.accepted), then=lambda: cp.reboot(reason))


def remote_start_transaction(
    cp: SimulatedCharger, *, id_tag: str, connector_id: int | None = None, **_: Any
) -> Reply:
    rejected = Reply(call_result.RemoteStartTransaction(status=RemoteStartStopStatus.rejected))
    # Not allowed while Pending (OCPP 1.6 §4.2); connector 0 is not a valid target (§5.11).
    if cp.registration != RegistrationStatus.accepted or cp.shutting_down or connector_id == 0:
        return rejected
    if connector_id is not None:
        connector = cp.connectors.get(connector_id)
        if connector is None or connector.busy or not connector.operative:
            return rejected
    else:
        connector = cp.free_connector()
        if connector is None:
            return rejected
    cp.reserve(connector)  # now, so no other session takes the connector before the follow-up runs
    return Reply(
        call_result.RemoteStartTransaction(status=RemoteStartStopStatus.accepted),
        then=lambda: cp.run_session(connector, id_tag, remote=True),
    )


def remote_stop_transaction(cp: SimulatedCharger, *, transaction_id: int, **_: Any) -> Reply:
    if cp.registration == RegistrationStatus.accepted:
        for connector in cp.connectors.values():
            if connector.transaction_id == transaction_id:
                connector.request_stop(Reason.remote)
                return Reply(call_result.RemoteStopTransaction(status=RemoteStartStopStatus.accepted))
    return Reply(call_result.RemoteStopTransaction(status=RemoteStartStopStatus.rejected))


def change_configuration(cp: SimulatedCharger, *, key: str, value: str, **_: Any) -> Reply:
    entry = cp.configuration.get(key)
    if entry is None:
        return Reply(call_result.ChangeConfiguration(status=ConfigurationStatus.not_supported))
    if entry.readonly:
        return Reply(call_result.ChangeConfiguration(status=ConfigurationStatus.rejected))
    try:
        _apply_configuration(cp, key, value)
    except ValueError:
        return Reply(call_result.ChangeConfiguration(status=ConfigurationStatus.rejected))
    entry.value = value
    return Reply(call_result.ChangeConfiguration(status=ConfigurationStatus.accepted))


def _apply_configuration(cp: SimulatedCharger, key: str, value: str) -> None:
    """Validate ``value`` and make the keys that drive the simulation take effect; ValueError if invalid."""
    if key == "HeartbeatInterval":
        cp.heartbeat_interval_s = float(_non_negative_int(value))
    elif key == "MeterValueSampleInterval":
        seconds = _non_negative_int(value)
        if seconds > 0:
            cp.sample_interval_s = float(seconds)
    elif key == "MeterValuesSampledData":
        measurands: tuple[Measurand, ...] = parse_measurands(value)
        if not measurands:
            raise ValueError("empty")
        cp.measurands = measurands
    elif key in {"AuthorizeRemoteTxRequests", "StopTransactionOnInvalidId", "LocalPreAuthorize"}:
        if value.lower() not in {"true", "false"}:
            raise ValueError(value)
    elif key == "AuthorizationKey" and not 16 <= len(value) <= 40:
        raise ValueError("AuthorizationKey must be 16 to 40 characters")


def _non_negative_int(value: str) -> int:
    number = int(value)
    if number < 0:
        raise ValueError(value)
    return number


def get_configuration(cp: SimulatedCharger, *, key: list[str] | None = None, **_: Any) -> Reply:
    wanted = key or [k for k in cp.configuration if k not in WRITE_ONLY_KEYS]
    known = [
        datatypes.KeyValue(key=k, readonly=cp.configuration[k].readonly, value=cp.configuration[k].value)
        for k in wanted
        if k in cp.configuration and k not in WRITE_ONLY_KEYS
    ]
    unknown = [k for k in wanted if k not in cp.configuration or k in WRITE_ONLY_KEYS]
    return Reply(call_result.GetConfiguration(configuration_key=known, unknown_key=unknown or None))


def trigger_message(
    cp: SimulatedCharger, *, requested_message: str, connector_id: int | None = None, **_: Any
) -> Reply:
    if connector_id is not None and connector_id != 0 and connector_id not in cp.connectors:
        return Reply(call_result.TriggerMessage(status=TriggerMessageStatus.rejected))
    follow_up = _TRIGGERS.get(requested_message)
    if follow_up is None:
        return Reply(call_result.TriggerMessage(status=TriggerMessageStatus.not_implemented))
    return Reply(
        call_result.TriggerMessage(status=TriggerMessageStatus.accepted),
        then=lambda: follow_up(cp, connector_id),
    )


async def _trigger_boot(cp: SimulatedCharger, connector_id: int | None) -> None:
    await cp.boot()


async def _trigger_heartbeat(cp: SimulatedCharger, connector_id: int | None) -> None:
    await cp.request(call.Heartbeat())


async def _trigger_status(cp: SimulatedCharger, connector_id: int | None) -> None:
    if connector_id is None:
        await cp.send_status(0, ChargePointStatus.available)
    targets = [connector_id] if connector_id is not None else list(cp.connectors)
    for n in targets:
        connector = cp.connectors.get(n)
        await cp.send_status(n, connector.status if connector else ChargePointStatus.available)


async def _trigger_meter_values(cp: SimulatedCharger, connector_id: int | None) -> None:
    targets = [connector_id] if connector_id else list(cp.connectors)
    for n in targets:
        await cp.send_meter_values(cp.connectors[n], ReadingContext.trigger)


async def _trigger_diagnostics(cp: SimulatedCharger, connector_id: int | None) -> None:
    await cp.request(call.DiagnosticsStatusNotification(status=DiagnosticsStatus.idle))


async def _trigger_firmware(cp: SimulatedCharger, connector_id: int | None) -> None:
    await cp.request(call.FirmwareStatusNotification(status=FirmwareStatus.idle))


_TRIGGERS: dict[str, Callable[[SimulatedCharger, int | None], Coroutine[Any, Any, None]]] = {
    MessageTrigger.boot_notification: _trigger_boot,
    MessageTrigger.heartbeat: _trigger_heartbeat,
    MessageTrigger.status_notification: _trigger_status,
    MessageTrigger.meter_values: _trigger_meter_values,
    MessageTrigger.diagnostics_status_notification: _trigger_diagnostics,
    MessageTrigger.firmware_status_notification: _trigger_firmware,
}


def unlock_connector(cp: SimulatedCharger, *, connector_id: int, **_: Any) -> Reply:
    connector = cp.connectors.get(connector_id)
    if connector is None:
        return Reply(call_result.UnlockConnector(status=UnlockStatus.not_supported))
    if connector.busy:
        connector.request_stop(Reason.unlock_command)
    return Reply(call_result.UnlockConnector(status=UnlockStatus.unlocked))


def change_availability(cp: SimulatedCharger, *, connector_id: int, type: str, **_: Any) -> Reply:
    if connector_id != 0 and connector_id not in cp.connectors:
        return Reply(call_result.ChangeAvailability(status=AvailabilityStatus.rejected))
    operative = type == AvailabilityType.operative
    targets = list(cp.connectors.values()) if connector_id == 0 else [cp.connectors[connector_id]]
    scheduled = False
    changed = []
    for connector in targets:
        if not operative and connector.transaction_id is not None:
            # Inoperative waits for the running transaction to end (OCPP 1.6 §5.2).
            connector.pending_inoperative = True
            scheduled = True
        elif connector.operative != operative:
            connector.operative = operative
            changed.append(connector.connector_id)
        else:
            connector.pending_inoperative = False

    async def announce() -> None:
        if connector_id == 0:
            any_operative = any(c.operative for c in cp.connectors.values())
            await cp.send_status(
                0, ChargePointStatus.available if any_operative else ChargePointStatus.unavailable
            )
        for n in changed:
            if not cp.connectors[n].busy:
                status = ChargePointStatus.available if operative else ChargePointStatus.unavailable
                await cp.send_status(n, status)

    status = AvailabilityStatus.scheduled if scheduled else AvailabilityStatus.accepted
    return Reply(call_result.ChangeAvailability(status=status), then=announce)


def clear_cache(cp: SimulatedCharger, **_: Any) -> Reply:
    return Reply(call_result.ClearCache(status=ClearCacheStatus.accepted))


def data_transfer(
    cp: SimulatedCharger, *, vendor_id: str, message_id: str | None = None, data: str | None = None, **_: Any
) -> Reply:
    if vendor_id != cp.settings.vendor:
        return Reply(call_result.DataTransfer(status=DataTransferStatus.unknown_vendor_id))
    # Our own vendor id: echo the data back, so a platform can test the round trip.
    return Reply(call_result.DataTransfer(status=DataTransferStatus.accepted, data=data))


COMMAND_HANDLERS: dict[str, CommandHandler] = {
    Action.reset: reset,
    Action.remote_start_transaction: remote_start_transaction,
    Action.remote_stop_transaction: remote_stop_transaction,
    Action.change_configuration: change_configuration,
    Action.get_configuration: get_configuration,
    Action.trigger_message: trigger_message,
    Action.unlock_connector: unlock_connector,
    Action.change_availability: change_availability,
    Action.clear_cache: clear_cache,
    Action.data_transfer: data_transfer,
}
