"""Contract prices as a transformation of the station's OCPI tariff.

Why the tariff and not the priced result: the CDR then carries one OCPI tariff (the effective one, id
``<tariff id>+<contract id>`` in ``tariffs``) that prices its charging periods exactly to its totals, so
anyone can re-price the CDR with ``voltway price`` and dispute nothing but numbers. A discount applied to
the result instead would leave a CDR whose tariff does not explain its total.

Precedence (first that exists wins, one contract per session): roaming partner contract > customer
account contract > tenant default contract > no contract (the station tariff as is).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from voltway.billing.model import Contract, ContractScope
from voltway.tariffs import (
    Price,
    PriceComponent,
    Tariff,
    TariffDimensionType,
    TariffElement,
)

_HUNDRED = Decimal(100)


def select_contract(
    contracts: Sequence[Contract], *, account_id: str | None, partner_id: str | None
) -> Contract | None:
    """The contract that applies to a session: partner > account > tenant default > none."""
    wanted: list[tuple[ContractScope, str | None]] = []
    if partner_id is not None:
        wanted.append((ContractScope.PARTNER, partner_id))
    if account_id is not None:
        wanted.append((ContractScope.ACCOUNT, account_id))
    wanted.append((ContractScope.TENANT, None))
    for scope, subject in wanted:
        for contract in sorted(contracts, key=lambda c: c.contract_id):
            if contract.scope is scope and contract.subject_id == subject:
                return contract
    return None


def _discounted(value: Decimal, contract: Contract) -> Decimal:
    return value * (_HUNDRED - contract.discount_percent) / _HUNDRED


def _first_vat(tariff: Tariff, dimension: TariffDimensionType) -> Decimal | None:
    for element in tariff.elements:
        for component in element.price_components:
            if component.type is dimension:
                return component.vat
    return None


def apply_contract(tariff: Tariff, contract: Contract | None) -> Tariff:
    """The effective tariff of a session under ``contract`` (``tariff`` itself when there is none).

    * ``energy_price_per_kwh`` replaces the price of every ENERGY component, and an unrestricted last
      element prices energy wherever the tariff left it free.
    * ``session_fee`` becomes a FLAT component of a new first, unrestricted element: the engine takes the
      first matching FLAT, so it replaces the tariff's start fee.
    * ``discount_percent`` then lowers every price, and ``min_price``/``max_price``.
    * ``monthly_fee`` does not touch sessions.
    """
    if contract is None:
        return tariff
    if contract.currency != tariff.currency:
        raise ValueError(
            f"contract {contract.contract_id} is in {contract.currency}, tariff in {tariff.currency}"
        )
    energy_vat = contract.vat if contract.vat is not None else _first_vat(tariff, TariffDimensionType.ENERGY)
    elements: list[TariffElement] = []
    if contract.session_fee is not None:
        vat = contract.vat if contract.vat is not None else _first_vat(tariff, TariffDimensionType.FLAT)
        flat = PriceComponent(type=TariffDimensionType.FLAT, price=contract.session_fee, vat=vat, step_size=1)
        elements.append(TariffElement(price_components=[flat]))
    for element in tariff.elements:
        components = []
        for c in element.price_components:
            price = c.price
            if c.type is TariffDimensionType.ENERGY and contract.energy_price_per_kwh is not None:
                price = contract.energy_price_per_kwh
            components.append(c.model_copy(update={"price": _discounted(price, contract)}))
        elements.append(element.model_copy(update={"price_components": components}))
    if contract.energy_price_per_kwh is not None:
        energy = PriceComponent(
            type=TariffDimensionType.ENERGY,
            price=_discounted(contract.energy_price_per_kwh, contract),
            vat=energy_vat,
            step_size=1,
        )
        elements.append(TariffElement(price_components=[energy]))
    if contract.session_fee is not None:
        first = elements[0]
        fee = first.price_components[0]
        elements[0] = first.model_copy(
            update={"price_components": [fee.model_copy(update={"price": _discounted(fee.price, contract)})]}
        )

    def bound(price: Price | None) -> Price | None:
        if price is None:
            return None
        incl = None if price.incl_vat is None else _discounted(price.incl_vat, contract)
        return Price(excl_vat=_discounted(price.excl_vat, contract), incl_vat=incl)

    effective_id = f"{tariff.id}+{contract.contract_id}"[:36]
    return tariff.model_copy(
        update={
            "id": effective_id,
            "elements": elements,
            "min_price": bound(tariff.min_price),
            "max_price": bound(tariff.max_price),
        }
    )
