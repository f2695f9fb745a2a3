"""Documents from billing records: the receipt (or credit note) of an issued CDR, the ledger line a CDR
adds to its account's month, and the monthly invoice of an account. Pure functions: no I/O."""

from __future__ import annotations

from calendar import monthrange
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from voltway.billing.model import CdrKind, Contract, IssuedCdr
from voltway.invoices.errors import MixedCurrencies
from voltway.invoices.model import (
    ZERO,
    BillingAccount,
    Brand,
    Document,
    DocumentKind,
    DocumentLine,
    LedgerLine,
    Party,
    VatGroup,
    mask_token,
    vat_breakdown,
    vat_of,
)

# OCPI cost categories of a CDR -> (label, the tariff dimension that prices it, its quantity field, unit)
_CATEGORIES: tuple[tuple[str, str, str, str | None, str | None], ...] = (
    ("total_fixed_cost", "Session fee", "FLAT", None, None),
    ("total_energy_cost", "Energy", "ENERGY", "total_energy", "kWh"),
    ("total_time_cost", "Charging time", "TIME", "charging_hours", "h"),
    ("total_parking_cost", "Parking time", "PARKING_TIME", "total_parking_time", "h"),
    ("total_reservation_cost", "Reservation", "RESERVATION", None, None),
)
_RATE = Decimal("0.01")


def _dec(value: Any) -> Decimal:
    return Decimal(str(value))


def _tariff_rates(ocpi: dict[str, Any]) -> dict[str, set[Decimal | None]]:
    rates: dict[str, set[Decimal | None]] = {}
    for tariff in ocpi.get("tariffs", []):
        for element in tariff.get("elements", []):
            for component in element.get("price_components", []):
                vat = component.get("vat")
                rates.setdefault(component["type"], set()).add(None if vat is None else _dec(vat))
    return rates


def _rate(declared: set[Decimal | None], net: Decimal, vat: Decimal | None) -> Decimal | None:
    """The tariff's VAT of the category when it states exactly one; else the effective rate."""
    if vat is None:
        return None
    if len(declared) == 1:
        only = next(iter(declared))
        if only is not None:
            return only
        if vat == ZERO:  # the tariff states no VAT: shown as "not stated", never as a 0 % supply
            return None
    if net == ZERO:
        return None if vat == ZERO else Decimal(0)
    return (vat / net * 100).quantize(_RATE)


def _quantities(ocpi: dict[str, Any]) -> dict[str, Decimal]:
    total_time, parking = _dec(ocpi.get("total_time", 0)), _dec(ocpi.get("total_parking_time", 0))
    return {
        "total_energy": _dec(ocpi.get("total_energy", 0)),
        "charging_hours": total_time - parking,
        "total_parking_time": parking,
    }


def cdr_lines(cdr: IssuedCdr) -> tuple[DocumentLine, ...]:
    """The CDR's charges by cost category, exactly as the CDR states them (negated for a credit CDR,
    whose OCPI object negates only ``total_cost``)."""
    o = cdr.ocpi
    sign = Decimal(-1) if cdr.kind is CdrKind.CREDIT else Decimal(1)
    rates = _tariff_rates(o)
    quantities = _quantities(o)
    lines: list[DocumentLine] = []
    sum_net, sum_incl, incl_known = ZERO, ZERO, True
    for field, label, dimension, quantity_field, unit in _CATEGORIES:
        cost = o.get(field) or {"excl_vat": 0}
        net = _dec(cost["excl_vat"])
        incl = _dec(cost["incl_vat"]) if "incl_vat" in cost else None
        sum_net += net
        if incl is None:
            incl_known = False
        else:
            sum_incl += incl
        quantity = quantities.get(quantity_field) if quantity_field else None
        if net == ZERO and (incl is None or incl == ZERO) and dimension != "ENERGY":
            continue
        vat = None if incl is None else incl - net
        lines.append(
            DocumentLine(
                description=label,
                quantity=quantity,
                unit=unit,
                net=net,
                vat_rate=_rate(rates.get(dimension, set()), net, vat),
                vat=vat or ZERO,
            )
        )
    # min_price / max_price move the total away from the sum of the categories: show the difference.
    total = o["total_cost"]
    total_net = sign * _dec(total["excl_vat"])
    total_incl = sign * _dec(total["incl_vat"]) if "incl_vat" in total else None
    if total_net != sum_net or (total_incl is not None and incl_known and total_incl != sum_incl):
        vat = (
            None if total_incl is None or not incl_known else (total_incl - sum_incl) - (total_net - sum_net)
        )
        shared = {line.vat_rate for line in lines}
        diff = total_net - sum_net
        rate = next(iter(shared)) if len(shared) == 1 else _rate(set(), diff, vat)
        label = "Minimum price adjustment" if diff >= ZERO else "Maximum price adjustment"
        lines.append(DocumentLine(description=label, net=diff, vat_rate=rate, vat=vat or ZERO))
    if sign < 0:
        lines = [line.model_copy(update={"net": -line.net, "vat": -line.vat}) for line in lines]
    return tuple(lines)


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min"


