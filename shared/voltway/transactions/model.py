"""Transactions and meter samples. Energy in Wh (integers), power in W, times timezone-aware UTC:
the charger's timestamps are the truth (a late delivery keeps its original times)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from voltway.idtags.model import IdTagStatus


class Anomaly(StrEnum):
    """Why a transaction needs a human look. Energy is never reported negative because of these."""

    METER_STOP_BELOW_START = "meter_stop_below_meter_start"
    REGISTER_WENT_BACKWARDS = "register_went_backwards"
    STOPPED_TWICE = "stop_with_different_values"


@dataclass(frozen=True, slots=True)
class SampledValue:
    """One OCPP SampledValue as received (``value`` is text: SignedData is not a number)."""

    value: str
    context: str | None = None
    format: str | None = None
    measurand: str | None = None
    phase: str | None = None
    location: str | None = None
    unit: str | None = None

    @property
    def effective_measurand(self) -> str:
        return self.measurand or "Energy.Active.Import.Register"  # the OCPP default

    def number(self) -> float | None:
        if self.format == "SignedData":
            return None
        try:
            return float(self.value)
        except ValueError:
            return None

    def identity(self) -> str:
        """Stable id of what was measured (not of the value): a re-sent sample lands on the same key."""
        parts = (self.measurand, self.phase, self.location, self.context, self.unit, self.format)
        text = "|".join(p or "" for p in parts)
        return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class MeterSample:
    timestamp: datetime
    sampled: SampledValue
    source: str = "MeterValues"  # or "StopTransaction" (transactionData)
    connector_id: int | None = None

    @property
    def seq(self) -> str:
        return self.sampled.identity()


@dataclass(frozen=True, slots=True)
class Reading:
    """What a batch of samples tells about the running totals of a transaction."""

    register_wh: int | None = None
    register_at: datetime | None = None
    power_w: float | None = None
    power_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Transaction:
    transaction_id: int
    tenant_id: str
    charge_point_id: str
    connector_id: int
    id_tag: str
    id_tag_status: IdTagStatus
    meter_start: int
    started_at: datetime
    reservation_id: int | None = None
    stopped_at: datetime | None = None
    meter_stop: int | None = None
    stop_reason: str | None = None
    stop_id_tag: str | None = None
    last_register_wh: int | None = None
    last_register_at: datetime | None = None
    last_power_w: float | None = None
    last_power_at: datetime | None = None
    anomalies: frozenset[str] = field(default_factory=frozenset)
    received_at: datetime | None = None
    stop_reason_requested: str | None = None
    """Why the platform asked the charger to stop (RemoteStopTransaction), e.g. ``time_limit``."""

    @property
    def active(self) -> bool:
        return self.stopped_at is None

    @property
    def ended_by(self) -> str | None:
        """Why the session ended, in the platform's words: the requested reason when the charger stopped
        because of the platform's RemoteStopTransaction (OCPP reason ``Remote``), else the OCPP reason."""
        if self.stopped_at is None:
            return None
        if self.stop_reason_requested is not None and self.stop_reason == "Remote":
            return self.stop_reason_requested
        return self.stop_reason

    @property
    def energy_wh(self) -> int | None:
        """Delivered energy: meterStop - meterStart once stopped, else the last register reading;
        never negative (a meter going backwards is an anomaly, not negative energy)."""
        end = self.meter_stop if self.meter_stop is not None else self.last_register_wh
        return None if end is None else max(0, end - self.meter_start)


@dataclass(frozen=True, slots=True)
class UnmatchedStop:
    """A StopTransaction for a transaction we do not know (e.g. ``-1`` after a lost start): answered,
    and kept for review."""

    charge_point_id: str
    tenant_id: str
    transaction_id: int
    meter_stop: int
    stopped_at: datetime
    stop_reason: str | None
    id_tag: str | None
    unique_id: str
    received_at: datetime


@dataclass(frozen=True, slots=True)
class TransactionPage:
    items: list[Transaction | UnmatchedStop]
    cursor: str | None


def start_key(
    charge_point_id: str, connector_id: int, id_tag: str, meter_start: int, started_at: datetime
) -> str:
    """Deterministic identity of a StartTransaction: a retry (even with a new unique id) maps to the
    transaction the first delivery created."""
    return f"{charge_point_id}#{connector_id}#{id_tag}#{meter_start}#{started_at.isoformat()}"
