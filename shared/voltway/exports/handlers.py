"""What the export queue functions share: decode a record, run one pipeline step, fail it well.

On failure the record's error is remembered on the export (the DLQ handler quotes it) and the message is
made visible again after the configured retry delay, not after the long visibility timeout; the
exception then reaches Powertools, which reports the record as a batch item failure.
"""

from __future__ import annotations

from voltway.exports.aws import ExportWorkerRoot, SqsRetryDelay, decode_task
from voltway.exports.model import PlanTask
from voltway.observability import begin


def run_task(root: ExportWorkerRoot, body: str, message_id: str, receipt_handle: str) -> str:
    task = decode_task(body)
    begin(export_id=task.export_id, tenant_id=task.tenant_id)
    retry: SqsRetryDelay = root.plan_retry if isinstance(task, PlanTask) else root.shard_retry
    try:
        if isinstance(task, PlanTask):
            root.pipeline.plan(task)
            return "planned"
        return root.pipeline.run_shard(task, message_id)
    except Exception as error:
        root.pipeline.note_failure(task.tenant_id, task.export_id, f"{type(error).__name__}: {error}")
        retry.retry_later(receipt_handle)
        raise


def dead_letter(root: ExportWorkerRoot, body: str) -> bool:
    task = decode_task(body)
    begin(export_id=task.export_id, tenant_id=task.tenant_id)
    return root.pipeline.dead_letter(task, root.settings.export_max_receive_count)
