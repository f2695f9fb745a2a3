"""Drivers' tokens and charging sessions. Times are timezone-aware UTC; energy in Wh, power in W,
money as ``Decimal`` in the tariff's currency."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum


class TokenKind(StrEnum):
    RFID = "rfid"
    APP = "app"


@dataclass(frozen=True, slots=True)
class TokenLink:
    """An OCPP id tag of the tenant, owned by one user (the link CDRs and transactions are attributed by)."""

    tenant_id: str
    user_id: str
    id_tag: str
    kind: TokenKind
    created_at: datetime


class SessionState(StrEnum):
    REQUESTED = "requested"  # RemoteStartTransaction queued or sent, no answer yet
    ACCEPTED = "accepted"  # the charger accepted the command; waiting for its StartTransaction
    REJECTED = "rejected"  # the charger rejected the command (or answered with a CALLERROR)
    OFFLINE = "offline"  # the charger was not connected
    TIMEOUT = "timeout"  # no answer in time (a late StartTransaction still links the session)
    EXPIRED = "expired"  # accepted/timeout and no StartTransaction within the start timeout (final)
    STARTED = "started"  # the StartTransaction with the app token arrived on that connector
    STOPPED = "stopped"  # the transaction stopped

    @property
    def may_start(self) -> bool:
        """States in which a StartTransaction can still link to the session."""
        return self in (SessionState.REQUESTED, SessionState.ACCEPTED, SessionState.TIMEOUT)

    @property
    def settled(self) -> bool:
        """Nothing more will change (history listings skip refreshing these)."""
        return self in (
            SessionState.REJECTED,
            SessionState.OFFLINE,
            SessionState.EXPIRED,
            SessionState.STOPPED,
        )

    @property
    def ended_without_transaction(self) -> bool:
        """No transaction will follow: a payment hold is released."""
        return self in (SessionState.REJECTED, SessionState.OFFLINE, SessionState.EXPIRED)


@dataclass(frozen=True, slots=True)
class ChargingSession:
    """A charge the driver started from the app. ``version`` guards racing refreshes (optimistic)."""

    session_id: str
    tenant_id: str
    user_id: str
    charge_point_id: str
    connector_id: int
    id_tag: str
    state: SessionState
    created_at: datetime
    start_command_id: str
    answered_at: datetime | None = None
    transaction_id: int | None = None
    started_at: datetime | None = None
    stopped_at: datetime | None = None
    stop_command_id: str | None = None
    stop_requested_at: datetime | None = None
    version: int = 0


@dataclass(frozen=True, slots=True)
class SessionPage:
    items: list[ChargingSession]
    cursor: str | None


@dataclass(frozen=True, slots=True)
class CostEstimate:
    """Cost so far at the current tariff: an estimate until the CDR is issued."""

    currency: str
    excl_vat: Decimal
    incl_vat: Decimal | None
    tariff_id: str
    estimate: bool = True


@dataclass(frozen=True, slots=True)
class LiveFigures:
    energy_wh: int
    power_w: float | None
    duration_seconds: int
    cost: CostEstimate | None
    cdr_id: str | None
    updated_at: datetime | None  # the newest meter reading the figures come from
