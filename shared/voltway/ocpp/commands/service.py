"""The command flow (architecture flow 2): operator request -> command record -> CALL to the charger ->
CALLRESULT/CALLERROR in a later invocation -> outcome, effects, next command.

OCPP-J 1.6 section 4.1.1: a central system SHOULD NOT send a CALL until the previous one was answered or
timed out. So each charger has a queue and ONE in-flight slot; whoever changes the queue (a new command,
an answer, a timeout, a disconnect) calls ``_advance``, which sends the head of the queue only after
winning the slot with a conditional write. Every outcome is set by a conditional write on the command
(``CommandStore.finish``), so duplicates and races change nothing twice. No process holds state: every
step may run in a different Lambda invocation.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from voltway.chargers.errors import ChargerNotFound
from voltway.chargers.model import Charger
from voltway.chargers.ports import ChargerRepository
from voltway.observability import correlate, count, logger
from voltway.ocpp import frames
from voltway.ocpp.commands import catalog
from voltway.ocpp.commands.effects import ON_ACCEPTED
from voltway.ocpp.commands.errors import CommandNotFound, ConcurrentUpdate, QueueFull
from voltway.ocpp.commands.model import PENDING, Command, CommandPage, CommandStatus, InFlight
from voltway.ocpp.commands.ports import BootReadClaims, CommandQueue, CommandStore, ReportedStateStore
from voltway.ocpp.commands.reported import ReportedState
from voltway.ocpp.ports import ChargerConnections, ConnectionGone

Clock = Callable[[], datetime]
Sleep = Callable[[float], None]
# Bounds the retries of one step (lost races re-read and try again; they cannot loop for ever).
MAX_STEPS = 8
# ?wait polling: GetItem after 50 ms, doubling up to 500 ms.
FIRST_POLL_S = 0.05
MAX_POLL_S = 0.5


@dataclass(frozen=True, slots=True)
class CommandPolicy:
    timeout: timedelta  # a sent CALL not answered within this is failed with status timeout
    max_queued: int = 20  # commands waiting per charger (besides the one in flight)
    # After an Accepted boot, the configuration is read unless it was read within this window.
    boot_read_fresh: timedelta = timedelta(minutes=10)
    # Two boots within this window queue one read at most (reconnect storms); a read that failed
    # (offline, timeout) is tried again by a boot after it.
    boot_read_claim: timedelta = timedelta(seconds=60)


def encode_call(unique_id: str, action: str, payload: dict[str, Any]) -> str:
    return json.dumps([frames.CALL, unique_id, action, payload], separators=(",", ":"), ensure_ascii=False)


def _error(code: str, description: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"code": code, "description": description, "details": details or {}}


class CommandService:
    def __init__(
        self,
        *,
        chargers: ChargerRepository,
        store: CommandStore,
        queue: CommandQueue,
        reported: ReportedStateStore,
        sender: ChargerConnections,
        policy: CommandPolicy,
        clock: Clock | None = None,
        sleep: Sleep = time.sleep,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
        boot_claims: BootReadClaims | None = None,
    ) -> None:
        self._boot_claims = boot_claims
        self._chargers = chargers
        self._store = store
        self._queue = queue
        self._reported = reported
        self._sender = sender
        self._policy = policy
        self._clock: Clock = clock or (lambda: datetime.now(UTC))
        self._sleep = sleep
        self._new_id = new_id

    # ------------------------------------------------------------------ operator API
    def submit(self, tenant_id: str, charge_point_id: str, action: str, payload: Any) -> Command:
        """Validate, record, and send now if the charger's slot is free (else it waits its turn).
        Raises ``UnknownCommand``, ``InvalidCommand``, ``ChargerNotFound``, ``QueueFull``."""
        catalog.require_action(action)
        request = catalog.validate_request(action, payload)
        charger = self._owned_charger(tenant_id, charge_point_id)
        now = self._clock()
        command = Command(
            command_id=self._new_id(),
            charge_point_id=charge_point_id,
            tenant_id=tenant_id,
            action=action,
            payload=request,
            status=CommandStatus.QUEUED,
            created_at=now,
        )
        correlate(charge_point_id=charge_point_id, command_id=command.command_id)
        count("CommandSubmitted")
        if not _connected(charger):
            offline = replace(
                command,
                status=CommandStatus.OFFLINE,
                completed_at=now,
                error=_error("Offline", "the charger is not connected"),
            )
            self._store.create(offline)
            count("CommandOffline")
            return offline
        self._store.create(command)
        if not self._queue.enqueue(charge_point_id, command.command_id, self._policy.max_queued):
            self._store.finish(
                command.command_id,
                CommandStatus.ERROR,
                now,
                expected=PENDING,
                error=_error("QueueFull", f"{self._policy.max_queued} commands are waiting already"),
            )
            raise QueueFull(
                f"{self._policy.max_queued} commands are waiting for {charge_point_id} already",
                {"charge_point_id": charge_point_id, "max_queued": self._policy.max_queued},
            )
        self._advance(charge_point_id, now)
        return self._store.get(command.command_id) or command

    def get(self, tenant_id: str, command_id: str) -> Command:
        command = self._store.get(command_id)
        if command is None or command.tenant_id != tenant_id:
            raise CommandNotFound(f"no command {command_id!r}", {"command_id": command_id})
        return command

    def wait(self, tenant_id: str, command_id: str, seconds: float) -> Command:
        """The command once it has an outcome, or as it is after ``seconds``. Polls with GetItem
        (50 ms, doubling to 500 ms); enforces the deadline itself rather than waiting for the monitor."""
        command = self.get(tenant_id, command_id)
        end = self._clock() + timedelta(seconds=seconds)
        delay = FIRST_POLL_S
        while not command.status.terminal:
            now = self._clock()
            due = command.deadline is not None and now >= command.deadline
            if due or command.status is CommandStatus.QUEUED:
                # a due CALL (ours or the one we queue behind) is timed out here, and the next one sent
                self._advance(command.charge_point_id, now)
                command = self._store.get(command_id) or command
                if command.status.terminal:
                    break
            if now >= end:
                break
            self._sleep(max(0.0, min(delay, (end - now).total_seconds())))
            delay = min(delay * 2, MAX_POLL_S)
            command = self._store.get(command_id) or command
        return command

    def list_for_charger(
        self, tenant_id: str, charge_point_id: str, limit: int, cursor: str | None
    ) -> CommandPage:
        self._owned_charger(tenant_id, charge_point_id)
        return self._store.list_for_charger(charge_point_id, limit, cursor)

    def reported(self, charge_point_id: str) -> ReportedState:
        """What the charger reported through accepted commands (the caller checked the tenant)."""
        return self._reported.get(charge_point_id)

    # ------------------------------------------------------------------ charger side ($default, $disconnect)
    def after_boot_accepted(self, charge_point_id: str, now: datetime) -> Command | None:
        """Queue a GetConfiguration (all keys) after the BootNotification.conf Accepted was posted, so the
        configuration keys as last read (smart-charging capabilities included) are fresh. Skipped when the
        configuration was read within ``boot_read_fresh``, a GetConfiguration is queued or in flight, or
        another boot claimed the read within ``boot_read_claim``. The command, if one was queued."""
        if self._boot_claims is None:
            return None
        charger = self._chargers.get(charge_point_id)
        if charger is None or not _connected(charger):
            return None
        read_at = self._reported.get(charge_point_id).configuration_read_at
        if read_at is not None and now - _parse_utc(read_at) < self._policy.boot_read_fresh:
            count("BootConfigurationReadFresh")
            return None
        if self._configuration_read_pending(charge_point_id):
            count("BootConfigurationReadPending")
            return None
        if not self._boot_claims.claim(charge_point_id, now, now - self._policy.boot_read_claim):
            count("BootConfigurationReadClaimed")
            return None
        try:
            command = self.submit(charger.tenant_id, charge_point_id, "GetConfiguration", {})
        except QueueFull:
            logger.info("boot configuration read not queued: queue full")
            return None
        count("BootConfigurationReadQueued")
        return command

    def _configuration_read_pending(self, charge_point_id: str) -> bool:
        state = self._queue.state(charge_point_id)
        ids = ([state.in_flight.command_id] if state.in_flight else []) + list(state.queued)
        for command_id in ids:
            command = self._store.get(command_id)
            if (
                command is not None
                and command.action == "GetConfiguration"
                and not command.payload.get("key")
            ):
                return True
        return False

    def on_answer(
        self, charge_point_id: str, message: frames.CallResult | frames.CallError, now: datetime
    ) -> Command | None:
        """Correlate a CALLRESULT/CALLERROR with the in-flight command by unique id, complete it, apply
        its effect if accepted, and send the next queued command. Unmatched answers (late, duplicate,
        unknown) are logged and change nothing. The completed command, if this answer completed one."""
        in_flight = self._queue.state(charge_point_id).in_flight
        if in_flight is None or in_flight.unique_id != message.unique_id:
            count("CommandAnswerUnmatched")
            logger.info("answer matches no command in flight", answered_unique_id=message.unique_id)
            self._advance(charge_point_id, now)
            return None
        correlate(command_id=in_flight.command_id)
        command = self._store.get(in_flight.command_id)
        done: Command | None = None
        if command is not None:
            status, response, error = self._classify(command.action, message)
            done = self._store.finish(
                command.command_id,
                status,
                now,
                expected=(CommandStatus.SENT,),
                unique_id=message.unique_id,
                response=response,
                error=error,
            )
            if done is not None:
                count(f"Command{status.value.title()}")
                logger.info("command answered", action=command.action, status=status.value)
                if status is CommandStatus.ACCEPTED:
                    self._apply_effect(done, now)
        self._queue.release(charge_point_id, in_flight.command_id)
        self._advance(charge_point_id, now)
        return done

    def on_frame(self, charge_point_id: str, now: datetime) -> None:
        """Any frame from the charger: time out a due in-flight CALL and send the next one now, instead
        of waiting for the monitor (one GetItem when there is nothing to do)."""
        self._advance(charge_point_id, now)

    def charger_disconnected(self, charge_point_id: str, connection_id: str) -> None:
        """$disconnect: a charger that is gone fails its in-flight and queued commands as offline. If it
        reconnected already (the new $connect won the race), only a CALL sent over the old connection
        fails; the queue goes on over the new one."""
        now = self._clock()
        charger = self._chargers.get(charge_point_id)
        if charger is None or not _connected(charger) or charger.connection_id == connection_id:
            self._fail_all(charge_point_id, now, "the charger disconnected")
            return
        in_flight = self._queue.state(charge_point_id).in_flight
        if in_flight is not None and in_flight.connection_id == connection_id:
            self._finish_in_flight(
                charge_point_id,
                in_flight,
                CommandStatus.OFFLINE,
                now,
                _error("Offline", "the connection closed before the answer"),
            )
        self._advance(charge_point_id, now)

    def expire_due(self) -> int:
        """Monitor sweep: time out every in-flight CALL past its deadline and send the next queued
        commands. The number of chargers swept."""
        now = self._clock()
        due = self._queue.due(now)
        for charge_point_id in due:
            try:
                self._advance(charge_point_id, now)
            except Exception:
                logger.exception("command sweep failed", charge_point_id=charge_point_id)
        return len(due)

    # ------------------------------------------------------------------ the queue
    def _advance(self, charge_point_id: str, now: datetime) -> None:
        """Time out a due in-flight CALL, then send the head of the queue if the slot is free."""
        for _ in range(MAX_STEPS):
            state = self._queue.state(charge_point_id)
            in_flight = state.in_flight
            if in_flight is not None:
                if now < in_flight.deadline:
                    return
                self._finish_in_flight(
                    charge_point_id,
                    in_flight,
                    CommandStatus.TIMEOUT,
                    now,
                    _error("Timeout", f"no answer within {int(self._policy.timeout.total_seconds())} s"),
                )
                continue
            if not state.queued:
                return
            if self._send(charge_point_id, state.queued[0], now):
                return
        logger.warning("command queue did not settle", charge_point_id=charge_point_id)

    def _send(self, charge_point_id: str, command_id: str, now: datetime) -> bool:
        """Try to send ``command_id`` (the head). True when done for now (sent, or the queue was failed);
        False to look at the queue again (lost the slot race, or the command was dropped meanwhile)."""
        charger = self._chargers.get(charge_point_id)
        if charger is None or not _connected(charger) or charger.connection_id is None:
            self._fail_all(charge_point_id, now, "the charger is not connected")
            return True
        connection_id = charger.connection_id
        # One CALL per command, never re-sent: the command id doubles as the OCPP-J unique id (36 chars).
        unique_id = command_id
        in_flight = InFlight(command_id, unique_id, connection_id, now, now + self._policy.timeout)
        if not self._queue.claim(charge_point_id, in_flight):
            return False
        command = self._store.mark_sent(command_id, unique_id, connection_id, now, in_flight.deadline)
        if command is None:
            self._queue.release(charge_point_id, command_id)
            return False
        try:
            self._sender.send(connection_id, encode_call(unique_id, command.action, command.payload))
        except ConnectionGone:
            count("OcppConnectionGone")
            self._chargers.mark_offline(charge_point_id, connection_id)
            self._fail_all(charge_point_id, now, "the connection was gone when the CALL was sent")
            return True
        count("CommandSent")
        logger.info("command sent", action=command.action, command_id=command_id)
        return True

    def _finish_in_flight(
        self,
        charge_point_id: str,
        in_flight: InFlight,
        status: CommandStatus,
        now: datetime,
        error: dict[str, Any],
    ) -> None:
        # QUEUED too: a sender that died between taking the slot and marking the command sent.
        if self._store.finish(in_flight.command_id, status, now, expected=PENDING, error=error):
            count(f"Command{status.value.title()}")
        self._queue.release(charge_point_id, in_flight.command_id)

    def _fail_all(self, charge_point_id: str, now: datetime, reason: str) -> None:
        for _ in range(MAX_STEPS):
            state = self._queue.state(charge_point_id)
            if state.in_flight is None and not state.queued:
                return
            if self._queue.drain(charge_point_id, state):
                break
        else:
            raise ConcurrentUpdate(f"could not drain the command queue of {charge_point_id}")
        ids = ([state.in_flight.command_id] if state.in_flight else []) + list(state.queued)
        failed = 0
        for command_id in ids:
            error = _error("Offline", reason)
            if self._store.finish(command_id, CommandStatus.OFFLINE, now, expected=PENDING, error=error):
                failed += 1
        if failed:
            count("CommandOffline", failed)
            logger.info("commands failed: charger offline", failed=failed, reason=reason)

    # ------------------------------------------------------------------ outcomes
    @staticmethod
    def _classify(
        action: str, message: frames.CallResult | frames.CallError
    ) -> tuple[CommandStatus, dict[str, Any] | None, dict[str, Any] | None]:
        if isinstance(message, frames.CallError):
            return (
                CommandStatus.ERROR,
                None,
                _error(message.error_code, message.description, message.details),
            )
        violation = catalog.response_violation(action, message.payload)
        if violation is not None:
            description = f"the charger's {action} response failed validation: {violation['description']}"
            return CommandStatus.ERROR, message.payload, {**violation, "description": description}
        return catalog.outcome(action, message.payload), message.payload, None

    def _apply_effect(self, command: Command, at: datetime) -> None:
        effect = ON_ACCEPTED.get(command.action)
        if effect is None:
            return
        try:
            for _ in range(MAX_STEPS):
                state = self._reported.get(command.charge_point_id)
                if self._reported.save(effect(state, command, at)):
                    count("ChargerStateReported")
                    return
            raise ConcurrentUpdate(f"could not record the effect of {command.action}")
        except Exception:
            # The command's outcome stands; what we track of the charger is refreshed by the next read.
            logger.exception("recording the effect of an accepted command failed", action=command.action)

    def _owned_charger(self, tenant_id: str, charge_point_id: str) -> Charger:
        charger = self._chargers.get(charge_point_id)
        if charger is None or charger.tenant_id != tenant_id:
            raise ChargerNotFound(charge_point_id)
        return charger


def _connected(charger: Charger) -> bool:
    return charger.online and charger.connection_id is not None


def _parse_utc(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
