"""OCPP 1.6 Core profile handlers (charger-initiated): BootNotification, Heartbeat, StatusNotification."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from voltway.chargers.model import BootInfo, ConnectorState, RegistrationStatus
from voltway.chargers.ports import ChargerRepository
from voltway.observability import count, logger
from voltway.ocpp.actions import Action
from voltway.ocpp.dispatch import CallContext, Dispatcher
from voltway.ocpp.errors import PropertyConstraintViolation
from voltway.ocpp.timestamps import format_datetime, parse_datetime


@dataclass(frozen=True, slots=True)
class CorePolicy:
    registration_policy: Literal["reject", "pending"]
    heartbeat_interval_seconds: int


class ConnectorStatusObserver(Protocol):
    def connector_status(self, charge_point_id: str, connector_id: int, status: str, at: datetime) -> object:
        """Told of every stored StatusNotification (e.g. reservations ending on Faulted/Unavailable)."""
        ...


class ConnectorAlerts(Protocol):
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
        """Faulted opens an operators' alert, leaving Faulted resolves it (voltway.alerts)."""
        ...


class CoreProfile:
    def __init__(
        self,
        chargers: ChargerRepository,
        policy: CorePolicy,
        *,
        status_observer: ConnectorStatusObserver | None = None,
        alerts: ConnectorAlerts | None = None,
    ) -> None:
        self._chargers = chargers
        self._policy = policy
        self._status_observer = status_observer
        self._alerts = alerts

    def register(self, dispatcher: Dispatcher) -> None:
        dispatcher.register(
            Action.boot_notification, self.boot_notification, requires_accepted=False, records_last_seen=True
        )
        dispatcher.register(Action.heartbeat, self.heartbeat, records_last_seen=True, retry_safe=True)
        # The same status again: the same last value, no new alert or reservation change.
        dispatcher.register(
            Action.status_notification, self.status_notification, records_last_seen=True, retry_safe=True
        )

    def boot_notification(self, ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
        charger = ctx.charger
        if charger is not None and charger.enabled:
            status = RegistrationStatus.ACCEPTED
        elif self._policy.registration_policy == "pending":
            status = RegistrationStatus.PENDING
        else:
            status = RegistrationStatus.REJECTED
        if charger is not None:
            boot = BootInfo(
                vendor=payload["chargePointVendor"],
                model=payload["chargePointModel"],
                serial_number=payload.get("chargePointSerialNumber"),
                charge_box_serial_number=payload.get("chargeBoxSerialNumber"),
                firmware_version=payload.get("firmwareVersion"),
                iccid=payload.get("iccid"),
                imsi=payload.get("imsi"),
                meter_type=payload.get("meterType"),
                meter_serial_number=payload.get("meterSerialNumber"),
                booted_at=ctx.received_at,
            )
            self._chargers.record_boot(ctx.charge_point_id, boot, status, ctx.received_at)
        count(f"Boot{status.value}")
        return {
            "status": status.value,
            "currentTime": format_datetime(ctx.received_at),
            "interval": self._policy.heartbeat_interval_seconds,
        }

    def heartbeat(self, ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
        self._chargers.touch(ctx.charge_point_id, ctx.received_at)
        count("Heartbeat")
        return {"currentTime": format_datetime(ctx.received_at)}

    def status_notification(self, ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
        connector_id: int = payload["connectorId"]
        if connector_id < 0:
            raise PropertyConstraintViolation("connectorId must be >= 0", {"field": "connectorId"})
        stamp = payload.get("timestamp")
        state = ConnectorState(
            status=payload["status"],
            error_code=payload["errorCode"],
            timestamp=parse_datetime(stamp) if stamp else ctx.received_at,
            info=payload.get("info"),
            vendor_id=payload.get("vendorId"),
            vendor_error_code=payload.get("vendorErrorCode"),
        )
        self._chargers.record_connector(ctx.charge_point_id, connector_id, state, ctx.received_at)
        if self._status_observer is not None:
            try:
                self._status_observer.connector_status(
                    ctx.charge_point_id, connector_id, state.status, state.timestamp
                )
            except Exception:
                # bookkeeping beside the answer: the status itself is stored
                logger.exception("connector status side effect failed")
        if self._alerts is not None and ctx.charger is not None:
            self._connector_alert(ctx, connector_id, state)
        count("StatusNotification")
        if state.error_code != "NoError":
            count("ConnectorFault")
        return {}

    def _connector_alert(self, ctx: CallContext, connector_id: int, state: ConnectorState) -> None:
        charger = ctx.charger
        assert charger is not None and self._alerts is not None
        # As stored before this frame (read at its start): only a way out of Faulted resolves.
        previous = charger.connectors.get(connector_id)
        try:
            self._alerts.connector_status(
                tenant_id=charger.tenant_id,
                charge_point_id=ctx.charge_point_id,
                connector_id=connector_id,
                status=state.status,
                details={
                    "connector_id": connector_id,
                    "error_code": state.error_code,
                    "info": state.info,
                    "vendor_id": state.vendor_id,
                    "vendor_error_code": state.vendor_error_code,
                    "timestamp": format_datetime(state.timestamp),
                },
                previous_status=previous.status if previous is not None else None,
                at=ctx.received_at,
            )
        except Exception:
            logger.exception("connector alert failed")  # beside the answer: the status is stored