def receipt_document(cdr: IssuedCdr, brand: Brand) -> Document:
    """The receipt of a CDR (a credit note for a credit CDR). Personal data: the token, masked."""
    o = cdr.ocpi
    start, end = _when(o["start_date_time"]), _when(o["end_date_time"])
    where = o.get("cdr_location", {})
    place = ", ".join(
        v for v in (where.get("name"), where.get("address"), where.get("city")) if v and v != "#NA"
    )
    details: list[tuple[str, str]] = [
        ("Session", f"{start:%Y-%m-%d %H:%M} - {end:%Y-%m-%d %H:%M} UTC"),
        ("Duration", _duration((end - start).total_seconds())),
        ("Charger", f"{cdr.charge_point_id}, connector {cdr.connector_id}"),
    ]
    if place:
        details.append(("Location", place))
    details.append(("Energy", f"{_dec(o.get('total_energy', 0)):.3f} kWh"))
    token = o.get("cdr_token", {}).get("uid")
    if isinstance(token, str):
        details.append(("Token", mask_token(token)))
    if cdr.tariff_id:
        details.append(("Tariff", cdr.tariff_id))
    credit = cdr.kind is CdrKind.CREDIT
    return Document(
        kind=DocumentKind.CREDIT_NOTE if credit else DocumentKind.RECEIPT,
        number=cdr.cdr_id,
        issued_at=cdr.issued_at,
        currency=cdr.currency,
        seller=brand.party,
        reference=f"Credits receipt {cdr.credit_of}" if credit and cdr.credit_of else None,
        details=tuple(details),
        lines=cdr_lines(cdr),
        footer=brand.footer,
    )


def ledger_line(cdr: IssuedCdr, receipt: Document) -> LedgerLine:
    o = cdr.ocpi
    energy = _dec(o.get("total_energy", 0))
    ended = _when(o["end_date_time"])
    what = "Credit of session" if cdr.kind is CdrKind.CREDIT else "Session"
    return LedgerLine(
        cdr_id=cdr.cdr_id,
        issued_at=cdr.issued_at,
        description=f"{what} {cdr.cdr_id}, {cdr.charge_point_id}, {ended:%Y-%m-%d}, {energy:.3f} kWh",
        currency=cdr.currency,
        energy_kwh=energy,
        groups=tuple(receipt.vat_groups),
    )


def month_of(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m}"


def month_bounds(month: str) -> tuple[date, date]:
    year, number = (int(part) for part in month.split("-"))
    return date(year, number, 1), date(year, number, monthrange(year, number)[1])


def invoice_document(
    *,
    number: str,
    issued_at: datetime,
    month: str,
    account_id: str,
    account: BillingAccount | None,
    brand: Brand,
    lines: Sequence[LedgerLine],
    contract: Contract | None,
) -> Document:
    """The monthly invoice of a business account: one line per CDR and VAT rate (amounts exactly as on
    the receipts, so the invoice is their sum), plus the contract's monthly fee."""
    currencies = {line.currency for line in lines} | ({contract.currency} if contract else set())
    if len(currencies) > 1:
        raise MixedCurrencies(f"account {account_id} has amounts in {sorted(currencies)} in {month}")
    out: list[DocumentLine] = []
    for line in sorted(lines, key=lambda item: (item.issued_at, item.cdr_id)):
        for group in line.groups:
            out.append(
                DocumentLine(
                    description=line.description,
                    quantity=line.energy_kwh,
                    unit="kWh",
                    net=group.net,
                    vat_rate=group.rate,
                    vat=group.vat,
                )
            )
    if contract is not None and contract.monthly_fee:
        rate = contract.vat if contract.vat is not None else brand.default_vat_percent
        fee = contract.monthly_fee
        out.append(
            DocumentLine(
                description=f"Monthly fee {month} (contract {contract.contract_id})",
                quantity=Decimal(1),
                unit="month",
                net=fee,
                vat_rate=rate,
                vat=vat_of(fee, rate),
            )
        )
    first, last = month_bounds(month)
    buyer = account.party if account else Party(name=f"Account {account_id}")
    return Document(
        kind=DocumentKind.INVOICE,
        number=number,
        issued_at=issued_at,
        currency=next(iter(currencies)) if currencies else "EUR",
        seller=brand.party,
        buyer=buyer,
        reference=f"Period {first:%Y-%m-%d} to {last:%Y-%m-%d}",
        details=(("Account", account_id), ("Sessions", str(len(lines)))),
        lines=tuple(out),
        footer=brand.footer,
    )


__all__ = ["VatGroup", "vat_breakdown"]
