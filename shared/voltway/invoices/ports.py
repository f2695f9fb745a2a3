"""Ports of the invoices context. Adapters: ``voltway.invoices.aws``; twins: ``voltway.invoices.memory``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from voltway.billing.model import Contract
from voltway.invoices.model import BillingAccount, Brand, Document, Invoice, LedgerLine, Receipt


@dataclass(frozen=True, slots=True)
class ReceiptPage:
    items: list[Receipt]
    cursor: str | None


@dataclass(frozen=True, slots=True)
class InvoicePage:
    items: list[Invoice]
    cursor: str | None


class DocumentStore(Protocol):
    """InvoicesTable: brand and account profiles, drivers' e-mail, receipts, account ledgers, invoices,
    the per-tenant invoice counter and the e-mail markers."""

    def brand(self, tenant_id: str) -> Brand | None: ...

    def put_brand(self, tenant_id: str, brand: Brand) -> None: ...

    def account(self, tenant_id: str, account_id: str) -> BillingAccount | None: ...

    def put_account(self, tenant_id: str, account: BillingAccount) -> None:
        """Also registers the account for the monthly run (it is invoiced its monthly fee even in a
        month without sessions)."""
        ...

    def contact(self, tenant_id: str, user_id: str) -> str | None: ...

    def put_contact(self, tenant_id: str, user_id: str, email: str) -> None: ...

    def put_receipt(self, receipt: Receipt) -> None:
        """Create or overwrite (a retry writes the same receipt)."""
        ...

    def receipt(self, tenant_id: str, cdr_id: str) -> Receipt | None: ...

    def receipts_of(self, tenant_id: str, user_id: str, limit: int, cursor: str | None) -> ReceiptPage:
        """Newest first."""
        ...

    def add_ledger_line(self, tenant_id: str, account_id: str, month: str, line: LedgerLine) -> None:
        """Idempotent (keyed by the CDR id); registers (tenant, account) as active in ``month``."""
        ...

    def ledger(self, tenant_id: str, account_id: str, month: str) -> list[LedgerLine]: ...

    def accounts_to_invoice(self, month: str) -> list[tuple[str, str]]:
        """(tenant, account) pairs with a ledger line in ``month`` or a billing profile."""
        ...

    def invoice(self, tenant_id: str, invoice_id: str) -> Invoice | None: ...

    def invoices(self, tenant_id: str, limit: int, cursor: str | None) -> InvoicePage:
        """Newest (highest number) first."""
        ...

    def issue_invoice(
        self, tenant_id: str, invoice_id: str, build: Callable[[int], Invoice]
    ) -> tuple[Invoice, bool]:
        """Store ``build(n)`` where n is the tenant's next invoice number, atomically with moving the
        counter to n (a conditional transaction): numbers never repeat and never skip. When the invoice
        exists already (a retry), it is returned unchanged (and False) and the counter does not move."""
        ...

    def claim_email(self, dedupe_key: str) -> bool:
        """True once per key (a conditional put); False when it was claimed before."""
        ...

    def release_email(self, dedupe_key: str) -> None:
        """Forget a claim whose e-mail could not be sent (the retry sends it)."""
        ...


class DocumentFiles(Protocol):
    def put(self, key: str, body: bytes, content_type: str) -> None: ...

    def get(self, key: str) -> bytes: ...

    def exists(self, key: str) -> bool: ...

    def download_url(self, key: str, filename: str, expires_in: int) -> str:
        """A presigned GET, signed on request and never stored."""
        ...


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content: bytes
    content_type: str = "application/pdf"


class Mailer(Protocol):
    def send(self, to: str, subject: str, text: str, attachment: Attachment) -> str:
        """Send one e-mail (SES); returns the provider's message id."""
        ...


class TokenOwners(Protocol):
    def owner_of(self, tenant_id: str, id_tag: str) -> str | None:
        """The driver (user id) who owns the id tag, if any (docs/drivers.md)."""
        ...


class Accounts(Protocol):
    def account_of(self, tenant_id: str, id_tag: str) -> str | None:
        """The business account the id tag bills to: its OCPP parent id tag (docs/billing.md)."""
        ...


class Contracts(Protocol):
    def select(
        self, tenant_id: str, *, account_id: str | None, partner_id: str | None
    ) -> Contract | None: ...


class Renderer(Protocol):
    def __call__(self, document: Document) -> bytes:
        """The document as PDF bytes; the same document always gives the same bytes."""
        ...
