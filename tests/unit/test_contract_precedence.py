"""Contract selection precedence and the tariff transformation (priced through the real engine)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from voltway.billing.contracts import apply_contract, select_contract
from voltway.billing.model import Contract, ContractScope
from voltway.tariffs import (
    CdrDimension,
    CdrDimensionType,
    ChargingPeriod,
    PricingPolicy,
    Tariff,
    price_session,
)

TARIFF = Tariff.model_validate(
    {
        "country_code": "NL",
        "party_id": "VWY",
        "id": "STD",
        "currency": "EUR",
        "elements": [
            {
                "price_components": [
                    {"type": "FLAT", "price": 1.00, "vat": 21, "step_size": 1},
                    {"type": "ENERGY", "price": 0.40, "vat": 21, "step_size": 1},
                ]
            }
        ],
    }
)
PERIODS = [
    ChargingPeriod(
        start_date_time=datetime(2026, 1, 5, 10, tzinfo=UTC),
        dimensions=[
            CdrDimension(type=CdrDimensionType.ENERGY, volume=Decimal(10)),
            CdrDimension(type=CdrDimensionType.TIME, volume=Decimal(1)),
        ],
    )
]


def contract(cid: str, scope: ContractScope, subject: str | None = None, **terms: object) -> Contract:
    return Contract.model_validate(
        {"contract_id": cid, "scope": scope, "subject_id": subject, "currency": "EUR", **terms}
    )


def total(tariff: Tariff) -> Decimal:
    return price_session(tariff, PERIODS, policy=PricingPolicy(decimals=2)).total_cost.excl_vat


ALL = [
    contract("tenant", ContractScope.TENANT),
    contract("acct", ContractScope.ACCOUNT, "FLEET1"),
    contract("partner", ContractScope.PARTNER, "NL-ABC"),
]


@pytest.mark.parametrize(
    ("account", "partner", "expected"),
    [
        ("FLEET1", "NL-ABC", "partner"),
        ("FLEET1", None, "acct"),
        ("OTHER", None, "tenant"),
        (None, "NL-XYZ", "tenant"),
    ],
)
def test_partner_beats_account_beats_tenant(account: str | None, partner: str | None, expected: str) -> None:
    chosen = select_contract(ALL, account_id=account, partner_id=partner)
    assert chosen is not None and chosen.contract_id == expected


def test_no_contract_means_the_station_tariff() -> None:
    assert select_contract([], account_id="A", partner_id=None) is None
    assert apply_contract(TARIFF, None) is TARIFF


def test_discount_lowers_every_price() -> None:
    effective = apply_contract(TARIFF, contract("d", ContractScope.TENANT, discount_percent=10))
    assert total(TARIFF) == Decimal("5.00")
    assert total(effective) == Decimal("4.50")
    assert effective.id == "STD+d"


def test_fixed_energy_price_and_session_fee() -> None:
    c = contract("f", ContractScope.ACCOUNT, "FLEET1", energy_price_per_kwh="0.25", session_fee="0.50")
    effective = apply_contract(TARIFF, c)
    assert total(effective) == Decimal("3.00")  # 0.50 fee replaces the 1.00 start fee + 10 kWh x 0.25
    priced = price_session(effective, PERIODS, policy=PricingPolicy(decimals=2))
    assert priced.total_cost.incl_vat == Decimal("3.63")  # the tariff's 21 % VAT carries over


def test_fixed_energy_price_prices_energy_a_tariff_left_free() -> None:
    time_only = TARIFF.model_copy(
        update={
            "elements": [
                TARIFF.elements[0].model_copy(
                    update={
                        "price_components": [
                            c for c in TARIFF.elements[0].price_components if c.type == "FLAT"
                        ]
                    }
                )
            ]
        }
    )
    effective = apply_contract(time_only, contract("f", ContractScope.TENANT, energy_price_per_kwh="0.2"))
    assert total(effective) == Decimal("3.00")


def test_monthly_fee_does_not_touch_sessions_and_currency_must_match() -> None:
    assert total(apply_contract(TARIFF, contract("m", ContractScope.TENANT, monthly_fee=20))) == Decimal(
        "5.00"
    )
    with pytest.raises(ValueError, match="USD"):
        apply_contract(TARIFF, contract("m", ContractScope.TENANT).model_copy(update={"currency": "USD"}))


def test_subject_rules() -> None:
    with pytest.raises(ValueError):
        contract("x", ContractScope.ACCOUNT)
    with pytest.raises(ValueError):
        contract("x", ContractScope.TENANT, "A")
