"""Use cases: a receipt per issued CDR, a numbered monthly invoice per business account, the signed
links that download them, and the tenant's brand / account billing profiles.

Every step is idempotent, because the callers are retried (SQS records, scheduled runs, HTTP retries):
the receipt's object key and the invoice's id are functions of the CDR / (account, month); the PDF of a
fixed document is always the same bytes; the invoice number is taken once, atomically with the invoice;
an e-mail is sent after a conditional claim of its dedupe key (at most once).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from voltway.billing.model import IssuedCdr
from voltway.invoices.documents import (
    invoice_document,
    ledger_line,
    month_bounds,
    month_of,
    receipt_document,
)
from voltway.invoices.errors import (
    InvoiceNotFound,
    MonthNotClosed,
    NothingToInvoice,
    ReceiptNotFound,
)
from voltway.invoices.model import (
    BillingAccount,
    Brand,
    Document,
    Invoice,
    Receipt,
    invoice_id_of,
)
from voltway.invoices.ports import (
    Accounts,
    Attachment,
    Contracts,
    DocumentFiles,
    DocumentStore,
    InvoicePage,
    Mailer,
    ReceiptPage,
    Renderer,
    TokenOwners,
)
from voltway.observability import count, logger

Clock = Callable[[], datetime]
PDF = "application/pdf"
MAX_URL_EXPIRY = 7 * 24 * 3600  # SigV4 presigned URLs live at most 7 days


def _now() -> datetime:
    return datetime.now(UTC)


def receipt_key(tenant_id: str, cdr_id: str) -> str:
    return f"receipts/tenant={tenant_id}/{cdr_id}.pdf"


def invoice_key(tenant_id: str, invoice_id: str) -> str:
    return f"invoices/tenant={tenant_id}/{invoice_id}.pdf"


def invoice_number(n: int) -> str:
    return f"INV-{n:06d}"


@dataclass(frozen=True, slots=True)
class Download:
    url: str
    expires_at: datetime


class DocumentDesk:
    """What receipts and invoices share: their records, the PDF files with their signed download links,
    the renderer, the tenant's brand, and e-mail sent at most once per document: claim the dedupe key
    (conditional put), send, release on failure so that the retry sends it. A crash between the claim and
    SES's answer loses that e-mail rather than sending it twice (docs/invoices.md)."""

    def __init__(
        self,
        *,
        store: DocumentStore,
        files: DocumentFiles,
        mailer: Mailer | None,
        render: Renderer,
        url_expiry_seconds: int = 300,
        clock: Clock = _now,
    ) -> None:
        if not 1 <= url_expiry_seconds <= MAX_URL_EXPIRY:
            raise ValueError(f"url expiry must be 1..{MAX_URL_EXPIRY} seconds")
        self.store = store
        self.files = files
        self.render = render
        self.clock = clock
        self._mailer = mailer
        self._expiry = url_expiry_seconds

    def brand(self, tenant_id: str) -> Brand:
        return self.store.brand(tenant_id) or Brand.fallback(tenant_id)

    def store_pdf(self, key: str, document: Document) -> bytes:
        pdf = self.render(document)
        self.files.put(key, pdf, PDF)
        return pdf

    def link(self, key: str, filename: str) -> Download:
        url = self.files.download_url(key, filename, self._expiry)
        return Download(url, self.clock() + timedelta(seconds=self._expiry))

    def mail_once(
        self,
        dedupe_key: str,
        *,
        to: str,
        subject: str,
        text: str,
        file_key: str,
        file_name: str,
        pdf: bytes | None,
    ) -> bool:
        """E-mail the PDF stored at ``file_key`` (``pdf``: its bytes, when at hand) as ``file_name``."""
        if self._mailer is None or not self.store.claim_email(dedupe_key):
            return False
        try:
            attachment = Attachment(file_name, pdf if pdf is not None else self.files.get(file_key))
            self._mailer.send(to, subject, text, attachment)
        except Exception:
            self.store.release_email(dedupe_key)
            raise
        count("DocumentEmailed")
        return True


