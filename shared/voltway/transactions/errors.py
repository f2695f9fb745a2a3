"""Errors of the transactions context; HTTP maps them once (voltway.adapters.http)."""

from __future__ import annotations


class TransactionError(Exception):
    """Base of the transactions context's errors."""


class TransactionNotFound(TransactionError):
    """No such transaction (or not in the caller's tenant: the two are indistinguishable)."""


class StartAlreadyRecorded(TransactionError):
    """A racing delivery of the same StartTransaction won: ``transaction_id`` is the one it created."""

    def __init__(self, transaction_id: int) -> None:
        super().__init__(f"start already recorded as transaction {transaction_id}")
        self.transaction_id = transaction_id


class IdTagBusy(TransactionError):
    """The id tag's active-transaction lock is held by another running transaction."""
