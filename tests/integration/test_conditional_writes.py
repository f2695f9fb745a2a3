"""Conditional writes the SDK retried after they landed (docs/decisions/conditional-writes.md).

botocore's own retry machinery is made to lose the first answer of every guarded write: a ``needs-retry``
handler asks for a retry after a *successful* first attempt, exactly as a read timeout would. The retry
then fails its condition on moto, as on DynamoDB — and every adapter must still count the write as its own.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import botocore.handlers
import pytest
from botocore.exceptions import ClientError

from tests.integration.support import load_handler, moto_stack
from voltway.adapters import aws, roots
from voltway.adapters.dynamo_commands import (
    DynamoBootReadClaims,
    DynamoCommandQueue,
    DynamoCommandStore,
    DynamoReportedStateStore,
)
from voltway.chargers.model import Registration
from voltway.ocpp.commands.model import Command, CommandStatus, InFlight
from voltway.ocpp.commands.reported import ReportedState

pytestmark = pytest.mark.integration
EVENTS = Path(__file__).resolve().parents[1] / "events"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
CP = "CP001"
MANAGEMENT = "wss://abc123.execute-api.eu-west-1.amazonaws.com/local"
_WRITES = {"PutItem", "UpdateItem", "DeleteItem"}


class LostAnswers:
    """A ``needs-retry`` handler: the first attempt of a conditional write succeeded, its answer is lost,
    botocore sends it again. Counts what it did."""

    def __init__(self) -> None:
        self.lost = 0

    def __call__(
        self,
        response: Any = None,
        operation: Any = None,
        attempts: int = 0,
        caught_exception: Any = None,
        request_dict: Any = None,
        **kwargs: Any,
    ) -> int | None:
        if attempts != 1 or caught_exception is not None or response is None or operation is None:
            return None
        if operation.name not in _WRITES or response[0].status_code != 200:
            return None
        body = request_dict.get("body") or b"{}"
        if "ConditionExpression" not in json.loads(body):
            return None
        self.lost += 1
        return 0  # retry at once


@pytest.fixture
def lost_answers(monkeypatch: pytest.MonkeyPatch) -> Iterator[LostAnswers]:
    """Installed for every botocore session made from now on (boto3's and PynamoDB's alike)."""
    handler = LostAnswers()
    monkeypatch.setattr(
        botocore.handlers,
        "BUILTIN_HANDLERS",
        [*botocore.handlers.BUILTIN_HANDLERS, ("needs-retry.dynamodb", handler)],
    )
    aws._session.cache_clear()
    yield handler
    aws._session.cache_clear()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, lost_answers: LostAnswers) -> Iterator[dict[str, str]]:
    functions = (
        "OcppConnectFunction",
        "OcppMessageFunction",
        "OcppDisconnectFunction",
        "ChargerMonitorFunction",
        "ApiFunction",
    )
    with moto_stack(monkeypatch, functions, WS_MANAGEMENT_ENDPOINT=MANAGEMENT) as (_, values):
        yield values


def _client() -> Any:
    return boto3.session.Session(region_name="eu-west-1").client("dynamodb")


def test_the_simulation_is_the_incident(env: dict[str, str], lost_answers: LostAnswers) -> None:
    """Without the mechanism a retried conditional write reads as lost although it was applied."""
    client, table = _client(), env["COMMANDS_TABLE"]
    key = {"pk": {"S": "cp#X"}, "sk": {"S": "probe"}}
    with pytest.raises(ClientError) as raised:
        client.put_item(TableName=table, Item=key, ConditionExpression="attribute_not_exists(pk)")
    assert raised.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert raised.value.response["ResponseMetadata"]["RetryAttempts"] == 1
    assert "Item" in client.get_item(TableName=table, Key=key)  # ... and yet the item was written
    assert lost_answers.lost == 1


def test_every_command_write_is_ours_after_a_lost_answer(
    env: dict[str, str], lost_answers: LostAnswers
) -> None:
    client, table = _client(), env["COMMANDS_TABLE"]
    store, queue = DynamoCommandStore(client, table), DynamoCommandQueue(client, table)
    reported, claims = DynamoReportedStateStore(client, table), DynamoBootReadClaims(client, table)

    store.create(Command("a", CP, "t1", "Reset", {"type": "Soft"}, CommandStatus.QUEUED, NOW))
    assert queue.enqueue(CP, "a", 10)
    assert queue.state(CP).queued == ("a",)  # appended once, not once per attempt
    slot = InFlight("a", "a", "conn=", NOW, NOW + timedelta(seconds=30))
    assert queue.claim(CP, slot)
    sent = store.mark_sent("a", "a", "conn=", NOW, slot.deadline)
    assert sent is not None and sent.status is CommandStatus.SENT  # the incident: this read as None
    done = store.finish("a", CommandStatus.ACCEPTED, NOW, expected=(CommandStatus.SENT,), unique_id="a")
    assert done is not None and done.status is CommandStatus.ACCEPTED
    assert queue.release(CP, "a")
    assert queue.drain(CP, queue.state(CP))
    assert reported.save(ReportedState(CP, local_list={"version": 1}))
    assert reported.get(CP).version == 1
    assert claims.claim(CP, NOW, NOW - timedelta(seconds=60))
    assert lost_answers.lost >= 9

    # A real lost race is still a loss (first attempt, no read-back needed).
    assert not queue.claim(CP, slot)
    assert store.mark_sent("a", "a", "conn=", NOW, slot.deadline) is None
    assert not claims.claim(CP, NOW, NOW - timedelta(seconds=60))


def _event(name: str, body: Any = None) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    event = copy.deepcopy(loaded)
    if body is not None:
        event["body"] = json.dumps(body)
    return event


def test_command_flow_is_not_stuck_when_every_guarded_write_loses_its_answer(
    env: dict[str, str], lost_answers: LostAnswers
) -> None:
    roots.api().chargers.register(Registration(CP, "t1", "secret-pw-1", 1, True))
    connect, message = load_handler("ocpp_connect"), load_handler("ocpp_message")
    assert connect.handler(_event("ocpp_connect"), None)["statusCode"] == 200  # charger online (guarded)
    message.handler(_event("ocpp_message"), None)  # BootNotification: idempotency claim, boot record
    commands = roots.cached_commands()
    (boot_read,) = commands.list_for_charger("t1", CP, 10, None).items
    assert boot_read.status is CommandStatus.SENT  # claimed, marked sent, posted
    message.handler(_event("ocpp_message", [3, boot_read.unique_id, {"configurationKey": []}]), None)
    assert commands.get("t1", boot_read.command_id).status is CommandStatus.ACCEPTED

    command = commands.submit("t1", CP, "ClearCache", {})
    assert command.status is CommandStatus.SENT  # not stuck pending
    message.handler(_event("ocpp_message", [3, command.unique_id, {"status": "Accepted"}]), None)
    assert commands.get("t1", command.command_id).status is CommandStatus.ACCEPTED
    assert lost_answers.lost >= 10


def test_fleet_deadlines_and_http_idempotency_claims_are_ours_after_a_lost_answer(
    env: dict[str, str], lost_answers: LostAnswers
) -> None:
    from voltway.api.idempotency import DynamoIdempotencyKeys
    from voltway.fleet.aws import DynamoDeadlines
    from voltway.fleet.model import SessionDeadline

    client = _client()
    deadlines = DynamoDeadlines(client, env["FLEET_DEADLINES_TABLE"])
    due = SessionDeadline(7, "t1", CP, 1, "c1", NOW, NOW + timedelta(hours=1))
    assert deadlines.add(due, "2026-01-02T04:04")
    assert deadlines.claim(7, NOW)  # a retried claim read as lost would never stop the session
    assert not deadlines.claim(7, NOW)  # a second sweep really loses
    keys = DynamoIdempotencyKeys(client, env["HTTP_IDEMPOTENCY_TABLE"])
    assert keys.claim("http#t1#u1#POST /v1/sessions#k1", "f", NOW.timestamp()) is None  # claimed by us
    assert lost_answers.lost >= 3


def test_export_job_steps_are_ours_after_a_lost_answer(
    env: dict[str, str], lost_answers: LostAnswers
) -> None:
    from voltway.archive.records import ArchiveKind
    from voltway.exports.aws import DynamoExportJobs
    from voltway.exports.model import ExportFilters, ExportJob, ExportStatus

    jobs = DynamoExportJobs(_client(), env["EXPORTS_TABLE"])
    job = ExportJob(
        tenant_id="t1",
        export_id="e1",
        kind=ArchiveKind.SESSIONS,
        from_at=NOW,
        to_at=NOW + timedelta(days=1),
        filters=ExportFilters(),
        requested_by="u1",
        created_at=NOW,
    )
    assert jobs.create(job, None) == (job, True)  # not a 500 for its own retry
    started = jobs.start(
        "t1",
        "e1",
        plan_key="p",
        shards_total=2,
        rows_total=10,
        shard_rows=5,
        sheet_capacity=10,
        planned_at=NOW,
    )
    assert started
    done = jobs.complete_shard("t1", "e1", 0, 5)  # a lost answer here used to leave the shard uncounted
    assert done is not None and done.done_shards == frozenset({0}) and done.rows_written == 5
    assert jobs.complete_shard("t1", "e1", 0, 5) is None  # a real duplicate is still refused
    assert jobs.claim_merge("t1", "e1", "w1")
    assert jobs.finish("t1", "e1", owner="w1", file_key="f", file_size=1, at=NOW)
    finished = jobs.get("t1", "e1")
    assert finished is not None and finished.status is ExportStatus.DONE and finished.rows_written == 5


def test_driver_sessions_are_ours_after_a_lost_answer(env: dict[str, str], lost_answers: LostAnswers) -> None:
    import dataclasses

    from voltway.drivers.dynamo import DynamoDriverStore
    from voltway.drivers.errors import SessionConflict
    from voltway.drivers.model import ChargingSession, SessionState

    store = DynamoDriverStore(_client(), env["DRIVERS_TABLE"])
    session = ChargingSession("s1", "t1", "u1", CP, 1, "APPTAG", SessionState.REQUESTED, NOW, "c1")
    store.create_session(session)  # its own retry is not a 409
    created = store.get_session("s1")
    assert created is not None and created.version == 1
    saved = store.save_session(dataclasses.replace(created, state=SessionState.ACCEPTED))
    assert saved.version == 2 and saved.state is SessionState.ACCEPTED
    with pytest.raises(SessionConflict):
        store.save_session(created)  # a stale writer still loses
