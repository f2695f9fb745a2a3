"""The drivers' and operators' HTTP API end to end: the real template.yaml on the local runtime,
operators create sites and place chargers over HTTP, a driver searches, and a real ``ocpp`` v16
charger's StatusNotification over a real WebSocket changes the availability the driver sees.

One runtime per module keeps the file fast.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any

import pytest
import requests
from ocpp.v16 import call
from ocpp.v16.enums import ChargePointErrorCode, ChargePointStatus
from websockets.asyncio.client import connect

from tests.e2e.support import OCPP16, PlainCharger, SessionClient, basic_auth, bearer_token
from voltway.local.runtime import LocalRuntime

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

TENANT = "e2e-api"
PASSWORD = "e2e-secret-pw"
NEAR = {"lat": 48.137, "lon": 11.575}  # Munich


class Stack:
    def __init__(self, runtime: LocalRuntime) -> None:
        self.runtime = runtime
        self.operator = self.client("operator")
        self.driver = self.client("driver")

    def client(self, role: str, tenant: str = TENANT) -> SessionClient:
        token = bearer_token(
            self.runtime, subject=f"e2e-{role}", tenant=tenant, roles=[role], ttl_seconds=900
        )
        return SessionClient(self.runtime, token, timeout=30)


def ok(
    api: SessionClient, method: str, path: str, body: Any = None, *, params: Mapping[str, Any] | None = None
) -> Any:
    response = api(method, path, body, params=params)
    assert response.status_code == 200, f"{method} {path}: {response.status_code} {response.text}"
    return response.json()


@pytest.fixture(scope="module")
def stack(shared_runtime: LocalRuntime) -> Stack:
    return Stack(shared_runtime)


def site(name: str, lat: float, lon: float) -> dict[str, Any]:
    return {
        "name": name,
        "address": f"{name}straße 1",
        "city": "München",
        "country": "DEU",
        "coordinates": {"lat": lat, "lon": lon},
        "time_zone": "Europe/Berlin",
        "grid_limit_kw": 300,
        "opening_hours": {"twentyfourseven": True},
    }


def wait_until(check: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)


async def charger_session(stack: Stack, cp: str, steps: Callable[[PlainCharger], Any]) -> None:
    async with connect(
        f"{stack.runtime.charger_ws_url}/{cp}",
        subprotocols=OCPP16,
        additional_headers=basic_auth(cp, PASSWORD),
    ) as ws:
        client = PlainCharger(cp, ws, response_timeout=20)
        listener = asyncio.create_task(client.start())
        try:
            await client.call(call.BootNotification(charge_point_model="E2E", charge_point_vendor="Voltway"))
            await steps(client)
        finally:
            listener.cancel()


def status(connector_id: int, value: ChargePointStatus) -> Any:
    return call.StatusNotification(
        connector_id=connector_id, error_code=ChargePointErrorCode.no_error, status=value
    )


def test_sites_search_and_live_availability_from_a_real_charger(stack: Stack) -> None:
    op, driver = stack.operator, stack.driver
    created = ok(op, "PUT", "/v1/sites/MUC-MARIENPLATZ", site("Marienplatz", 48.1374, 11.5755))
    assert created["created_at"].endswith("Z")
    ok(op, "PUT", "/v1/sites/MUC-OLY", site("Olympiapark", 48.1731, 11.5466))
    for cp in ("E2E-API-CP1", "E2E-API-CP2"):
        ok(op, "PUT", f"/v1/chargers/{cp}", {"password": PASSWORD})
    ccs = {"connectors": [{"connector_id": 1, "type": "IEC_62196_T2_COMBO", "max_power_kw": 150}]}
    t2 = {"connectors": [{"connector_id": 1, "type": "IEC_62196_T2", "max_power_kw": 22}]}
    ok(op, "PUT", "/v1/sites/MUC-MARIENPLATZ/chargers/E2E-API-CP1", ccs)
    ok(op, "PUT", "/v1/sites/MUC-OLY/chargers/E2E-API-CP2", t2)

    page = ok(driver, "GET", "/v1/stations", params={**NEAR, "radius_km": 10})
    assert [s["site_id"] for s in page["items"]] == ["MUC-MARIENPLATZ", "MUC-OLY"]
    assert page["items"][0]["connectors"][0]["status"] == "Offline"
    assert ok(driver, "GET", "/v1/stations", params={"q": "olympia"})["items"][0]["site_id"] == "MUC-OLY"
    free = {**NEAR, "radius_km": 10, "available": "true"}
    assert ok(driver, "GET", "/v1/stations", params=free)["items"] == []

    def available_ids() -> list[str]:
        return [s["site_id"] for s in ok(driver, "GET", "/v1/stations", params=free)["items"]]

    async def steps(client: PlainCharger) -> None:
        await client.call(status(1, ChargePointStatus.available))
        started = time.monotonic()
        await asyncio.to_thread(wait_until, lambda: available_ids() == ["MUC-MARIENPLATZ"])
        assert time.monotonic() - started < 5  # fresh within seconds
        detail = await asyncio.to_thread(ok, driver, "GET", "/v1/stations/MUC-MARIENPLATZ")
        assert detail["connectors"][0]["status"] == "Available" and detail["available_connectors"] == 1
        await client.call(status(1, ChargePointStatus.charging))
        await asyncio.to_thread(wait_until, lambda: available_ids() == [])

    asyncio.run(charger_session(stack, "E2E-API-CP1", steps))
    # Once the charger has gone, drivers see it offline.
    wait_until(
        lambda: ok(driver, "GET", "/v1/stations/MUC-MARIENPLATZ")["connectors"][0]["status"] == "Offline"
    )


def test_roles_tenants_and_the_error_shape_through_the_gateway(stack: Stack) -> None:
    ok(stack.operator, "PUT", "/v1/sites/MUC-ROLES", site("Roles", 48.2, 11.6))
    response = stack.driver("PUT", "/v1/sites/MUC-ROLES", site("Hijack", 48.2, 11.6))
    assert response.status_code == 403 and set(response.json()["error"]) == {"code", "message", "details"}
    other = stack.client("driver", tenant="e2e-other")
    assert other("GET", "/v1/stations/MUC-ROLES").status_code == 404
    assert ok(other, "GET", "/v1/stations", params={**NEAR, "radius_km": 50})["items"] == []
    anonymous = requests.get(f"{stack.runtime.http_url}/v1/stations", timeout=30)
    assert anonymous.status_code == 401
    bad = stack.driver("GET", "/v1/stations", params={"lat": 48.1})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "validation_error"


def test_openapi_is_public_and_cursors_page_through_the_gateway(stack: Stack) -> None:
    doc = requests.get(f"{stack.runtime.http_url}/v1/openapi.json", timeout=30)
    assert doc.status_code == 200 and "/v1/stations" in doc.json()["paths"]
    for i in range(3):
        ok(stack.operator, "PUT", f"/v1/sites/PAGE-{i}", site(f"Page {i}", 48.0, 11.0))
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        page = ok(stack.operator, "GET", "/v1/sites", params=params)
        seen += [s["site_id"] for s in page["items"]]
        if page["next_cursor"] is None:
            break
        params = {"limit": 2, "cursor": page["next_cursor"]}
    assert {"PAGE-0", "PAGE-1", "PAGE-2"} <= set(seen) and len(seen) == len(set(seen))


def test_cors_preflight_is_answered_by_the_gateway(stack: Stack) -> None:
    response = requests.options(
        f"{stack.runtime.http_url}/v1/stations",
        headers={
            "Origin": "http://127.0.0.1:8000",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
        timeout=30,
    )
    assert response.status_code in (200, 204)
    assert response.headers.get("access-control-allow-origin") == "http://127.0.0.1:8000"
