"""CDR issuing: priced with the selected tariff + contract, issued once, credited, OCPI-shaped."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from voltway.billing.errors import InvalidCredit, NoTariffAssigned, TransactionNotBillable
from voltway.billing.memory import (
    MemoryAccounts,
    MemoryArchive,
    MemoryCdrs,
    MemoryContracts,
    MemoryLocations,
    MemorySessions,
    MemoryTariffs,
)
from voltway.billing.model import CdrKind, Contract, ContractScope
from voltway.billing.service import CdrService, ContractService, TariffService
from voltway.idtags.model import IdTagStatus
from voltway.tariffs import Tariff
from voltway.transactions.model import MeterSample, SampledValue, Transaction

SPEC = Path(__file__).resolve().parents[3] / "shared" / "specs" / "ocpi-2.2.1" / "mod_cdrs.asciidoc"
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
TARIFF = Tariff.model_validate(
    {
        "country_code": "NL",
        "party_id": "VWY",
        "id": "STD",
        "currency": "EUR",
        "elements": [
            {
                "price_components": [
                    {"type": "FLAT", "price": 0.5, "vat": 21, "step_size": 1},
                    {"type": "ENERGY", "price": 0.35, "vat": 21, "step_size": 1},
                    {"type": "PARKING_TIME", "price": 6.0, "vat": 21, "step_size": 60},
                ]
            }
        ],
    }
)


class World:
    def __init__(self) -> None:
        self.tariffs = TariffService(MemoryTariffs(), clock=lambda: NOW)
        self.contracts = ContractService(MemoryContracts())
        self.cdrs = MemoryCdrs()
        self.sessions = MemorySessions()
        self.accounts = MemoryAccounts()
        self.archive = MemoryArchive()
        self.service = CdrService(
            tariffs=self.tariffs,
            contracts=self.contracts,
            cdrs=self.cdrs,
            sessions=self.sessions,
            accounts=self.accounts,
            locations=MemoryLocations(),
            archive=self.archive,
            clock=lambda: NOW,
        )
        self.tariffs.put("t1", "STD", TARIFF, default=True)
        self.sessions.transactions[7] = Transaction(
            transaction_id=7,
            tenant_id="t1",
            charge_point_id="CP1",
            connector_id=1,
            id_tag="TAG1",
            id_tag_status=IdTagStatus.ACCEPTED,
            meter_start=1000,
            started_at=T0,
            stopped_at=T0 + timedelta(minutes=60),
            meter_stop=11000,
            stop_reason="EVDisconnected",
        )
        at = [T0 + timedelta(minutes=m) for m in (0, 40)]
        self.sessions.meter_samples[7] = [
            MeterSample(at[0], SampledValue("15000", measurand="Power.Active.Import", unit="W")),
            MeterSample(at[1], SampledValue("11000")),
            MeterSample(at[1], SampledValue("0", measurand="Power.Active.Import", unit="W")),
        ]


@pytest.fixture
def world() -> World:
    return World()


def test_issue_prices_energy_parking_and_fee(world: World) -> None:
    cdr = world.service.issue(7)
    # 10 kWh x 0.35 + 0.50 + 20 min parking x 6/h = 3.50 + 0.50 + 2.00
    assert cdr.total_excl_vat == Decimal("6.00")
    # Invoices round per category (scope=component): 0.61 + 4.24 + 2.42, not 6.00 x 1.21 = 7.26.
    assert cdr.total_incl_vat == Decimal("7.27")
    o = cdr.ocpi
    assert o["total_energy"] == 10
    assert o["total_parking_time"] == pytest.approx(1 / 3, abs=1e-4)
    assert o["total_parking_cost"] == {"excl_vat": 2, "incl_vat": 2.42}
    assert [p["dimensions"][0]["type"] for p in o["charging_periods"]] == ["ENERGY", "PARKING_TIME"]
    assert o["remark"] == "stop reason: EVDisconnected"


def test_issue_once_under_redelivery(world: World) -> None:
    first = world.service.issue(7)
    world.tariffs.put(
        "t1", "STD", TARIFF.model_copy(update={"currency": "EUR", "min_price": None}), default=True
    )
    world.contracts.put(
        "t1",
        Contract(contract_id="c", scope=ContractScope.TENANT, currency="EUR", discount_percent=Decimal(50)),
    )
    again = world.service.issue(7)
    assert again == first  # the stored CDR, not a re-priced one
    assert len(world.cdrs.cdrs) == 1
    assert [c.cdr_id for c in world.archive.archived] == ["TX7", "TX7"]  # readers keep one copy per id


def test_account_contract_is_applied_and_named(world: World) -> None:
    world.accounts.accounts[("t1", "TAG1")] = "FLEET"
    world.contracts.put(
        "t1",
        Contract(
            contract_id="fleet",
            scope=ContractScope.ACCOUNT,
            subject_id="FLEET",
            currency="EUR",
            discount_percent=Decimal(20),
        ),
    )
    world.contracts.put(
        "t1",
        Contract(contract_id="all", scope=ContractScope.TENANT, currency="EUR", discount_percent=Decimal(5)),
    )
    cdr = world.service.issue(7)
    assert cdr.contract_id == "fleet"
    assert cdr.total_excl_vat == Decimal("4.80")
    assert cdr.ocpi["tariffs"][0]["id"] == "STD+fleet"


def test_not_billable_and_no_tariff(world: World) -> None:
    with pytest.raises(TransactionNotBillable):
        world.service.issue(99)
    world.sessions.transactions[8] = replace(
        world.sessions.transactions[7], transaction_id=8, stopped_at=None
    )
    with pytest.raises(TransactionNotBillable):
        world.service.issue(8)
    world.sessions.transactions[9] = replace(world.sessions.transactions[7], transaction_id=9, tenant_id="t2")
    with pytest.raises(NoTariffAssigned):
        world.service.issue(9)


def test_credit_mirrors_total_cost_once(world: World) -> None:
    original = world.service.issue(7)
    credit = world.service.credit("t1", "TX7")
    assert credit.kind is CdrKind.CREDIT and credit.credit_of == "TX7" and credit.cdr_id == "TX7-CR"
    assert credit.total_excl_vat == -original.total_excl_vat
    assert credit.ocpi["total_cost"] == {"excl_vat": -6, "incl_vat": -7.27}
    assert credit.ocpi["credit"] is True and credit.ocpi["credit_reference_id"] == "TX7"
    assert credit.ocpi["total_energy_cost"] == original.ocpi["total_energy_cost"]  # mod_cdrs: only total_cost
    assert world.service.credit("t1", "TX7") == credit
    assert world.cdrs.get("TX7") == original  # the original never changes
    with pytest.raises(InvalidCredit):
        world.service.credit("t1", "TX7-CR")


def required_cdr_fields() -> set[str]:
    text = SPEC.read_text(encoding="utf-8")
    table = text.split("[[mod_cdrs_cdr_object]]", 1)[1].split("|===", 2)[1]
    return {m.group(1) for m in re.finditer(r"^\|(\w+) \|[^|]*\|1 \|", table, re.MULTILINE)}


def test_ocpi_view_has_every_required_field_of_the_spec(world: World) -> None:
    required = required_cdr_fields()
    assert {"id", "cdr_token", "cdr_location", "total_cost", "total_energy", "last_updated"} <= required
    cdr = world.service.issue(7)
    assert required - set(cdr.ocpi) == set()
    assert required - set(world.service.credit("t1", cdr.cdr_id).ocpi) == set()
    for period in cdr.ocpi["charging_periods"]:
        assert period["dimensions"] and all(d["volume"] >= 0 for d in period["dimensions"])
    # The CDR explains itself: its own tariff re-prices its periods to its totals.
    from voltway.billing.service import BILLING_POLICY
    from voltway.tariffs import Cdr, price_cdr

    parsed = Cdr.model_validate(cdr.ocpi)
    assert (
        price_cdr(parsed.tariffs[0], parsed, policy=BILLING_POLICY).total_cost.excl_vat == cdr.total_excl_vat
    )


def test_trigger_requests_a_cdr_for_stop_calls_only_and_never_raises() -> None:
    from voltway.billing.memory import MemoryCdrQueue
    from voltway.billing.trigger import CdrTrigger, stopped_transaction

    queue = MemoryCdrQueue()
    trigger = CdrTrigger(queue)
    trigger.after_frame('[2,"u1","StopTransaction",{"transactionId":42,"meterStop":1,"timestamp":"x"}]')
    trigger.after_frame('[3,"u1",{"transactionId":43}]')
    trigger.after_frame('[2,"u2","StopTransaction",{"transactionId":true}]')
    trigger.after_frame("not json StopTransaction")
    assert queue.sent == [42]
    assert stopped_transaction('[2,"u","Heartbeat",{}]') is None

    class Broken:
        def enqueue(self, transaction_id: int) -> None:
            raise RuntimeError("queue down")

    CdrTrigger(Broken()).after_frame('[2,"u1","StopTransaction",{"transactionId":1}]')  # logged only
