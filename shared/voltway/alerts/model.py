"""Alerts: one item per (charger, kind, subject); raising it again after it was resolved opens a new
occurrence. ``alert_id`` = ``<charger>~<kind>~<subject>~<occurrence>`` (``~`` is not in charger ids)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class AlertKind(StrEnum):
    CHARGER_OFFLINE = "charger_offline"  # subject "0"; resolved when the charger is heard from again
    CONNECTOR_FAULTED = "connector_faulted"  # subject = connector id; resolved by a non-Faulted status
    UNKNOWN_TRANSACTION_STOP = "unknown_transaction_stop"  # subject = transaction id; operators close it
    METER_ANOMALY = "meter_anomaly"  # subject = transaction id; operators close it
    PAYMENT_CAPTURE_FAILED = "payment_capture_failed"  # subject = payment id; resolved once captured


class AlertStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class AlertKey:
    charge_point_id: str
    kind: AlertKind
    subject: str = "0"

    def alert_id(self, occurrence: int) -> str:
        return f"{self.charge_point_id}~{self.kind.value}~{self.subject}~{occurrence}"


def parse_alert_id(alert_id: str) -> tuple[AlertKey, int] | None:
    parts = alert_id.split("~")
    if len(parts) != 4 or not parts[3].isdigit() or len(alert_id) > 160:
        return None
    try:
        kind = AlertKind(parts[1])
    except ValueError:
        return None
    return AlertKey(parts[0], kind, parts[2]), int(parts[3])


@dataclass(frozen=True, slots=True)
class Alert:
    key: AlertKey
    tenant_id: str
    occurrence: int
    status: AlertStatus
    raised_at: datetime
    details: dict[str, Any] = field(default_factory=dict)
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    resolved_at: datetime | None = None

    @property
    def alert_id(self) -> str:
        return self.key.alert_id(self.occurrence)


@dataclass(frozen=True, slots=True)
class AlertPage:
    items: list[Alert]
    cursor: str | None
