"""The document model: receipts state exactly what the CDR charged, VAT is broken down by rate and adds
up, credits mirror, the monthly invoice is the sum of its receipts plus the monthly fee."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.test_cdr_service import TARIFF, World
from voltway.billing.model import Contract, ContractScope, IssuedCdr
from voltway.invoices.documents import cdr_lines, invoice_document, ledger_line, receipt_document
from voltway.invoices.errors import MixedCurrencies
from voltway.invoices.model import (
    BillingAccount,
    Brand,
    DocumentKind,
    DocumentLine,
    invoice_id_of,
    mask_token,
    money,
    vat_breakdown,
    vat_of,
)
from voltway.tariffs import Price, Tariff

BRAND = Brand(name="Voltway GmbH", address_lines=("Hauptstr. 1", "10115 Berlin"), vat_id="DE123")
MULTI_RATE = Tariff.model_validate(
    {
        **TARIFF.model_dump(mode="json", exclude_none=True),
        "elements": [
            {
                "price_components": [
                    {"type": "FLAT", "price": 1.0, "vat": 19, "step_size": 1},
                    {"type": "ENERGY", "price": 0.333, "vat": 7, "step_size": 1},
                    {"type": "PARKING_TIME", "price": 6.0, "vat": 19, "step_size": 60},
                ]
            }
        ],
    }
)


def issued(tariff: Tariff = TARIFF) -> IssuedCdr:
    world = World()
    world.tariffs.put("t1", "STD", tariff, default=True)
    return world.service.issue(7)


def credited(tariff: Tariff = TARIFF) -> tuple[IssuedCdr, IssuedCdr]:
    world = World()
    world.tariffs.put("t1", "STD", tariff, default=True)
    cdr = world.service.issue(7)
    return cdr, world.service.credit("t1", cdr.cdr_id)


def test_receipt_states_each_category_exactly_as_the_cdr() -> None:
    cdr = issued()
    doc = receipt_document(cdr, BRAND)
    assert doc.kind is DocumentKind.RECEIPT and doc.number == "TX7"
    by_name = {line.description: line for line in doc.lines}
    # 0.50 fee, 10 kWh x 0.35, 20 min parking x 6/h; VAT per category as the CDR rounded it
    assert by_name["Session fee"].net == Decimal("0.5") and by_name["Session fee"].vat == Decimal("0.11")
    assert by_name["Energy"].quantity == Decimal("10") and by_name["Energy"].unit == "kWh"
    assert by_name["Energy"].gross == Decimal("4.24")
    assert by_name["Parking time"].gross == Decimal("2.42")
    assert {line.vat_rate for line in doc.lines} == {Decimal(21)}
    assert doc.total_net == cdr.total_excl_vat == Decimal("6.00")
    assert doc.total_gross == cdr.total_incl_vat == Decimal("7.27")  # not 6.00 x 1.21 = 7.26
    [group] = doc.vat_groups
    assert (group.rate, group.net, group.vat) == (Decimal(21), Decimal("6.00"), Decimal("1.27"))
    assert ("Token", "****") in doc.details and doc.buyer is None  # no personal data beyond a masked token


def test_multi_rate_breakdown_groups_and_sums() -> None:
    cdr = issued(MULTI_RATE)
    doc = receipt_document(cdr, BRAND)
    groups = doc.vat_groups
    assert [g.rate for g in groups] == [Decimal(7), Decimal(19)]
    energy = next(line for line in doc.lines if line.description == "Energy")
    assert (energy.net, energy.vat_rate) == (Decimal("3.33"), Decimal(7))  # 10 kWh x 0.333
    assert groups[0].net == Decimal("3.33") and groups[0].vat == Decimal("0.23")
    assert groups[1].net == Decimal("3.00") and groups[1].vat == Decimal("0.57")  # (1.00 + 2.00) x 19 %
    assert sum(g.net for g in groups) == doc.total_net == cdr.total_excl_vat
    assert sum(g.vat for g in groups) == doc.total_vat
    assert doc.total_gross == cdr.total_incl_vat


def test_credit_note_mirrors_the_receipt() -> None:
    cdr, credit = credited(MULTI_RATE)
    receipt, note = receipt_document(cdr, BRAND), receipt_document(credit, BRAND)
    assert note.kind is DocumentKind.CREDIT_NOTE and note.number == "TX7-CR"
    assert note.reference == "Credits receipt TX7"
    assert note.total_net == -receipt.total_net and note.total_gross == credit.total_incl_vat
    assert [g.vat for g in note.vat_groups] == [-g.vat for g in receipt.vat_groups]


def test_minimum_price_shows_as_an_adjustment_line() -> None:
    tariff = TARIFF.model_copy(update={"min_price": Price(excl_vat=Decimal(10), incl_vat=Decimal("12.10"))})
    cdr = issued(tariff)
    lines = cdr_lines(cdr)
    assert lines[-1].description == "Minimum price adjustment"
    assert lines[-1].net == Decimal("4.00") and lines[-1].vat_rate == Decimal(21)
    assert sum((line.net for line in lines), Decimal(0)) == cdr.total_excl_vat == Decimal(10)
    assert sum((line.gross for line in lines), Decimal(0)) == cdr.total_incl_vat == Decimal("12.10")


def test_tariff_without_vat_is_not_stated_not_zero() -> None:
    plain = Tariff.model_validate(
        {
            **TARIFF.model_dump(mode="json", exclude_none=True),
            "elements": [{"price_components": [{"type": "ENERGY", "price": 0.3, "step_size": 1}]}],
        }
    )
    doc = receipt_document(issued(plain), BRAND)
    [group] = doc.vat_groups
    assert group.rate is None and group.vat == Decimal(0) and doc.total_gross == doc.total_net


def test_vat_of_rounds_half_up_to_cents() -> None:
    assert vat_of(Decimal("0.05"), Decimal(10)) == Decimal("0.01")  # 0.005 -> 0.01
    assert vat_of(Decimal("9.99"), Decimal(19)) == Decimal("1.90")  # 1.8981
    assert vat_of(Decimal("10"), None) == Decimal("0.00")
    assert money(Decimal("2.345")) == Decimal("2.35")


@given(
    st.lists(
        st.tuples(
            st.decimals(min_value=-1000, max_value=1000, places=2),
            st.sampled_from([None, Decimal(0), Decimal(7), Decimal(19), Decimal("20.5")]),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_breakdown_is_the_exact_sum_of_the_lines(items: list[tuple[Decimal, Decimal | None]]) -> None:
    lines = [
        DocumentLine(description="x", net=net, vat_rate=rate, vat=vat_of(net, rate)) for net, rate in items
    ]
    groups = vat_breakdown(lines)
    assert len({g.rate for g in groups}) == len(groups)
    assert sum((g.net for g in groups), Decimal(0)) == sum((line.net for line in lines), Decimal(0))
    assert sum((g.vat for g in groups), Decimal(0)) == sum((line.vat for line in lines), Decimal(0))
    assert [g.rate for g in groups if g.rate is not None] == sorted(
        g.rate for g in groups if g.rate is not None
    )


def test_invoice_is_the_sum_of_its_receipts_plus_the_monthly_fee() -> None:
    a, b = issued(), issued(MULTI_RATE)
    b = IssuedCdr(**{**{f: getattr(b, f) for f in b.__dataclass_fields__}, "cdr_id": "TX8"})
    lines = [ledger_line(c, receipt_document(c, BRAND)) for c in (a, b)]
    contract = Contract(
        contract_id="fleet",
        scope=ContractScope.ACCOUNT,
        subject_id="FLEET",
        currency="EUR",
        monthly_fee=Decimal("9.99"),
        vat=Decimal(19),
    )
    account = BillingAccount(account_id="FLEET", name="Fleet Ltd", billing_email="ap@fleet.example")
    doc = invoice_document(
        number="INV-000001",
        issued_at=datetime(2026, 4, 1, 2, tzinfo=UTC),
        month="2026-03",
        account_id="FLEET",
        account=account,
        brand=BRAND,
        lines=lines,
        contract=contract,
    )
    assert doc.kind is DocumentKind.INVOICE and doc.buyer is not None and doc.buyer.name == "Fleet Ltd"
    assert doc.reference == "Period 2026-03-01 to 2026-03-31"
    fee = doc.lines[-1]
    assert fee.description.startswith("Monthly fee 2026-03") and (fee.net, fee.vat) == (
        Decimal("9.99"),
        Decimal("1.90"),
    )
    assert doc.total_net == a.total_excl_vat + b.total_excl_vat + Decimal("9.99")
    assert a.total_incl_vat is not None and b.total_incl_vat is not None
    assert doc.total_gross == a.total_incl_vat + b.total_incl_vat + Decimal("11.89")
    assert [g.rate for g in doc.vat_groups] == [Decimal(7), Decimal(19), Decimal(21)]


def test_invoice_refuses_mixed_currencies() -> None:
    cdr = issued()
    line = ledger_line(cdr, receipt_document(cdr, BRAND))
    other = line.model_copy(update={"currency": "GBP", "cdr_id": "TX9"})
    with pytest.raises(MixedCurrencies):
        invoice_document(
            number="INV-1",
            issued_at=datetime(2026, 4, 1, tzinfo=UTC),
            month="2026-03",
            account_id="A",
            account=None,
            brand=BRAND,
            lines=[line, other],
            contract=None,
        )


def test_ids_and_masks() -> None:
    assert invoice_id_of("FLEET-7", "2026-10") == "2026-10.FLEET-7"
    odd = invoice_id_of("fleet/7 #a", "2026-10")
    assert odd.startswith("2026-10.h") and len(odd) == len("2026-10.h") + 16
    assert mask_token("04A2B3C4D5") == "******C4D5" and mask_token("ABC") == "***"
