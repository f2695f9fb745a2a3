"""OCPP-J framing (OCPP-J 1.6 section 4): parse a text frame, encode replies.

Shape errors map to CALLERROR codes as section 4.2.3 describes them: a frame that is not JSON, not an
array, or has elements of the wrong JSON type is a ``FormationViolation`` ("syntactically incorrect or
not conform the PDU structure"); a CALL with too few elements is a ``ProtocolError`` ("payload for
action is incomplete"). OCPP-J 1.6 does not say which id to answer with when the unique id itself
cannot be read; we use ``"-1"``, the value OCPP-J 2.0.1 (section 4.2.3) prescribes for that case.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from voltway.ocpp.errors import FormationViolation, FrameError, OcppError, ProtocolError

CALL = 2
CALLRESULT = 3
CALLERROR = 4
UNREADABLE_ID = "-1"
MAX_UNIQUE_ID_LENGTH = 36


@dataclass(frozen=True, slots=True)
class Call:
    unique_id: str
    action: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CallResult:
    unique_id: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CallError:
    unique_id: str
    error_code: str
    description: str
    details: dict[str, Any]


@dataclass(frozen=True, slots=True)
class UnknownMessageType:
    """A message type not in OCPP-J's table: its payload SHALL be ignored (section 4.1.3)."""

    message_type_id: int
    unique_id: str


Message = Call | CallResult | CallError | UnknownMessageType


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse(raw: str | bytes) -> Message:
    """Parse one frame; raises ``FrameError`` carrying the CALLERROR to answer with."""
    try:
        frame = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise FrameError(UNREADABLE_ID, FormationViolation(f"frame is not valid JSON: {e}")) from None
    if not isinstance(frame, list) or not frame:
        raise FrameError(UNREADABLE_ID, FormationViolation("frame is not a non-empty JSON array"))
    type_id = frame[0]
    unique_id = frame[1] if len(frame) > 1 and isinstance(frame[1], str) else None
    answer_id = unique_id if unique_id is not None else UNREADABLE_ID

    def fail(error: OcppError) -> FrameError:
        return FrameError(answer_id, error)

    if not isinstance(type_id, int) or isinstance(type_id, bool):
        raise fail(FormationViolation("MessageTypeId must be an integer"))
    if unique_id is None:
        if len(frame) < 2:
            raise fail(ProtocolError("frame has no UniqueId"))
        raise fail(FormationViolation("UniqueId must be a string"))
    if not unique_id or len(unique_id) > MAX_UNIQUE_ID_LENGTH:
        raise fail(FormationViolation(f"UniqueId must have 1 to {MAX_UNIQUE_ID_LENGTH} characters"))
    if type_id == CALL:
        if len(frame) < 4:
            raise fail(ProtocolError("a CALL has 4 elements: [2, UniqueId, Action, Payload]"))
        if len(frame) > 4:
            raise fail(FormationViolation("a CALL has exactly 4 elements"))
        action, payload = frame[2], frame[3]
        if not isinstance(action, str) or not action:
            raise fail(FormationViolation("Action must be a non-empty string"))
        if payload is None:  # OCPP-J allows null for "no payload"
            payload = {}
        if not isinstance(payload, dict):
            raise fail(FormationViolation("Payload must be a JSON object"))
        return Call(unique_id, action, payload)
    if type_id == CALLRESULT:
        if len(frame) != 3:
            raise fail(FormationViolation("a CALLRESULT has 3 elements: [3, UniqueId, Payload]"))
        payload = frame[2] if frame[2] is not None else {}
        if not isinstance(payload, dict):
            raise fail(FormationViolation("Payload must be a JSON object"))
        return CallResult(unique_id, payload)
    if type_id == CALLERROR:
        if len(frame) != 5:
            raise fail(FormationViolation("a CALLERROR has 5 elements"))
        code, description, details = frame[2], frame[3], frame[4]
        if not isinstance(code, str) or not isinstance(description, str):
            raise fail(FormationViolation("errorCode and errorDescription must be strings"))
        return CallError(unique_id, code, description, details if isinstance(details, dict) else {})
    return UnknownMessageType(type_id, unique_id)


def encode_result(unique_id: str, payload: dict[str, Any]) -> str:
    return json.dumps([CALLRESULT, unique_id, payload], separators=(",", ":"), ensure_ascii=False)


def encode_error(unique_id: str, error: OcppError) -> str:
    return json.dumps(
        [CALLERROR, unique_id, error.code, error.description, error.details],
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
