"""Billing use cases: tariffs (store, assign, select), contracts, and CDRs (issue once, credit, read).

Tariff precedence for a session (first that exists wins): the charger's own tariff > its site's tariff >
the tenant's default tariff; none of them = ``NoTariffAssigned`` (nothing is issued: never a wrong bill).
Contract precedence: see ``voltway.billing.contracts``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from voltway.billing.contracts import apply_contract, select_contract
from voltway.billing.errors import (
    CdrAlreadyIssued,
    CdrNotFound,
    ContractNotFound,
    InvalidCredit,
    NoTariffAssigned,
    TariffNotFound,
    TransactionNotBillable,
)
from voltway.billing.model import (
    CdrKind,
    CdrPage,
    Contract,
    IssuedCdr,
    StoredTariff,
    cdr_id_of,
    credit_id_of,
)
from voltway.billing.ocpi import cdr_json, credit_json
from voltway.billing.periods import DEFAULT_PARKING_BELOW_W, Thresholds, build_periods
from voltway.billing.ports import (
    AccountLookup,
    CdrArchive,
    CdrRepository,
    ContractRepository,
    LocationLookup,
    SessionSource,
    TariffRepository,
)
from voltway.observability import count, logger
from voltway.tariffs import PricingPolicy, RoundingScope, Tariff, price_session

Clock = Callable[[], datetime]
# Invoices are in cents: every category is rounded and the total is their sum (docs/tariffs.md).
BILLING_POLICY = PricingPolicy(decimals=2, scope=RoundingScope.COMPONENT)


def _now() -> datetime:
    return datetime.now(UTC)


class TariffService:
    def __init__(self, tariffs: TariffRepository, clock: Clock = _now) -> None:
        self._tariffs = tariffs
        self._clock = clock

    def put(self, tenant_id: str, tariff_id: str, tariff: Tariff, *, default: bool) -> StoredTariff:
        if tariff.id != tariff_id:
            raise ValueError(f"the tariff's id {tariff.id!r} differs from the path's {tariff_id!r}")
        now = self._clock()
        stored = StoredTariff(tenant_id, tariff.model_copy(update={"last_updated": now}), default, now)
        self._tariffs.put(stored)
        count("TariffStored")
        return stored

    def get(self, tenant_id: str, tariff_id: str) -> StoredTariff:
        stored = self._tariffs.get(tenant_id, tariff_id)
        if stored is None:
            raise TariffNotFound(tariff_id)
        return stored

    def is_default(self, stored: StoredTariff) -> bool:
        return self._tariffs.default_id(stored.tenant_id) == stored.tariff_id

    def list_tariffs(
        self, tenant_id: str, limit: int, cursor: str | None
    ) -> tuple[list[StoredTariff], str | None]:
        return self._tariffs.list_tariffs(tenant_id, limit, cursor)

    def assign_charger(self, tenant_id: str, charge_point_id: str, tariff_id: str | None) -> None:
        """Give a charger its own tariff (``None``: fall back to the site's / the tenant's default)."""
        if tariff_id is not None:
            self.get(tenant_id, tariff_id)
        self._tariffs.assign_charger(tenant_id, charge_point_id, tariff_id)

    def charger_tariff(self, tenant_id: str, charge_point_id: str) -> str | None:
        return self._tariffs.charger_tariff(tenant_id, charge_point_id)

    def select(self, tenant_id: str, charge_point_id: str, site_tariff_id: str | None = None) -> Tariff:
        """Charger's tariff > site's tariff > tenant default (see the module docstring)."""
        for tariff_id in (
            self._tariffs.charger_tariff(tenant_id, charge_point_id),
            site_tariff_id,
            self._tariffs.default_id(tenant_id),
        ):
            if tariff_id is not None:
                stored = self._tariffs.get(tenant_id, tariff_id)
                if stored is not None:
                    return stored.tariff
        raise NoTariffAssigned(f"no tariff for charger {charge_point_id} of tenant {tenant_id}")


class ContractService:
    def __init__(self, contracts: ContractRepository) -> None:
        self._contracts = contracts

    def put(self, tenant_id: str, contract: Contract) -> Contract:
        self._contracts.put(tenant_id, contract)
        count("ContractStored")
        return contract

    def get(self, tenant_id: str, contract_id: str) -> Contract:
        contract = self._contracts.get(tenant_id, contract_id)
        if contract is None:
            raise ContractNotFound(contract_id)
        return contract

    def list_contracts(self, tenant_id: str) -> list[Contract]:
        return self._contracts.list_contracts(tenant_id)

    def select(self, tenant_id: str, *, account_id: str | None, partner_id: str | None) -> Contract | None:
        return select_contract(
            self._contracts.list_contracts(tenant_id), account_id=account_id, partner_id=partner_id
        )


@dataclass(frozen=True, slots=True)
class CdrSettings:
    policy: PricingPolicy = BILLING_POLICY
    parking_below_w: Decimal = DEFAULT_PARKING_BELOW_W


class CdrService:
    def __init__(
        self,
        *,
        tariffs: TariffService,
        contracts: ContractService,
        cdrs: CdrRepository,
        sessions: SessionSource,
        accounts: AccountLookup,
        locations: LocationLookup,
        archive: CdrArchive,
        settings: CdrSettings = CdrSettings(),
        clock: Clock = _now,
    ) -> None:
        self._tariffs = tariffs
        self._contracts = contracts
        self._cdrs = cdrs
        self._sessions = sessions
        self._accounts = accounts
        self._locations = locations
        self._archive = archive
        self._settings = settings
        self._clock = clock

    # ------------------------------------------------------------------ issuing (the queue worker)
    def issue(self, transaction_id: int) -> IssuedCdr:
        """The transaction's CDR, issued at most once (its id is a function of the transaction id, and
        the store's put is conditional); a redelivery returns the CDR issued first. Each call archives
        the CDR (readers of the append-only archive keep one copy per id), so a failed archive write is
        retried with the message."""
        cdr = self._cdrs.get(cdr_id_of(transaction_id)) or self._build_and_store(transaction_id)
        self._archive.archive(cdr)
        return cdr

    def _build_and_store(self, transaction_id: int) -> IssuedCdr:
        tx = self._sessions.transaction(transaction_id)
        if tx is None or tx.stopped_at is None:
            raise TransactionNotBillable(f"transaction {transaction_id} is unknown or still running")
        where = self._locations.location(tx.tenant_id, tx.charge_point_id, tx.connector_id)
        tariff = self._tariffs.select(tx.tenant_id, tx.charge_point_id, where.tariff_id if where else None)
        account = self._accounts.account_of(tx.tenant_id, tx.id_tag)
        contract = self._contracts.select(tx.tenant_id, account_id=account, partner_id=None)
        effective = apply_contract(tariff, contract)
        built = build_periods(
            tx,
            self._sessions.samples(transaction_id),
            Thresholds.of(effective),
            parking_below_w=self._settings.parking_below_w,
        )
        price = price_session(
            effective,
            built.periods,
            timezone=where.time_zone if where else "UTC",
            end=built.end,
            policy=self._settings.policy,
        )
        issued_at = self._clock()
        cdr_id = cdr_id_of(transaction_id)
        anomalies = tuple(sorted(built.anomalies | set(tx.anomalies)))
        cdr = IssuedCdr(
            cdr_id=cdr_id,
            tenant_id=tx.tenant_id,
            charge_point_id=tx.charge_point_id,
            connector_id=tx.connector_id,
            transaction_id=transaction_id,
            kind=CdrKind.DEBIT,
            issued_at=issued_at,
            currency=effective.currency,
            total_excl_vat=price.total_cost.excl_vat,
            total_incl_vat=price.total_cost.incl_vat,
            ocpi=cdr_json(
                cdr_id=cdr_id,
                tx=tx,
                tariff=effective,
                built=built,
                price=price,
                where=where,
                issued_at=issued_at,
            ),
            tariff_id=tariff.id,
            contract_id=contract.contract_id if contract else None,
            anomalies=anomalies,
            stop_reason=tx.ended_by,
        )
        try:
            self._cdrs.put_new(cdr)
        except CdrAlreadyIssued:  # a concurrent delivery won: its CDR is the one
            count("CdrIssueRaceLost")
            existing = self._cdrs.get(cdr_id)
            if existing is None:
                raise
            return existing
        count("CdrIssued")
        if anomalies:
            count("CdrWithAnomalies")
        logger.info("CDR issued", cdr_id=cdr_id, transaction_id=transaction_id, total=str(cdr.total_excl_vat))
        return cdr

    # ------------------------------------------------------------------ operator / finance
    def get(self, tenant_id: str, cdr_id: str) -> IssuedCdr:
        cdr = self._cdrs.get(cdr_id)
        if cdr is None or cdr.tenant_id != tenant_id:
            raise CdrNotFound(cdr_id)
        return cdr

    def for_transaction(self, tenant_id: str, transaction_id: int) -> IssuedCdr:
        return self.get(tenant_id, cdr_id_of(transaction_id))

    def list_for_charger(self, charge_point_id: str, limit: int, cursor: str | None) -> CdrPage:
        """The caller checks that the charger is in its tenant."""
        return self._cdrs.list_by_charger(charge_point_id, limit, cursor)

    def credit(self, tenant_id: str, cdr_id: str) -> IssuedCdr:
        """The credit CDR of ``cdr_id`` (issued once: a repeated request returns the same credit)."""
        original = self.get(tenant_id, cdr_id)
        if original.kind is CdrKind.CREDIT:
            raise InvalidCredit(f"{cdr_id} is a credit CDR itself")
        credit_id = credit_id_of(cdr_id)
        existing = self._cdrs.get(credit_id)
        if existing is not None:
            return existing
        issued_at = self._clock()
        credit = IssuedCdr(
            cdr_id=credit_id,
            tenant_id=original.tenant_id,
            charge_point_id=original.charge_point_id,
            connector_id=original.connector_id,
            transaction_id=original.transaction_id,
            kind=CdrKind.CREDIT,
            issued_at=issued_at,
            currency=original.currency,
            total_excl_vat=-original.total_excl_vat,
            total_incl_vat=None if original.total_incl_vat is None else -original.total_incl_vat,
            ocpi=credit_json(original.ocpi, credit_id, issued_at),
            credit_of=original.cdr_id,
            tariff_id=original.tariff_id,
            contract_id=original.contract_id,
            anomalies=original.anomalies,
            stop_reason=original.stop_reason,
        )
        try:
            self._cdrs.put_new(credit)
        except CdrAlreadyIssued:
            return self._cdrs.get(credit_id) or credit
        count("CdrCredited")
        self._archive.archive(credit)
        return credit
