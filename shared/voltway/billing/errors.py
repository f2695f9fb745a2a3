"""Typed errors of the billing context (mapped once to HTTP in ``voltway.billing.http``)."""

from __future__ import annotations


class BillingError(Exception):
    """Base class of every billing error raised on purpose."""


class TariffNotFound(BillingError):
    pass


class ContractNotFound(BillingError):
    pass


class CdrNotFound(BillingError):
    pass


class NoTariffAssigned(BillingError):
    """No charger, site or tenant default tariff: the session cannot be priced (the CDR waits, in the
    dead-letter queue, until an operator assigns one and redrives it)."""


class TransactionNotBillable(BillingError):
    """The transaction is unknown or still running: there is nothing to issue (yet)."""


class CdrAlreadyIssued(BillingError):
    """A CDR with this id exists: CDRs are immutable (the caller reads the issued one)."""


class InvalidCredit(BillingError):
    """A credit CDR cannot be issued for this CDR (it is itself a credit)."""
