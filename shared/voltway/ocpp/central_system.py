"""The central system's entry point for one inbound frame: the whole $default flow.

connection id -> charger, parse, (for a CALL) idempotency claim -> dispatch -> remember the answer,
audit both directions in one write, reply through the management API. Never raises for bad input:
every CALL gets a CALLRESULT or a CALLERROR.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from voltway.chargers.model import Charger
from voltway.chargers.ports import ChargerRepository, ConnectionRegistry
from voltway.observability import begin, correlate, count, logger
from voltway.ocpp import frames
from voltway.ocpp.commands.ports import BootHooks, CommandAnswers
from voltway.ocpp.dispatch import CallContext, Dispatcher
from voltway.ocpp.errors import FrameError, GenericError, InternalError, OcppError, SecurityError
from voltway.ocpp.ports import AuditEntry, ChargerConnections, ConnectionGone, IdempotencyStore, MessageAudit

Clock = Callable[[], datetime]
# A claim not answered within API Gateway's 29 s integration timeout is abandoned: a retry may take over.
STALE_CLAIM = timedelta(seconds=30)
# "Last seen" is refreshed at most this often by frames whose handler does not record it anyway.
TOUCH_GRANULARITY = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class Outcome:
    charge_point_id: str | None
    reply: str | None


class CentralSystem:
    def __init__(
        self,
        *,
        chargers: ChargerRepository,
        connections: ConnectionRegistry,
        dispatcher: Dispatcher,
        idempotency: IdempotencyStore,
        audit: MessageAudit,
        sender: ChargerConnections,
        clock: Clock | None = None,
        commands: CommandAnswers | None = None,
        boot_hooks: BootHooks | None = None,
    ) -> None:
        self._boot_hooks = boot_hooks
        self._chargers = chargers
        self._commands = commands
        self._connections = connections
        self._dispatcher = dispatcher
        self._idempotency = idempotency
        self._audit = audit
        self._sender = sender
        self._clock: Clock = clock or (lambda: datetime.now(UTC))

    def receive(self, connection_id: str, raw: str) -> Outcome:
        now = self._clock()
        charge_point_id = self._connections.lookup(connection_id)
        begin(charge_point_id=charge_point_id, connection_id=connection_id)
        try:
            message: frames.Message | None = frames.parse(raw)
        except FrameError as e:
            message = None
            reply: str | None = frames.encode_error(e.unique_id, e.error)
            count("OcppFrameRejected")
            logger.info("malformed frame", error_code=e.error.code, reason=e.error.description)
        if charge_point_id is None:
            # TTL-expired or never registered connection: nothing to attribute the frame to.
            count("OcppUnknownConnection")
            if isinstance(message, frames.Call):
                reply = frames.encode_error(message.unique_id, SecurityError("connection not registered"))
            elif message is not None:
                reply = None
            self._send(None, connection_id, reply)
            return Outcome(None, reply)
        if message is not None:
            reply = self._answer(charge_point_id, connection_id, message, now)
        entries = self._audit_entries(
            charge_point_id, connection_id, raw=raw, message=message, reply=reply, now=now
        )
        self._audit.record(entries)
        self._send(charge_point_id, connection_id, reply)
        if (
            isinstance(message, frames.Call)
            and self._boot_hooks is not None
            and _boot_accepted(message, reply)
        ):
            # Queued only now, so the GetConfiguration CALL follows the BootNotification.conf on the wire.
            try:
                self._boot_hooks.after_boot_accepted(charge_point_id, now)
            except Exception:
                logger.exception("boot configuration read failed")
        if isinstance(message, frames.Call) and self._commands is not None:
            # Fast path for command deadlines: any frame from the charger times out a due CALL of
            # ours and sends the next queued one (after our reply, so this charger's CALL is answered).
            self._command_step(lambda c: c.on_frame(charge_point_id, now))
        return Outcome(charge_point_id, reply)

    def _command_step(self, step: Callable[[CommandAnswers], object]) -> None:
        assert self._commands is not None
        try:
            step(self._commands)
        except Exception:
            # The frame itself was handled; the monitor's sweep retries what failed here.
            logger.exception("command flow failed")

    def _answer(
        self, charge_point_id: str, connection_id: str, message: frames.Message, now: datetime
    ) -> str | None:
        correlate(unique_id=message.unique_id)
        if isinstance(message, frames.Call):
            return self._answer_call(charge_point_id, connection_id, message, now)
        if isinstance(message, frames.CallResult | frames.CallError):
            # Answers to our commands: correlated by unique id with the charger's in-flight command.
            count("OcppAnswerReceived")
            logger.info("answer received", message_type=type(message).__name__)
            if self._commands is not None:
                answer = message
                self._command_step(lambda c: c.on_answer(charge_point_id, answer, now))
            return None
        count("OcppUnknownMessageType")
        logger.info("unknown message type ignored", message_type_id=message.message_type_id)
        return None

    def _answer_call(self, charge_point_id: str, connection_id: str, call: frames.Call, now: datetime) -> str:
        route = self._dispatcher.route(call.action)
        if route is not None and route.retry_safe:  # answered anew on a retry: no retry cache needed
            return self._handle_call(charge_point_id, connection_id, call, now, cached=False)
        try:
            previous = self._idempotency.claim(
                charge_point_id, call.unique_id, _fingerprint(call), now, now - STALE_CLAIM
            )
        except Exception:
            logger.exception("idempotency claim failed")
            return frames.encode_error(call.unique_id, InternalError("try again"))
        if previous is not None:
            count("OcppRetry")
            if previous.response is not None:
                return previous.response
            return frames.encode_error(
                call.unique_id, GenericError("a call with this unique id is being handled already")
            )
        return self._handle_call(charge_point_id, connection_id, call, now, cached=True)

    def _handle_call(
        self, charge_point_id: str, connection_id: str, call: frames.Call, now: datetime, *, cached: bool
    ) -> str:
        """Dispatch ``call``; with ``cached`` its claim in the retry cache is completed (or released)."""
        charger: Charger | None
        try:
            charger = self._chargers.get(charge_point_id)
        except Exception:
            logger.exception("charger lookup failed")
            if cached:
                self._idempotency.release(charge_point_id, call.unique_id)
            return frames.encode_error(call.unique_id, InternalError("try again"))
        ctx = CallContext(charge_point_id, connection_id, call.unique_id, now, charger)
        reply, error = self._dispatcher.dispatch(ctx, call)
        count("OcppCall")
        if error is not None:
            count("OcppCallError")
            logger.info("call refused", action=call.action, error_code=error.code, reason=error.description)
        if isinstance(error, InternalError):
            if cached:
                self._idempotency.release(charge_point_id, call.unique_id)
            return reply
        if cached:
            self._idempotency.complete(charge_point_id, call.unique_id, reply, now)
        self._refresh_presence(call.action, charger, connection_id, now)
        return reply

    def _refresh_presence(
        self, action: str, charger: Charger | None, connection_id: str, now: datetime
    ) -> None:
        """A CALL proves the charger is online over this connection. The record says otherwise after the
        monitor marked a silent charger offline, or after a CALL of ours went to a connection that was
        gone (an abandoned handshake's late $connect can leave a dead connection id behind): without this
        the charger stayed "offline", and its commands failed, until it reconnected. One UpdateItem, only
        when the record is wrong; otherwise last seen, at most once per ``TOUCH_GRANULARITY``."""
        if charger is None:
            return
        if not charger.online or charger.connection_id != connection_id:
            self._chargers.mark_online(charger.charge_point_id, connection_id, now)
            count("ChargerPresenceRestored")
            logger.info("charger online again over this connection", was_online=charger.online)
            return
        route = self._dispatcher.route(action)
        if route is not None and route.records_last_seen:
            return
        if charger.last_seen is None or now - charger.last_seen >= TOUCH_GRANULARITY:
            self._chargers.touch(charger.charge_point_id, now)

    def _send(self, charge_point_id: str | None, connection_id: str, reply: str | None) -> None:
        if reply is None:
            return
        try:
            self._sender.send(connection_id, reply)
        except ConnectionGone:
            count("OcppConnectionGone")
            logger.info("connection gone before the reply")
            if charge_point_id is not None:
                self._chargers.mark_offline(charge_point_id, connection_id)

    @staticmethod
    def _audit_entries(
        charge_point_id: str,
        connection_id: str,
        *,
        raw: str,
        message: frames.Message | None,
        reply: str | None,
        now: datetime,
    ) -> list[AuditEntry]:
        unique_id = message.unique_id if message is not None else None
        inbound = AuditEntry(
            charge_point_id,
            "in",
            now,
            unique_id,
            _message_type(message),
            message.action if isinstance(message, frames.Call) else None,
            raw,
            connection_id,
        )
        if reply is None:
            return [inbound]
        # Stamped 1 µs later so that, newest first, the answer lists above its request.
        outbound = AuditEntry(
            charge_point_id,
            "out",
            now + timedelta(microseconds=1),
            unique_id,
            frames.CALLERROR if reply.startswith(f"[{frames.CALLERROR},") else frames.CALLRESULT,
            inbound.action,
            reply,
            connection_id,
        )
        return [inbound, outbound]


def _message_type(message: frames.Message | None) -> int | None:
    if isinstance(message, frames.Call):
        return frames.CALL
    if isinstance(message, frames.CallResult):
        return frames.CALLRESULT
    if isinstance(message, frames.CallError):
        return frames.CALLERROR
    if isinstance(message, frames.UnknownMessageType):
        return message.message_type_id
    return None


def _boot_accepted(call: frames.Call, reply: str | None) -> bool:
    if call.action != "BootNotification" or reply is None:
        return False
    try:
        answer = json.loads(reply)
    except ValueError:
        return False
    return bool(
        isinstance(answer, list)
        and len(answer) == 3
        and answer[0] == frames.CALLRESULT
        and isinstance(answer[2], dict)
        and answer[2].get("status") == "Accepted"
    )


def _fingerprint(call: frames.Call) -> str:
    canonical = json.dumps([call.action, call.payload], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


__all__ = ["CentralSystem", "OcppError", "Outcome"]
