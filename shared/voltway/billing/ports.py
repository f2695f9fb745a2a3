"""Ports of the billing context. AWS adapters: ``voltway.billing.aws``; twins: ``voltway.billing.memory``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from voltway.billing.model import CdrPage, Contract, IssuedCdr, StoredTariff
from voltway.transactions.model import MeterSample, Transaction


class TariffRepository(Protocol):
    def put(self, tariff: StoredTariff) -> None:
        """Create or replace; when ``is_default`` the tenant's default pointer moves to it."""
        ...

    def get(self, tenant_id: str, tariff_id: str) -> StoredTariff | None: ...

    def list_tariffs(
        self, tenant_id: str, limit: int, cursor: str | None
    ) -> tuple[list[StoredTariff], str | None]: ...

    def default_id(self, tenant_id: str) -> str | None: ...

    def charger_tariff(self, tenant_id: str, charge_point_id: str) -> str | None: ...

    def assign_charger(self, tenant_id: str, charge_point_id: str, tariff_id: str | None) -> None:
        """``None`` removes the charger's own tariff (it falls back to site / tenant default)."""
        ...


class ContractRepository(Protocol):
    def put(self, tenant_id: str, contract: Contract) -> None: ...

    def get(self, tenant_id: str, contract_id: str) -> Contract | None: ...

    def list_contracts(self, tenant_id: str) -> list[Contract]: ...


class CdrRepository(Protocol):
    def put_new(self, cdr: IssuedCdr) -> None:
        """Store ``cdr`` unless its id exists: ``CdrAlreadyIssued`` then (a conditional put)."""
        ...

    def get(self, cdr_id: str) -> IssuedCdr | None: ...

    def list_by_charger(self, charge_point_id: str, limit: int, cursor: str | None) -> CdrPage:
        """Newest first."""
        ...

    def issued(self, cdr_ids: Sequence[str]) -> set[str]:
        """The ids among ``cdr_ids`` that are issued (the sweep's existence check, batched)."""
        ...


class SessionSource(Protocol):
    """The finished transaction and its meter samples (the transactions context)."""

    def transaction(self, transaction_id: int) -> Transaction | None: ...

    def samples(self, transaction_id: int) -> list[MeterSample]: ...


class AccountLookup(Protocol):
    def account_of(self, tenant_id: str, id_tag: str) -> str | None:
        """The customer account an id tag bills to (its OCPP parent id tag, the fleet's group), if any."""
        ...


@dataclass(frozen=True, slots=True)
class ChargerLocation:
    site_id: str
    name: str
    address: str
    city: str
    country: str
    latitude: float
    longitude: float
    time_zone: str
    connector_standard: str | None = None
    tariff_id: str | None = None
    """The site's tariff: the sites context has none yet, so this stays None (docs/billing.md)."""


class LocationLookup(Protocol):
    def location(self, tenant_id: str, charge_point_id: str, connector_id: int) -> ChargerLocation | None: ...


class CdrArchive(Protocol):
    def archive(self, cdr: IssuedCdr) -> None:
        """Append the issued CDR to the append-only export archive (readers dedupe by id)."""
        ...


class CdrQueue(Protocol):
    def enqueue(self, transaction_id: int) -> None:
        """Ask for the transaction's CDR to be issued (asynchronously, at least once)."""
        ...
