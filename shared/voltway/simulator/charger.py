"""One simulated OCPP 1.6J charge point: boot, status, heartbeats, charging sessions, and commands.

Built on the ``ocpp`` package's v16 ``ChargePoint`` over a real WebSocket. Every frame in and out is
counted in the run's ``RunStats``. CALLs the central system sends are answered by the handler table in
``voltway.simulator.commands``; anything a handler must do *after* its answer went out (start a session,
reboot, send a triggered message) runs as a follow-up task, because the receive loop must stay free to
deliver the responses those follow-ups wait for.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from ocpp.exceptions import OCPPError
from ocpp.v16 import ChargePoint, call
from ocpp.v16.enums import (
    AuthorizationStatus,
    ChargePointErrorCode,
    ChargePointStatus,
    Measurand,
    ReadingContext,
    Reason,
    RegistrationStatus,
)

from voltway.simulator.commands import COMMAND_HANDLERS, CommandHandler
from voltway.simulator.meter import DEFAULT_MEASURANDS, ConnectorMeter, utc_now_iso
from voltway.simulator.stats import RunStats

LOGGER = logging.getLogger("voltway.simulator")


def session_id_tag(charger_id: str, configured: str | None = None) -> str:
    """The idTag a simulated charger's own sessions use: ``configured``, else one per charger (≤ 20 chars)."""
    return configured or f"TAG-{charger_id}"[:20]


@dataclass(frozen=True)
class ChargerSettings:
    """How each simulated charger behaves. Times in seconds, power in W."""

    connectors: int = 2
    max_power_w: float = 11_000.0
    phases: int = 3
    sessions: int = 1
    meter_samples: int = 3
    sample_interval_s: float = 10.0
    measurands: tuple[Measurand, ...] = DEFAULT_MEASURANDS
    per_phase: bool = False
    transaction_data: bool = False
    heartbeat_interval_s: float | None = None  # overrides the interval BootNotification returned
    id_tag: str | None = None  # default: one tag per charger
    stop_reason: Reason = Reason.local
    response_timeout_s: float = 30.0
    boot_retry_fallback_s: float = 30.0  # when the central system answers interval 0
    max_boot_attempts: int = 5
    pause_between_sessions_s: float = 0.0
    vendor: str = "Voltway"
    model: str = "Simulator"
    firmware_version: str = "sim-1.0"


@dataclass(frozen=True)
class CallOutcome:
    """A CALL's result payload (``ocpp`` call_result dataclass), or why there is none."""

    result: Any = None
    error: str | None = None  # "CALLERROR <code>", "timeout", "invalid response"

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class Connector:
    """State of one connector (ids from 1)."""

    connector_id: int
    meter: ConnectorMeter
    status: ChargePointStatus = ChargePointStatus.available
    operative: bool = True
    transaction_id: int | None = None
    busy: bool = False  # reserved or charging: no new session may start here
    stop_event: asyncio.Event = field(default_factory=asyncio.Event)
    stop_reason: Reason | None = None
    pending_inoperative: bool = False  # ChangeAvailability answered Scheduled

    def request_stop(self, reason: Reason) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason
        self.stop_event.set()


@dataclass
class ConfigEntry:
    value: str
    readonly: bool = False


