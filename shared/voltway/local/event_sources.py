"""Event source mappings and schedules, played locally: SQS pollers and a scheduler.

SQS: one poller per ``SQS`` event of a function delivers up to N batches concurrently (N = the event's
``ScalingConfig.MaximumConcurrency`` if set, capped by the function's local concurrency). Each batch is
up to ``BatchSize`` messages (in receives of at most 10, within ``MaximumBatchingWindowInSeconds``); the
function is invoked with an SQS event and what succeeded is deleted: with ``ReportBatchItemFailures`` all
but the reported ``batchItemFailures``; without it, everything on success and nothing on a function error.
Failed messages come back after the queue's visibility timeout; the queue's RedrivePolicy (enforced by
moto server itself, measured with moto 5.2.5) moves them to the DLQ after ``maxReceiveCount`` receives.

Schedules: ``Schedule``/``ScheduleV2`` events fire on their ``rate()``/``cron()`` expression;
``schedule_scale`` (e.g. 1/60 makes ``rate(1 minute)`` fire every second) or a fixed ``schedule_interval``
let tests run them quickly.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from voltway.local.lambdas import LambdaService
from voltway.local.template import ACCOUNT_ID, REGION, ScheduleSpec, SqsEventSourceSpec, Template

logger = logging.getLogger(__name__)
events_logger = logging.getLogger("voltway.local.events")

SQS_RECEIVE_MAX = 10


# --------------------------------------------------------------------------- SQS


def sqs_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """One record of the SQS event Lambda builds from a received message."""
    attributes = {
        name: value
        for name, value in (message.get("Attributes") or {}).items()
        if name
        in (
            "ApproximateReceiveCount",
            "SentTimestamp",
            "SenderId",
            "ApproximateFirstReceiveTimestamp",
            "SequenceNumber",
            "MessageGroupId",
            "MessageDeduplicationId",
            "AWSTraceHeader",
        )
    }
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": attributes,
        "messageAttributes": {
            name: _message_attribute(value)
            for name, value in (message.get("MessageAttributes") or {}).items()
        },
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }


def _message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    binary = value.get("BinaryValue")
    return {
        "stringValue": value.get("StringValue"),
        "binaryValue": base64.b64encode(binary).decode() if isinstance(binary, bytes) else binary,
        "stringListValues": value.get("StringListValues", []),
        "binaryListValues": value.get("BinaryListValues", []),
        "dataType": value.get("DataType", "String"),
    }


def messages_to_delete(
    messages: list[dict[str, Any]], payload: Any, *, ok: bool, reports_failures: bool
) -> list[dict[str, Any]]:
    """Which messages of a batch Lambda's event source mapping deletes after the invocation."""
    if not ok:
        return []
    if not reports_failures or not isinstance(payload, dict):
        return list(messages)
    failures = payload.get("batchItemFailures") or []
    ids = {m["MessageId"] for m in messages}
    failed: set[str] = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not identifier or identifier not in ids:
            return []  # a malformed response fails the whole batch, as in AWS
        failed.add(str(identifier))
    return [m for m in messages if m["MessageId"] not in failed]


def maximum_concurrency(template: Template, source: SqsEventSourceSpec) -> int | None:
    """``ScalingConfig.MaximumConcurrency`` of the source's SQS event in the template, if set."""
    function = template.functions.get(source.function)
    event = function.events.get(source.event_name, {}) if function is not None else {}
    scaling = (event.get("Properties") or {}).get("ScalingConfig")
    if not scaling:
        return None
    value = template.resolve(scaling).get("MaximumConcurrency")
    return None if value is None else int(value)


def poller_concurrency(template: Template, source: SqsEventSourceSpec, function_cap: int) -> int:
    """How many batches of one source run at once: the mapping's MaximumConcurrency (when set), never
    more than the function's own concurrency cap in the local Lambda service (at least 1)."""
    limit = maximum_concurrency(template, source)
    cap = function_cap if limit is None else min(limit, function_cap)
    return max(1, cap)


