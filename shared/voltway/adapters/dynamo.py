"""DynamoDB adapters of the charger and OCPP ports (PynamoDB).

Per-frame operations are GetItem, PutItem/UpdateItem with conditions, and one BatchWriteItem for the
audit: never Query or Scan (see docs/data-model.md for keys and access patterns).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.exceptions import DeleteError, DoesNotExist
from pynamodb.expressions.condition import Condition

from voltway.adapters.conditional import guarded_save, guarded_update
from voltway.adapters.cursors import cursor_to_key, key_to_cursor
from voltway.adapters.dynamo_models import ChargerItem, ConnectionItem, IdempotencyItem, MessageItem
from voltway.chargers.errors import ChargerConflict, InvalidCursor, InvalidRegistration
from voltway.chargers.model import BootInfo, Charger, ConnectorState, Page, RegistrationStatus
from voltway.ocpp.ports import AuditEntry, AuditPage, IdempotencyRecord


def _start_key(cursor: str | None) -> dict[str, Any] | None:
    return cursor_to_key(cursor, InvalidCursor) if cursor else None


def _stamp(moment: datetime) -> str:
    """Fixed-width UTC text: sorts as time sorts."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _compact(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


class DynamoChargerRepository:
    def __init__(self, model: type[ChargerItem]) -> None:
        self._model = model

    # ------------------------------------------------------------------ mapping
    @staticmethod
    def _to_charger(item: ChargerItem) -> Charger:
        boot_raw = dict(item.boot.attribute_values) if item.boot is not None else None
        boot = None
        if boot_raw:
            booted_at = boot_raw.pop("booted_at", None)
            boot = BootInfo(
                **boot_raw,
                booted_at=datetime.fromisoformat(booted_at.replace("Z", "+00:00")) if booted_at else None,
            )
        connectors: dict[int, ConnectorState] = {}
        for key, raw in (item.connectors.attribute_values if item.connectors is not None else {}).items():
            values = dict(raw)
            stamp = datetime.fromisoformat(str(values.pop("timestamp")).replace("Z", "+00:00"))
            connectors[int(key)] = ConnectorState(timestamp=stamp, **values)
        return Charger(
            charge_point_id=item.charge_point_id,
            tenant_id=item.tenant_id,
            password_hash=item.password_hash,
            security_profile=int(item.security_profile),
            enabled=bool(item.enabled),
            registration_status=RegistrationStatus(item.registration_status)
            if item.registration_status
            else None,
            boot=boot,
            connectors=connectors,
            online=bool(item.online),
            connection_id=item.connection_id,
            last_seen=item.last_seen,
            offline_alerted=bool(item.offline_alerted),
            created_at=item.created_at,
            updated_at=item.updated_at,
        )

    def _update(self, charge_point_id: str, actions: list[Any], condition: Condition | None) -> bool:
        """True if applied, False if the condition did not hold."""
        return guarded_update(self._model(charge_point_id), actions, condition)

    # ------------------------------------------------------------------ reads
    def get(self, charge_point_id: str) -> Charger | None:
        try:
            return self._to_charger(self._model.get(charge_point_id))
        except DoesNotExist:
            return None

    def list_by_tenant(self, tenant_id: str, limit: int, cursor: str | None) -> Page:
        result = self._model.by_tenant.query(tenant_id, limit=limit, last_evaluated_key=_start_key(cursor))
        items = [self._to_charger(i) for i in result]
        return Page(items, key_to_cursor(result.last_evaluated_key))

    def find_unheard_since(self, heard_before: datetime) -> list[Charger]:
        m = self._model
        condition = (m.last_seen < heard_before) & (
            m.offline_alerted.does_not_exist() | (m.offline_alerted == False)  # noqa: E712
        )
        return [self._to_charger(i) for i in m.scan(filter_condition=condition)]

    # ------------------------------------------------------------------ writes
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
        m = self._model
        actions: list[Any] = [
            m.tenant_id.set(tenant_id),
            m.security_profile.set(security_profile),
            m.enabled.set(enabled),
            m.updated_at.set(now),
            m.created_at.set(m.created_at | now),
            m.connectors.set(m.connectors | {}),
            m.online.set(m.online | False),
        ]
        same_tenant = m.tenant_id == tenant_id
        if password_hash is not None:
            actions.append(m.password_hash.set(password_hash))
            condition = m.charge_point_id.does_not_exist() | same_tenant
        else:
            condition = same_tenant
        item = m(charge_point_id)
        if not guarded_update(item, actions, condition):
            if self.get(charge_point_id) is None:
                raise InvalidRegistration("a new charger needs a password")
            raise ChargerConflict(f"charge point id {charge_point_id!r} is taken")
        return self._to_charger(item)

    def record_boot(
        self, charge_point_id: str, boot: BootInfo, status: RegistrationStatus, seen_at: datetime
    ) -> None:
        m = self._model
        boot_values = _compact(
            {
                "vendor": boot.vendor,
                "model": boot.model,
                "serial_number": boot.serial_number,
                "charge_box_serial_number": boot.charge_box_serial_number,
                "firmware_version": boot.firmware_version,
                "iccid": boot.iccid,
                "imsi": boot.imsi,
                "meter_type": boot.meter_type,
                "meter_serial_number": boot.meter_serial_number,
                "booted_at": _stamp(boot.booted_at) if boot.booted_at else None,
            }
        )
        self._update(
            charge_point_id,
            [
                m.boot.set(boot_values),
                m.registration_status.set(status.value),
                m.last_seen.set(seen_at),
                m.offline_alerted.set(False),
            ],
            m.charge_point_id.exists(),
        )

    def touch(self, charge_point_id: str, seen_at: datetime) -> None:
        m = self._model
        self._update(
            charge_point_id,
            [m.last_seen.set(seen_at), m.offline_alerted.set(False)],
            m.charge_point_id.exists(),
        )

    def record_connector(
        self, charge_point_id: str, connector_id: int, state: ConnectorState, seen_at: datetime
    ) -> None:
        m = self._model
        key = str(connector_id)
        stamp = _stamp(state.timestamp)
        value = _compact(
            {
                "status": state.status,
                "error_code": state.error_code,
                "timestamp": stamp,
                "info": state.info,
                "vendor_id": state.vendor_id,
                "vendor_error_code": state.vendor_error_code,
            }
        )
        # A late retry must not overwrite a newer status of the same connector.
        newer_or_new = m.connectors[key].does_not_exist() | (m.connectors[key]["timestamp"] <= stamp)
        applied = self._update(
            charge_point_id,
            [m.connectors[key].set(value), m.last_seen.set(seen_at), m.offline_alerted.set(False)],
            m.charge_point_id.exists() & newer_or_new,
        )
        if not applied:
            self.touch(charge_point_id, seen_at)

    def mark_online(self, charge_point_id: str, connection_id: str, at: datetime) -> None:
        m = self._model
        self._update(
            charge_point_id,
            [
                m.online.set(True),
                m.connection_id.set(connection_id),
                m.last_seen.set(at),
                m.offline_alerted.set(False),
            ],
            m.charge_point_id.exists(),
        )

    def mark_offline(self, charge_point_id: str, connection_id: str) -> bool:
        m = self._model
        return self._update(
            charge_point_id,
            [m.online.set(False), m.connection_id.remove()],
            m.connection_id == connection_id,
        )

    def mark_stale_offline(self, charge_point_id: str, heard_before: datetime) -> bool:
        m = self._model
        not_alerted = m.offline_alerted.does_not_exist() | (m.offline_alerted == False)  # noqa: E712
        return self._update(
            charge_point_id,
            [m.online.set(False), m.offline_alerted.set(True)],
            (m.last_seen < heard_before) & not_alerted,
        )


