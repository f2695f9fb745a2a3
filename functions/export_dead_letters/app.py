"""Queue worker - export messages that kept failing: marks their export failed with a readable reason."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from voltway.exports.handlers import dead_letter
from voltway.exports.roots import cached_export_worker
from voltway.observability import logger

root = cached_export_worker()
processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> bool:
    failed = dead_letter(root, record.body)
    logger.warning("export message dead-lettered", extra={"export_failed": failed})
    return failed


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return dict(response)
