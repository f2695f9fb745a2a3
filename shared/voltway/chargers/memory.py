"""In-memory twins of the charger ports, with the same conditional semantics as the DynamoDB adapters."""

from __future__ import annotations

import base64
import binascii
from dataclasses import replace
from datetime import datetime

from voltway.chargers.errors import ChargerConflict, InvalidCursor, InvalidRegistration
from voltway.chargers.model import BootInfo, Charger, ConnectorState, Page, RegistrationStatus


class InMemoryChargerRepository:
    def __init__(self) -> None:
        self.items: dict[str, Charger] = {}

    def get(self, charge_point_id: str) -> Charger | None:
        return self.items.get(charge_point_id)

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
        existing = self.items.get(charge_point_id)
        if existing is None:
            if password_hash is None:
                raise InvalidRegistration("a new charger needs a password")
            charger = Charger(
                charge_point_id=charge_point_id,
                tenant_id=tenant_id,
                password_hash=password_hash,
                security_profile=security_profile,
                enabled=enabled,
                created_at=now,
                updated_at=now,
            )
        else:
            if existing.tenant_id != tenant_id:
                raise ChargerConflict(f"charge point id {charge_point_id!r} is taken")
            charger = replace(
                existing,
                password_hash=password_hash or existing.password_hash,
                security_profile=security_profile,
                enabled=enabled,
                updated_at=now,
            )
        self.items[charge_point_id] = charger
        return charger

    def _update(self, charge_point_id: str, **changes: object) -> None:
        existing = self.items.get(charge_point_id)
        if existing is not None:
            self.items[charge_point_id] = replace(existing, **changes)  # type: ignore[arg-type]

    def record_boot(
        self, charge_point_id: str, boot: BootInfo, status: RegistrationStatus, seen_at: datetime
    ) -> None:
        self._update(
            charge_point_id, boot=boot, registration_status=status, last_seen=seen_at, offline_alerted=False
        )

    def touch(self, charge_point_id: str, seen_at: datetime) -> None:
        self._update(charge_point_id, last_seen=seen_at, offline_alerted=False)

    def record_connector(
        self, charge_point_id: str, connector_id: int, state: ConnectorState, seen_at: datetime
    ) -> None:
        existing = self.items.get(charge_point_id)
        if existing is not None:
            connectors = {**existing.connectors, connector_id: state}
            self._update(charge_point_id, connectors=connectors, last_seen=seen_at, offline_alerted=False)

    def mark_online(self, charge_point_id: str, connection_id: str, at: datetime) -> None:
        self._update(
            charge_point_id, online=True, connection_id=connection_id, last_seen=at, offline_alerted=False
        )

    def mark_offline(self, charge_point_id: str, connection_id: str) -> bool:
        existing = self.items.get(charge_point_id)
        if existing is None or existing.connection_id != connection_id:
            return False
        self._update(charge_point_id, online=False, connection_id=None)
        return True

    def mark_stale_offline(self, charge_point_id: str, heard_before: datetime) -> bool:
        existing = self.items.get(charge_point_id)
        if (
            existing is None
            or existing.offline_alerted
            or existing.last_seen is None
            or existing.last_seen >= heard_before
        ):
            return False
        self._update(charge_point_id, online=False, offline_alerted=True)
        return True

    def list_by_tenant(self, tenant_id: str, limit: int, cursor: str | None) -> Page:
        try:
            after = base64.urlsafe_b64decode(cursor.encode()).decode() if cursor else ""
        except (binascii.Error, UnicodeDecodeError) as e:
            raise InvalidCursor("invalid cursor") from e
        ids = sorted(k for k, v in self.items.items() if v.tenant_id == tenant_id and k > after)
        page = ids[:limit]
        next_cursor = (
            base64.urlsafe_b64encode(page[-1].encode()).decode() if len(ids) > limit and page else None
        )
        return Page([self.items[i] for i in page], next_cursor)

    def find_unheard_since(self, heard_before: datetime) -> list[Charger]:
        return [
            c
            for c in self.items.values()
            if c.last_seen is not None and c.last_seen < heard_before and not c.offline_alerted
        ]


class InMemoryConnectionRegistry:
    def __init__(self) -> None:
        self.items: dict[str, str] = {}

    def register(self, connection_id: str, charge_point_id: str, connected_at: datetime) -> None:
        self.items[connection_id] = charge_point_id

    def lookup(self, connection_id: str) -> str | None:
        return self.items.get(connection_id)

    def forget(self, connection_id: str) -> str | None:
        return self.items.pop(connection_id, None)


class InMemoryAlertPublisher:
    def __init__(self) -> None:
        self.published: list[tuple[str, str, dict[str, str]]] = []

    def publish(self, subject: str, message: str, attributes: dict[str, str]) -> None:
        self.published.append((subject, message, attributes))
