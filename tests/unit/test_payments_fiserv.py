"""The Fiserv Commerce Hub adapter against a local gateway (127.0.0.1, a free port) that checks every
request's HMAC signature and plays approvals, declines, 5xx and timeouts. Retries must keep the
Client-Request-Id (the gateway's idempotency key) and sign each attempt afresh."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from voltway.payments.errors import PaymentProviderUnavailable
from voltway.payments.fiserv import FiservCommerceHub, FiservCredentials, client_request_id
from voltway.payments.model import Money

CREDENTIALS = FiservCredentials("key-123", "s3cret-value", "100008000003683", "10000001")
EUR = Money(Decimal("50.00"), "EUR")


def approved(transaction_id: str = "838916029301", state: str = "AUTHORIZED") -> dict[str, Any]:
    return {
        "gatewayResponse": {
            "transactionState": state,
            "transactionProcessingDetails": {"transactionId": transaction_id},
        },
        "paymentReceipt": {"processorResponseDetails": {"approvalStatus": "APPROVED", "responseCode": "00"}},
    }


DECLINED = {
    "gatewayResponse": {
        "transactionState": "DECLINED",
        "transactionProcessingDetails": {"transactionId": "9"},
    },
    "paymentReceipt": {
        "processorResponseDetails": {"approvalStatus": "DECLINED", "responseMessage": "Do not honor"}
    },
}


@dataclass
class Seen:
    path: str
    request_id: str
    timestamp: str
    body: dict[str, Any]
    signed_ok: bool


@dataclass
class Gateway:
    """Plays ``script`` (one step per request: (status, body) or ("sleep", seconds)); answers 200 +
    approval when the script is empty; a Client-Request-Id that already got a final answer gets it again
    (Commerce Hub's idempotency)."""

    script: list[Any] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)
    answered: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    url: str = ""


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    state = Gateway()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers["Content-Length"])).decode()
            request_id, stamp = self.headers["Client-Request-Id"], self.headers["Timestamp"]
            message = (self.headers["Api-Key"] + request_id + stamp + raw).encode()
            expected = base64.b64encode(
                hmac.new(CREDENTIALS.api_secret.encode(), message, hashlib.sha256).digest()
            ).decode()
            ok = (
                self.headers["Auth-Token-Type"] == "HMAC"
                and self.headers["Api-Key"] == CREDENTIALS.api_key
                and hmac.compare_digest(self.headers["Authorization"], expected)
                and abs(time.time() * 1000 - int(stamp)) < 300_000
            )
            state.seen.append(Seen(self.path, request_id, stamp, json.loads(raw), ok))
            if not ok:
                return self._send(401, {"error": [{"type": "HMAC", "message": "signature mismatch"}]})
            if request_id in state.answered:
                return self._send(*state.answered[request_id])
            step: Any = state.script.pop(0) if state.script else (200, approved())
            if step[0] == "sleep":
                time.sleep(step[1])
                step = (200, approved())
            if step[0] < 500:
                state.answered[request_id] = step
            self._send(*step)

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout test)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/ch"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def hub(gateway: Gateway, *, secret: str = CREDENTIALS.api_secret, timeout: float = 2.0) -> FiservCommerceHub:
    credentials = FiservCredentials(
        CREDENTIALS.api_key, secret, CREDENTIALS.merchant_id, CREDENTIALS.terminal_id
    )
    return FiservCommerceHub(gateway.url, credentials, timeout=timeout, attempts=3, sleep=lambda _: None)


def test_preauthorisation_is_a_signed_charge_without_capture(gateway: Gateway) -> None:
    result = hub(gateway).preauthorize(key="preauth:s1", token="tok-4242", amount=EUR, reference="PAY-s1")
    assert result.approved and result.reference == "838916029301"
    (seen,) = gateway.seen
    assert seen.signed_ok and seen.path == "/ch/payments/v1/charges"
    assert seen.request_id == client_request_id("preauth:s1")
    assert seen.body == {
        "amount": {"total": 50.0, "currency": "EUR"},
        "source": {"sourceType": "PaymentToken", "tokenData": "tok-4242", "tokenSource": "TRANSARMOR"},
        "transactionDetails": {"captureFlag": False, "merchantOrderId": "PAY-s1"},
        "merchantDetails": {"merchantId": "100008000003683", "terminalId": "10000001"},
    }


