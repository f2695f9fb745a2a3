"""Ports of the drivers context. DynamoDB adapter: ``voltway.drivers.dynamo``; in-memory twin:
``voltway.drivers.memory``. The session read path uses key lookups only (GetItem); the history listing
is one Query of a sparse index."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from voltway.billing.model import IssuedCdr
from voltway.drivers.model import ChargingSession, CostEstimate, SessionPage, TokenKind, TokenLink
from voltway.ocpp.commands.model import Command
from voltway.payments.model import Payment
from voltway.transactions.model import MeterSample, Transaction


class DriverStore(Protocol):
    def claim_token(self, link: TokenLink) -> TokenLink:
        """Link the id tag to the user unless it is linked already; returns the link that holds (the
        caller compares its user). Atomic: two users racing for one uid cannot both win."""
        ...

    def owner_of(self, tenant_id: str, id_tag: str) -> TokenLink | None: ...

    def tokens_of(self, tenant_id: str, user_id: str) -> list[TokenLink]: ...

    def app_token(self, tenant_id: str, user_id: str) -> str | None: ...

    def claim_app_token(self, tenant_id: str, user_id: str, id_tag: str) -> str:
        """Set the user's app token unless one is set; returns the one that holds."""
        ...

    def create_session(self, session: ChargingSession) -> None: ...

    def get_session(self, session_id: str) -> ChargingSession | None: ...

    def save_session(self, session: ChargingSession) -> ChargingSession:
        """Store ``session`` if the stored version is ``session.version``; returns it with the next
        version. Raises ``SessionConflict`` when another writer came first."""
        ...

    def sessions_of(self, tenant_id: str, user_id: str, limit: int, cursor: str | None) -> SessionPage:
        """Newest first."""
        ...


class Commands(Protocol):
    """The platform -> charger command flow (``voltway.ocpp.commands.service.CommandService``)."""

    def submit(self, tenant_id: str, charge_point_id: str, action: str, payload: object) -> Command: ...

    def get(self, tenant_id: str, command_id: str) -> Command: ...


class Transactions(Protocol):
    def active_for_tag(self, tenant_id: str, id_tag: str) -> int | None:
        """The transaction holding the id tag's active-transaction lock (one GetItem)."""
        ...

    def transaction(self, transaction_id: int) -> Transaction | None: ...

    def samples(self, transaction_id: int) -> list[MeterSample]: ...


class Cdrs(Protocol):
    def get(self, cdr_id: str) -> IssuedCdr | None: ...


class SessionPayments(Protocol):
    """Payments of app-started sessions (``voltway.payments.service.PaymentService``)."""

    def hold(
        self,
        *,
        tenant_id: str,
        user_id: str,
        session_id: str,
        charge_point_id: str,
        connector_id: int,
        id_tag: str,
    ) -> Payment:
        """Pre-authorise; raises when no hold was placed (no payment method, declined, unavailable)."""
        ...

    def release(self, session_id: str) -> Payment | None:
        """Void the session's hold if still held (idempotent, best effort)."""
        ...

    def of_session(self, session_id: str) -> Payment | None: ...

    def stale_holds(self, older_than: timedelta, limit: int) -> list[Payment]:
        """Holds still authorised and unbound to a CDR, placed more than ``older_than`` ago."""
        ...


class CostEstimator(Protocol):
    def estimate(
        self, transaction: Transaction, samples: list[MeterSample], now: datetime
    ) -> CostEstimate | None:
        """The cost so far, or None when no tariff applies."""
        ...


__all__ = ["TokenKind"]