class SqsPoller:
    """Delivers one queue's messages to one function, up to ``concurrency`` batches at a time.

    Lambda's event source mapping polls with several pollers and invokes batches concurrently up to the
    function's concurrency (and ``ScalingConfig.MaximumConcurrency``). Here one receiver thread receives
    a batch whenever one of the ``concurrency`` delivery slots is free and hands it to a delivery thread;
    each batch is deleted (or not) on its own result, exactly as with one poller. Stopping is bounded:
    the receiver stops receiving, deliveries in flight end when the Lambda service closes (their messages
    are not deleted and reappear after the visibility timeout).
    """

    def __init__(
        self,
        source: SqsEventSourceSpec,
        queue_url: str,
        sqs: Any,
        lambdas: LambdaService,
        *,
        concurrency: int = 1,
    ) -> None:
        self.source = source
        self.queue_url = queue_url
        self.concurrency = max(1, concurrency)
        self._sqs = sqs
        self._lambdas = lambdas
        self._stop = threading.Event()
        self._slots = threading.BoundedSemaphore(self.concurrency)
        self._cond = threading.Condition()
        self._in_flight = 0
        self._peak = 0
        self._thread = threading.Thread(target=self._run, name=f"sqs-{source.function}", daemon=True)

    @property
    def in_flight(self) -> int:
        """Batches being delivered right now."""
        with self._cond:
            return self._in_flight

    @property
    def peak_in_flight(self) -> int:
        """The most batches delivered at once since start."""
        with self._cond:
            return self._peak

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        self._thread.join(timeout)
        with self._cond:
            while self._in_flight:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self._slots.acquire(timeout=0.5):
                continue
            handed_over = False
            try:
                messages = self._receive_batch()
                if messages and not self._stop.is_set():
                    self._start_delivery(messages)
                    handed_over = True
            except (BotoCoreError, ClientError) as e:
                if self._stop.is_set():
                    return
                logger.warning("sqs poller %s: %s", self.source.function, e)
                self._stop.wait(1.0)
            finally:
                if not handed_over:
                    self._slots.release()

    def _start_delivery(self, messages: list[dict[str, Any]]) -> None:
        with self._cond:
            self._in_flight += 1
            self._peak = max(self._peak, self._in_flight)
        thread = threading.Thread(
            target=self._deliver_in_slot,
            args=(messages,),
            name=f"sqs-{self.source.function}-batch",
            daemon=True,
        )
        thread.start()

    def _deliver_in_slot(self, messages: list[dict[str, Any]]) -> None:
        try:
            self._deliver(messages)
        except (BotoCoreError, ClientError) as e:
            logger.warning("sqs poller %s: delivery: %s", self.source.function, e)
        except RuntimeError as e:  # the Lambda service was stopped under us
            logger.debug("sqs poller %s stopping: %s", self.source.function, e)
            self._stop.set()
        finally:
            with self._cond:
                self._in_flight -= 1
                self._cond.notify_all()
            self._slots.release()

    def _receive_batch(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        window_ends = time.monotonic() + self.source.maximum_batching_window_seconds
        while len(messages) < self.source.batch_size and not self._stop.is_set():
            wanted = min(SQS_RECEIVE_MAX, self.source.batch_size - len(messages))
            wait = 1 if not messages else 0
            received = self._sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=wanted,
                WaitTimeSeconds=wait,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            messages.extend(received)
            if not received and (messages or time.monotonic() >= window_ends):
                break
            if len(received) < wanted and time.monotonic() >= window_ends:
                break
        return messages

    def _deliver(self, messages: list[dict[str, Any]]) -> None:
        event = {"Records": [sqs_record(m, self.source.queue_arn) for m in messages]}
        result = self._lambdas.invoke(self.source.function, event)
        done = messages_to_delete(
            messages, result.payload, ok=result.ok, reports_failures=self.source.reports_batch_item_failures
        )
        for start in range(0, len(done), SQS_RECEIVE_MAX):
            chunk = done[start : start + SQS_RECEIVE_MAX]
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)]
            self._sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
        failed = len(messages) - len(done)
        outcome = f"  ERROR {result.error.get('errorType')}" if result.error else ""
        events_logger.info(
            "sqs  %s  %d records  %d failed  %.1f ms%s",
            self.source.function,
            len(messages),
            failed,
            result.duration_ms,
            outcome,
        )


# --------------------------------------------------------------------------- schedules

