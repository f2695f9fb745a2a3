"""A deterministic card gateway for the local runtime and tests (``PAYMENT_PROVIDER=fake``).

Behaviour by card token (what a driver registers with ``PUT /v1/me/payment-method``):

| token | behaviour |
|---|---|
| ``tok_decline...`` | every pre-authorisation is declined ("do not honor") |
| ``tok_unavailable...`` | the pre-authorisation raises ``PaymentProviderUnavailable`` |
| ``tok_capture_fail_<n>...`` | the first ``n`` capture calls fail (5xx), then captures succeed |
| ``tok_capture_fail...`` (no number) | every capture fails |
| anything else | approved |

plus ``decline_above``: holds above this amount are declined (insufficient funds). Calls are idempotent
per key like a real gateway: the same key answers the first result again (a failed call is not stored,
so a retry of a failed capture runs again). The authorisation reference carries the card token
(``fake:<token>:<hash of the key>``), so the API's hold and the CDR worker's capture agree across
processes; only "fails n times" is counted per process (the local runtime keeps its function workers
warm, so it counts across SQS retries there).
"""

from __future__ import annotations

import hashlib
import itertools
import re
import threading
from dataclasses import dataclass, field
from decimal import Decimal

from voltway.payments.errors import PaymentProviderUnavailable
from voltway.payments.model import Money, ProviderResult

_FAIL_N = re.compile(r"^tok_capture_fail_(\d+)")


def _token_of(provider_reference: str) -> str | None:
    kind, _, rest = provider_reference.partition(":")
    token, _, _ = rest.rpartition(":")
    return token if kind == "fake" and token else None


@dataclass
class FakeCall:
    operation: str
    key: str
    amount: Money
    reference: str


@dataclass
class FakePaymentProvider:
    decline_above: Decimal | None = None
    name: str = "fake"
    calls: list[FakeCall] = field(default_factory=list)  # every call, retries included
    _results: dict[str, ProviderResult] = field(default_factory=dict)
    _capture_failures: dict[str, int] = field(default_factory=dict)  # per reference
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _once(self, key: str, compute: ProviderResult) -> ProviderResult:
        return self._results.setdefault(key, compute)

    def _ref(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):08d}"

    def preauthorize(self, *, key: str, token: str, amount: Money, reference: str) -> ProviderResult:
        with self._lock:
            self.calls.append(FakeCall("preauthorize", key, amount, reference))
            if key in self._results:
                return self._results[key]
            if token.startswith("tok_unavailable"):
                raise PaymentProviderUnavailable("fake gateway: 503 Service Unavailable")
            if token.startswith("tok_decline"):
                return self._once(key, ProviderResult(False, None, "DECLINED: do not honor"))
            if self.decline_above is not None and amount.amount > self.decline_above:
                return self._once(key, ProviderResult(False, None, "DECLINED: insufficient funds"))
            digest = hashlib.sha256(key.encode()).hexdigest()[:16]
            return self._once(key, ProviderResult(True, f"fake:{token}:{digest}"))

    def capture(self, *, key: str, provider_reference: str, amount: Money) -> ProviderResult:
        with self._lock:
            self.calls.append(FakeCall("capture", key, amount, provider_reference))
            if key in self._results:
                return self._results[key]
            token = _token_of(provider_reference)
            if token is None:
                return ProviderResult(False, None, "unknown authorisation")
            failing = _FAIL_N.match(token)
            if failing or token.startswith("tok_capture_fail"):
                done = self._capture_failures.get(provider_reference, 0)
                if failing is None or done < int(failing.group(1)):
                    self._capture_failures[provider_reference] = done + 1
                    raise PaymentProviderUnavailable("fake gateway: 502 Bad Gateway on capture")
            return self._once(key, ProviderResult(True, self._ref("FAKE-CAP-")))

    def void(self, *, key: str, provider_reference: str, amount: Money) -> ProviderResult:
        with self._lock:
            self.calls.append(FakeCall("void", key, amount, provider_reference))
            if _token_of(provider_reference) is None:
                return self._once(key, ProviderResult(False, None, "unknown authorisation"))
            return self._once(key, ProviderResult(True, self._ref("FAKE-VOID-")))

    def refund(self, *, key: str, provider_reference: str, amount: Money) -> ProviderResult:
        with self._lock:
            self.calls.append(FakeCall("refund", key, amount, provider_reference))
            return self._once(key, ProviderResult(True, self._ref("FAKE-REF-")))

    def count(self, operation: str) -> int:
        """Distinct effects of ``operation`` (one per key that succeeded)."""
        return len({c.key for c in self.calls if c.operation == operation and c.key in self._results})
