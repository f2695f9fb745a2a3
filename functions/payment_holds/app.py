"""Scheduled every 5 minutes: card holds of app sessions that ended without a transaction, and that no
driver reads any more, are released (DriverService.settle_stale_holds; docs/payments.md)."""

from __future__ import annotations

from typing import Any

from voltway.drivers.roots import cached_drivers
from voltway.observability import logger, metrics


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    released = cached_drivers().settle_stale_holds()
    logger.info("stale holds settled", extra={"released": released})
    return {"released": released}