def test_capture_void_refund_endpoints_and_bodies(gateway: Gateway) -> None:
    h = hub(gateway)
    part = Money(Decimal("12.34"), "EUR")
    assert h.capture(key="capture:TX7", provider_reference="838916029301", amount=part).approved
    assert h.void(key="void:PAY-1", provider_reference="838916029301", amount=EUR).approved
    assert h.refund(key="refund:PAY-1:k1", provider_reference="838916029301", amount=part).approved
    paths = [s.path for s in gateway.seen]
    assert paths == [
        "/ch/payments/v1/charges/838916029301/capture",
        "/ch/payments/v1/charges/838916029301/cancel",
        "/ch/payments/v1/charges/838916029301/refund",
    ]
    capture, cancel, refund = (s.body for s in gateway.seen)
    assert capture["amount"] == {"total": 12.34, "currency": "EUR"}
    assert capture["transactionDetails"] == {"captureFlag": True}
    assert cancel["transactionDetails"] == {"reversalReasonCode": "VOID"}
    assert refund["amount"] == {"total": 12.34, "currency": "EUR"}
    assert all(s.signed_ok for s in gateway.seen)
    assert len({s.request_id for s in gateway.seen}) == 3  # one id per operation key


def test_declines_are_refusals_and_never_retried(gateway: Gateway) -> None:
    gateway.script = [(201, DECLINED), (400, {"error": [{"type": "GATEWAY", "message": "Invalid token"}]})]
    h = hub(gateway)
    first = h.preauthorize(key="preauth:d1", token="t", amount=EUR, reference="PAY-d1")
    assert not first.approved and first.reason == "DECLINED: Do not honor"
    second = h.preauthorize(key="preauth:d2", token="t", amount=EUR, reference="PAY-d2")
    assert not second.approved and "Invalid token" in (second.reason or "")
    assert len(gateway.seen) == 2


def test_5xx_is_retried_with_the_same_client_request_id_and_fresh_signatures(gateway: Gateway) -> None:
    gateway.script = [(500, {}), (503, {})]
    result = hub(gateway).capture(key="capture:TX9", provider_reference="77", amount=EUR)
    assert result.approved
    assert [s.request_id for s in gateway.seen] == [client_request_id("capture:TX9")] * 3
    assert all(s.signed_ok for s in gateway.seen)
    # A later retry of the same operation (an SQS redelivery) reuses the id: the gateway replays its
    # first answer instead of capturing again.
    again = hub(gateway).capture(key="capture:TX9", provider_reference="77", amount=EUR)
    assert again == result and len(gateway.answered) == 1


def test_timeouts_and_persistent_5xx_raise_unavailable_after_the_retries(gateway: Gateway) -> None:
    gateway.script = [("sleep", 0.6), ("sleep", 0.6), ("sleep", 0.6)]
    with pytest.raises(PaymentProviderUnavailable, match="3 attempts"):
        hub(gateway, timeout=0.2).preauthorize(key="preauth:t1", token="t", amount=EUR, reference="P")
    assert [s.request_id for s in gateway.seen] == [client_request_id("preauth:t1")] * 3
    gateway.script = [(502, {})] * 3
    with pytest.raises(PaymentProviderUnavailable, match="HTTP 502"):
        hub(gateway).void(key="void:P", provider_reference="1", amount=EUR)


def test_a_wrong_secret_is_rejected_by_the_signature_check(gateway: Gateway) -> None:
    result = hub(gateway, secret="not-the-secret").preauthorize(key="k", token="t", amount=EUR, reference="P")
    assert not result.approved and "HTTP 401" in (result.reason or "")
    assert [s.signed_ok for s in gateway.seen] == [False]


def test_credentials_come_from_the_secret_json() -> None:
    text = json.dumps(
        {"api_key": "a", "api_secret": "b", "merchant_id": "m", "terminal_id": "t", "base_url": "u"}
    )
    assert FiservCredentials.from_json(text) == FiservCredentials("a", "b", "m", "t")
