"""OCPP 1.6 charger reports: DataTransfer, DiagnosticsStatusNotification, FirmwareStatusNotification.

DataTransfer: a vendor id without a registered handler is answered ``UnknownVendorId`` without ``data``
(OCPP 1.6 section 4.3); a handler may answer ``UnknownMessageId``/``Accepted``/``Rejected``. Every
DataTransfer is stored with the status it got.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from voltway.observability import count
from voltway.ocpp.actions import Action
from voltway.ocpp.dispatch import CallContext, Dispatcher
from voltway.ocpp.ports import ChargerReports, DataTransferLog, DataTransferRecord, StatusReport


@dataclass(frozen=True, slots=True)
class VendorAnswer:
    status: str  # OCPP DataTransferStatus
    data: str | None = None


VendorHandler = Callable[[CallContext, str | None, str | None], VendorAnswer]


class ReportsProfile:
    def __init__(
        self,
        reports: ChargerReports,
        data_transfers: DataTransferLog,
        vendors: Mapping[str, VendorHandler] | None = None,
    ) -> None:
        self._reports = reports
        self._log = data_transfers
        self._vendors = dict(vendors or {})

    def register(self, dispatcher: Dispatcher) -> None:
        dispatcher.register(Action.data_transfer, self.data_transfer)
        # Both store the latest status: a retry stores the same again.
        dispatcher.register(
            Action.diagnostics_status_notification, self.diagnostics_status_notification, retry_safe=True
        )
        dispatcher.register(
            Action.firmware_status_notification, self.firmware_status_notification, retry_safe=True
        )

    def data_transfer(self, ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
        vendor_id: str = payload["vendorId"]
        message_id: str | None = payload.get("messageId")
        data: str | None = payload.get("data")
        handler = self._vendors.get(vendor_id)
        answer = VendorAnswer("UnknownVendorId") if handler is None else handler(ctx, message_id, data)
        self._log.record(
            DataTransferRecord(
                ctx.charge_point_id,
                ctx.unique_id,
                ctx.received_at,
                vendor_id,
                message_id,
                data,
                answer.status,
            )
        )
        count(f"DataTransfer{answer.status}")
        reply: dict[str, Any] = {"status": answer.status}
        if answer.data is not None and answer.status != "UnknownVendorId":
            reply["data"] = answer.data
        return reply

    def diagnostics_status_notification(self, ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
        self._reports.record(
            ctx.charge_point_id, "diagnostics", StatusReport(payload["status"], ctx.received_at)
        )
        count("DiagnosticsStatusNotification")
        return {}

    def firmware_status_notification(self, ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
        self._reports.record(
            ctx.charge_point_id, "firmware", StatusReport(payload["status"], ctx.received_at)
        )
        count("FirmwareStatusNotification")
        return {}
