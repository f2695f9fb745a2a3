"""Dispatch of charger CALLs by action, and the one place where exceptions become CALLERRORs.

Profiles register per-action handlers in the ``Dispatcher``'s table; a handler receives the
``CallContext`` and the schema-validated payload and returns the response payload (a dict), or raises
an ``OcppError``. Anything else it raises is answered with ``InternalError`` and logged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from voltway.chargers.model import Charger
from voltway.observability import logger
from voltway.ocpp import frames, schemas
from voltway.ocpp.actions import Action
from voltway.ocpp.errors import InternalError, NotImplementedAction, NotSupported, OcppError, SecurityError

# OCPP 1.6 (edition 2 + security whitepaper) requests a charge point may send to the central system.
CHARGER_INITIATED: frozenset[str] = frozenset(
    {
        Action.authorize,
        Action.boot_notification,
        Action.data_transfer,
        Action.diagnostics_status_notification,
        Action.firmware_status_notification,
        Action.heartbeat,
        Action.meter_values,
        Action.start_transaction,
        Action.status_notification,
        Action.stop_transaction,
        Action.security_event_notification,
        Action.sign_certificate,
        Action.signed_firmware_status_notification,
        Action.log_status_notification,
    }
)
KNOWN_ACTIONS: frozenset[str] = frozenset(a.value for a in Action)


@dataclass(frozen=True, slots=True)
class CallContext:
    charge_point_id: str
    connection_id: str
    unique_id: str
    received_at: datetime
    charger: Charger | None


Handler = Callable[[CallContext, dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Route:
    handler: Handler
    # OCPP-J 1.6 errata 3.8: CALLs other than BootNotification before the charger was accepted are
    # answered with SecurityError.
    requires_accepted: bool = True
    # The handler itself records "last seen"; otherwise the central system does.
    records_last_seen: bool = False
    # Handling the same CALL twice answers the same and changes nothing more (its answer is a function of
    # stored state, its writes are idempotent): such CALLs skip the retry cache (two writes a frame).
    retry_safe: bool = False


class Dispatcher:
    def __init__(self) -> None:
        self._routes: dict[str, Route] = {}

    def register(
        self,
        action: str,
        handler: Handler,
        *,
        requires_accepted: bool = True,
        records_last_seen: bool = False,
        retry_safe: bool = False,
    ) -> None:
        if action not in CHARGER_INITIATED:
            raise ValueError(f"{action} is not a charger-initiated OCPP 1.6 action")
        self._routes[action] = Route(handler, requires_accepted, records_last_seen, retry_safe)

    def route(self, action: str) -> Route | None:
        return self._routes.get(action)

    def dispatch(self, ctx: CallContext, call: frames.Call) -> tuple[str, OcppError | None]:
        """The reply frame to ``call`` (CALLRESULT or CALLERROR), and the error if it is one."""
        try:
            return frames.encode_result(call.unique_id, self._handle(ctx, call)), None
        except OcppError as e:
            return frames.encode_error(call.unique_id, e), e
        except Exception:
            logger.exception("OCPP handler failed", action=call.action)
            error = InternalError("the central system failed to handle the call")
            return frames.encode_error(call.unique_id, error), error

    def _handle(self, ctx: CallContext, call: frames.Call) -> dict[str, Any]:
        route = self._routes.get(call.action)
        if route is None:
            if call.action in CHARGER_INITIATED:
                raise NotSupported(f"{call.action} is not supported yet")
            if call.action in KNOWN_ACTIONS:
                raise NotSupported(f"{call.action} is sent by the central system, not by a charge point")
            raise NotImplementedAction(f"unknown action {call.action!r}")
        schemas.validate(call.action, call.payload)
        if route.requires_accepted and (ctx.charger is None or not ctx.charger.accepted):
            raise SecurityError("send a BootNotification and be accepted first")
        return route.handler(ctx, call.payload)
