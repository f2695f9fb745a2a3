"""Ports of the OCPP central system. DynamoDB / API Gateway adapters live in ``voltway.adapters``;
in-memory twins in ``voltway.ocpp.memory``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

Direction = Literal["in", "out"]


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One frame as it crossed the wire."""

    charge_point_id: str
    direction: Direction
    at: datetime
    unique_id: str | None
    message_type: int | None
    action: str | None
    frame: str
    connection_id: str | None = None


@dataclass(frozen=True, slots=True)
class AuditPage:
    items: list[AuditEntry]
    cursor: str | None


class MessageAudit(Protocol):
    """The frame audit log (both directions, expiring). Written per frame, read only by the API."""

    def record(self, entries: list[AuditEntry]) -> None: ...

    def recent(self, charge_point_id: str, limit: int, cursor: str | None) -> AuditPage:
        """Newest first."""
        ...


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    fingerprint: str
    response: str | None  # None while the first delivery is still being handled
    claimed_at: datetime


class IdempotencyStore(Protocol):
    """Answers per (charge point id, unique id), so that a retried CALL gets the same answer."""

    def claim(
        self, charge_point_id: str, unique_id: str, fingerprint: str, now: datetime, stale_before: datetime
    ) -> IdempotencyRecord | None:
        """Claim the key (None: go ahead and handle the call) or return the record that holds it.
        A record with a different fingerprint (the charger reused an id for a new call), an
        unanswered claim older than ``stale_before``, or an expired record are taken over."""
        ...

    def complete(self, charge_point_id: str, unique_id: str, response: str, now: datetime) -> None: ...

    def release(self, charge_point_id: str, unique_id: str) -> None:
        """Drop a claim whose handling failed, so that a retry is handled afresh."""
        ...


class ConnectionGone(Exception):
    """The WebSocket connection no longer exists (API Gateway's GoneException)."""


class ChargerConnections(Protocol):
    """Sends frames to chargers (the API Gateway management API's ``post_to_connection``)."""

    def send(self, connection_id: str, frame: str) -> None:
        """Raises ``ConnectionGone`` when the connection has closed."""
        ...


@dataclass(frozen=True, slots=True)
class DataTransferRecord:
    """A charger's DataTransfer as received, with the status it was answered with."""

    charge_point_id: str
    unique_id: str
    received_at: datetime
    vendor_id: str
    message_id: str | None
    data: str | None
    status: str


class DataTransferLog(Protocol):
    def record(self, record: DataTransferRecord) -> None: ...


StatusReportKind = Literal["firmware", "diagnostics"]


@dataclass(frozen=True, slots=True)
class StatusReport:
    """The last FirmwareStatusNotification / DiagnosticsStatusNotification of a charger."""

    status: str
    at: datetime


class ChargerReports(Protocol):
    """Firmware and diagnostics status, stored on the charger (one UpdateItem per report)."""

    def record(self, charge_point_id: str, kind: StatusReportKind, report: StatusReport) -> None: ...

    def get(self, charge_point_id: str) -> dict[StatusReportKind, StatusReport]: ...
