"""Every platform-initiated OCPP 1.6 action end to end, once answered by the charger (accepted) and once
with a CALLERROR: the local runtime on the real template.yaml, a scripted `ocpp` v16 charge point (the
compliance module's), the operator API with `?wait`.

A CALLERROR becomes command status `error` with the charger's code and description; a CALLRESULT that
fails the action's response schema becomes `error` with the OCPP-J violation code.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from ocpp.exceptions import GenericError, InternalError, NotSupportedError, OCPPError
from ocpp.routing import on
from ocpp.v16 import call_result
from ocpp.v16.enums import Action

from tests.e2e.support import stack_on
from voltway.local.runtime import LocalRuntime
from voltway.ocpp.commands import catalog

# pytest imports test modules by file name (tests/e2e on sys.path, "prepend" import mode); importing the
# compliance module by its package path would load it a second time. mypy names it by its path.
if TYPE_CHECKING:
    from tests.e2e.test_ocpp_compliance import TAG, Charger, Stack, utc
else:
    from test_ocpp_compliance import TAG, Charger, Stack, utc

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]
CP_ID = "ACT-CP-1"
EXPIRY = utc(datetime.now(UTC) + timedelta(hours=1))
PROFILE = {
    "chargingProfileId": 7,
    "stackLevel": 1,
    "chargingProfilePurpose": "TxDefaultProfile",
    "chargingProfileKind": "Relative",
    "chargingSchedule": {
        "chargingRateUnit": "W",
        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 7400}],
    },
}

# action -> (request payload, the response our scripted charger gives)
REQUESTS: dict[str, dict[str, Any]] = {
    "CancelReservation": {"reservationId": 1},
    "ChangeAvailability": {"connectorId": 1, "type": "Inoperative"},
    "ChangeConfiguration": {"key": "HeartbeatInterval", "value": "600"},
    "ClearCache": {},
    "ClearChargingProfile": {"connectorId": 1},
    "DataTransfer": {"vendorId": "com.voltway", "messageId": "ping", "data": "hello"},
    "GetCompositeSchedule": {"connectorId": 1, "duration": 600},
    "GetConfiguration": {"key": ["HeartbeatInterval"]},
    "GetDiagnostics": {"location": "ftp://diag.example/in/"},
    "GetLocalListVersion": {},
    "RemoteStartTransaction": {"idTag": TAG, "connectorId": 1},
    "RemoteStopTransaction": {"transactionId": 42},
    "ReserveNow": {"connectorId": 1, "expiryDate": EXPIRY, "idTag": TAG, "reservationId": 1},
    "Reset": {"type": "Soft"},
    "SendLocalList": {"listVersion": 1, "updateType": "Full", "localAuthorizationList": []},
    "SetChargingProfile": {"connectorId": 1, "csChargingProfiles": PROFILE},
    "TriggerMessage": {"requestedMessage": "Heartbeat"},
    "UnlockConnector": {"connectorId": 1},
    "UpdateFirmware": {"location": "https://fw.example/ok.bin", "retrieveDate": EXPIRY},
}
# The expected CALLRESULT payload of the scripted charger (None: not checked beyond acceptance).
EXPECTED: dict[str, dict[str, Any] | None] = {
    "ChangeConfiguration": {"status": "Accepted"},
    "DataTransfer": {"status": "Accepted", "data": "pong"},
    "GetConfiguration": {
        "configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "600"}]
    },
    "GetDiagnostics": {"fileName": "diagnostics-tc.log"},
    "GetLocalListVersion": {"listVersion": 0},  # asked before SendLocalList (alphabetical order)
    "UnlockConnector": {"status": "Unlocked"},
    "UpdateFirmware": {},
    "GetCompositeSchedule": None,
}
ERRORS: list[OCPPError] = [
    NotSupportedError(description="not on this model"),
    GenericError(description="busy"),
    InternalError(description="firmware bug", details={"trace": "0xdead"}),
]


class LaxCharger(Charger):
    """Sends whatever ClearCache answer it is scripted with, unchecked: a non-conforming charger."""

    @on(Action.clear_cache, skip_schema_validation=True)  # type: ignore[untyped-decorator]
    def on_clear_cache(self, **_: Any) -> Any:
        return self._got("ClearCache", {}, call_result.ClearCache("Accepted"))


@pytest.fixture(scope="module")
def stack(shared_runtime: LocalRuntime) -> Iterator[Stack]:
    with stack_on(shared_runtime, Stack) as s:
        s.tag(TAG)
        s.charger_class = LaxCharger
        yield s


@pytest.fixture(scope="module")
def charger(stack: Stack) -> Charger:
    return stack.connect(CP_ID)


def test_every_platform_action_is_covered() -> None:
    assert sorted(REQUESTS) == sorted(catalog.ACTIONS)


@pytest.mark.parametrize("action", sorted(REQUESTS))
def test_action_accepted(stack: Stack, charger: Charger, action: str) -> None:
    answer = stack.command(CP_ID, action, REQUESTS[action])
    assert answer["status"] == "accepted", answer
    assert answer["error"] is None and answer["completed_at"] is not None
    expected = EXPECTED.get(action, {"status": "Accepted"})
    if expected is not None:
        assert answer["response"] == expected
    assert charger.received and charger.received[-1][0] == action
    # the same outcome through GET /v1/commands/{id}
    status, again = stack.http("GET", f"/v1/commands/{answer['command_id']}")
    assert status == 200 and again["status"] == "accepted" and again["response"] == answer["response"]


@pytest.mark.parametrize("action", sorted(REQUESTS))
def test_action_answered_with_callerror(stack: Stack, charger: Charger, action: str) -> None:
    error = ERRORS[sorted(REQUESTS).index(action) % len(ERRORS)]
    charger.script[action] = error
    try:
        answer = stack.command(CP_ID, action, REQUESTS[action])
    finally:
        charger.script.pop(action)
    assert answer["status"] == "error", answer
    assert answer["response"] is None
    assert answer["error"]["code"] == error.code
    assert answer["error"]["description"] == error.description
    assert answer["error"]["details"] == (error.details or {})


def test_invalid_callresult_is_an_error_with_the_violation_code(stack: Stack, charger: Charger) -> None:
    charger.script["ClearCache"] = call_result.ClearCache(status="Maybe")
    try:
        answer = stack.command(CP_ID, "ClearCache", {})
    finally:
        charger.script.pop("ClearCache")
    assert answer["status"] == "error", answer
    assert answer["response"] == {"status": "Maybe"}
    assert answer["error"]["code"] == "PropertyConstraintViolation"


def test_callerror_leaves_reported_state_unchanged(stack: Stack, charger: Charger) -> None:
    before = stack.charger(CP_ID)["reported"]
    charger.script["SetChargingProfile"] = NotSupportedError(description="no smart charging")
    try:
        body = {"connectorId": 2, "csChargingProfiles": {**PROFILE, "chargingProfileId": 99}}
        assert stack.command(CP_ID, "SetChargingProfile", body)["status"] == "error"
    finally:
        charger.script.pop("SetChargingProfile")
    assert stack.charger(CP_ID)["reported"]["charging_profiles"] == before["charging_profiles"]
