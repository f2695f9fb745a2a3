"""The cost so far of a running (or stopped, not yet billed) transaction, priced like the CDR will be:
the billing package's tariff selection (charger > site > tenant default) and contract, OCPI charging
periods built from the meter samples up to now, and ``price_session`` with the billing policy. It is an
estimate: the CDR is priced with the tariff stored when it is issued and the final meter reading."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from voltway.billing.contracts import apply_contract
from voltway.billing.errors import NoTariffAssigned
from voltway.billing.periods import Thresholds, build_periods
from voltway.billing.ports import AccountLookup, LocationLookup
from voltway.billing.service import BILLING_POLICY, ContractService, TariffService
from voltway.drivers.model import CostEstimate
from voltway.tariffs import price_session
from voltway.transactions.model import MeterSample, Transaction


class TariffEstimator:
    def __init__(
        self,
        tariffs: TariffService,
        contracts: ContractService,
        accounts: AccountLookup,
        locations: LocationLookup,
    ) -> None:
        self._tariffs = tariffs
        self._contracts = contracts
        self._accounts = accounts
        self._locations = locations

    def estimate(
        self, transaction: Transaction, samples: list[MeterSample], now: datetime
    ) -> CostEstimate | None:
        tx = transaction
        where = self._locations.location(tx.tenant_id, tx.charge_point_id, tx.connector_id)
        try:
            tariff = self._tariffs.select(
                tx.tenant_id, tx.charge_point_id, where.tariff_id if where else None
            )
        except NoTariffAssigned:
            return None
        account = self._accounts.account_of(tx.tenant_id, tx.id_tag)
        effective = apply_contract(
            tariff, self._contracts.select(tx.tenant_id, account_id=account, partner_id=None)
        )
        snapshot = running_snapshot(tx, now)
        assert snapshot.stopped_at is not None
        end = snapshot.stopped_at
        built = build_periods(
            snapshot, [s for s in samples if tx.started_at <= s.timestamp <= end], Thresholds.of(effective)
        )
        price = price_session(
            effective,
            built.periods,
            timezone=where.time_zone if where else "UTC",
            end=built.end,
            policy=BILLING_POLICY,
        )
        return CostEstimate(
            effective.currency, price.total_cost.excl_vat, price.total_cost.incl_vat, tariff.id
        )


def running_snapshot(tx: Transaction, now: datetime) -> Transaction:
    """``tx`` as if it stopped now (at the last register reading): a stopped one is returned unchanged.
    The end is never before the newest reading (the charger's clock may run ahead of ours)."""
    if tx.stopped_at is not None and tx.meter_stop is not None:
        return tx
    newest = max(t for t in (tx.started_at, tx.last_register_at, tx.last_power_at) if t is not None)
    end = max(now, newest)
    meter = max(tx.meter_start, tx.last_register_wh if tx.last_register_wh is not None else tx.meter_start)
    return replace(tx, stopped_at=end, meter_stop=meter)
