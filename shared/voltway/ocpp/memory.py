"""In-memory twins of the OCPP ports."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from voltway.chargers.errors import InvalidCursor
from voltway.ocpp.ports import (
    AuditEntry,
    AuditPage,
    ConnectionGone,
    DataTransferRecord,
    IdempotencyRecord,
    StatusReport,
    StatusReportKind,
)


class InMemoryMessageAudit:
    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    def record(self, entries: list[AuditEntry]) -> None:
        self.entries.extend(entries)

    def recent(self, charge_point_id: str, limit: int, cursor: str | None) -> AuditPage:
        mine = [e for e in reversed(self.entries) if e.charge_point_id == charge_point_id]
        if cursor and not cursor.isdigit():
            raise InvalidCursor("invalid cursor")
        start = int(cursor) if cursor else 0
        page = mine[start : start + limit]
        return AuditPage(page, str(start + limit) if start + limit < len(mine) else None)


class InMemoryIdempotencyStore:
    def __init__(self, ttl: timedelta = timedelta(hours=1)) -> None:
        self.records: dict[tuple[str, str], IdempotencyRecord] = {}
        self._ttl = ttl

    def claim(
        self, charge_point_id: str, unique_id: str, fingerprint: str, now: datetime, stale_before: datetime
    ) -> IdempotencyRecord | None:
        key = (charge_point_id, unique_id)
        existing = self.records.get(key)
        if (
            existing is None
            or existing.fingerprint != fingerprint
            or existing.claimed_at + self._ttl < now
            or (existing.response is None and existing.claimed_at < stale_before)
        ):
            self.records[key] = IdempotencyRecord(fingerprint, None, now)
            return None
        return existing

    def complete(self, charge_point_id: str, unique_id: str, response: str, now: datetime) -> None:
        key = (charge_point_id, unique_id)
        if key in self.records:
            self.records[key] = replace(self.records[key], response=response)

    def release(self, charge_point_id: str, unique_id: str) -> None:
        self.records.pop((charge_point_id, unique_id), None)


class InMemoryChargerConnections:
    """Collects sent frames; connections listed in ``gone`` raise ``ConnectionGone``."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.gone: set[str] = set()

    def send(self, connection_id: str, frame: str) -> None:
        if connection_id in self.gone:
            raise ConnectionGone(connection_id)
        self.sent.append((connection_id, frame))


class InMemoryDataTransferLog:
    def __init__(self) -> None:
        self.records: list[DataTransferRecord] = []

    def record(self, record: DataTransferRecord) -> None:
        self.records.append(record)


class InMemoryChargerReports:
    def __init__(self) -> None:
        self.reports: dict[str, dict[StatusReportKind, StatusReport]] = {}

    def record(self, charge_point_id: str, kind: StatusReportKind, report: StatusReport) -> None:
        self.reports.setdefault(charge_point_id, {})[kind] = report

    def get(self, charge_point_id: str) -> dict[StatusReportKind, StatusReport]:
        return dict(self.reports.get(charge_point_id, {}))
