"""Payments on moto (in-process) with PaymentsTable, CdrQueue and AlertsTopic from template.yaml: the
DynamoDB store's conditional writes and indexes, and the real CDR worker capturing a paid session's
CDR once — or failing the record (SQS retries it), marking the payment capture_failed and alerting,
without issuing the CDR twice."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import boto3
import pytest

from tests.integration.support import load_handler, moto_stack
from tests.integration.test_cdr_dynamo import T0, TARIFF, Context, drain, run_session, stop_frame
from voltway.alerts.model import AlertKind, AlertStatus
from voltway.alerts.roots import alert_service
from voltway.billing import roots as billing_roots
from voltway.payments.dynamo import DynamoPaymentStore
from voltway.payments.errors import PaymentConflict
from voltway.payments.fake import FakePaymentProvider
from voltway.payments.model import Payment, PaymentMethod, PaymentStatus, payment_id_of
from voltway.payments.roots import cached_payments
from voltway.payments.service import PaymentService
from voltway.tariffs import Tariff

pytestmark = pytest.mark.integration
SESSION = "5f0c1a2b-3c4d-4e5f-8a6b-7c8d9e0f1a2b"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    functions = ("OcppMessageFunction", "ApiFunction", "CdrWorkerFunction")
    with moto_stack(monkeypatch, functions) as (_, environment):
        yield environment


def store(env: dict[str, str]) -> DynamoPaymentStore:
    return DynamoPaymentStore(boto3.client("dynamodb", region_name="eu-west-1"), env["PAYMENTS_TABLE"])


def held_before_the_session(env: dict[str, str], token: str) -> Payment:
    """The hold an app start placed just before the transaction of ``run_session`` (id tag TAG1)."""
    service = PaymentService(
        store=store(env), provider=FakePaymentProvider(), clock=lambda: T0 - timedelta(minutes=1)
    )
    service.set_method("t1", "alice", token, None)
    return service.hold(
        tenant_id="t1",
        user_id="alice",
        session_id=SESSION,
        charge_point_id="CP1",
        connector_id=1,
        id_tag="TAG1",
    )


def alerts_queue(env: dict[str, str]) -> str:
    sqs, sns = boto3.client("sqs", region_name="eu-west-1"), boto3.client("sns", region_name="eu-west-1")
    url = sqs.create_queue(QueueName="payment-alerts")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=env["ALERTS_TOPIC_ARN"], Protocol="sqs", Endpoint=arn)
    return url


def deliver(env: dict[str, str]) -> tuple[list[dict[str, object]], dict[str, object]]:
    billing_roots.cached_billing().tariffs.put("t1", "STD", Tariff.model_validate(TARIFF), default=True)
    tx_id = run_session()
    billing_roots.cached_trigger().after_frame(stop_frame(tx_id))
    # With an unmatched stop in the batch (skipped): a batch whose every record fails raises instead.
    records = drain(env["CDR_QUEUE_URL"])
    records.append(dict(records[0], body=json.dumps({"transaction_id": 999999}), messageId="m-2"))
    return records, load_handler("cdr_worker").handler({"Records": records}, Context())


def test_store_conditional_writes_and_indexes(env: dict[str, str]) -> None:
    s = store(env)
    first = held_before_the_session(env, "tok_ok")
    assert first.version == 2 and first.status is PaymentStatus.AUTHORIZED  # pending -> authorized
    with pytest.raises(PaymentConflict):
        s.create(replace(first, version=0))
    with pytest.raises(PaymentConflict):
        s.save(replace(first, version=1))  # a stale writer loses
    assert s.get(first.payment_id) == first
    later = replace(first, payment_id=payment_id_of("other"), session_id="other", created_at=T0, version=0)
    s.create(later)
    assert [p.payment_id for p in s.for_tag("t1", "TAG1", 5)] == [later.payment_id, first.payment_id]
    assert s.for_tag("t2", "TAG1", 5) == []
    failed = s.save(replace(first, status=PaymentStatus.CAPTURE_FAILED, last_error="HTTP 502"))
    page = s.by_status("t1", PaymentStatus.CAPTURE_FAILED, 1, None)
    assert [p.payment_id for p in page.items] == [failed.payment_id] and page.items[
        0
    ].last_error == "HTTP 502"
    authorized = s.by_status("t1", PaymentStatus.AUTHORIZED, 5, None).items  # the index follows the status
    assert [p.payment_id for p in authorized] == [later.payment_id]
    # The sweep's sparse index holds authorised holds unbound to a CDR only, oldest first.
    assert [p.payment_id for p in s.open_holds(T0 + timedelta(days=1), 10)] == [later.payment_id]
    assert s.open_holds(T0, 10) == []
    s.put_method(PaymentMethod("t1", "bob", "tok_bob", "Visa", T0))
    assert s.method("t1", "bob") == PaymentMethod("t1", "bob", "tok_bob", "Visa", T0)
    assert s.method("t2", "bob") is None


def test_worker_captures_the_cdr_total_once(env: dict[str, str]) -> None:
    held_before_the_session(env, "tok_ok")
    records, outcome = deliver(env)
    assert outcome == {"batchItemFailures": []}
    payment = cached_payments().of_session(SESSION)
    assert payment is not None and payment.status is PaymentStatus.CAPTURED
    assert (payment.due, payment.captured, payment.cdr_id) == (
        Decimal("8.47"),
        Decimal("8.47"),
        payment.cdr_id,
    )
    assert payment.cdr_id is not None and payment.cdr_id.startswith("TX") and payment.capture_attempts == 1
    again = load_handler("cdr_worker").handler({"Records": records}, Context())  # a redelivery
    assert again == {"batchItemFailures": []}
    assert cached_payments().of_session(SESSION) == payment  # not captured again


def test_failed_capture_fails_the_record_alerts_and_stays_visible(env: dict[str, str]) -> None:
    alerts = alerts_queue(env)
    held_before_the_session(env, "tok_capture_fail_2")
    records, outcome = deliver(env)
    assert outcome == {"batchItemFailures": [{"itemIdentifier": records[0]["messageId"]}]}
    retry = load_handler("cdr_worker").handler({"Records": records}, Context())  # SQS delivers again
    assert retry == {"batchItemFailures": [{"itemIdentifier": records[0]["messageId"]}]}
    payment = cached_payments().of_session(SESSION)
    assert payment is not None and payment.status is PaymentStatus.CAPTURE_FAILED
    assert payment.capture_attempts == 2 and "502" in (payment.last_error or "")
    db = boto3.client("dynamodb", region_name="eu-west-1")
    assert len(db.scan(TableName=env["CDRS_TABLE"])["Items"]) == 1  # the CDR is issued once
    sqs = boto3.client("sqs", region_name="eu-west-1")
    got = sqs.receive_message(QueueUrl=alerts, MaxNumberOfMessages=10)["Messages"]
    bodies = [json.loads(m["Body"]) for m in got]
    assert len(bodies) == 2 and all(b["Subject"] == "Payment capture failed" for b in bodies)
    # After the retries the record sits in the dead-letter queue; operators still find and retry it.
    listed = cached_payments().list_by_status("t1", PaymentStatus.CAPTURE_FAILED, 10, None)
    assert [p.payment_id for p in listed.items] == [payment.payment_id]
    operators = alert_service()  # ... and in their alert list, one alert for both failures
    (alert,) = operators.listing("t1", AlertStatus.OPEN, 10, None).items
    assert alert.key.kind is AlertKind.PAYMENT_CAPTURE_FAILED and alert.details["cdr_id"] == payment.cdr_id
    done = cached_payments().retry_capture("t1", payment.payment_id)
    assert done.status is PaymentStatus.CAPTURED and done.captured == Decimal("8.47")
    assert operators.listing("t1", AlertStatus.OPEN, 10, None).items == []  # resolved by the capture


def test_the_scheduled_sweep_releases_an_orphaned_hold(monkeypatch: pytest.MonkeyPatch) -> None:
    # Only this function's environment: the sweep's composition root builds from it alone.
    with moto_stack(monkeypatch, ["PaymentHoldsFunction"]) as (_, environment):
        held = held_before_the_session(environment, "tok_ok")  # a hold whose session was never written
        assert held.status is PaymentStatus.AUTHORIZED
        sweep = load_handler("payment_holds")
        assert sweep.handler({}, Context()) == {"released": 1}
        released = cached_payments().of_session(SESSION)
        assert released is not None and released.status is PaymentStatus.VOIDED
        assert sweep.handler({}, Context()) == {"released": 0}
