"""Scheduled every minute: chargers not heard from for OFFLINE_AFTER_SECONDS go offline, one alert each
(SNS and the operators' alert store; an alert whose charger was heard from since is resolved);
commands past their deadline time out and the next queued ones are sent; reservations past their
expiryDate are marked Expired; sessions past their fleet time limit are stopped (docs/fleet-limits.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from voltway.adapters.roots import (
    cached_commands,
    cached_fleet_sweeper,
    cached_monitor,
    cached_reported_lifecycle,
)
from voltway.observability import metrics


@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    root = cached_monitor()
    back_online = root.alert_store.resolve_back_online(root.chargers)
    reported = root.registry.report_offline(root.offline_after, root.alerts, root.alert_store.charger_offline)
    swept = cached_commands().expire_due()
    expired = cached_reported_lifecycle().expire_reservations(datetime.now(UTC))
    fleet = cached_fleet_sweeper()
    stopped = fleet.sweep() if fleet is not None else 0
    return {
        "offline": reported,
        "offline_alerts_resolved": back_online,
        "command_queues_swept": swept,
        "reservations_expired": expired,
        "time_limit_stops": stopped,
    }
