"""Scheduled at 02:00 UTC on the 1st: the monthly invoice of every business account with sessions in the
previous month (or a billing profile and a monthly fee). Idempotent: an account invoiced already keeps
its invoice and number; a re-run (or Lambda's retry of a failed run) only does what is missing.
``{"month": "2026-10"}`` as the input re-runs one month."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from voltway.invoices.model import MONTH_PATTERN
from voltway.invoices.roots import cached_invoices
from voltway.invoices.service import previous_month
from voltway.observability import logger, metrics

service = cached_invoices()


@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    wanted = event.get("month") if isinstance(event, dict) else None
    if isinstance(wanted, str) and re.match(MONTH_PATTERN, wanted):
        month = wanted
    else:
        month = previous_month(datetime.now(UTC))
    outcomes = service.run_month(month)
    failed = [f"{t}/{a}" for t, a, outcome in outcomes if outcome == "failed"]
    logger.info("monthly invoices", month=month, accounts=len(outcomes), failed=len(failed))
    if failed:  # Lambda retries an asynchronous invocation twice: the retry does only what is missing
        raise RuntimeError(f"invoices failed for {len(failed)} accounts of {month}: {failed[:20]}")
    return {"month": month, "results": [{"tenant": t, "account": a, "outcome": o} for t, a, o in outcomes]}
