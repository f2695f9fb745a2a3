"""Receipt and invoice use cases on the in-memory twins: fixed keys, e-mail once, numbering that never
repeats or skips under retries and races, closed months only."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tests.unit.test_invoice_model import BRAND, credited, issued
from voltway.billing.model import Contract, ContractScope, IssuedCdr
from voltway.invoices.errors import MonthNotClosed, NothingToInvoice, ReceiptNotFound
from voltway.invoices.memory import MemoryDocumentStore, MemoryFiles, MemoryLookups, MemoryMailer
from voltway.invoices.model import BillingAccount, DocumentKind
from voltway.invoices.render import render_pdf
from voltway.invoices.service import DocumentDesk, InvoiceService, ReceiptService, previous_month

NOW = datetime(2026, 4, 1, 2, 0, tzinfo=UTC)  # the CDRs of World are issued on 2026-03-02


class Fixture:
    def __init__(self) -> None:
        self.store = MemoryDocumentStore()
        self.files = MemoryFiles()
        self.lookups = MemoryLookups()
        self.mailer = MemoryMailer()
        desk = DocumentDesk(
            store=self.store,
            files=self.files,
            mailer=self.mailer,
            render=render_pdf,
            url_expiry_seconds=120,
            clock=lambda: NOW,
        )
        self.receipts = ReceiptService(desk, owners=self.lookups, accounts=self.lookups)
        self.invoices = InvoiceService(desk, contracts=self.lookups)
        self.store.put_brand("t1", BRAND)

    def driver(self, user: str = "alice", email: str | None = "alice@example.com") -> None:
        self.lookups.owners[("t1", "TAG1")] = user
        if email:
            self.receipts.remember_email("t1", user, email)

    def fleet(self, fee: Decimal | None = Decimal("9.99")) -> None:
        self.lookups.accounts[("t1", "TAG1")] = "FLEET"
        self.lookups.contracts[("t1", "FLEET")] = Contract(
            contract_id="fleet",
            scope=ContractScope.ACCOUNT,
            subject_id="FLEET",
            currency="EUR",
            monthly_fee=fee,
            vat=Decimal(19),
        )


@pytest.fixture
def f() -> Fixture:
    return Fixture()


def cdr_n(cdr: IssuedCdr, n: int) -> IssuedCdr:
    return replace(cdr, cdr_id=f"TX{n}", transaction_id=n, ocpi={**cdr.ocpi, "id": f"TX{n}"})


def test_receipt_is_stored_listed_and_emailed_once(f: Fixture) -> None:
    f.driver()
    cdr = issued()
    first = f.receipts.issue(cdr)
    body = f.files.objects["receipts/tenant=t1/TX7.pdf"][0]
    puts = f.files.puts
    again = f.receipts.issue(cdr)  # a redelivered queue record: finds the recorded receipt
    assert f.files.puts == puts  # the PDF is written once
    assert first == again and f.files.objects["receipts/tenant=t1/TX7.pdf"][0] == body  # same bytes
    assert len(f.mailer.sent) == 1
    to, subject, attachment = f.mailer.sent[0]
    assert to == "alice@example.com" and "TX7" in subject and attachment.content == body
    assert attachment.filename == "receipt-TX7.pdf"
    assert first.total_gross == Decimal("7.27") and first.user_id == "alice"
    page = f.receipts.list_mine("t1", "alice", 10, None)
    assert [r.cdr_id for r in page.items] == ["TX7"] and page.cursor is None
    _, download = f.receipts.get_mine("t1", "alice", "TX7")
    assert "receipts/tenant=t1/TX7.pdf" in download.url and download.expires_at == datetime(
        2026, 4, 1, 2, 2, tzinfo=UTC
    )


def test_another_drivers_receipt_is_not_found(f: Fixture) -> None:
    f.driver()
    f.receipts.issue(issued())
    with pytest.raises(ReceiptNotFound):
        f.receipts.get_mine("t1", "bob", "TX7")
    with pytest.raises(ReceiptNotFound):
        f.receipts.get_mine("t2", "alice", "TX7")
    assert f.receipts.list_mine("t1", "bob", 10, None).items == []


def test_no_owner_or_no_email_means_no_email(f: Fixture) -> None:
    f.receipts.issue(issued())  # an operator's card: nobody owns it
    assert f.store.receipt("t1", "TX7") is not None and f.mailer.sent == []
    f.driver("carol", email=None)
    f.receipts.issue(cdr_n(issued(), 8))
    assert f.mailer.sent == []  # the platform knows no address for carol (docs/invoices.md)


def test_a_failed_send_is_retried_by_the_next_delivery(f: Fixture) -> None:
    f.driver()
    f.mailer.fail = True
    with pytest.raises(ConnectionError):
        f.receipts.issue(issued())
    f.mailer.fail = False
    f.receipts.issue(issued())
    f.receipts.issue(issued())
    assert len(f.mailer.sent) == 1  # the retry sends it, with the stored PDF attached
    assert f.mailer.sent[0][2].content == f.files.objects["receipts/tenant=t1/TX7.pdf"][0]


def test_credit_cdr_gets_a_credit_note(f: Fixture) -> None:
    f.driver()
    cdr, credit = credited()
    f.receipts.issue(cdr)
    note = f.receipts.issue(credit)
    assert note.kind is DocumentKind.CREDIT_NOTE and note.total_gross == -Decimal("7.27")
    assert [m[2].filename for m in f.mailer.sent] == ["receipt-TX7.pdf", "credit_note-TX7-CR.pdf"]
    assert [r.cdr_id for r in f.receipts.list_mine("t1", "alice", 10, None).items] == ["TX7-CR", "TX7"]


def test_invoice_numbers_never_repeat_or_skip(f: Fixture) -> None:
    f.fleet()
    cdr = issued()
    f.receipts.issue(cdr)
    f.receipts.issue(cdr_n(cdr, 8))
    f.store.put_account(
        "t1", BillingAccount(account_id="OTHER", name="Other", billing_email="ap@other.example")
    )
    f.lookups.contracts[("t1", "OTHER")] = f.lookups.contracts[("t1", "FLEET")]

    first, created = f.invoices.generate("t1", "FLEET", "2026-03")
    assert created and first.number == "INV-000001" and first.lines == 3  # 2 sessions + the monthly fee
    assert first.total_net == Decimal("6.00") * 2 + Decimal("9.99")
    again, created = f.invoices.generate("t1", "FLEET", "2026-03")  # a retry, or POST again
    assert not created and again == first and f.store.counters["t1"] == 1

    # Another writer takes the next number between our read of the counter and our commit: the
    # conditional commit fails, we read the counter again and take the one after (no repeat, no gap).
    def racing_writer() -> None:
        f.invoices.generate("t1", "OTHER", "2026-03")

    f.store.before_commit = racing_writer
    late, created = f.invoices.generate("t1", "FLEET", "2026-02")  # the monthly fee only
    assert created and late.number == "INV-000003" and late.lines == 1
    other = f.store.invoice("t1", "2026-03.OTHER")
    assert other is not None and other.number == "INV-000002"
    assert sorted(i.number for i in f.store.issued.values()) == ["INV-000001", "INV-000002", "INV-000003"]
    assert f.store.counters["t1"] == 3


def test_a_crash_after_numbering_keeps_the_number_and_renders_the_same_pdf(f: Fixture) -> None:
    f.fleet()
    f.receipts.issue(issued())
    puts = f.files.put

    def crash_on_pdf(key: str, body: bytes, content_type: str) -> None:
        if key.endswith(".pdf") and key.startswith("invoices/"):
            raise ConnectionError("S3 timeout")
        puts(key, body, content_type)

    f.files.put = crash_on_pdf  # type: ignore[method-assign]
    with pytest.raises(ConnectionError):
        f.invoices.generate("t1", "FLEET", "2026-03")
    assert f.store.counters["t1"] == 1
    f.files.put = puts  # type: ignore[method-assign]
    f.receipts.issue(cdr_n(issued(), 9))  # a late line must not change the numbered invoice
    invoice, created = f.invoices.generate("t1", "FLEET", "2026-03")
    assert not created and invoice.number == "INV-000001" and invoice.lines == 2
    pdf = f.files.objects["invoices/tenant=t1/2026-03.FLEET.pdf"][0]
    writes = f.files.puts
    f.invoices.generate("t1", "FLEET", "2026-03")  # stored now: not rendered again
    assert f.files.puts == writes
    del f.files.objects["invoices/tenant=t1/2026-03.FLEET.pdf"]  # lost: rendered again, the same bytes
    f.invoices.generate("t1", "FLEET", "2026-03")
    assert f.files.objects["invoices/tenant=t1/2026-03.FLEET.pdf"][0] == pdf
    assert f.store.counters["t1"] == 1


def test_invoice_is_emailed_once_to_the_billing_address(f: Fixture) -> None:
    f.fleet()
    f.store.put_account(
        "t1", BillingAccount(account_id="FLEET", name="Fleet Ltd", billing_email="ap@fleet.example")
    )
    f.receipts.issue(issued())
    f.invoices.generate("t1", "FLEET", "2026-03")
    f.invoices.generate("t1", "FLEET", "2026-03")
    invoices = [m for m in f.mailer.sent if m[0] == "ap@fleet.example"]
    assert len(invoices) == 1 and invoices[0][2].filename == "invoice-INV-000001.pdf"
    assert invoices[0][2].content.startswith(b"%PDF")


def test_only_finished_months_with_something_to_bill(f: Fixture) -> None:
    f.fleet(fee=None)
    with pytest.raises(MonthNotClosed):
        f.invoices.generate("t1", "FLEET", "2026-04")
    with pytest.raises(NothingToInvoice):
        f.invoices.generate("t1", "FLEET", "2026-02")
    assert "t1" not in f.store.counters


def test_monthly_run_invoices_active_and_profiled_accounts(f: Fixture) -> None:
    f.fleet()
    f.receipts.issue(issued())
    f.store.put_account("t1", BillingAccount(account_id="IDLE", name="Idle Ltd"))  # no contract, no sessions
    f.store.put_account("t1", BillingAccount(account_id="FEE", name="Fee Only"))
    f.lookups.contracts[("t1", "FEE")] = f.lookups.contracts[("t1", "FLEET")]
    month = previous_month(NOW)
    assert month == "2026-03"
    outcomes = f.invoices.run_month(month)
    assert outcomes == [
        ("t1", "FEE", "INV-000001"),
        ("t1", "FLEET", "INV-000002"),
        ("t1", "IDLE", "nothing"),
    ]
    assert f.invoices.run_month(month) == [
        ("t1", "FEE", "existed"),
        ("t1", "FLEET", "existed"),
        ("t1", "IDLE", "nothing"),
    ]
    fee_only, download = f.invoices.get("t1", "2026-03.FEE")
    assert fee_only.total_gross == Decimal("11.89") and "invoice-INV-000001.pdf" in download.url
    assert [i.number for i in f.invoices.list("t1", 10, None).items] == ["INV-000002", "INV-000001"]
