"""Adapter for a Fiserv Commerce Hub-style card gateway (REST over HTTPS, HMAC-signed requests).

Followed (Fiserv's public Commerce Hub documentation, github.com/Fiserv/Commerce-Hub, ``docs/``):

* ``Guides-Info/Authentication-Header.md`` — headers ``Api-Key``, ``Client-Request-Id``, ``Timestamp``
  (epoch milliseconds), ``Auth-Token-Type: HMAC`` and ``Authorization`` = Base64(HMAC-SHA256(API secret,
  ``Api-Key + Client-Request-Id + Timestamp + request body``)).
* ``Resources/Guides/Idempotency.md`` — a request retried with the same ``Client-Request-Id`` (after a
  timeout or a gateway timeout) is processed once: the gateway answers the original response. Each
  attempt is signed afresh (new ``Timestamp``) but keeps the id; the id is a UUID derived from our
  idempotency key, so even a retry from another process (an SQS redelivery) reuses it.
* ``Transactions/Charges.md`` — ``POST /payments/v1/charges`` with ``transactionDetails.captureFlag:
  false`` is a pre-authorisation (hold); ``amount {total, currency}``, ``source`` (here a stored
  ``PaymentToken``), ``merchantDetails {merchantId, terminalId}``; ``merchantOrderId`` carries our id.
* ``Transactions/Capture.md`` — ``POST /payments/v1/charges/{transactionId}/capture`` with ``amount``
  (a partial capture releases the rest of the hold) and ``captureFlag: true``.
* ``Transactions/Cancel.md`` — ``POST /payments/v1/charges/{transactionId}/cancel`` (void of an
  uncaptured authorisation), ``reversalReasonCode: VOID``.
* ``Transactions/Refund.md`` — full or partial refund of a captured charge to the original
  ``transactionId`` (``.../refund``, ``amount``).
* Responses: ``gatewayResponse.transactionProcessingDetails.transactionId`` (the reference later calls
  use) and ``paymentReceipt.processorResponseDetails.approvalStatus`` (``APPROVED`` / ``DECLINED``).

Outcome mapping: 2xx + APPROVED = approved; 2xx DECLINED or another 4xx = refused (``approved=False``,
reason from the answer, never retried); 5xx, 408, 429, timeouts and connection errors are retried with
the same ``Client-Request-Id`` (``attempts`` in all, exponential back-off) and then raise
``PaymentProviderUnavailable``. Not done: 3-D Secure, card-present data, currency exponent other than 2,
``Retry-After``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from voltway.observability import logger
from voltway.payments.errors import PaymentProviderUnavailable
from voltway.payments.model import Money, ProviderResult

# Client-Request-Ids are UUIDs derived from our idempotency keys (uuid5 in this namespace).
_NAMESPACE = uuid.UUID("6f1d2c1e-5a0b-4c53-9a55-0c6f6b1b7a10")
_RETRYABLE = frozenset({408, 429})


def client_request_id(key: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, key))


def signature(api_key: str, secret: str, request_id: str, timestamp: str, body: str) -> str:
    """Base64(HMAC-SHA256(secret, apiKey + clientRequestId + timestamp + body))."""
    raw = (api_key + request_id + timestamp + body).encode()
    return base64.b64encode(hmac.new(secret.encode(), raw, hashlib.sha256).digest()).decode()


@dataclass(frozen=True, slots=True)
class FiservCredentials:
    """From the gateway secret in Secrets Manager (JSON with these keys); never in the repository."""

    api_key: str
    api_secret: str
    merchant_id: str
    terminal_id: str

    @classmethod
    def from_json(cls, text: str) -> FiservCredentials:
        data = json.loads(text)
        return cls(data["api_key"], data["api_secret"], data["merchant_id"], data["terminal_id"])


def _amount(money: Money) -> dict[str, Any]:
    return {"total": float(money.amount), "currency": money.currency}


class FiservCommerceHub:
    name = "fiserv"

    def __init__(
        self,
        base_url: str,
        credentials: FiservCredentials,
        *,
        timeout: float = 10.0,
        attempts: int = 3,
        backoff: float = 0.5,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._credentials = credentials
        self._timeout = timeout
        self._attempts = attempts
        self._backoff = backoff
        self._clock = clock
        self._sleep = sleep

    # ------------------------------------------------------------------ PaymentProvider
    def preauthorize(self, *, key: str, token: str, amount: Money, reference: str) -> ProviderResult:
        return self._call(
            key,
            "/payments/v1/charges",
            {
                "amount": _amount(amount),
                "source": {"sourceType": "PaymentToken", "tokenData": token, "tokenSource": "TRANSARMOR"},
                "transactionDetails": {"captureFlag": False, "merchantOrderId": reference},
                "merchantDetails": self._merchant(),
            },
        )

    def capture(self, *, key: str, provider_reference: str, amount: Money) -> ProviderResult:
        return self._call(
            key,
            f"/payments/v1/charges/{provider_reference}/capture",
            {
                "amount": _amount(amount),
                "transactionDetails": {"captureFlag": True},
                "merchantDetails": self._merchant(),
            },
        )

    def void(self, *, key: str, provider_reference: str, amount: Money) -> ProviderResult:
        return self._call(
            key,
            f"/payments/v1/charges/{provider_reference}/cancel",
            {
                "amount": _amount(amount),
                "transactionDetails": {"reversalReasonCode": "VOID"},
                "merchantDetails": self._merchant(),
            },
        )

    def refund(self, *, key: str, provider_reference: str, amount: Money) -> ProviderResult:
        return self._call(
            key,
            f"/payments/v1/charges/{provider_reference}/refund",
            {"amount": _amount(amount), "merchantDetails": self._merchant()},
        )

    # ------------------------------------------------------------------ transport
    def _merchant(self) -> dict[str, str]:
        return {"merchantId": self._credentials.merchant_id, "terminalId": self._credentials.terminal_id}

    def _call(self, key: str, path: str, payload: dict[str, Any]) -> ProviderResult:
        body = json.dumps(payload, separators=(",", ":"))
        request_id = client_request_id(key)
        last_error = "no attempt"
        for attempt in range(1, self._attempts + 1):
            if attempt > 1:
                self._sleep(self._backoff * 2 ** (attempt - 2))
            try:
                status, answer = self._post(path, body, request_id)
            except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
                last_error = f"{type(e).__name__}: {getattr(e, 'reason', e)}"
            else:
                if status >= 500 or status in _RETRYABLE:
                    last_error = f"HTTP {status}"
                else:
                    return self._result(status, answer)
            logger.warning("payment gateway attempt failed", path=path, attempt=attempt, error=last_error)
        raise PaymentProviderUnavailable(f"gateway unavailable after {self._attempts} attempts: {last_error}")

    def _post(self, path: str, body: str, request_id: str) -> tuple[int, dict[str, Any]]:
        c = self._credentials
        timestamp = str(int(self._clock() * 1000))
        request = urllib.request.Request(
            self._base + path,
            data=body.encode(),
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Accept": "application/json",
                "Api-Key": c.api_key,
                "Client-Request-Id": request_id,
                "Timestamp": timestamp,
                "Auth-Token-Type": "HMAC",
                "Authorization": signature(c.api_key, c.api_secret, request_id, timestamp, body),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                return response.status, _json(response.read())
        except urllib.error.HTTPError as e:
            return e.code, _json(e.read())

    @staticmethod
    def _result(status: int, answer: dict[str, Any]) -> ProviderResult:
        gateway = answer.get("gatewayResponse") or {}
        details = gateway.get("transactionProcessingDetails") or {}
        receipt = (answer.get("paymentReceipt") or {}).get("processorResponseDetails") or {}
        reference = details.get("transactionId")
        approval = str(receipt.get("approvalStatus", "")).upper()
        if 200 <= status < 300 and approval in ("APPROVED", ""):
            return ProviderResult(True, str(reference) if reference is not None else None)
        errors = answer.get("error")
        message = receipt.get("responseMessage") or (
            errors[0].get("message")
            if isinstance(errors, list) and errors and isinstance(errors[0], dict)
            else None
        )
        return ProviderResult(False, None, f"{approval or f'HTTP {status}'}: {message or 'refused'}")


def _json(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
