"""In-memory twins of the billing ports (unit tests, and the model of their contracts)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from voltway.billing.errors import CdrAlreadyIssued
from voltway.billing.model import CdrPage, Contract, IssuedCdr, StoredTariff
from voltway.billing.ports import ChargerLocation
from voltway.transactions.model import MeterSample, Transaction


class MemoryTariffs:
    def __init__(self) -> None:
        self.tariffs: dict[tuple[str, str], StoredTariff] = {}
        self.defaults: dict[str, str] = {}
        self.chargers: dict[tuple[str, str], str] = {}

    def put(self, tariff: StoredTariff) -> None:
        self.tariffs[(tariff.tenant_id, tariff.tariff_id)] = tariff
        if tariff.is_default:
            self.defaults[tariff.tenant_id] = tariff.tariff_id

    def get(self, tenant_id: str, tariff_id: str) -> StoredTariff | None:
        return self.tariffs.get((tenant_id, tariff_id))

    def list_tariffs(
        self, tenant_id: str, limit: int, cursor: str | None
    ) -> tuple[list[StoredTariff], str | None]:
        ids = sorted(
            t for (tenant, t) in self.tariffs if tenant == tenant_id and (cursor is None or t > cursor)
        )
        page = [self.tariffs[(tenant_id, t)] for t in ids[:limit]]
        return page, (ids[limit - 1] if len(ids) > limit else None)

    def default_id(self, tenant_id: str) -> str | None:
        return self.defaults.get(tenant_id)

    def charger_tariff(self, tenant_id: str, charge_point_id: str) -> str | None:
        return self.chargers.get((tenant_id, charge_point_id))

    def assign_charger(self, tenant_id: str, charge_point_id: str, tariff_id: str | None) -> None:
        if tariff_id is None:
            self.chargers.pop((tenant_id, charge_point_id), None)
        else:
            self.chargers[(tenant_id, charge_point_id)] = tariff_id


class MemoryContracts:
    def __init__(self) -> None:
        self.contracts: dict[tuple[str, str], Contract] = {}

    def put(self, tenant_id: str, contract: Contract) -> None:
        self.contracts[(tenant_id, contract.contract_id)] = contract

    def get(self, tenant_id: str, contract_id: str) -> Contract | None:
        return self.contracts.get((tenant_id, contract_id))

    def list_contracts(self, tenant_id: str) -> list[Contract]:
        return [c for (t, _), c in sorted(self.contracts.items()) if t == tenant_id]


class MemoryCdrs:
    def __init__(self) -> None:
        self.cdrs: dict[str, IssuedCdr] = {}

    def put_new(self, cdr: IssuedCdr) -> None:
        if cdr.cdr_id in self.cdrs:
            raise CdrAlreadyIssued(cdr.cdr_id)
        self.cdrs[cdr.cdr_id] = cdr

    def get(self, cdr_id: str) -> IssuedCdr | None:
        return self.cdrs.get(cdr_id)

    def issued(self, cdr_ids: Sequence[str]) -> set[str]:
        return {i for i in cdr_ids if i in self.cdrs}

    def list_by_charger(self, charge_point_id: str, limit: int, cursor: str | None) -> CdrPage:
        mine = sorted(
            (c for c in self.cdrs.values() if c.charge_point_id == charge_point_id),
            key=lambda c: (c.issued_at, c.cdr_id),
            reverse=True,
        )
        start = int(cursor) if cursor else 0
        page = mine[start : start + limit]
        return CdrPage(page, str(start + limit) if start + limit < len(mine) else None)


@dataclass
class MemorySessions:
    transactions: dict[int, Transaction] = field(default_factory=dict)
    meter_samples: dict[int, list[MeterSample]] = field(default_factory=dict)

    def transaction(self, transaction_id: int) -> Transaction | None:
        return self.transactions.get(transaction_id)

    def samples(self, transaction_id: int) -> list[MeterSample]:
        return list(self.meter_samples.get(transaction_id, []))


@dataclass
class MemoryAccounts:
    accounts: dict[tuple[str, str], str] = field(default_factory=dict)

    def account_of(self, tenant_id: str, id_tag: str) -> str | None:
        return self.accounts.get((tenant_id, id_tag))


@dataclass
class MemoryLocations:
    locations: dict[tuple[str, str], ChargerLocation] = field(default_factory=dict)

    def location(self, tenant_id: str, charge_point_id: str, connector_id: int) -> ChargerLocation | None:
        return self.locations.get((tenant_id, charge_point_id))


@dataclass
class MemoryArchive:
    archived: list[IssuedCdr] = field(default_factory=list)

    def archive(self, cdr: IssuedCdr) -> None:
        self.archived.append(cdr)


@dataclass
class MemoryCdrQueue:
    sent: list[int] = field(default_factory=list)

    def enqueue(self, transaction_id: int) -> None:
        self.sent.append(transaction_id)
