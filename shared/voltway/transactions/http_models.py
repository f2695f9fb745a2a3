"""Operator views of transactions, meter samples and charger reports (JSON-ready dicts)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from voltway.ocpp.ports import StatusReport, StatusReportKind
from voltway.transactions.model import MeterSample, UnmatchedStop
from voltway.transactions.service import TransactionDetail


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None


def sample_view(sample: MeterSample) -> dict[str, Any]:
    v = sample.sampled
    return {
        "timestamp": _iso(sample.timestamp),
        "source": sample.source,
        "value": v.value,
        "measurand": v.effective_measurand,
        "phase": v.phase,
        "unit": v.unit or "Wh",
        "context": v.context or "Sample.Periodic",
        "location": v.location or "Outlet",
        "format": v.format or "Raw",
    }


def transaction_view(detail: TransactionDetail) -> dict[str, Any]:
    t = detail.transaction
    return {
        "transaction_id": t.transaction_id,
        "status": "active" if t.active else "stopped",
        "charge_point_id": t.charge_point_id,
        "connector_id": t.connector_id,
        "id_tag": t.id_tag,
        "id_tag_status": t.id_tag_status.value,
        "reservation_id": t.reservation_id,
        "started_at": _iso(t.started_at),
        "stopped_at": _iso(t.stopped_at),
        "meter_start": t.meter_start,
        "meter_stop": t.meter_stop,
        "energy_wh": t.energy_wh,
        "stop_reason": t.stop_reason,
        "stop_reason_requested": t.stop_reason_requested,
        "ended_by": t.ended_by,
        "stop_id_tag": t.stop_id_tag,
        "last_register_wh": t.last_register_wh,
        "last_power_w": t.last_power_w,
        "anomalies": sorted(t.anomalies),
        "received_at": _iso(t.received_at),
        "samples": [sample_view(s) for s in detail.samples],
    }


def unmatched_view(stop: UnmatchedStop) -> dict[str, Any]:
    return {
        "transaction_id": stop.transaction_id,
        "status": "unmatched_stop",
        "charge_point_id": stop.charge_point_id,
        "stopped_at": _iso(stop.stopped_at),
        "meter_stop": stop.meter_stop,
        "stop_reason": stop.stop_reason,
        "stop_id_tag": stop.id_tag,
        "anomalies": ["unknown_transaction"],
        "received_at": _iso(stop.received_at),
    }


def listing_view(item: TransactionDetail | UnmatchedStop) -> dict[str, Any]:
    return unmatched_view(item) if isinstance(item, UnmatchedStop) else transaction_view(item)


def reports_view(reports: dict[StatusReportKind, StatusReport]) -> dict[str, Any]:
    """Firmware / diagnostics status as shown on the charger."""
    return {
        f"{kind}_status": {"status": r.status, "at": _iso(r.at)} if (r := reports.get(kind)) else None
        for kind in ("firmware", "diagnostics")
    }
