"""In-memory twins of the invoices ports (unit tests, and the model of their contracts)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from voltway.billing.model import Contract
from voltway.invoices.model import BillingAccount, Brand, Invoice, LedgerLine, Receipt
from voltway.invoices.ports import Attachment, InvoicePage, ReceiptPage


class MemoryDocumentStore:
    def __init__(self) -> None:
        self.brands: dict[str, Brand] = {}
        self.accounts: dict[tuple[str, str], BillingAccount] = {}
        self.contacts: dict[tuple[str, str], str] = {}
        self.receipts: dict[tuple[str, str], Receipt] = {}
        self.ledgers: dict[tuple[str, str, str], dict[str, LedgerLine]] = {}
        self.issued: dict[tuple[str, str], Invoice] = {}
        self.counters: dict[str, int] = {}
        self.emails: set[str] = set()
        self.before_commit: Callable[[], None] | None = None
        """Test hook: runs between reading the counter and committing (simulates a racing writer)."""

    def brand(self, tenant_id: str) -> Brand | None:
        return self.brands.get(tenant_id)

    def put_brand(self, tenant_id: str, brand: Brand) -> None:
        self.brands[tenant_id] = brand

    def account(self, tenant_id: str, account_id: str) -> BillingAccount | None:
        return self.accounts.get((tenant_id, account_id))

    def put_account(self, tenant_id: str, account: BillingAccount) -> None:
        self.accounts[(tenant_id, account.account_id)] = account

    def contact(self, tenant_id: str, user_id: str) -> str | None:
        return self.contacts.get((tenant_id, user_id))

    def put_contact(self, tenant_id: str, user_id: str, email: str) -> None:
        self.contacts[(tenant_id, user_id)] = email

    def put_receipt(self, receipt: Receipt) -> None:
        self.receipts[(receipt.tenant_id, receipt.cdr_id)] = receipt

    def receipt(self, tenant_id: str, cdr_id: str) -> Receipt | None:
        return self.receipts.get((tenant_id, cdr_id))

    def receipts_of(self, tenant_id: str, user_id: str, limit: int, cursor: str | None) -> ReceiptPage:
        mine = sorted(
            (r for (t, _), r in self.receipts.items() if t == tenant_id and r.user_id == user_id),
            key=lambda r: (r.issued_at, r.cdr_id),
            reverse=True,
        )
        start = int(cursor) if cursor else 0
        return ReceiptPage(
            mine[start : start + limit], str(start + limit) if start + limit < len(mine) else None
        )

    def add_ledger_line(self, tenant_id: str, account_id: str, month: str, line: LedgerLine) -> None:
        self.ledgers.setdefault((tenant_id, account_id, month), {})[line.cdr_id] = line

    def ledger(self, tenant_id: str, account_id: str, month: str) -> list[LedgerLine]:
        lines = self.ledgers.get((tenant_id, account_id, month), {})
        return [lines[k] for k in sorted(lines)]

    def accounts_to_invoice(self, month: str) -> list[tuple[str, str]]:
        active = {(t, a) for (t, a, m) in self.ledgers if m == month}
        return sorted(active | set(self.accounts))

    def invoice(self, tenant_id: str, invoice_id: str) -> Invoice | None:
        return self.issued.get((tenant_id, invoice_id))

    def invoices(self, tenant_id: str, limit: int, cursor: str | None) -> InvoicePage:
        mine = sorted((i for (t, _), i in self.issued.items() if t == tenant_id), key=lambda i: i.sequence)
        mine.reverse()
        start = int(cursor) if cursor else 0
        return InvoicePage(
            mine[start : start + limit], str(start + limit) if start + limit < len(mine) else None
        )

    def issue_invoice(
        self, tenant_id: str, invoice_id: str, build: Callable[[int], Invoice]
    ) -> tuple[Invoice, bool]:
        for _ in range(10):
            existing = self.issued.get((tenant_id, invoice_id))
            if existing is not None:
                return existing, False
            current = self.counters.get(tenant_id, 0)
            invoice = build(current + 1)
            if self.before_commit is not None:
                hook, self.before_commit = self.before_commit, None
                hook()
            # the conditional transaction: counter unchanged and invoice absent, or nothing is written
            if self.counters.get(tenant_id, 0) == current and (tenant_id, invoice_id) not in self.issued:
                self.counters[tenant_id] = current + 1
                self.issued[(tenant_id, invoice_id)] = invoice
                return invoice, True
        raise AssertionError("counter kept moving")

    def claim_email(self, dedupe_key: str) -> bool:
        if dedupe_key in self.emails:
            return False
        self.emails.add(dedupe_key)
        return True

    def release_email(self, dedupe_key: str) -> None:
        self.emails.discard(dedupe_key)


@dataclass
class MemoryFiles:
    objects: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    puts: int = 0

    def put(self, key: str, body: bytes, content_type: str) -> None:
        self.puts += 1
        self.objects[key] = (body, content_type)

    def get(self, key: str) -> bytes:
        return self.objects[key][0]

    def exists(self, key: str) -> bool:
        return key in self.objects

    def download_url(self, key: str, filename: str, expires_in: int) -> str:
        return f"https://documents.example/{key}?filename={filename}&expires={expires_in}"


@dataclass
class MemoryMailer:
    sent: list[tuple[str, str, Attachment]] = field(default_factory=list)
    fail: bool = False

    def send(self, to: str, subject: str, text: str, attachment: Attachment) -> str:
        if self.fail:
            raise ConnectionError("SES unavailable")
        self.sent.append((to, subject, attachment))
        return f"m-{len(self.sent)}"


@dataclass
class MemoryLookups:
    """Token owners and accounts (both keyed by (tenant, id tag)) and contracts by (tenant, account)."""

    owners: dict[tuple[str, str], str] = field(default_factory=dict)
    accounts: dict[tuple[str, str], str] = field(default_factory=dict)
    contracts: dict[tuple[str, str], Contract] = field(default_factory=dict)

    def owner_of(self, tenant_id: str, id_tag: str) -> str | None:
        return self.owners.get((tenant_id, id_tag))

    def account_of(self, tenant_id: str, id_tag: str) -> str | None:
        return self.accounts.get((tenant_id, id_tag))

    def select(self, tenant_id: str, *, account_id: str | None, partner_id: str | None) -> Contract | None:
        return self.contracts.get((tenant_id, account_id or ""))