class SimulatedCharger(ChargePoint):  # type: ignore[misc]  # ocpp ships no type hints
    def __init__(
        self,
        charger_id: str,
        connection: Any,
        settings: ChargerSettings,
        stats: RunStats,
        *,
        handlers: dict[str, CommandHandler] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(charger_id, connection, response_timeout=settings.response_timeout_s)
        self.settings = settings
        self.stats = stats
        self.rng = rng or random.Random()
        self.id_tag = session_id_tag(charger_id, settings.id_tag)
        self.registration: RegistrationStatus | None = None
        self.heartbeat_interval_s = settings.heartbeat_interval_s or 0.0
        self.sample_interval_s = settings.sample_interval_s
        self.measurands = settings.measurands
        self.connectors = {
            n: Connector(n, ConnectorMeter(settings.max_power_w, settings.phases, rng=self.rng))
            for n in range(1, settings.connectors + 1)
        }
        self.configuration = self._initial_configuration()
        self.ready = asyncio.Event()  # Accepted and statuses announced
        self.shutting_down = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._connector_freed = asyncio.Condition()
        self._followups: dict[str, Callable[[], Coroutine[Any, Any, None]]] = {}
        self._call_errors: dict[str, str] = {}
        self.route_map = {
            action: self._route(handler) for action, handler in (handlers or COMMAND_HANDLERS).items()
        }

    # -- configuration keys -------------------------------------------------------------------------

    def _initial_configuration(self) -> dict[str, ConfigEntry]:
        s = self.settings
        return {
            "AuthorizeRemoteTxRequests": ConfigEntry("false"),
            "ClockAlignedDataInterval": ConfigEntry("0"),
            "ConnectionTimeOut": ConfigEntry("60"),
            "GetConfigurationMaxKeys": ConfigEntry("50", readonly=True),
            "HeartbeatInterval": ConfigEntry(str(int(s.heartbeat_interval_s or 0))),
            "LocalAuthorizeOffline": ConfigEntry("false"),
            "LocalPreAuthorize": ConfigEntry("false"),
            "MeterValuesAlignedData": ConfigEntry(""),
            "MeterValuesSampledData": ConfigEntry(",".join(s.measurands)),
            "MeterValueSampleInterval": ConfigEntry(f"{s.sample_interval_s:g}"),
            "NumberOfConnectors": ConfigEntry(str(s.connectors), readonly=True),
            "ResetRetries": ConfigEntry("1"),
            "StopTransactionOnEVSideDisconnect": ConfigEntry("true"),
            "StopTransactionOnInvalidId": ConfigEntry("true"),
            "StopTxnAlignedData": ConfigEntry(""),
            "StopTxnSampledData": ConfigEntry(",".join(DEFAULT_MEASURANDS[:1])),
            "SupportedFeatureProfiles": ConfigEntry("Core,RemoteTrigger", readonly=True),
            "TransactionMessageAttempts": ConfigEntry("3"),
            "TransactionMessageRetryInterval": ConfigEntry("10"),
            "UnlockConnectorOnEVSideDisconnect": ConfigEntry("true"),
            "WebSocketPingInterval": ConfigEntry("20"),
            "AuthorizationKey": ConfigEntry(""),  # write-only: GetConfiguration never reveals it
            "SecurityProfile": ConfigEntry("1"),
        }

    # -- frames in and out: counting and latency ----------------------------------------------------

    async def _send(self, message: str) -> None:
        frame = json.loads(message)
        if frame[0] == 2:
            self.stats.call_sent(self.id, frame[1], frame[2])
        else:
            self.stats.frame_sent()
        await self._connection.send(message)

    async def route_message(self, raw_msg: str) -> None:
        try:
            frame = json.loads(raw_msg)
            kind, unique_id = frame[0], str(frame[1])
        except (ValueError, TypeError, IndexError, KeyError):
            self.stats.frame_received()
            LOGGER.warning("%s: unparsable frame from central system: %.200s", self.id, raw_msg)
            return
        if kind == 2:
            self.stats.incoming_call(str(frame[2]) if len(frame) > 2 else "?")
            if self.registration == RegistrationStatus.rejected:
                # While Rejected a charge point SHALL NOT respond to central-system CALLs (OCPP 1.6 §4.2).
                self.stats.incoming_ignored += 1
                return
        elif kind == 3:
            self.stats.response_received(self.id, unique_id, None)
        elif kind == 4:
            code = str(frame[2]) if len(frame) > 2 else "?"
            self.stats.response_received(self.id, unique_id, code)
            self._call_errors[unique_id] = code
        else:
            self.stats.frame_received()
        await super().route_message(raw_msg)

    def _route(self, handler: CommandHandler) -> dict[str, Any]:
        async def on_action(call_unique_id: str, **payload: Any) -> Any:
            reply = handler(self, **payload)
            if reply.then is not None:
                self._followups[call_unique_id] = reply.then
            return reply.payload

        def after_action(call_unique_id: str, **payload: Any) -> None:
            then = self._followups.pop(call_unique_id, None)
            if then is not None:
                self.spawn(then())

        return {"_on_action": on_action, "_after_action": after_action, "_skip_schema_validation": False}

    def spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run ``coro`` in the background, keeping a reference until it ends."""
        task = asyncio.get_running_loop().create_task(self._guard(coro))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _guard(self, coro: Awaitable[None]) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception as e:  # a background step failing must not take the charger down silently
            if not self.shutting_down:
                LOGGER.warning("%s: background task failed: %r", self.id, e)

    async def request(self, payload: Any) -> CallOutcome:
        """Send one CALL and wait for its answer; never raises for CALLERROR, timeout or bad payload."""
        action = type(payload).__name__
        unique_id = str(uuid.uuid4())
        try:
            result = await self.call(payload, suppress=False, unique_id=unique_id)
        except TimeoutError:
            self.stats.call_timed_out(action)
            return CallOutcome(error="timeout")
        except OCPPError as e:
            code = self._call_errors.pop(unique_id, None)
            if code is not None:
                return CallOutcome(error=f"CALLERROR {code}")
            self.stats.response_invalid(action)
            LOGGER.warning("%s: invalid %s response: %s", self.id, action, e)
            return CallOutcome(error="invalid response")
        return CallOutcome(result=result)

    # -- boot, status, heartbeat --------------------------------------------------------------------

    async def boot(self) -> bool:
        """BootNotification until Accepted (waiting ``interval`` after Pending/Rejected, per §4.2)."""
        for attempt in range(1, self.settings.max_boot_attempts + 1):
            outcome = await self.request(
                call.BootNotification(
                    charge_point_model=self.settings.model,
                    charge_point_vendor=self.settings.vendor,
                    charge_point_serial_number=self.id[:25],
                    firmware_version=self.settings.firmware_version,
                )
            )
            if outcome.error is not None and outcome.error.startswith("CALLERROR"):
                # A central system still under construction: carry on as if accepted.
                self.registration = RegistrationStatus.accepted
                return True
            if outcome.result is None:
                wait = self.settings.boot_retry_fallback_s
            else:
                self.registration = RegistrationStatus(outcome.result.status)
                interval = float(outcome.result.interval)
                if self.registration == RegistrationStatus.accepted:
                    if self.settings.heartbeat_interval_s is None:
                        self.heartbeat_interval_s = interval
                        self.configuration["HeartbeatInterval"].value = str(int(interval))
                    return True
                wait = interval if interval > 0 else self.settings.boot_retry_fallback_s
            if attempt < self.settings.max_boot_attempts:
                await asyncio.sleep(wait)
        return False

    async def send_status(self, connector_id: int, status: ChargePointStatus) -> CallOutcome:
        if connector_id in self.connectors:
            self.connectors[connector_id].status = status
        return await self.request(
            call.StatusNotification(
                connector_id=connector_id,
                error_code=ChargePointErrorCode.no_error,
                status=status,
                timestamp=utc_now_iso(),
            )
        )

    async def announce_statuses(self) -> None:
        """StatusNotification for connector 0 (the whole charger) and for each connector."""
        any_operative = any(c.operative for c in self.connectors.values())
        await self.send_status(
            0, ChargePointStatus.available if any_operative else ChargePointStatus.unavailable
        )
        for connector in self.connectors.values():
            await self.send_status(connector.connector_id, self._idle_status(connector))

    @staticmethod
    def _idle_status(connector: Connector) -> ChargePointStatus:
        return ChargePointStatus.available if connector.operative else ChargePointStatus.unavailable

    async def heartbeat_loop(self) -> None:
        while True:
            interval = self.heartbeat_interval_s if self.heartbeat_interval_s > 0 else 300.0
            await asyncio.sleep(interval)
            await self.ready.wait()
            await self.request(call.Heartbeat())

    async def reboot(self, reason: Reason) -> None:
        """What a Reset does: stop transactions (``reason`` SoftReset/HardReset), boot, announce again.

        The simulator keeps its WebSocket open across the "reboot" (a real charger reconnects).
        """
        self.ready.clear()
        await self.stop_all_sessions(reason)
        if await self.boot():
            await self.announce_statuses()
            self.ready.set()

    # -- sessions -----------------------------------------------------------------------------------

    def free_connector(self, preferred: int | None = None) -> Connector | None:
        """An operative connector with no session, trying ``preferred`` first."""
        order = sorted(self.connectors)
        if preferred is not None and preferred in self.connectors:
            order.remove(preferred)
            order.insert(0, preferred)
        for n in order:
            connector = self.connectors[n]
            if connector.operative and not connector.busy:
                return connector
        return None

    def reserve(self, connector: Connector) -> None:
        connector.busy = True
        connector.stop_event = asyncio.Event()
        connector.stop_reason = None

    async def run_planned_session(self, index: int) -> None:
        await self.ready.wait()
        connector = self.free_connector(preferred=index % len(self.connectors) + 1)
        if connector is None:
            self.stats.session_skipped(self.id, "no free connector", remote=False)
            return
        self.reserve(connector)
        await self.run_session(connector, self.id_tag, remote=False)

    async def run_session(self, connector: Connector, id_tag: str, remote: bool) -> None:
        """Authorize → Preparing → StartTransaction → Charging → MeterValues… → StopTransaction → idle.

        ``connector`` must already be reserved. Planned sessions send ``meter_samples`` samples; remote
        ones charge until stopped (RemoteStop, Reset, UnlockConnector, or the end of the run).
        """
        try:
            await self._session(connector, id_tag, remote)
            if connector.pending_inoperative:
                connector.pending_inoperative = False
                connector.operative = False
                await self.send_status(connector.connector_id, ChargePointStatus.unavailable)
        finally:
            connector.busy = False
            connector.transaction_id = None
            async with self._connector_freed:
                self._connector_freed.notify_all()

    async def _session(self, connector: Connector, id_tag: str, remote: bool) -> None:
        n = connector.connector_id
        must_authorize = not remote or self.configuration["AuthorizeRemoteTxRequests"].value == "true"
        if must_authorize:
            auth = await self.request(call.Authorize(id_tag=id_tag))
            if auth.result is not None and _tag_status(auth.result) != AuthorizationStatus.accepted:
                self.stats.session_skipped(self.id, f"Authorize {_tag_status(auth.result)}", remote)
                return
        await self.send_status(n, ChargePointStatus.preparing)
        meter_start = connector.meter.start_session()
        start = await self.request(
            call.StartTransaction(
                connector_id=n, id_tag=id_tag, meter_start=meter_start, timestamp=utc_now_iso()
            )
        )
        if start.result is None:
            # Nothing to meter or stop without a transaction id: give the connector back.
            self.stats.session_skipped(self.id, f"StartTransaction {start.error}", remote)
            connector.meter.stop_session()
            await self.send_status(n, self._idle_status(connector))
            return
        connector.transaction_id = int(start.result.transaction_id)
        begin = connector.meter.meter_value(self.measurands, ReadingContext.transaction_begin)
        if _tag_status(start.result) != AuthorizationStatus.accepted:
            connector.request_stop(Reason.de_authorized)
        else:
            await self.send_status(n, ChargePointStatus.charging)
            connector.meter.advance(0.0)
            await self._meter_loop(connector, None if remote else self.settings.meter_samples)
        reason = connector.stop_reason or (Reason.local if remote else self.settings.stop_reason)
        meter_stop = connector.meter.stop_session()
        transaction_data = None
        if self.settings.transaction_data:
            end = connector.meter.meter_value(self.measurands, ReadingContext.transaction_end)
            transaction_data = [begin, end]
        stop = await self.request(
            call.StopTransaction(
                meter_stop=meter_stop,
                timestamp=utc_now_iso(),
                transaction_id=connector.transaction_id,
                reason=reason,
                id_tag=id_tag,
                transaction_data=transaction_data,
            )
        )
        if stop.ok:
            self.stats.session_completed(self.id, meter_stop - meter_start, remote)
        else:
            self.stats.session_skipped(self.id, f"StopTransaction {stop.error}", remote)
        connector.transaction_id = None
        await self.send_status(n, ChargePointStatus.finishing)
        await self.send_status(n, self._idle_status(connector))

    async def _meter_loop(self, connector: Connector, samples: int | None) -> None:
        last = time.monotonic()
        sent = 0
        while samples is None or sent < samples:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(connector.stop_event.wait(), timeout=self.sample_interval_s)
            if connector.stop_event.is_set():
                return
            now = time.monotonic()
            connector.meter.advance(now - last)
            last = now
            await self.send_meter_values(connector)
            sent += 1

    async def send_meter_values(
        self, connector: Connector, context: ReadingContext = ReadingContext.sample_periodic
    ) -> CallOutcome:
        value = connector.meter.meter_value(self.measurands, context, self.settings.per_phase)
        return await self.request(
            call.MeterValues(
                connector_id=connector.connector_id,
                meter_value=[value],
                transaction_id=connector.transaction_id,
            )
        )

    async def stop_all_sessions(self, reason: Reason | None = None) -> None:
        """Ask every running session to stop (``reason`` None: each keeps its own) and wait for them."""
        for connector in self.connectors.values():
            if connector.busy:
                connector.request_stop(reason or Reason.local)
        async with self._connector_freed:
            await self._connector_freed.wait_for(lambda: not any(c.busy for c in self.connectors.values()))

    # -- the whole life of one connected charger ----------------------------------------------------

    async def simulate(self, linger_until: float) -> str | None:
        """Boot, announce, heartbeat, run the planned sessions, stay until ``linger_until``.

        ``linger_until`` is a ``time.monotonic()`` deadline. Returns None on success, else a problem.
        """
        if not await self.boot():
            return f"BootNotification not accepted ({self.registration or 'no answer'})"
        await self.announce_statuses()
        self.ready.set()
        self.spawn(self.heartbeat_loop())
        for index in range(self.settings.sessions):
            if index and self.settings.pause_between_sessions_s > 0:
                await asyncio.sleep(self.settings.pause_between_sessions_s)
            await self.run_planned_session(index)
        remaining = linger_until - time.monotonic()
        if remaining > 0:
            await asyncio.sleep(remaining)
        await self.shutdown()
        return None

    async def shutdown(self) -> None:
        """End remote sessions, then stop background work without leaving a CALL unanswered."""
        self.shutting_down = True
        await self.stop_all_sessions(Reason.local)
        async with self._call_lock:  # held by any CALL in flight until its answer arrives
            for task in list(self._tasks):
                task.cancel()
            if self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def cancel_background(self) -> None:
        """Cancel whatever background work is left (after an abnormal end; ``shutdown`` is the tidy way)."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


def _tag_status(result: Any) -> str:
    info = getattr(result, "id_tag_info", None) or {}
    return str(info.get("status", AuthorizationStatus.accepted))
