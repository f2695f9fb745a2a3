"""Queue worker - writes one shard of an export as a compressed xlsx piece; the last one merges the file."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from voltway.exports.handlers import run_task
from voltway.exports.roots import cached_export_worker
from voltway.observability import logger

root = cached_export_worker()
processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> str:
    outcome = run_task(root, record.body, record.message_id, record.receipt_handle)
    logger.info("export task", extra={"outcome": outcome})
    return outcome


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return dict(response)
