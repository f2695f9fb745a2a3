"""Typed errors of the invoices context (mapped to HTTP once, in ``voltway.adapters.http``)."""

from __future__ import annotations


class InvoicingError(Exception):
    """Base class of every invoices error raised on purpose."""


class ReceiptNotFound(InvoicingError):
    """No receipt of this CDR for this caller (another driver's receipt is not found either)."""


class InvoiceNotFound(InvoicingError):
    pass


class MonthNotClosed(InvoicingError):
    """An invoice covers a whole calendar month (UTC): a month that has not ended cannot be invoiced."""


class NothingToInvoice(InvoicingError):
    """The account has no session in the month and its contract has no monthly fee."""


class MixedCurrencies(InvoicingError):
    """The account's sessions of the month were priced in more than one currency (one invoice each is
    not built)."""


class InvoiceNumberConflict(InvoicingError):
    """The tenant's invoice counter moved under us too many times in a row (retry the request)."""


class DocumentStoreError(InvoicingError):
    """DynamoDB/S3/SES failed (wrapped SDK error)."""
