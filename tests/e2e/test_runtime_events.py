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
    # WorkQueue's visibility timeout (1 s) is shorter than a cold start: with concurrent pollers (as on
    # AWS) a batch still in its cold start would be received again by another poller. Warm it first.
    assert runtime.lambdas is not None
    runtime.lambdas.pool("BatchFunction").prewarm(wait=True)
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


def _most_at_once(intervals: list[tuple[float, float]]) -> int:
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    current = peak = 0
    for _, step in edges:  # an end sorts before a start at the same instant
        current += step
        peak = max(peak, current)
    return peak


def test_sqs_batches_of_one_source_run_concurrently_up_to_maximum_concurrency(
    runtime: LocalRuntime, probes: Any, aws: Callable[..., Any]
) -> None:
    assert runtime.provisioned is not None
    (poller,) = [p for p in runtime.sqs_pollers if p.source.function == "SlowBatchFunction"]
    assert poller.concurrency == 2  # ScalingConfig.MaximumConcurrency 2 < the runtime's cap of 4
    sqs = aws("sqs")
    queue = runtime.provisioned.queues["SlowWorkQueue"]
    bodies = [f"slow-{i}:1.5" for i in range(6)]
    for body in bodies:
        sqs.send_message(QueueUrl=queue, MessageBody=body)

    seen: dict[str, list[tuple[float, float]]] = {}
    for body in bodies:
        probes.wait_for("slow", lambda p, b=body: p["body"] == b, timeout=40)
    for p in probes.wait_for("slow"):
        seen.setdefault(p["body"], []).append((p["started"], p["ended"]))
    assert sorted(seen) == sorted(bodies)
    assert all(len(runs) == 1 for runs in seen.values())  # each batch delivered once (deleted after success)
    assert _most_at_once([runs[0] for runs in seen.values()]) == 2  # overlapping, never above the cap
    assert poller.peak_in_flight == 2
    attrs = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "0"
    assert attrs["ApproximateNumberOfMessagesNotVisible"] == "0"
