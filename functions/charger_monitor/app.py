"""Scheduled every minute: chargers not heard from for OFFLINE_AFTER_SECONDS go offline, one alert each;
commands past their deadline time out and the next queued ones are sent."""

from __future__ import annotations

from typing import Any

from voltway.adapters.roots import cached_commands, cached_monitor
from voltway.observability import metrics


@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    root = cached_monitor()
    reported = root.registry.report_offline(root.offline_after, root.alerts)
    swept = cached_commands().expire_due()
    return {"offline": reported, "command_queues_swept": swept}
