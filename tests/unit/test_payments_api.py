"""Payment routes through the Chalice app on moto (tables from template.yaml), the fake gateway: drivers'
card, a declined start (402, nothing sent), the session's payment, and the operators' / finance work on
failed captures and refunds. Reuses the drivers' route harness."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tests.unit.test_driver_api import API, SESSION, aws, call, online, stack
from voltway.payments.errors import CaptureFailed
from voltway.payments.model import ChargeFacts, PaymentStatus
from voltway.payments.roots import cached_payments

__all__ = ["aws", "stack"]
START = {"charge_point_id": "CP1", "connector_id": 1}


def test_payment_method_is_mine_and_validated() -> None:
    status, _, method = call("PUT", "/v1/me/payment-method", body={"token": "tok_visa_4242", "label": "Visa"})
    assert status == 200 and method["token_hint"] == "4242" and method["label"] == "Visa"
    assert "tok_visa" not in str(method)  # the token itself is never echoed
    assert call("GET", "/v1/me/payment-method")[2] == method
    assert call("GET", "/v1/me/payment-method", user="carol")[0] == 404
    assert call("PUT", "/v1/me/payment-method", body={"token": "4111 1111 1111 1111"})[0] == 400
    status, _, err = call("PUT", "/v1/me/payment-method", body={"token": "4111111111111111"})
    assert status == 400 and "card number" in str(err["error"]["details"])
    assert call("PUT", "/v1/me/payment-method", body={"token": "tok_x", "pan": "4111"})[0] == 400
    assert call("PUT", "/v1/me/payment-method", body={"token": "tok_x_1"}, groups="[operator]")[0] == 403


def test_declined_card_answers_402_and_sends_nothing() -> None:
    online("CP1")
    call("PUT", "/v1/me/payment-method", body={"token": "tok_decline_card"})
    status, _, err = call("POST", "/v1/sessions", body=START, key="start-key-decl1")
    assert status == 402 and err["error"]["code"] == "payment_declined", err
    status, _, err = call("POST", "/v1/sessions", body=START, key="start-key-nocard", user="carol")
    assert status == 402 and err["error"]["code"] == "payment_method_required"
    status, commands = API("GET", "/v1/chargers/{chargePointId}/commands", {"chargePointId": "CP1"})
    assert status == 200 and commands["items"] == []
    assert call("GET", "/v1/me/sessions")[2]["items"] == []


def test_session_shows_its_hold_and_an_unknown_charger_releases_it() -> None:
    online("CP1")
    status, _, session = call("POST", "/v1/sessions", body=START, key="start-key-paid1")
    assert status == 202 and session["payment"]["status"] == "authorized", session
    assert session["payment"]["held"] == "50.00" and session["payment"]["currency"] == "EUR"
    got = call("GET", SESSION, {"sessionId": session["session_id"]})[2]
    assert got["payment"] == session["payment"]
    # A start refused after the hold (unknown charger) voids the hold it placed.
    unknown = {"charge_point_id": "NOPE", "connector_id": 1}
    assert call("POST", "/v1/sessions", body=unknown, key="start-key-paid2")[0] == 404
    page = cached_payments().list_by_status("t1", PaymentStatus.VOIDED, 10, None)
    assert len(page.items) == 1 and page.items[0].charge_point_id == "NOPE"


def failed_capture() -> str:
    """A paid session on the fake gateway whose first capture fails (tok_capture_fail_1)."""
    online("CP1")
    call("PUT", "/v1/me/payment-method", body={"token": "tok_capture_fail_1"})
    status, _, session = call("POST", "/v1/sessions", body=START, key="start-key-cf001")
    assert status == 202, session
    now = datetime.now(UTC) + timedelta(minutes=1)
    facts = ChargeFacts("TX41", "t1", "CP1", 1, 41, session["id_tag"], "EUR", Decimal("18.40"), now)
    with pytest.raises(CaptureFailed):
        cached_payments().capture_for_cdr(facts)
    payment_id: str = session["payment"]["payment_id"]
    return payment_id


def test_operators_see_failed_captures_and_retry_them() -> None:
    payment_id = failed_capture()
    status, page = API("GET", "/v1/payments", query={"status": "capture_failed"})
    assert status == 200 and [p["payment_id"] for p in page["items"]] == [payment_id], page
    (failed,) = page["items"]
    assert failed["capture_attempts"] == 1 and failed["due"] == "18.40" and failed["cdr_id"] == "TX41"
    assert "502" in failed["last_error"]
    assert API("GET", "/v1/payments")[1]["items"] == page["items"]  # capture_failed is the default
    assert API("GET", "/v1/payments", query={"status": "nope"})[0] == 400
    one = {"paymentId": payment_id}
    assert API("GET", "/v1/payments/{paymentId}", one)[1] == failed
    assert API("GET", "/v1/payments/{paymentId}", one, tenant="t2")[0] == 404
    assert API("GET", "/v1/payments/{paymentId}", one, groups="[driver]")[0] == 403
    assert API("GET", "/v1/payments/{paymentId}", {"paymentId": "bad"})[0] == 400
    status, done = API("POST", "/v1/payments/{paymentId}/capture", one)
    assert status == 200 and done["status"] == "captured" and done["captured"] == "18.40"
    assert done["capture_attempts"] == 2
    assert API("POST", "/v1/payments/{paymentId}/capture", one)[1]["status"] == "captured"  # once
    assert API("GET", "/v1/payments")[1]["items"] == []


def test_finance_refunds_with_an_idempotency_key() -> None:
    payment_id = failed_capture()
    one = {"paymentId": payment_id}
    assert API("POST", "/v1/payments/{paymentId}/capture", one)[0] == 200
    refund = "/v1/payments/{paymentId}/refund"
    finance, key = "[finance]", {"Idempotency-Key": "refund-key-001"}
    status, _, part = API.full("POST", refund, one, body={"amount": "5.00"}, groups=finance, headers=key)
    assert status == 200 and part["status"] == "partially_refunded" and part["refunded"] == "5.00", part
    status, headers, replay = API.full(
        "POST", refund, one, body={"amount": "5.00"}, groups=finance, headers=key
    )
    assert status == 200 and replay == part and headers.get("Idempotent-Replayed") == "true"
    status, err = API(
        "POST",
        refund,
        one,
        body={"amount": "13.41"},
        groups=finance,
        headers={"Idempotency-Key": "refund-key-002"},
    )
    assert status == 400 and err["error"]["code"] == "invalid_refund"
    assert API("POST", refund, one, body={"amount": "1.00"}, groups=finance)[0] == 400  # key required
    assert (
        API("POST", refund, one, body={"amount": "1.00"}, headers={"Idempotency-Key": "refund-key-003"})[0]
        == 403
    )
    status, full = API(
        "POST",
        refund,
        one,
        body={"amount": "13.40"},
        groups=finance,
        headers={"Idempotency-Key": "refund-key-004"},
    )
    assert status == 200 and full["status"] == "refunded" and full["refunded"] == "18.40"


def test_openapi_documents_the_payment_routes() -> None:
    status, doc = API("GET", "/v1/openapi.json", groups=None)
    assert status == 200
    refund = doc["paths"]["/v1/payments/{paymentId}/refund"]["post"]
    assert refund["x-roles"] == ["admin", "finance"] and refund["tags"] == ["payments"]
    assert any(p["name"] == "Idempotency-Key" and p["required"] for p in refund["parameters"])
    assert refund["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("RefundRequest")
    listing = doc["paths"]["/v1/payments"]["get"]
    assert {p["name"] for p in listing["parameters"]} == {"status", "limit", "cursor"}
    put = doc["paths"]["/v1/me/payment-method"]["put"]
    assert put["x-roles"] == ["admin", "driver"]
    session = doc["components"]["schemas"]["SessionOut"]["properties"]
    assert "payment" in session
