"""Billing end to end: the real template.yaml on the local runtime. An operator stores tariffs over
HTTP and gives a charger its own; a real ``ocpp`` v16 charger runs Authorize -> Start -> MeterValues ->
Stop over a real WebSocket; the CDR queue worker issues the CDR after the reply; the CDR appears through
the API with the totals this test computes on its own from the tariff. One runtime per module.
"""

from __future__ import annotations

import asyncio
import time
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
from ocpp.v16 import call
from websockets.asyncio.client import connect as async_connect

from tests.e2e.support import OCPP16, PlainCharger, SessionClient, basic_auth, bearer_token, wait_for_cdr
from voltway.local.runtime import LocalRuntime

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

TENANT = "e2e-billing"
PASSWORD = "e2e-billing-pw"
CP = "E2E-BILL-1"
TAG = "BILLTAG1"
SPEC = Path(__file__).resolve().parents[3] / "shared" / "specs" / "ocpi-2.2.1" / "mod_cdrs.asciidoc"

# The charger's own tariff: a start fee, energy, and parking per started minute (all 20 % VAT).
CHARGER_TARIFF: dict[str, Any] = {
    "country_code": "NL",
    "party_id": "VWY",
    "id": "E2E-CHARGER",
    "currency": "EUR",
    "elements": [
        {
            "price_components": [
                {"type": "FLAT", "price": 0.50, "vat": 20.0, "step_size": 1},
                {"type": "ENERGY", "price": 0.25, "vat": 20.0, "step_size": 1},
                {"type": "PARKING_TIME", "price": 3.00, "vat": 20.0, "step_size": 60},
            ]
        }
    ],
}
# The tenant default: must lose against the charger's own tariff.
DEFAULT_TARIFF: dict[str, Any] = {
    **CHARGER_TARIFF,
    "id": "E2E-DEFAULT",
    "elements": [{"price_components": [{"type": "ENERGY", "price": 9.99, "vat": 20.0, "step_size": 1}]}],
}


class Stack:
    def __init__(self, runtime: LocalRuntime) -> None:
        self.runtime = runtime
        token = bearer_token(
            runtime, subject="e2e-billing-operator", tenant=TENANT, roles=["operator"], ttl_seconds=900
        )
        self.api = SessionClient(runtime, token, timeout=30)


@pytest.fixture(scope="module")
def stack(shared_runtime: LocalRuntime) -> Stack:
    return Stack(shared_runtime)