class ReceiptService:
    def __init__(self, desk: DocumentDesk, *, owners: TokenOwners, accounts: Accounts) -> None:
        self._desk = desk
        self._store = desk.store
        self._owners = owners
        self._accounts = accounts

    def issue(self, cdr: IssuedCdr) -> Receipt:
        """The CDR's receipt (a credit note for a credit CDR): rendered, stored under a key fixed by the
        CDR id, added to its account's month, recorded for its driver, and e-mailed to its driver once.
        A redelivery finds the recorded receipt and writes nothing again (only a missing e-mail is sent);
        a delivery that crashed before recording it redoes every step, with the same bytes and keys."""
        receipt = self._store.receipt(cdr.tenant_id, cdr.cdr_id)
        pdf: bytes | None = None
        if receipt is None:
            receipt, pdf = self._create(cdr)
        email = self._store.contact(cdr.tenant_id, receipt.user_id) if receipt.user_id else None
        if email:
            brand = self._desk.brand(cdr.tenant_id)
            self._desk.mail_once(
                f"receipt:{cdr.tenant_id}:{cdr.cdr_id}",
                to=email,
                subject=f"Your {receipt.kind.heading.lower()} {cdr.cdr_id} from {brand.name}",
                text=_receipt_text(receipt, brand),
                file_key=receipt.file_key,
                file_name=f"{receipt.kind.value}-{cdr.cdr_id}.pdf",
                pdf=pdf,
            )
        return receipt

    def _create(self, cdr: IssuedCdr) -> tuple[Receipt, bytes]:
        document = receipt_document(cdr, self._desk.brand(cdr.tenant_id))
        key = receipt_key(cdr.tenant_id, cdr.cdr_id)
        pdf = self._desk.store_pdf(key, document)
        uid = cdr.ocpi.get("cdr_token", {}).get("uid")
        user = self._owners.owner_of(cdr.tenant_id, uid) if isinstance(uid, str) else None
        account = self._accounts.account_of(cdr.tenant_id, uid) if isinstance(uid, str) else None
        if account is not None:
            line = ledger_line(cdr, document)
            self._store.add_ledger_line(cdr.tenant_id, account, month_of(cdr.issued_at), line)
        receipt = Receipt(
            tenant_id=cdr.tenant_id,
            cdr_id=cdr.cdr_id,
            kind=document.kind,
            user_id=user,
            account_id=account,
            issued_at=cdr.issued_at,
            currency=cdr.currency,
            total_net=document.total_net,
            total_vat=document.total_vat,
            total_gross=document.total_gross,
            energy_kwh=Decimal(str(cdr.ocpi.get("total_energy", 0))),
            charge_point_id=cdr.charge_point_id,
            file_key=key,
        )
        self._store.put_receipt(receipt)  # last: a recorded receipt means every step above is done
        count("ReceiptIssued")
        logger.info("receipt issued", cdr_id=cdr.cdr_id, user=bool(user), account=account)
        return receipt, pdf

    # ------------------------------------------------------------------ drivers
    def remember_email(self, tenant_id: str, user_id: str, email: str) -> None:
        if self._store.contact(tenant_id, user_id) != email:
            self._store.put_contact(tenant_id, user_id, email)

    def list_mine(self, tenant_id: str, user_id: str, limit: int, cursor: str | None) -> ReceiptPage:
        return self._store.receipts_of(tenant_id, user_id, limit, cursor)

    def get_mine(self, tenant_id: str, user_id: str, cdr_id: str) -> tuple[Receipt, Download]:
        receipt = self._store.receipt(tenant_id, cdr_id)
        if receipt is None or receipt.user_id != user_id:
            raise ReceiptNotFound(cdr_id)  # another driver's receipt is not disclosed
        return receipt, self._desk.link(receipt.file_key, f"{receipt.kind.value}-{cdr_id}.pdf")


def _receipt_text(receipt: Receipt, brand: Brand) -> str:
    return (
        f"Thank you for charging with {brand.name}.\n\n"
        f"{receipt.kind.heading} {receipt.cdr_id}: {receipt.total_gross:.2f} {receipt.currency} "
        f"incl. VAT ({receipt.total_net:.2f} excl. VAT). The PDF is attached.\n"
    )


