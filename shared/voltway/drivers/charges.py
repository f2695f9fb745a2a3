"""A driver's charges: every transaction started with one of the driver's tokens — RFID cards tapped at
the charger as well as the app token — newest first (issue 4: the session history showed app starts only).

Kept apart from ``voltway.drivers.service`` (app-started sessions, holds): this reads transactions, which
exist for every start, through the sparse index ``by_id_tag`` of TransactionsTable (one Query per token and
page). A driver's cards are few; the pages of each token are merged by the transactions' listing key
(start time, fixed width, then id: unique), and the cursor is the last key returned. Tags are claimed by
a driver when created (an operator's existing tag cannot be claimed: docs/drivers.md), so every
transaction of a linked tag is the driver's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from voltway.drivers.model import TokenKind, TokenLink
from voltway.transactions.model import Transaction

_LIST_SK_MAX = 64


class DriverTokens(Protocol):
    def tokens_of(self, tenant_id: str, user_id: str) -> list[TokenLink]: ...

    def app_token(self, tenant_id: str, user_id: str) -> str | None: ...


class TagTransactions(Protocol):
    def for_id_tag(
        self, tenant_id: str, id_tag: str, before: str | None, limit: int
    ) -> list[tuple[str, Transaction]]:
        """Newest first, listing keys below ``before``; at most ``limit``."""
        ...


@dataclass(frozen=True, slots=True)
class Charge:
    transaction: Transaction
    token_kind: TokenKind


@dataclass(frozen=True, slots=True)
class ChargePage:
    items: list[Charge]
    cursor: str | None


class InvalidChargesCursor(ValueError):
    """Not a cursor this listing issued."""


class DriverCharges:
    def __init__(self, tokens: DriverTokens, transactions: TagTransactions) -> None:
        self._tokens = tokens
        self._transactions = transactions

    def _kinds(self, tenant_id: str, user_id: str) -> dict[str, TokenKind]:
        kinds = {t.id_tag: t.kind for t in self._tokens.tokens_of(tenant_id, user_id)}
        app = self._tokens.app_token(tenant_id, user_id)
        if app is not None:
            kinds[app] = TokenKind.APP
        return kinds

    def charges(self, tenant_id: str, user_id: str, limit: int, cursor: str | None) -> ChargePage:
        if cursor is not None and (not cursor or len(cursor) > _LIST_SK_MAX):
            raise InvalidChargesCursor("invalid cursor")
        found: list[tuple[str, Charge]] = []
        for id_tag, kind in sorted(self._kinds(tenant_id, user_id).items()):
            for key, transaction in self._transactions.for_id_tag(tenant_id, id_tag, cursor, limit + 1):
                found.append((key, Charge(transaction, kind)))
        found.sort(key=lambda pair: pair[0], reverse=True)
        page = found[:limit]
        more = len(found) > limit
        return ChargePage([c for _, c in page], page[-1][0] if more and page else None)
