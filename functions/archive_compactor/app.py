"""Scheduled hourly: folds the archive's small hot-path batches into large ones, and deletes folded
batches a day later (voltway.archive.compaction)."""

from __future__ import annotations

from typing import Any

from voltway.archive.roots import cached_compactor
from voltway.observability import count, logger, metrics


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    result = cached_compactor().run().to_dict()
    count("ArchiveObjectsCompacted", result["objects_compacted"])
    logger.info("archive compacted", extra=result)
    return result
