"""Receipts and invoices on moto (in-process), every resource from template.yaml: the real CDR worker
writes the receipt once and e-mails it once however often the record is delivered; the real monthly run
numbers invoices with DynamoDB's conditional transaction (no repeat, no gap, also under a racing
writer), stores the PDF in the documents bucket and e-mails it once."""

from __future__ import annotations

import email
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import boto3
import pytest
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from tests.integration.support import load_handler, moto_stack
from tests.integration.test_cdr_dynamo import TARIFF, Context, drain, run_session, stop_frame
from tests.unit.test_invoice_model import issued
from voltway.adapters.roots_transactions import cached_transactions_api
from voltway.billing import roots as billing_roots
from voltway.billing.model import Contract, ContractScope
from voltway.drivers.dynamo import DynamoDriverStore
from voltway.drivers.model import TokenKind, TokenLink
from voltway.idtags.model import IdTag, IdTagStatus
from voltway.invoices.aws import DynamoDocumentStore
from voltway.invoices.model import BillingAccount, Invoice
from voltway.invoices.roots import cached_invoices, cached_receipts
from voltway.tariffs import Tariff

pytestmark = pytest.mark.integration
FUNCTIONS = ("OcppMessageFunction", "ApiFunction", "CdrWorkerFunction", "InvoiceRunFunction")


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    with moto_stack(monkeypatch, FUNCTIONS) as (_, environment):
        yield environment


def sent() -> list[Any]:
    return list(ses_backends[DEFAULT_ACCOUNT_ID]["eu-west-1"].sent_messages)


def versions(bucket: str, prefix: str) -> list[dict[str, Any]]:
    listed: dict[str, Any] = dict(boto3.client("s3").list_object_versions(Bucket=bucket, Prefix=prefix))
    return list(listed.get("Versions", []))


def store(env: dict[str, str]) -> DynamoDocumentStore:
    return DynamoDocumentStore(boto3.client("dynamodb"), env["INVOICES_TABLE"])


def test_cdr_worker_writes_the_receipt_once_and_emails_it_once(env: dict[str, str]) -> None:
    billing_roots.cached_billing().tariffs.put("t1", "STD", Tariff.model_validate(TARIFF), default=True)
    tx_id = run_session()
    cached_transactions_api().id_tags.put(IdTag("t1", "TAG1", IdTagStatus.ACCEPTED, None, "FLEET"))
    at = datetime(2026, 2, 1, tzinfo=UTC)
    DynamoDriverStore(boto3.client("dynamodb"), env["DRIVERS_TABLE"]).claim_token(
        TokenLink("t1", "alice", "TAG1", TokenKind.RFID, at)
    )
    store(env).put_contact("t1", "alice", "alice@example.com")
    trigger = billing_roots.cached_trigger()
    for _ in range(2):  # the charger retried its StopTransaction
        trigger.after_frame(stop_frame(tx_id))
    records = drain(env["CDR_QUEUE_URL"])

    worker = load_handler("cdr_worker")
    assert worker.handler({"Records": records}, Context()) == {"batchItemFailures": []}
    assert worker.handler({"Records": records[:1]}, Context()) == {"batchItemFailures": []}  # redelivery

    key = f"receipts/tenant=t1/TX{tx_id}.pdf"
    [version] = versions(env["DOCUMENTS_BUCKET"], "receipts/")  # written once, not once per delivery
    assert version["Key"] == key
    [message] = sent()
    assert set(message.destinations) == {"alice@example.com"}
    mail = email.message_from_string(message.raw_data)
    [attachment] = [p for p in mail.walk() if p.get_filename()]
    stored = boto3.client("s3").get_object(Bucket=env["DOCUMENTS_BUCKET"], Key=key)["Body"].read()
    assert attachment.get_payload(decode=True) == stored and stored.startswith(b"%PDF")

    receipt = store(env).receipt("t1", f"TX{tx_id}")
    assert receipt is not None and receipt.user_id == "alice" and receipt.account_id == "FLEET"
    assert receipt.total_gross == Decimal("8.47")
    month = f"{receipt.issued_at:%Y-%m}"
    assert [line.cdr_id for line in store(env).ledger("t1", "FLEET", month)] == [f"TX{tx_id}"]


