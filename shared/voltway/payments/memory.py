"""In-memory twin of the payments store (unit tests)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from voltway.payments.errors import PaymentConflict
from voltway.payments.model import Payment, PaymentMethod, PaymentPage, PaymentStatus


class InMemoryPaymentStore:
    def __init__(self) -> None:
        self.payments: dict[str, Payment] = {}
        self.methods: dict[tuple[str, str], PaymentMethod] = {}

    def create(self, payment: Payment) -> Payment:
        if payment.payment_id in self.payments:
            raise PaymentConflict(payment.payment_id)
        stored = replace(payment, version=1)
        self.payments[payment.payment_id] = stored
        return stored

    def get(self, payment_id: str) -> Payment | None:
        return self.payments.get(payment_id)

    def save(self, payment: Payment) -> Payment:
        stored = self.payments.get(payment.payment_id)
        if stored is None or stored.version != payment.version:
            raise PaymentConflict(payment.payment_id)
        saved = replace(payment, version=payment.version + 1)
        self.payments[payment.payment_id] = saved
        return saved

    def for_tag(self, tenant_id: str, id_tag: str, limit: int) -> list[Payment]:
        mine = [p for p in self.payments.values() if p.tenant_id == tenant_id and p.id_tag == id_tag]
        return sorted(mine, key=lambda p: (p.created_at, p.payment_id), reverse=True)[:limit]

    def by_status(self, tenant_id: str, status: PaymentStatus, limit: int, cursor: str | None) -> PaymentPage:
        mine = sorted(
            (p for p in self.payments.values() if p.tenant_id == tenant_id and p.status is status),
            key=lambda p: (p.updated_at, p.payment_id),
            reverse=True,
        )
        start = int(cursor) if cursor else 0
        more = start + limit < len(mine)
        return PaymentPage(mine[start : start + limit], str(start + limit) if more else None)

    def open_holds(self, created_before: datetime, limit: int) -> list[Payment]:
        held = (
            p
            for p in self.payments.values()
            if p.status is PaymentStatus.AUTHORIZED and p.cdr_id is None and p.created_at < created_before
        )
        return sorted(held, key=lambda p: (p.created_at, p.payment_id))[:limit]

    def put_method(self, method: PaymentMethod) -> None:
        self.methods[(method.tenant_id, method.user_id)] = method

    def method(self, tenant_id: str, user_id: str) -> PaymentMethod | None:
        return self.methods.get((tenant_id, user_id))