class InvoiceService:
    def __init__(self, desk: DocumentDesk, *, contracts: Contracts) -> None:
        self._desk = desk
        self._store = desk.store
        self._files = desk.files
        self._clock = desk.clock
        self._contracts = contracts

    # ------------------------------------------------------------------ profiles
    def brand(self, tenant_id: str) -> Brand:
        return self._desk.brand(tenant_id)

    def put_brand(self, tenant_id: str, brand: Brand) -> Brand:
        self._store.put_brand(tenant_id, brand)
        return brand

    def account(self, tenant_id: str, account_id: str) -> BillingAccount:
        account = self._store.account(tenant_id, account_id)
        if account is None:
            raise InvoiceNotFound(f"no billing profile for account {account_id}")
        return account

    def put_account(self, tenant_id: str, account: BillingAccount) -> BillingAccount:
        self._store.put_account(tenant_id, account)
        return account

    # ------------------------------------------------------------------ invoices
    def generate(self, tenant_id: str, account_id: str, month: str) -> tuple[Invoice, bool]:
        """The account's invoice of ``month`` (a finished calendar month, UTC): issued once with the
        tenant's next number; a repeated request returns it (and makes sure its PDF and e-mail exist).
        Returns (invoice, created)."""
        _, last = month_bounds(month)
        if self._clock() < datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1):
            raise MonthNotClosed(f"{month} has not ended (UTC)")
        invoice_id = invoice_id_of(account_id, month)
        existing = self._store.invoice(tenant_id, invoice_id)
        if existing is not None:
            self._deliver(existing, fresh=False)
            return existing, False
        lines = self._store.ledger(tenant_id, account_id, month)
        contract = self._contracts.select(tenant_id, account_id=account_id, partner_id=None)
        if not lines and not (contract and contract.monthly_fee):
            raise NothingToInvoice(f"account {account_id} has nothing to invoice in {month}")
        account = self._store.account(tenant_id, account_id)
        issued_at = self._clock()
        draft = invoice_document(
            number="DRAFT",
            issued_at=issued_at,
            month=month,
            account_id=account_id,
            account=account,
            brand=self.brand(tenant_id),
            lines=lines,
            contract=contract,
        )
        # The content is fixed (in S3, addressed by its digest) before the number is taken, so the PDF of
        # the numbered invoice is the same on every retry, whatever arrives in the ledger later.
        content = draft.model_dump_json().encode()
        digest = hashlib.sha256(content).hexdigest()[:16]
        document_key = f"invoices/tenant={tenant_id}/{invoice_id}.{digest}.json"
        self._files.put(document_key, content, "application/json")

        def build(n: int) -> Invoice:
            return Invoice(
                tenant_id=tenant_id,
                invoice_id=invoice_id,
                sequence=n,
                number=invoice_number(n),
                account_id=account_id,
                month=month,
                issued_at=issued_at,
                currency=draft.currency,
                total_net=draft.total_net,
                total_vat=draft.total_vat,
                total_gross=draft.total_gross,
                lines=len(draft.lines),
                document_key=document_key,
                file_key=invoice_key(tenant_id, invoice_id),
                billing_email=account.billing_email if account else None,
            )

        invoice, created = self._store.issue_invoice(tenant_id, invoice_id, build)
        if created:
            count("InvoiceIssued")
            logger.info("invoice issued", invoice_id=invoice_id, number=invoice.number)
        self._deliver(invoice, fresh=created)
        return invoice, created

    def document(self, invoice: Invoice) -> Document:
        draft = Document.model_validate_json(self._files.get(invoice.document_key))
        return draft.model_copy(update={"number": invoice.number})

    def _deliver(self, invoice: Invoice, *, fresh: bool) -> None:
        """Render and store the PDF (same bytes every time) unless a retry finds it stored; e-mail once."""
        pdf: bytes | None = None
        if fresh or not self._files.exists(invoice.file_key):
            pdf = self._desk.store_pdf(invoice.file_key, self.document(invoice))
        if invoice.billing_email:
            seller = self.brand(invoice.tenant_id).name
            self._desk.mail_once(
                f"invoice:{invoice.tenant_id}:{invoice.invoice_id}",
                to=invoice.billing_email,
                subject=f"Invoice {invoice.number} from {seller} ({invoice.month})",
                text=f"Please find attached invoice {invoice.number} for {invoice.month}: "
                f"{invoice.total_gross:.2f} {invoice.currency} incl. VAT.\n",
                file_key=invoice.file_key,
                file_name=f"invoice-{invoice.number}.pdf",
                pdf=pdf,
            )

    def run_month(self, month: str) -> list[tuple[str, str, str]]:
        """The scheduled run: every account with sessions in ``month`` or a billing profile. Returns
        (tenant, account, outcome) per account; one account's failure does not stop the others."""
        outcomes: list[tuple[str, str, str]] = []
        for tenant_id, account_id in self._store.accounts_to_invoice(month):
            try:
                invoice, created = self.generate(tenant_id, account_id, month)
                outcomes.append((tenant_id, account_id, invoice.number if created else "existed"))
            except NothingToInvoice:
                outcomes.append((tenant_id, account_id, "nothing"))
            except Exception:
                logger.exception("invoice failed", tenant_id=tenant_id, account_id=account_id, month=month)
                count("InvoiceFailed")
                outcomes.append((tenant_id, account_id, "failed"))
        return outcomes

    def get(self, tenant_id: str, invoice_id: str) -> tuple[Invoice, Download]:
        invoice = self._store.invoice(tenant_id, invoice_id)
        if invoice is None:
            raise InvoiceNotFound(invoice_id)
        return invoice, self._desk.link(invoice.file_key, f"invoice-{invoice.number}.pdf")

    def list(self, tenant_id: str, limit: int, cursor: str | None) -> InvoicePage:
        return self._store.invoices(tenant_id, limit, cursor)


def previous_month(now: datetime) -> str:
    first = now.astimezone(UTC).replace(day=1)
    return month_of(first - timedelta(days=1))
