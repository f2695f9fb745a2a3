"""SQS event source mapping (partial batch failure, redelivery, DLQ) and schedules."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from voltway.local.runtime import LocalRuntime

pytestmark = pytest.mark.e2e


def test_sqs_batch_partial_failure_redelivers_then_dead_letters(
    runtime: LocalRuntime, probes: Any, aws: Callable[..., Any]
) -> None:
    assert runtime.provisioned is not None
    sqs = aws("sqs")
    queue, dlq = runtime.provisioned.queues["WorkQueue"], runtime.provisioned.queues["WorkDeadLetterQueue"]
    for body in ("ok-1", "ok-2", "fail-1"):
        sqs.send_message(QueueUrl=queue, MessageBody=body)

    dead: list[str] = []
    deadline = time.monotonic() + 30
    while not dead and time.monotonic() < deadline:
        received = sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=1).get("Messages", [])
        dead.extend(m["Body"] for m in received)
    assert dead == ["fail-1"]

    fail_counts = sorted(
        p["receiveCount"] for p in probes.wait_for("record", lambda p: p["body"] == "fail-1")
    )
    assert fail_counts[:2] == ["1", "2"]  # delivered, failed, redelivered after the visibility timeout
    assert len(probes.wait_for("record", lambda p: p["body"] == "ok-1")) == 1  # deleted after success
    attrs = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "0"
    assert attrs["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_schedule_fires_with_its_input(probes: Any) -> None:
    ticks = probes.wait_for("scheduled", timeout=15)
    assert ticks[0] == {"probe": "tick"}