class DynamoConnectionRegistry:
    def __init__(self, model: type[ConnectionItem], ttl: timedelta = timedelta(hours=3)) -> None:
        # API Gateway closes connections after 2 h; the TTL only cleans up missed $disconnects.
        self._model = model
        self._ttl = ttl

    def register(self, connection_id: str, charge_point_id: str, connected_at: datetime) -> None:
        self._model(
            connection_id,
            charge_point_id=charge_point_id,
            connected_at=connected_at,
            expires_at=connected_at + self._ttl,
        ).save()

    def lookup(self, connection_id: str) -> str | None:
        try:
            item = self._model.get(connection_id)
        except DoesNotExist:
            return None
        # TTL deletion lags (up to days on AWS, never in moto): an expired record is no record.
        if item.expires_at is not None and item.expires_at < datetime.now(UTC):
            return None
        return item.charge_point_id

    def forget(self, connection_id: str) -> str | None:
        try:
            item = self._model.get(connection_id)
        except DoesNotExist:
            return None
        try:
            item.delete()
        except DeleteError:
            return None
        return item.charge_point_id


class DynamoMessageAudit:
    def __init__(self, model: type[MessageItem], ttl: timedelta) -> None:
        self._model = model
        self._ttl = ttl

    def record(self, entries: list[AuditEntry]) -> None:
        with self._model.batch_write() as batch:
            for e in entries:
                batch.save(
                    self._model(
                        e.charge_point_id,
                        f"{_stamp(e.at)}#{e.direction}#{e.unique_id or ''}",
                        direction=e.direction,
                        at=e.at,
                        unique_id=e.unique_id,
                        message_type=e.message_type,
                        action=e.action,
                        frame=e.frame,
                        connection_id=e.connection_id,
                        expires_at=e.at + self._ttl,
                    )
                )

    def recent(self, charge_point_id: str, limit: int, cursor: str | None) -> AuditPage:
        result = self._model.query(
            charge_point_id,
            scan_index_forward=False,
            limit=limit,
            last_evaluated_key=_start_key(cursor),
        )
        items = [
            AuditEntry(
                charge_point_id=i.charge_point_id,
                direction="in" if i.direction == "in" else "out",
                at=i.at,
                unique_id=i.unique_id,
                message_type=int(i.message_type) if i.message_type is not None else None,
                action=i.action,
                frame=i.frame,
                connection_id=i.connection_id,
            )
            for i in result
        ]
        return AuditPage(items, key_to_cursor(result.last_evaluated_key))


