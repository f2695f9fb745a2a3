"""CDRs on moto (in-process), resources created from template.yaml: a StopTransaction frame (and its
retries) feeds CdrQueue; the real queue worker issues exactly one CDR however often the request is
delivered; the CDR lands in CdrsTable and in the S3 archive; credits are issued once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.integration.support import load_handler, moto_stack
from voltway.adapters.roots_transactions import cached_transactions_api
from voltway.billing import roots as billing_roots
from voltway.billing.aws import DynamoCdrs
from voltway.billing.errors import CdrAlreadyIssued
from voltway.idtags.model import IdTag, IdTagStatus
from voltway.tariffs import Tariff
from voltway.transactions.model import MeterSample, SampledValue
from voltway.transactions.service import StartRequest, StopRequest

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 2, 3, 8, 0, tzinfo=UTC)
TARIFF = {
    "country_code": "NL",
    "party_id": "VWY",
    "id": "STD",
    "currency": "EUR",
    "elements": [
        {
            "price_components": [
                {"type": "FLAT", "price": 1.0, "vat": 21, "step_size": 1},
                {"type": "ENERGY", "price": 0.3, "vat": 21, "step_size": 1},
            ]
        }
    ],
}


@dataclass
class World:
    env: dict[str, str]
    queue_url: str
    bucket: str
    cdrs_table: str


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    functions = ("OcppMessageFunction", "ApiFunction", "CdrWorkerFunction", "CdrSweeperFunction")
    with moto_stack(monkeypatch, functions) as (_, env):
        yield World(env, env["CDR_QUEUE_URL"], env["ARCHIVE_BUCKET"], env["CDRS_TABLE"])


def run_session(transaction_meter_stop: int = 21000, t0: datetime = T0) -> int:
    api = cached_transactions_api()
    api.id_tags.put(IdTag("t1", "TAG1", IdTagStatus.ACCEPTED))
    started = api.transactions.start(StartRequest("t1", "CP1", 1, "TAG1", 1000, t0, None, t0))
    tx_id = started.transaction_id
    at = t0 + timedelta(minutes=30)
    api.transactions.meter_values(
        "CP1",
        1,
        tx_id,
        [
            MeterSample(at, SampledValue("11000")),
            MeterSample(at, SampledValue("20000", measurand="Power.Active.Import", unit="W")),
        ],
    )
    stop_at = t0 + timedelta(hours=1)
    api.transactions.stop(
        StopRequest(
            "t1", "CP1", tx_id, transaction_meter_stop, stop_at, "Local", "TAG1", [], "u-stop", stop_at
        )
    )
    return tx_id


def stop_frame(tx_id: int) -> str:
    return json.dumps(
        [
            2,
            "u-stop",
            "StopTransaction",
            {"transactionId": tx_id, "meterStop": 21000, "timestamp": "2026-02-03T09:00:00Z"},
        ]
    )


def drain(queue_url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name="eu-west-1")
    records: list[dict[str, Any]] = []
    while True:
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0)
        messages = got.get("Messages", [])
        if not messages:
            return records
        for m in messages:
            records.append(
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": {},
                    "messageAttributes": {},
                    "md5OfBody": m["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:CdrQueue",
                    "awsRegion": "eu-west-1",
                }
            )
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])


class Context:
    function_name = "CdrWorkerFunction"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:CdrWorkerFunction"
    aws_request_id = "req-1"


def test_stop_retries_and_redeliveries_issue_one_cdr(world: World) -> None:
    billing = billing_roots.cached_billing()
    billing.tariffs.put("t1", "STD", Tariff.model_validate(TARIFF), default=True)
    tx_id = run_session()
    trigger = billing_roots.cached_trigger()
    for _ in range(3):  # the charger retried its StopTransaction (each after the reply)
        trigger.after_frame(stop_frame(tx_id))
    trigger.after_frame(json.dumps([2, "u-x", "Heartbeat", {}]))  # not a stop: nothing requested
    records = drain(world.queue_url)
    assert len(records) == 3

    worker = load_handler("cdr_worker")
    outcome = worker.handler({"Records": records}, Context())
    assert outcome == {"batchItemFailures": []}
    outcome = worker.handler({"Records": records[:1]}, Context())  # a redelivery
    assert outcome == {"batchItemFailures": []}

    db = boto3.client("dynamodb", region_name="eu-west-1")
    items = db.scan(TableName=world.cdrs_table)["Items"]
    assert [i["cdr_id"]["S"] for i in items] == [f"TX{tx_id}"]
    cdr = billing.cdrs.for_transaction("t1", tx_id)
    # 20 kWh x 0.30 + 1.00 = 7.00 excl.; 1.21 + 7.26 = 8.47 incl. (per-category cents)
    assert cdr.total_excl_vat == Decimal("7.00")
    assert cdr.total_incl_vat == Decimal("8.47")
    assert cdr.ocpi["total_energy"] == 20

    s3 = boto3.client("s3")
    listed = s3.list_objects_v2(Bucket=world.bucket, Prefix="archive/cdrs/").get("Contents", [])
    keys = [o["Key"] for o in listed]
    assert keys and all(k.startswith("archive/cdrs/tenant=t1/day=2026-02-03/") for k in keys)
    assert len(set(keys)) == 1  # same single-record batch each time: the same object key


def test_conditional_put_refuses_a_second_cdr_with_the_same_id(world: World) -> None:
    billing = billing_roots.cached_billing()
    billing.tariffs.put("t1", "STD", Tariff.model_validate(TARIFF), default=True)
    cdr = billing.cdrs.issue(run_session())
    store = DynamoCdrs(boto3.client("dynamodb", region_name="eu-west-1"), world.cdrs_table)
    with pytest.raises(CdrAlreadyIssued):
        store.put_new(cdr)
    credit = billing.cdrs.credit("t1", cdr.cdr_id)
    assert billing.cdrs.credit("t1", cdr.cdr_id) == credit
    assert store.get(cdr.cdr_id) == cdr
    page = billing.cdrs.list_for_charger("CP1", 10, None)
    assert [c.cdr_id for c in page.items] == [credit.cdr_id, cdr.cdr_id]


def test_no_tariff_fails_the_record_for_the_dead_letter_queue(world: World) -> None:
    tx_id = run_session()
    billing_roots.cached_trigger().after_frame(stop_frame(tx_id))
    records = drain(world.queue_url)
    worker = load_handler("cdr_worker")
    # An unknown transaction (an unmatched stop) is skipped, not retried; only the unpriceable one fails.
    unknown = dict(records[0], body=json.dumps({"transaction_id": 999999}), messageId="m-2")
    outcome = worker.handler({"Records": [*records, unknown]}, Context())
    assert outcome == {"batchItemFailures": [{"itemIdentifier": records[0]["messageId"]}]}


def test_the_sweep_requests_again_the_cdrs_whose_request_was_lost(world: World) -> None:
    billing = billing_roots.cached_billing()
    billing.tariffs.put("t1", "STD", Tariff.model_validate(TARIFF), default=True)
    now = datetime.now(UTC)
    issued = run_session(t0=now - timedelta(hours=2))  # stopped an hour ago, CDR issued normally
    billing_roots.cached_trigger().after_frame(stop_frame(issued))
    assert load_handler("cdr_worker").handler({"Records": drain(world.queue_url)}, Context()) == {
        "batchItemFailures": []
    }
    lost = run_session(t0=now - timedelta(hours=1, minutes=50))  # its CDR request never reached the queue
    run_session(t0=now - timedelta(hours=5))  # stopped 4 h ago: outside the 3 h lookback
    run_session(t0=now - timedelta(minutes=62))  # stopped 2 min ago: still the queue's turn

    sweeper = load_handler("cdr_sweeper")
    assert sweeper.handler({}, Context()) == {"checked": 2, "requested": 1}
    records = drain(world.queue_url)
    assert [json.loads(r["body"]) for r in records] == [{"transaction_id": lost}]
    assert load_handler("cdr_worker").handler({"Records": records}, Context()) == {"batchItemFailures": []}
    assert billing.cdrs.for_transaction("t1", lost).transaction_id == lost
    assert sweeper.handler({}, Context()) == {"checked": 2, "requested": 0}  # nothing left to ask for
