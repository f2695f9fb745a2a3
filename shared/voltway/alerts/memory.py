"""In-memory twin of the alerts store (unit tests, no network)."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from voltway.alerts.model import Alert, AlertKey, AlertKind, AlertPage, AlertStatus

_UNRESOLVED = (AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED)


class InMemoryAlertStore:
    def __init__(self) -> None:
        self.items: dict[AlertKey, Alert] = {}

    def open(self, key: AlertKey, tenant_id: str, at: datetime, details: dict[str, Any]) -> Alert | None:
        current = self.items.get(key)
        if current is not None and current.status in _UNRESOLVED:
            return None
        occurrence = current.occurrence + 1 if current is not None else 1
        alert = Alert(key, tenant_id, occurrence, AlertStatus.OPEN, at, dict(details))
        self.items[key] = alert
        return alert

    def resolve(self, key: AlertKey, at: datetime) -> Alert | None:
        current = self.items.get(key)
        if current is None or current.status not in _UNRESOLVED:
            return None
        self.items[key] = dataclasses.replace(current, status=AlertStatus.RESOLVED, resolved_at=at)
        return self.items[key]

    def acknowledge(
        self, key: AlertKey, occurrence: int, tenant_id: str, by: str, at: datetime
    ) -> Alert | None:
        current = self.items.get(key)
        if (
            current is None
            or current.tenant_id != tenant_id
            or current.occurrence != occurrence
            or current.status is not AlertStatus.OPEN
        ):
            return None
        self.items[key] = dataclasses.replace(
            current, status=AlertStatus.ACKNOWLEDGED, acknowledged_at=at, acknowledged_by=by
        )
        return self.items[key]

    def get(self, key: AlertKey) -> Alert | None:
        return self.items.get(key)

    def listing(self, tenant_id: str, status: AlertStatus, limit: int, cursor: str | None) -> AlertPage:
        found = sorted(
            (a for a in self.items.values() if a.tenant_id == tenant_id and a.status is status),
            key=lambda a: (a.raised_at, a.alert_id),
            reverse=True,
        )
        start = int(cursor) if cursor else 0
        page = found[start : start + limit]
        more = start + limit < len(found)
        return AlertPage(page, str(start + limit) if more else None)

    def unresolved(self, kind: AlertKind) -> list[Alert]:
        return [a for a in self.items.values() if a.key.kind is kind and a.status in _UNRESOLVED]