_RATE = re.compile(r"rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def rate_seconds(expression: str) -> float | None:
    """Seconds between firings of a ``rate()`` expression; None for other expressions."""
    found = _RATE.fullmatch(expression.strip())
    if found is None:
        return None
    return int(found.group(1)) * _UNIT_SECONDS[found.group(2).rstrip("s")]


def _cron_field(spec: str, low: int, high: int) -> set[int] | None:
    """Values a cron field allows (None = any); supports ``*``, ``?``, lists, ranges and steps."""
    if spec in ("*", "?"):
        return None
    values: set[int] = set()
    for part in spec.split(","):
        base, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if base in ("*", ""):
            start, end = low, high
        elif "-" in base:
            first, last = base.split("-", 1)
            start, end = int(first), int(last)
        else:
            start = int(base)
            end = high if step_text else start
        values.update(range(start, end + 1, step))
    return values


@dataclass(frozen=True)
class CronExpression:
    """An AWS ``cron(min hour day-of-month month day-of-week year)`` expression (UTC), no L/W/#."""

    minutes: set[int] | None
    hours: set[int] | None
    days: set[int] | None
    months: set[int] | None
    weekdays: set[int] | None  # AWS: 1 = Sunday ... 7 = Saturday
    years: set[int] | None

    @classmethod
    def parse(cls, expression: str) -> CronExpression | None:
        found = re.fullmatch(r"cron\((.*)\)", expression.strip())
        if found is None:
            return None
        fields = found.group(1).split()
        if len(fields) != 6 or any(c in found.group(1) for c in "LW#"):
            raise ValueError(f"unsupported cron expression {expression!r}")
        names = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
        weekday_field = fields[4].upper()
        for name, number in names.items():
            weekday_field = weekday_field.replace(name, str(number))
        return cls(
            minutes=_cron_field(fields[0], 0, 59),
            hours=_cron_field(fields[1], 0, 23),
            days=_cron_field(fields[2], 1, 31),
            months=_cron_field(fields[3], 1, 12),
            weekdays=_cron_field(weekday_field, 1, 7),
            years=_cron_field(fields[5], 1970, 2199),
        )

    def matches(self, moment: datetime) -> bool:
        aws_weekday = (moment.isoweekday() % 7) + 1  # Sunday -> 1
        checks = (
            (self.minutes, moment.minute),
            (self.hours, moment.hour),
            (self.days, moment.day),
            (self.months, moment.month),
            (self.weekdays, aws_weekday),
            (self.years, moment.year),
        )
        return all(allowed is None or value in allowed for allowed, value in checks)

    def next_after(self, moment: datetime) -> datetime:
        candidate = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
        for _ in range(366 * 24 * 60):
            if self.matches(candidate):
                return candidate
            candidate += timedelta(minutes=1)
        raise ValueError("cron expression never fires within a year")


def scheduled_event(schedule: ScheduleSpec, fired_at: datetime) -> Any:
    """What the function receives: the schedule's Input, else an EventBridge "Scheduled Event"."""
    if schedule.input is not None:
        try:
            return json.loads(schedule.input)
        except ValueError:
            return schedule.input
    if schedule.kind == "ScheduleV2":
        source, resource = "aws.scheduler", f"schedule/default/{schedule.function}-{schedule.event_name}"
        arn = f"arn:aws:scheduler:{REGION}:{ACCOUNT_ID}:{resource}"
    else:
        source = "aws.events"
        arn = f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{schedule.function}-{schedule.event_name}"
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": source,
        "account": ACCOUNT_ID,
        "time": fired_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [arn],
        "detail": {},
    }


class Scheduler:
    """Fires the template's schedules; invocations are asynchronous (a slow one does not delay others)."""

    def __init__(
        self,
        schedules: list[ScheduleSpec],
        lambdas: LambdaService,
        *,
        schedule_scale: float = 1.0,
        schedule_interval: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._schedules = [s for s in schedules if s.enabled]
        self._lambdas = lambdas
        self._scale = schedule_scale
        self._interval = schedule_interval
        self._clock = clock
        self._stop = threading.Event()
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="scheduler")
        self._thread = threading.Thread(target=self._run, name="scheduler", daemon=True)

    def start(self) -> None:
        if self._schedules:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        # Invocations still running end when the Lambda service closes; not waited for here.
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _next(self, schedule: ScheduleSpec, after: float) -> float:
        if self._interval is not None:
            return after + self._interval
        seconds = rate_seconds(schedule.expression)
        if seconds is not None:
            return after + seconds * self._scale
        cron = CronExpression.parse(schedule.expression)
        if cron is None:
            raise ValueError(f"unsupported schedule expression {schedule.expression!r}")
        return cron.next_after(datetime.fromtimestamp(after, UTC)).timestamp()

    def _run(self) -> None:
        now = self._clock()
        due: dict[int, float] = {}
        for index, schedule in enumerate(self._schedules):
            try:
                due[index] = self._next(schedule, now)
            except ValueError as e:
                logger.warning("schedule %s.%s skipped: %s", schedule.function, schedule.event_name, e)
        while due and not self._stop.is_set():
            index, when = min(due.items(), key=lambda item: item[1])
            if self._stop.wait(max(0.0, when - self._clock())):
                return
            schedule = self._schedules[index]
            due[index] = self._next(schedule, when)
            self._executor.submit(self._fire, schedule, when)

    def _fire(self, schedule: ScheduleSpec, when: float) -> None:
        try:
            result = self._lambdas.invoke(
                schedule.function, scheduled_event(schedule, datetime.fromtimestamp(when, UTC))
            )
        except RuntimeError:
            return  # stopping
        outcome = f"  ERROR {result.error.get('errorType')}" if result.error else ""
        events_logger.info(
            "schedule  %s  %s  %.1f ms%s", schedule.function, schedule.expression, result.duration_ms, outcome
        )