def sample(at: str, register_wh: int, power_w: int) -> dict[str, Any]:
    return {
        "timestamp": at,
        "sampled_value": [
            {"value": str(register_wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
            {"value": str(power_w), "measurand": "Power.Active.Import", "unit": "W"},
        ],
    }


def run_session(charger_ws_url: str) -> tuple[int, Any]:
    """10:00 start at 1000 Wh, 15 kW until 10:45 (12000 Wh), then parked (0 W) until the 11:00 stop."""

    async def main() -> tuple[int, Any]:
        async with async_connect(
            f"{charger_ws_url}/{CP}", subprotocols=OCPP16, additional_headers=basic_auth(CP, PASSWORD)
        ) as ws:
            client = PlainCharger(CP, ws, response_timeout=20)
            listener = asyncio.create_task(client.start())
            try:
                boot = await client.call(
                    call.BootNotification(charge_point_model="E2E", charge_point_vendor="E2E")
                )
                assert boot.status == "Accepted"
                auth = await client.call(call.Authorize(id_tag=TAG))
                assert auth.id_tag_info["status"] == "Accepted"
                started = await client.call(
                    call.StartTransaction(
                        connector_id=1, id_tag=TAG, meter_start=1000, timestamp="2026-03-02T10:00:00Z"
                    )
                )
                tx_id: int = started.transaction_id
                for at, wh, w in (
                    ("2026-03-02T10:00:00Z", 1000, 15000),
                    ("2026-03-02T10:30:00Z", 8500, 15000),
                    ("2026-03-02T10:45:00Z", 12000, 0),
                    ("2026-03-02T10:50:00Z", 12000, 0),
                ):
                    await client.call(
                        call.MeterValues(
                            connector_id=1, transaction_id=tx_id, meter_value=[sample(at, wh, w)]
                        )
                    )
                stop = await client.call(
                    call.StopTransaction(
                        meter_stop=12000, timestamp="2026-03-02T11:00:00Z", transaction_id=tx_id, id_tag=TAG
                    )
                )
                return tx_id, stop
            finally:
                listener.cancel()

    return asyncio.run(main())


def money(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def expected_totals() -> dict[str, Decimal]:
    """From CHARGER_TARIFF alone: 11 kWh charged, 15 minutes parked, one session fee."""
    prices = {c["type"]: c for c in CHARGER_TARIFF["elements"][0]["price_components"]}
    energy_kwh = Decimal(12000 - 1000) / 1000
    parked_h = Decimal(15) / 60
    excl = {
        "energy": Decimal(str(prices["ENERGY"]["price"])) * energy_kwh,
        "parking": Decimal(str(prices["PARKING_TIME"]["price"])) * parked_h,
        "fixed": Decimal(str(prices["FLAT"]["price"])),
    }
    vat = Decimal(1) + Decimal(str(prices["ENERGY"]["vat"])) / 100
    incl = {k: money(v * vat) for k, v in excl.items()}
    return {
        "excl": sum((money(v) for v in excl.values()), Decimal(0)),
        "incl": sum(incl.values(), Decimal(0)),
        "energy_excl": money(excl["energy"]),
        "parking_excl": money(excl["parking"]),
    }


def required_cdr_fields() -> set[str]:
    import re

    table = SPEC.read_text(encoding="utf-8").split("[[mod_cdrs_cdr_object]]", 1)[1].split("|===", 2)[1]
    return {m.group(1) for m in re.finditer(r"^\|(\w+) \|[^|]*\|1 \|", table, re.MULTILINE)}


def test_session_to_cdr_through_the_local_runtime(stack: Stack) -> None:
    for tariff, default in ((DEFAULT_TARIFF, True), (CHARGER_TARIFF, False)):
        response = stack.api("PUT", f"/v1/tariffs/{tariff['id']}", {**tariff, "default": default})
        assert response.status_code == 200, response.text
    assert stack.api("GET", "/v1/tariffs/E2E-DEFAULT").json()["default"] is True
    listed = stack.api("GET", "/v1/tariffs").json()["items"]
    assert {t["tariff_id"] for t in listed} == {"E2E-DEFAULT", "E2E-CHARGER"}
    unknown = stack.api("PUT", f"/v1/chargers/{CP}", {"password": PASSWORD, "tariff_id": "NOPE"})
    assert unknown.status_code == 404, unknown.text
    registered = stack.api("PUT", f"/v1/chargers/{CP}", {"password": PASSWORD, "tariff_id": "E2E-CHARGER"})
    assert registered.status_code == 200, registered.text
    assert stack.api("PUT", f"/v1/id-tags/{TAG}", {"status": "Accepted"}).status_code == 200

    tx_id, stop = run_session(stack.runtime.charger_ws_url)
    assert stop.id_tag_info["status"] == "Accepted"

    cdr = wait_for_cdr(stack.api, tx_id)
    want = expected_totals()
    assert Decimal(str(cdr["total_cost"]["excl_vat"])) == want["excl"]  # 0.50 + 2.75 + 0.75 = 4.00
    assert Decimal(str(cdr["total_cost"]["incl_vat"])) == want["incl"]  # 0.60 + 3.30 + 0.90 = 4.80
    assert Decimal(str(cdr["total_energy_cost"]["excl_vat"])) == want["energy_excl"]
    assert Decimal(str(cdr["total_parking_cost"]["excl_vat"])) == want["parking_excl"]
    assert cdr["total_energy"] == 11 and cdr["total_parking_time"] == 0.25 and cdr["total_time"] == 1
    assert cdr["tariffs"][0]["id"] == "E2E-CHARGER"
    assert cdr["id"] == f"TX{tx_id}" and cdr["currency"] == "EUR"
    assert required_cdr_fields() - set(cdr) == set()
    kinds = [[d["type"] for d in p["dimensions"]] for p in cdr["charging_periods"]]
    assert kinds[-1] == ["PARKING_TIME"] and all("ENERGY" in k for k in kinds[:-1])

    by_id = stack.api("GET", f"/v1/cdrs/TX{tx_id}")
    assert by_id.status_code == 200 and by_id.json()["total_cost"] == cdr["total_cost"]
    listing = stack.api("GET", f"/v1/chargers/{CP}/cdrs").json()["items"]
    assert [c["id"] for c in listing] == [f"TX{tx_id}"]

    credit = stack.api("POST", f"/v1/cdrs/TX{tx_id}/credit")
    assert credit.status_code == 201, credit.text
    body = credit.json()
    assert body["credit"] is True and body["credit_reference_id"] == f"TX{tx_id}"
    assert Decimal(str(body["total_cost"]["excl_vat"])) == -want["excl"]
    again = stack.api("POST", f"/v1/cdrs/TX{tx_id}/credit")
    assert again.status_code == 201 and again.json()["id"] == body["id"]
    # Both documents are in the documents bucket: the CDR's receipt (CDR worker) and the credit note.
    assert stack.runtime.provisioned is not None
    s3 = boto3.client(
        "s3",
        endpoint_url=stack.runtime.aws_endpoint_url,
        region_name="eu-west-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    bucket = stack.runtime.provisioned.buckets["DocumentsBucket"]
    for document in (body["id"], f"TX{tx_id}"):  # the receipt follows the CDR in the worker: poll
        key = f"receipts/tenant={TENANT}/{document}.pdf"
        deadline = time.monotonic() + 30
        while not s3.list_objects_v2(Bucket=bucket, Prefix=key).get("KeyCount"):
            assert time.monotonic() < deadline, f"no {key}"
            time.sleep(0.5)
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read().startswith(b"%PDF")
    # The original is unchanged.
    assert stack.api("GET", f"/v1/cdrs/TX{tx_id}").json()["total_cost"] == cdr["total_cost"]


def test_drivers_are_not_served_cdrs_yet(stack: Stack) -> None:
    token = bearer_token(
        stack.runtime, subject="e2e-driver", tenant=TENANT, roles=["driver"], ttl_seconds=300
    )
    response = SessionClient(stack.runtime, token, timeout=30)("GET", "/v1/cdrs/TX1")
    assert response.status_code == 403