def test_monthly_run_numbers_stores_and_emails_invoices_once(env: dict[str, str]) -> None:
    billing = billing_roots.cached_billing()
    for account in ("FLEET", "OTHER"):
        billing.contracts.put(
            "t1",
            Contract(
                contract_id=account.lower(),
                scope=ContractScope.ACCOUNT,
                subject_id=account,
                currency="EUR",
                monthly_fee=Decimal("9.99"),
                vat=Decimal(19),
            ),
        )
    cached_transactions_api().id_tags.put(IdTag("t1", "TAG1", IdTagStatus.ACCEPTED, None, "FLEET"))
    documents = store(env)
    documents.put_account(
        "t1", BillingAccount(account_id="FLEET", name="Fleet Ltd", billing_email="ap@fleet.example")
    )
    documents.put_account("t1", BillingAccount(account_id="OTHER", name="Other Ltd"))
    cached_receipts().issue(issued())  # a CDR of 2026-03-02 for TAG1 -> FLEET's March ledger

    run = load_handler("invoice_run")
    first = run.handler({"month": "2026-03"}, None)
    assert [(r["account"], r["outcome"]) for r in first["results"]] == [
        ("FLEET", "INV-000001"),
        ("OTHER", "INV-000002"),
    ]
    again = run.handler({"month": "2026-03"}, None)  # a re-run, or Lambda's retry
    assert [r["outcome"] for r in again["results"]] == ["existed", "existed"]

    fleet = documents.invoice("t1", "2026-03.FLEET")
    assert fleet is not None and fleet.total_gross == Decimal("7.27") + Decimal("11.89")
    assert [set(m.destinations) for m in sent()] == [{"ap@fleet.example"}]  # OTHER has no address
    pdfs = versions(env["DOCUMENTS_BUCKET"], "invoices/tenant=t1/2026-03.FLEET.pdf")
    assert len(pdfs) == 1  # the re-run found it stored (HEAD) and did not write it again
    counter = boto3.client("dynamodb").get_item(
        TableName=env["INVOICES_TABLE"], Key={"pk": {"S": "TENANT#t1"}, "sk": {"S": "COUNTER#INVOICE"}}
    )["Item"]
    assert counter["n"] == {"N": "2"}
    listed = cached_invoices().list("t1", 10, None)
    assert [i.number for i in listed.items] == ["INV-000002", "INV-000001"]


def test_a_racing_writer_makes_the_transaction_retry_with_the_next_number(env: dict[str, str]) -> None:
    documents = store(env)

    def invoice(invoice_id: str, n: int) -> Invoice:
        return Invoice(
            tenant_id="t1",
            invoice_id=invoice_id,
            sequence=n,
            number=f"INV-{n:06d}",
            account_id=invoice_id.split(".", 1)[1],
            month="2026-03",
            issued_at=datetime(2026, 4, 1, tzinfo=UTC),
            currency="EUR",
            total_net=Decimal(1),
            total_vat=Decimal(0),
            total_gross=Decimal(1),
            lines=1,
            document_key="k",
            file_key="f",
        )

    taken: list[int] = []

    def build_racing(n: int) -> Invoice:
        taken.append(n)
        if len(taken) == 1:  # another writer commits number n between our read and our commit
            documents.issue_invoice("t1", "2026-03.B", lambda m: invoice("2026-03.B", m))
        return invoice("2026-03.A", n)

    a, created = documents.issue_invoice("t1", "2026-03.A", build_racing)
    assert created and taken == [1, 2] and a.number == "INV-000002"
    b = documents.invoice("t1", "2026-03.B")
    assert b is not None and b.number == "INV-000001"
    retried, created = documents.issue_invoice("t1", "2026-03.A", lambda n: invoice("2026-03.A", n))
    assert not created and retried == a
    assert [i.number for i in documents.invoices("t1", 10, None).items] == ["INV-000002", "INV-000001"]
