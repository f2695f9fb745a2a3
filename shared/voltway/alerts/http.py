"""Operators' alerts over HTTP: ``GET /v1/alerts?status=`` and ``POST /v1/alerts/{alertId}/acknowledge``
(roles operator/admin, tenant-scoped, signed cursors like every listing)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalice.app import Blueprint
from pydantic import BaseModel, ConfigDict, Field

from voltway.adapters.http import mapped, path_param, principal
from voltway.alerts.model import Alert, AlertKind, AlertStatus
from voltway.alerts.roots import cached_alerts
from voltway.api.openapi import Operation, documented
from voltway.api.routes import body, query_model
from voltway.identity import Principal, Role

OPERATOR = (Role.OPERATOR, Role.ADMIN)
ALERT_ID_PATTERN = r"^[A-Za-z0-9._\-~]{1,160}$"
PATTERNS = {"alertId": ALERT_ID_PATTERN}


class AlertListParams(BaseModel):
    """The query string of ``GET /v1/alerts``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: AlertStatus = AlertStatus.OPEN
    cursor: str | None = Field(default=None, max_length=2048)
    limit: int = Field(default=25, ge=1, le=100)


class AlertView(BaseModel):
    alert_id: str = Field(description="<charger>~<kind>~<subject>~<occurrence>")
    kind: AlertKind
    status: AlertStatus
    charge_point_id: str
    subject: str = Field(description="connector id (connector_faulted), transaction id, or 0")
    occurrence: int
    raised_at: datetime
    details: dict[str, Any]
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None

    @classmethod
    def of(cls, alert: Alert) -> AlertView:
        return cls(
            alert_id=alert.alert_id,
            kind=alert.key.kind,
            status=alert.status,
            charge_point_id=alert.key.charge_point_id,
            subject=alert.key.subject,
            occurrence=alert.occurrence,
            raised_at=alert.raised_at,
            details=alert.details,
            acknowledged_at=alert.acknowledged_at,
            acknowledged_by=alert.acknowledged_by,
            resolved_at=alert.resolved_at,
        )


class AlertPageView(BaseModel):
    items: list[AlertView]
    next_cursor: str | None


def alerts_blueprint() -> Blueprint:
    bp = Blueprint(__name__)

    def operator() -> Principal:
        caller = principal(bp.current_request.context)
        caller.require(Role.OPERATOR)
        return caller

    @bp.route("/v1/alerts", methods=["GET"])
    @documented(
        Operation(
            "The tenant's alerts in one status, newest first",
            "alerts",
            None,
            AlertListParams,
            AlertPageView,
            OPERATOR,
        )
    )
    @mapped
    def list_alerts() -> dict[str, Any]:
        caller = operator()
        params = query_model(AlertListParams, bp.current_request.query_params)
        page = cached_alerts().listing(caller.tenant_id, params.status, params.limit, params.cursor)
        return body(AlertPageView(items=[AlertView.of(a) for a in page.items], next_cursor=page.cursor))

    @bp.route("/v1/alerts/{alertId}/acknowledge", methods=["POST"])
    @documented(
        Operation(
            "Acknowledge an open alert (again: answered as it is; resolved: 409)",
            "alerts",
            None,
            None,
            AlertView,
            OPERATOR,
            path_patterns=PATTERNS,
        )
    )
    @mapped
    def acknowledge_alert(alertId: str) -> dict[str, Any]:
        caller = operator()
        alert_id = path_param(PATTERNS, "alertId", alertId)
        return body(AlertView.of(cached_alerts().acknowledge(caller.tenant_id, alert_id, caller.user_id)))

    return bp
