"""The drivers' charging flow end to end: the real template.yaml on the local runtime, drivers and an
operator over HTTP with JWTs from the local issuer, and a real ``ocpp`` v16 charger over a real
WebSocket whose @on handlers accept RemoteStart/RemoteStopTransaction and then send StartTransaction,
MeterValues and StopTransaction like a charger would. A driver adds a card, starts a charge from the app,
watches the live session (energy, power, cost so far), stops it, and finds it in history with its CDR;
another driver sees none of it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action
from websockets.asyncio.client import ClientConnection

from tests.e2e.support import (
    ChargerSockets,
    JsonClient,
    Loop,
    bearer_token,
    boot_accepted,
    stack_on,
)
from voltway.local.runtime import LocalRuntime

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]
TENANT = "e2e-drivers"
CP = "E2E-DRV-1"
PASSWORD = "e2e-driver-pw"
TARIFF: dict[str, Any] = {
    "country_code": "NL",
    "party_id": "VWY",
    "id": "E2E-DRIVERS",
    "currency": "EUR",
    "elements": [{"price_components": [{"type": "ENERGY", "price": 0.30, "vat": 20.0, "step_size": 1}]}],
}


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class Charger(ChargePoint):  # type: ignore[misc]  # ocpp ships no type hints
    """Accepts remote starts/stops; after answering, starts/stops the transaction itself."""

    def __init__(self, charge_point_id: str, ws: ClientConnection) -> None:
        super().__init__(charge_point_id, ws, response_timeout=20)
        self.transaction_id: int | None = None
        self.id_tag: str | None = None
        self.register_wh = 1000
        self.received: list[tuple[str, dict[str, Any]]] = []

    @on(Action.remote_start_transaction)  # type: ignore[untyped-decorator]
    def on_remote_start(self, id_tag: str, connector_id: int | None = None, **_: Any) -> Any:
        self.received.append(("RemoteStartTransaction", {"id_tag": id_tag, "connector_id": connector_id}))
        return call_result.RemoteStartTransaction(status="Accepted")

    @after(Action.remote_start_transaction)  # type: ignore[untyped-decorator]
    async def start_after_remote(self, id_tag: str, connector_id: int | None = None, **_: Any) -> None:
        self.id_tag = id_tag
        started = await self.call(
            call.StartTransaction(
                connector_id=connector_id or 1, id_tag=id_tag, meter_start=1000, timestamp=now_iso()
            )
        )
        assert started.id_tag_info["status"] == "Accepted", started
        self.transaction_id = started.transaction_id
        await self.meter(2000, 11000)

    async def meter(self, register_wh: int, power_w: int) -> None:
        assert self.transaction_id is not None
        self.register_wh = register_wh
        sampled = [
            {"value": str(register_wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
            {"value": str(power_w), "measurand": "Power.Active.Import", "unit": "W"},
        ]
        await self.call(
            call.MeterValues(
                connector_id=2,
                transaction_id=self.transaction_id,
                meter_value=[{"timestamp": now_iso(), "sampled_value": sampled}],
            )
        )

    @on(Action.remote_stop_transaction)  # type: ignore[untyped-decorator]
    def on_remote_stop(self, transaction_id: int, **_: Any) -> Any:
        self.received.append(("RemoteStopTransaction", {"transaction_id": transaction_id}))
        ok = transaction_id == self.transaction_id
        return call_result.RemoteStopTransaction(status="Accepted" if ok else "Rejected")

    @after(Action.remote_stop_transaction)  # type: ignore[untyped-decorator]
    async def stop_after_remote(self, transaction_id: int, **_: Any) -> None:
        if transaction_id != self.transaction_id:
            return
        await self.call(
            call.StopTransaction(
                meter_stop=self.register_wh + 500,
                timestamp=now_iso(),
                transaction_id=transaction_id,
                id_tag=self.id_tag,
                reason="Remote",
            )
        )


class Stack:
    def __init__(self, runtime: LocalRuntime, loop: Loop) -> None:
        self.runtime = runtime
        self.loop = loop
        self.chargers = ChargerSockets(runtime, loop)

    def client(self, subject: str, role: str = "driver") -> JsonClient:
        token = bearer_token(self.runtime, subject=subject, tenant=TENANT, roles=[role], ttl_seconds=900)
        return JsonClient(self.runtime, token, timeout=40)

    def connect(self) -> Charger:
        async def open_() -> Charger:
            charger = await self.chargers.open(CP, PASSWORD, Charger)
            await boot_accepted(charger)
            return charger

        return self.loop.run(open_())

    def close(self) -> None:
        self.chargers.close()


@pytest.fixture(scope="module")
def stack(shared_runtime: LocalRuntime) -> Iterator[Stack]:
    with stack_on(shared_runtime, Stack) as s:
        yield s


def wait_for(
    fetch: Callable[[], tuple[int, Any]], done: Callable[[Any], bool], what: str, timeout: float = 60
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        status, body = fetch()
        assert status == 200, body
        if done(body):
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not seen within {timeout} s; last: {body}")
        time.sleep(0.3)


def test_driver_charges_from_the_app(stack: Stack) -> None:
    operator = stack.client("e2e-operator", "operator")
    alice = stack.client("e2e-alice")
    bob = stack.client("e2e-bob")
    assert operator("PUT", f"/v1/tariffs/{TARIFF['id']}", {**TARIFF, "default": True})[0] == 200
    assert operator("PUT", f"/v1/chargers/{CP}", {"password": PASSWORD})[0] == 200

    # Tokens: the app token exists on first use; a card is added; another driver cannot take it.
    status, tokens = alice("GET", "/v1/me/tokens")
    assert status == 200, tokens
    (app,) = tokens["items"]
    assert app["kind"] == "app" and app["status"] == "Accepted"
    assert alice("POST", "/v1/me/tokens", {"uid": "E2ECARD1"})[0] == 201
    status, err = bob("POST", "/v1/me/tokens", {"uid": "E2ECARD1"})
    assert status == 409 and err["error"]["code"] == "token_owned"

    # App starts are paid (docs/payments.md, the local runtime's fake gateway): a declined card sends
    # nothing to the charger; alice's card is held before her RemoteStartTransaction.
    charger = stack.connect()
    assert bob("PUT", "/v1/me/payment-method", {"token": "tok_decline_e2e"})[0] == 200
    status, err = bob(
        "POST", "/v1/sessions", {"charge_point_id": CP, "connector_id": 1}, idempotency_key="e2e-start-bob1"
    )
    assert status == 402 and err["error"]["code"] == "payment_declined", err
    status, card = alice("PUT", "/v1/me/payment-method", {"token": "tok_e2e_visa", "label": "Visa"})
    assert status == 200 and card["token_hint"] == "visa", card
    status, session = alice(
        "POST", "/v1/sessions", {"charge_point_id": CP, "connector_id": 2}, idempotency_key="e2e-start-0001"
    )
    assert status == 202, session
    assert session["state"] in ("requested", "accepted") and session["id_tag"] == app["id_tag"]
    assert session["payment"]["status"] == "authorized" and session["payment"]["held"] == "50.00"
    replay = alice(
        "POST", "/v1/sessions", {"charge_point_id": CP, "connector_id": 2}, idempotency_key="e2e-start-0001"
    )
    assert replay == (202, session)  # the retry started nothing
    path = f"/v1/sessions/{session['session_id']}"

    live = wait_for(
        lambda: alice("GET", path),
        lambda b: b["state"] == "started" and b["live"] is not None and b["live"]["energy_kwh"] == 1.0,
        "the started session with its first meter values",
    )
    assert [a for a, _ in charger.received] == ["RemoteStartTransaction"]
    assert charger.received[0][1] == {"id_tag": app["id_tag"], "connector_id": 2}
    assert live["transaction_id"] == charger.transaction_id and live["answered_at"] is not None
    assert live["live"]["power_kw"] == 11.0
    assert live["live"]["cost"] == {
        "currency": "EUR",
        "excl_vat": "0.30",
        "incl_vat": "0.36",
        "tariff_id": "E2E-DRIVERS",
        "estimate": True,
    }

    stack.loop.run(charger.meter(3500, 7400))
    live = wait_for(
        lambda: alice("GET", path),
        lambda b: b["live"]["energy_kwh"] == 2.5,
        "the live session updated from meter values",
    )
    assert live["live"]["power_kw"] == 7.4 and live["live"]["cost"]["excl_vat"] == "0.75"
    assert live["live"]["duration_seconds"] >= 0

    # Another driver sees nothing of it.
    assert bob("GET", path)[0] == 404
    assert bob("POST", f"{path}/stop")[0] == 404

    status, stopping = alice("POST", f"{path}/stop")
    assert status == 202, stopping
    stopped = wait_for(
        lambda: alice("GET", path),
        lambda b: b["state"] == "stopped" and b["live"]["cdr_id"] is not None,
        "the stopped session with its CDR",
    )
    assert ("RemoteStopTransaction", {"transaction_id": charger.transaction_id}) in charger.received
    assert stopped["stop_status"] == "accepted" and stopped["live"]["energy_kwh"] == 3.0
    assert stopped["live"]["power_kw"] is None
    assert stopped["live"]["cost"] == {
        "currency": "EUR",
        "excl_vat": "0.90",
        "incl_vat": "1.08",
        "tariff_id": "E2E-DRIVERS",
        "estimate": False,
    }

    # The CDR worker captured the CDR's total incl. VAT from the hold.
    paid = wait_for(
        lambda: alice("GET", path),
        lambda b: b["payment"]["status"] == "captured",
        "the payment captured after the CDR",
    )
    assert paid["payment"]["captured"] == "1.08" and paid["payment"]["currency"] == "EUR"
    status, payment = operator("GET", f"/v1/payments/{paid['payment']['payment_id']}")
    assert status == 200 and payment["cdr_id"] == stopped["live"]["cdr_id"] and payment["due"] == "1.08"

    status, history = alice("GET", "/v1/me/sessions")
    assert status == 200 and history["items"][0]["session_id"] == session["session_id"]
    assert history["items"][0]["state"] == "stopped"
    assert bob("GET", "/v1/me/sessions") == (200, {"items": [], "next_cursor": None})

    cdr_id = stopped["live"]["cdr_id"]
    status, cdr = alice("GET", f"/v1/me/cdrs/{cdr_id}")
    assert status == 200, cdr
    assert cdr["cdr_token"]["uid"] == app["id_tag"] and cdr["total_energy"] == 3.0
    assert cdr["voltway"]["transaction_id"] == charger.transaction_id
    assert bob("GET", f"/v1/me/cdrs/{cdr_id}")[0] == 404
