"""Queue worker - issues the CDR of a stopped transaction (once: the CDR id is a function of the
transaction id). A failing record is retried alone and ends in the dead-letter queue."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from voltway.billing.errors import TransactionNotBillable
from voltway.billing.roots import cached_billing
from voltway.billing.trigger import parse_request
from voltway.invoices.roots import cached_receipts
from voltway.observability import begin, logger, metrics
from voltway.payments.roots import cached_payments

root = cached_billing()
processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> str:
    request = parse_request(record.body)
    begin(transaction_id=str(request.transaction_id))
    try:
        cdr = root.cdrs.issue(request.transaction_id)
    except TransactionNotBillable:  # an unmatched stop (unknown transaction): nothing to bill, no retry
        logger.warning("no CDR: transaction not billable", transaction_id=request.transaction_id)
        return "skipped"
    cached_payments().capture_issued(cdr)  # a failed capture raises: retried (docs/payments.md)
    cached_receipts().issue(cdr)  # receipt PDF in S3, e-mailed once (docs/invoices.md)
    return cdr.cdr_id


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return dict(response)
