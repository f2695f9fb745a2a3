"""Alert use cases: raised by the monitor and the OCPP frame handlers, listed and acknowledged by
operators. Imports no AWS; the store is a port (voltway.alerts.ports)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from voltway.alerts.errors import AlertNotFound, AlertResolved
from voltway.alerts.model import Alert, AlertKey, AlertKind, AlertPage, AlertStatus, parse_alert_id
from voltway.alerts.ports import AlertStore
from voltway.chargers.model import Charger
from voltway.observability import count, logger
from voltway.transactions.model import Transaction

Clock = Callable[[], datetime]
FAULTED = "Faulted"


class ChargerLookup(Protocol):
    def get(self, charge_point_id: str) -> Charger | None: ...


class AlertService:
    def __init__(self, store: AlertStore, clock: Clock | None = None) -> None:
        self._store = store
        self._clock: Clock = clock or (lambda: datetime.now(UTC))

    # ------------------------------------------------------------------ raised by the platform
    def _open(self, key: AlertKey, tenant_id: str, at: datetime, details: dict[str, Any]) -> Alert | None:
        alert = self._store.open(key, tenant_id, at, details)
        if alert is not None:
            count("AlertOpened")
            logger.warning("alert opened", alert_id=alert.alert_id, kind=key.kind.value, **details)
        return alert

    def _resolve(self, key: AlertKey, at: datetime) -> bool:
        resolved = self._store.resolve(key, at)
        if resolved is not None:
            count("AlertResolved")
            logger.info("alert resolved", alert_id=resolved.alert_id)
        return resolved is not None

    def charger_offline(self, charger: Charger) -> Alert | None:
        """The monitor marked the charger offline (once per absence)."""
        last_seen = charger.last_seen.isoformat() if charger.last_seen else None
        key = AlertKey(charger.charge_point_id, AlertKind.CHARGER_OFFLINE)
        return self._open(key, charger.tenant_id, self._clock(), {"last_seen": last_seen})

    def charger_connected(self, charger: Charger) -> bool:
        """A reconnect ($connect accepted): its offline alert, if any, is resolved at once."""
        return self._resolve(AlertKey(charger.charge_point_id, AlertKind.CHARGER_OFFLINE), self._clock())

    def resolve_back_online(self, chargers: ChargerLookup) -> int:
        """Monitor sweep: an offline alert whose charger was heard from since (any frame or a reconnect
        clears ``offline_alerted``) is resolved. Reads the sparse index of unresolved offline alerts."""
        resolved = 0
        for alert in self._store.unresolved(AlertKind.CHARGER_OFFLINE):
            charger = chargers.get(alert.key.charge_point_id)
            if (charger is None or not charger.offline_alerted) and self._resolve(alert.key, self._clock()):
                resolved += 1
        return resolved

    def connector_status(
        self,
        *,
        tenant_id: str,
        charge_point_id: str,
        connector_id: int,
        status: str,
        details: dict[str, Any],
        previous_status: str | None,
        at: datetime,
    ) -> None:
        """A StatusNotification: Faulted opens an alert (with errorCode, info, vendor codes); leaving
        Faulted resolves it. Other statuses of a connector that was not Faulted cost nothing."""
        key = AlertKey(charge_point_id, AlertKind.CONNECTOR_FAULTED, str(connector_id))
        if status == FAULTED:
            self._open(key, tenant_id, at, details)
        elif previous_status == FAULTED:
            self._resolve(key, at)

    def unknown_transaction_stop(
        self,
        *,
        tenant_id: str,
        charge_point_id: str,
        transaction_id: int,
        details: dict[str, Any],
        at: datetime,
    ) -> None:
        key = AlertKey(charge_point_id, AlertKind.UNKNOWN_TRANSACTION_STOP, str(transaction_id))
        self._open(key, tenant_id, at, details)

    def meter_anomaly(self, transaction: Transaction, anomalies: frozenset[str]) -> None:
        """A transaction's meter readings were flagged (register going backwards, meterStop below
        meterStart, a second different stop): one alert per transaction while unresolved."""
        key = AlertKey(transaction.charge_point_id, AlertKind.METER_ANOMALY, str(transaction.transaction_id))
        details = {
            "transaction_id": transaction.transaction_id,
            "connector_id": transaction.connector_id,
            "anomalies": sorted(anomalies),
        }
        self._open(key, transaction.tenant_id, self._clock(), details)

    def payment_capture_failed(
        self, *, tenant_id: str, charge_point_id: str, payment_id: str, details: dict[str, Any]
    ) -> None:
        """A capture failed: one alert per payment, opened at the first failure (later ones leave it open)."""
        key = AlertKey(charge_point_id, AlertKind.PAYMENT_CAPTURE_FAILED, payment_id)
        self._open(key, tenant_id, self._clock(), details)

    def payment_captured(self, *, charge_point_id: str, payment_id: str) -> bool:
        """A capture that had failed went through (worker redelivery or the operator's retry)."""
        key = AlertKey(charge_point_id, AlertKind.PAYMENT_CAPTURE_FAILED, payment_id)
        return self._resolve(key, self._clock())

    # ------------------------------------------------------------------ operators
    def listing(self, tenant_id: str, status: AlertStatus, limit: int, cursor: str | None) -> AlertPage:
        return self._store.listing(tenant_id, status, limit, cursor)

    def acknowledge(self, tenant_id: str, alert_id: str, by: str) -> Alert:
        """Open -> acknowledged. Acknowledging twice answers the alert as it is; a resolved alert is a
        conflict; another tenant's or an unknown/old occurrence is not found."""
        parsed = parse_alert_id(alert_id)
        if parsed is None:
            raise AlertNotFound(alert_id)
        key, occurrence = parsed
        done = self._store.acknowledge(key, occurrence, tenant_id, by, self._clock())
        if done is not None:
            count("AlertAcknowledged")
            return done
        current = self._store.get(key)
        if current is None or current.tenant_id != tenant_id or current.occurrence != occurrence:
            raise AlertNotFound(alert_id)
        if current.status is AlertStatus.RESOLVED:
            raise AlertResolved(f"alert {alert_id} is resolved already")
        return current
