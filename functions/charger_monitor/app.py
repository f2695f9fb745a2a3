"""Scheduled every minute: chargers not heard from for OFFLINE_AFTER_SECONDS go offline, one alert each."""

from __future__ import annotations

from typing import Any

from voltway.adapters.roots import cached_monitor
from voltway.observability import metrics


@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    root = cached_monitor()
    reported = root.registry.report_offline(root.offline_after, root.alerts)
    return {"offline": reported}
