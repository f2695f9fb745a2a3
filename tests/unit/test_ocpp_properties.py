"""Property: whatever a charger sends, the central system never raises, and every reply is a valid
OCPP-J CALLRESULT or CALLERROR echoing the unique id (or "-1" when it cannot be read)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_ocpp_central_system import BOOT, CONN, World

from voltway.ocpp.errors import ERROR_CODES
from voltway.ocpp.frames import UNREADABLE_ID

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
actions = st.sampled_from(
    ["BootNotification", "Heartbeat", "StatusNotification", "MeterValues", "Reset", "Nope"]
)
valid_payloads = {
    "BootNotification": BOOT,
    "Heartbeat": {},
    "StatusNotification": {"connectorId": 1, "errorCode": "NoError", "status": "Available"},
}


@st.composite
def mutated_calls(draw: st.DrawFn) -> str:
    action = draw(actions)
    payload: dict[str, Any] = dict(valid_payloads.get(action, {}))
    for _ in range(draw(st.integers(0, 3))):
        key = draw(st.sampled_from([*payload.keys(), "connectorId", "status", "timestamp", "x"]))
        if draw(st.booleans()) and key in payload:
            del payload[key]
        else:
            payload[key] = draw(json_values)
    frame: list[Any] = [2, draw(st.text(min_size=0, max_size=40)), action, payload]
    if draw(st.booleans()):
        index = draw(st.integers(0, 3))
        frame[index] = draw(json_values)
    if draw(st.integers(0, 9)) == 0:
        frame = frame[: draw(st.integers(0, 3))]
    return json.dumps(frame)


frames = mutated_calls() | st.text(max_size=60) | json_values.map(json.dumps)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=frames)
def test_every_frame_gets_a_well_formed_answer(raw: str) -> None:
    world = _WORLD
    outcome = world.system.receive(CONN, raw)
    try:
        sent = json.loads(raw, parse_constant=_not_json)  # NaN/Infinity are not JSON
    except ValueError:
        sent = None
    is_answer_or_other = (
        isinstance(sent, list)
        and len(sent) > 1
        and isinstance(sent[0], int)
        and not isinstance(sent[0], bool)
        and sent[0] != 2
        and isinstance(sent[1], str)
        and 0 < len(sent[1]) <= 36
    )
    if outcome.reply is None:
        assert is_answer_or_other
        return
    reply = json.loads(outcome.reply)
    assert isinstance(reply, list) and reply[0] in (3, 4)
    if reply[0] == 3:
        assert len(reply) == 3 and isinstance(reply[2], dict)
    else:
        assert len(reply) == 5 and reply[2] in ERROR_CODES
        assert isinstance(reply[3], str) and isinstance(reply[4], dict)
    readable_id = isinstance(sent, list) and len(sent) > 1 and isinstance(sent[1], str)
    assert reply[1] == (sent[1] if readable_id else UNREADABLE_ID)  # type: ignore[index]


def _not_json(name: str) -> Any:
    raise ValueError(name)


_WORLD = World()
_WORLD.boot()
