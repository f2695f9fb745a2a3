"""Ports of the charger registry. Adapters: ``voltway.adapters.dynamo`` (DynamoDB) and
``voltway.chargers.memory`` (in-memory twins for tests)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from voltway.chargers.model import BootInfo, Charger, ConnectorState, Page, RegistrationStatus


class ChargerRepository(Protocol):
    """Chargers by id. Every per-frame operation is a GetItem or a (conditional) UpdateItem."""

    def get(self, charge_point_id: str) -> Charger | None: ...

    def save_registration(
        self,
        charge_point_id: str,
        tenant_id: str,
        *,
        password_hash: str | None,
        security_profile: int,
        enabled: bool,
        now: datetime,
    ) -> Charger:
        """Create or update the operator-set fields. Raises ``ChargerConflict`` when the id exists in
        another tenant, ``InvalidRegistration`` when a new charger comes without a password hash."""
        ...

    def record_boot(
        self, charge_point_id: str, boot: BootInfo, status: RegistrationStatus, seen_at: datetime
    ) -> None: ...

    def touch(self, charge_point_id: str, seen_at: datetime) -> None:
        """The charger was heard from: last seen, and any offline alert is cleared."""
        ...

    def record_connector(
        self, charge_point_id: str, connector_id: int, state: ConnectorState, seen_at: datetime
    ) -> None: ...

    def mark_online(self, charge_point_id: str, connection_id: str, at: datetime) -> None: ...

    def mark_offline(self, charge_point_id: str, connection_id: str) -> bool:
        """Offline only if ``connection_id`` is still the current connection; True if it was."""
        ...

    def mark_stale_offline(self, charge_point_id: str, heard_before: datetime) -> bool:
        """Offline + alerted, only if not heard from since ``heard_before`` and not yet alerted.
        True exactly once per absence (the caller publishes the alert then)."""
        ...

    def list_by_tenant(self, tenant_id: str, limit: int, cursor: str | None) -> Page: ...

    def find_unheard_since(self, heard_before: datetime) -> list[Charger]:
        """Chargers not heard from since ``heard_before`` and not yet alerted (monitor only)."""
        ...


class ConnectionRegistry(Protocol):
    """WebSocket connection id -> charge point id, with a TTL (API Gateway connections live ≤ 2 h)."""

    def register(self, connection_id: str, charge_point_id: str, connected_at: datetime) -> None: ...

    def lookup(self, connection_id: str) -> str | None: ...

    def forget(self, connection_id: str) -> str | None:
        """Delete the mapping; the charge point id it held, if any."""
        ...


class AlertPublisher(Protocol):
    def publish(self, subject: str, message: str, attributes: dict[str, str]) -> None: ...
