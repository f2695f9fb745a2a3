"""Port of the alerts store. Adapters: ``voltway.alerts.dynamo`` (AlertsTable), ``voltway.alerts.memory``."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from voltway.alerts.model import Alert, AlertKey, AlertKind, AlertPage, AlertStatus


class AlertStore(Protocol):
    def open(self, key: AlertKey, tenant_id: str, at: datetime, details: dict[str, Any]) -> Alert | None:
        """Open a new occurrence unless one is open or acknowledged already (then None). Conditional."""
        ...

    def resolve(self, key: AlertKey, at: datetime) -> Alert | None:
        """Open/acknowledged -> resolved; None if there was nothing unresolved."""
        ...

    def acknowledge(
        self, key: AlertKey, occurrence: int, tenant_id: str, by: str, at: datetime
    ) -> Alert | None:
        """Open -> acknowledged for exactly this occurrence in this tenant; None if not so."""
        ...

    def get(self, key: AlertKey) -> Alert | None:
        """Strongly consistent."""
        ...

    def listing(self, tenant_id: str, status: AlertStatus, limit: int, cursor: str | None) -> AlertPage:
        """Newest raised first."""
        ...

    def unresolved(self, kind: AlertKind) -> list[Alert]:
        """Every open or acknowledged alert of ``kind`` (the monitor's sweep; a sparse index)."""
        ...
