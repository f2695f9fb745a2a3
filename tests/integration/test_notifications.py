"""The notifications queue worker on moto: resources from template.yaml, SES really called."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from tests.integration.support import load_handler, moto_stack

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def worker(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    with moto_stack(monkeypatch, ["NotificationsFunction"]):
        yield load_handler("notifications")


def sqs_event(*bodies: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": f"m{i}",
                "receiptHandle": f"r{i}",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:voltway-local-NotificationsQueue",
                "awsRegion": "eu-west-1",
            }
            for i, body in enumerate(bodies)
        ]
    }


class Context:
    function_name = "NotificationsFunction"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:NotificationsFunction"
    aws_request_id = "req-1"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000


def email(dedupe_key: str, to: str = "driver@example.com") -> str:
    return json.dumps({"to": [to], "subject": "Your receipt", "text": "Thanks", "dedupe_key": dedupe_key})


def sent_messages() -> list[Any]:
    return list(ses_backends[DEFAULT_ACCOUNT_ID]["eu-west-1"].sent_messages)


def test_a_poison_message_fails_alone_and_the_rest_are_sent(worker: ModuleType) -> None:
    result = worker.handler(
        sqs_event(email("receipt:1"), "{not json", email("receipt:2", "bad-address")), Context()
    )
    assert result == {"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m2"}]}
    sent = sent_messages()
    assert [m.destinations["ToAddresses"] for m in sent] == [["driver@example.com"]]
    assert sent[0].source == "no-reply@voltway.local"


def test_a_redelivered_message_sends_one_email(worker: ModuleType) -> None:
    assert worker.handler(sqs_event(email("receipt:7")), Context()) == {"batchItemFailures": []}
    assert worker.handler(sqs_event(email("receipt:7")), Context()) == {"batchItemFailures": []}
    assert len(sent_messages()) == 1
    assert boto3.client("dynamodb").scan(TableName="voltway-local-IdempotencyTable")["Count"] == 1
