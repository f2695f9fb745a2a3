"""Queue worker: delivers transactional e-mails. Partial batch failure; poison messages end in the DLQ."""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from voltway.config import EnvModel
from voltway.notifications.domain import EmailNotification
from voltway.notifications.ses import SesEmailSender


class Settings(EnvModel):
    sender_email: str
    idempotency_table: str


settings = Settings.from_env()
logger = Logger()
processor = BatchProcessor(event_type=EventType.SQS)
email_sender = SesEmailSender(boto3.client("ses"))
# A redelivered message (SQS is at-least-once) must not send a second e-mail: key on its dedupe_key.
idempotency = IdempotencyConfig(event_key_jmespath="dedupe_key", expires_after_seconds=7 * 24 * 3600)
persistence = DynamoDBPersistenceLayer(table_name=settings.idempotency_table)


@idempotent_function(  # type: ignore[untyped-decorator]
    data_keyword_argument="email", config=idempotency, persistence_store=persistence
)
def send_once(email: EmailNotification) -> str:
    return email_sender.send(settings.sender_email, email)


def record_handler(record: SQSRecord) -> str:
    email = EmailNotification.model_validate_json(record.body)
    message_id: str = send_once(email=email)
    logger.info("e-mail sent", extra={"dedupe_key": email.dedupe_key, "message_id": message_id})
    return message_id


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    idempotency.register_lambda_context(context)
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return dict(response)
