"""Ports of the payments context. Adapters: ``dynamo.py`` (PaymentsTable), ``fiserv.py`` (Commerce Hub),
``fake.py`` (the local runtime's provider); in-memory twin of the store: ``memory.py``."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from voltway.payments.model import Money, Payment, PaymentMethod, PaymentPage, PaymentStatus, ProviderResult


class PaymentProvider(Protocol):
    """A card gateway. Every call carries an idempotency key: the same key sent again (a retry after a
    timeout) must not create a second authorisation, capture, void or refund. Transport failures (5xx,
    timeouts) raise ``PaymentProviderUnavailable``; business refusals return ``approved=False``."""

    name: str

    def preauthorize(self, *, key: str, token: str, amount: Money, reference: str) -> ProviderResult:
        """Hold ``amount`` on the card ``token``; ``reference`` is our payment id (merchant order id)."""
        ...

    def capture(self, *, key: str, provider_reference: str, amount: Money) -> ProviderResult:
        """Capture ``amount`` (<= the hold) of a pre-authorisation; the rest of the hold is released."""
        ...

    def void(self, *, key: str, provider_reference: str, amount: Money) -> ProviderResult:
        """Release an uncaptured hold."""
        ...

    def refund(self, *, key: str, provider_reference: str, amount: Money) -> ProviderResult:
        """Return ``amount`` (<= captured - refunded) of a captured charge."""
        ...


class PaymentRepository(Protocol):
    def create(self, payment: Payment) -> Payment:
        """Store a new payment (version 1); ``PaymentConflict`` if its id exists."""
        ...

    def get(self, payment_id: str) -> Payment | None: ...

    def save(self, payment: Payment) -> Payment:
        """Store if the stored version is ``payment.version``; returns it with the next version, else
        ``PaymentConflict``."""
        ...

    def for_tag(self, tenant_id: str, id_tag: str, limit: int) -> list[Payment]:
        """The id tag's newest payments first (capture looks for the hold of a finished transaction)."""
        ...

    def by_status(
        self, tenant_id: str, status: PaymentStatus, limit: int, cursor: str | None
    ) -> PaymentPage: ...

    def open_holds(self, created_before: datetime, limit: int) -> list[Payment]:
        """Authorised holds not bound to a CDR, created before ``created_before``, oldest first (every
        tenant: the sweep of holds whose session nobody reads any more)."""
        ...

    def put_method(self, method: PaymentMethod) -> None: ...

    def method(self, tenant_id: str, user_id: str) -> PaymentMethod | None: ...


class Alerts(Protocol):
    """Operators are told (alerts topic, and the alert list of GET /v1/alerts): voltway.payments.alerts."""

    def capture_failed(self, payment: Payment) -> None: ...

    def captured_after_failure(self, payment: Payment) -> None: ...
