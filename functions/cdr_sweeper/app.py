"""Scheduled: stopped transactions whose CDR request was lost get it again (voltway.billing.sweep)."""

from __future__ import annotations

from typing import Any

from voltway.billing.roots import cached_cdr_sweeper
from voltway.observability import logger, metrics


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    result = cached_cdr_sweeper().sweep().to_dict()
    logger.info("CDR sweep", extra=result)
    return result