class DynamoIdempotencyStore:
    def __init__(self, model: type[IdempotencyItem], ttl: timedelta) -> None:
        self._model = model
        self._ttl = ttl

    def claim(
        self, charge_point_id: str, unique_id: str, fingerprint: str, now: datetime, stale_before: datetime
    ) -> IdempotencyRecord | None:
        m = self._model
        takeover = (
            m.charge_point_id.does_not_exist()
            | (m.fingerprint != fingerprint)
            | (m.expires_at < now)
            | (m.response.does_not_exist() & (m.claimed_at < stale_before))
        )
        item = m(
            charge_point_id,
            unique_id,
            fingerprint=fingerprint,
            claimed_at=now,
            expires_at=now + self._ttl,
        )
        if guarded_save(item, takeover):
            return None
        try:
            held = m.get(charge_point_id, unique_id, consistent_read=True)
        except DoesNotExist:  # released meanwhile: handle it ourselves
            item.save()
            return None
        return IdempotencyRecord(held.fingerprint, held.response, held.claimed_at)

    def complete(self, charge_point_id: str, unique_id: str, response: str, now: datetime) -> None:
        m = self._model
        m(charge_point_id, unique_id).update(actions=[m.response.set(response)])

    def release(self, charge_point_id: str, unique_id: str) -> None:
        self._model(charge_point_id, unique_id).delete()
