"""The OCPI 2.2.1 CDR JSON of an issued CDR (mod_cdrs "CDR Object"), and its credit mirror.

Numbers are JSON numbers: every Decimal here has at most 15 significant digits (money to the policy's
decimals, kWh to 6, hours to 12), which a float prints back exactly.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from voltway.billing.periods import BuiltPeriods
from voltway.billing.ports import ChargerLocation
from voltway.tariffs import Price, SessionPrice, Tariff
from voltway.transactions.model import Transaction

_NA = "#NA"  # OCPI's "not available" value


def number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def price_json(price: Price) -> dict[str, Any]:
    out: dict[str, Any] = {"excl_vat": number(price.excl_vat)}
    if price.incl_vat is not None:
        out["incl_vat"] = number(price.incl_vat)
    return out


def _location(tx: Transaction, where: ChargerLocation | None) -> dict[str, Any]:
    evse = f"{tx.charge_point_id}*{tx.connector_id}"
    common = {
        "evse_uid": evse[:36],
        "evse_id": evse[:48],
        "connector_id": str(tx.connector_id),
        "connector_format": "SOCKET",
        "connector_power_type": "AC_3_PHASE",
    }
    if where is None:  # a charger not placed at a site: OCPI requires the fields, we know none of them
        return {
            "id": _NA,
            "address": _NA,
            "city": _NA,
            "country": _NA,
            "coordinates": {"latitude": "0.0", "longitude": "0.0"},
            "connector_standard": "IEC_62196_T2",
            **common,
        }
    return {
        "id": where.site_id[:36],
        "name": where.name,
        "address": where.address[:45],
        "city": where.city[:45],
        "country": where.country[:3],
        "coordinates": {"latitude": f"{where.latitude:.6f}", "longitude": f"{where.longitude:.6f}"},
        "connector_standard": where.connector_standard or "IEC_62196_T2",
        **common,
    }


def cdr_json(
    *,
    cdr_id: str,
    tx: Transaction,
    tariff: Tariff,
    built: BuiltPeriods,
    price: SessionPrice,
    where: ChargerLocation | None,
    issued_at: datetime,
) -> dict[str, Any]:
    token = {
        "country_code": tariff.country_code,
        "party_id": tariff.party_id,
        "uid": tx.id_tag,
        "type": "RFID",
        "contract_id": tx.id_tag,
    }
    periods = [
        {
            "start_date_time": iso(p.start_date_time),
            "dimensions": [{"type": d.type.value, "volume": number(d.volume)} for d in p.dimensions],
            "tariff_id": tariff.id,
        }
        for p in built.periods
    ]
    out: dict[str, Any] = {
        "country_code": tariff.country_code,
        "party_id": tariff.party_id,
        "id": cdr_id,
        "start_date_time": iso(built.start),
        "end_date_time": iso(built.end),
        "session_id": str(tx.transaction_id),
        "cdr_token": token,
        "auth_method": "WHITELIST",
        "cdr_location": _location(tx, where),
        "currency": tariff.currency,
        "tariffs": [tariff.model_dump(mode="json", exclude_none=True)],
        "charging_periods": periods,
        "total_cost": price_json(price.total_cost),
        "total_fixed_cost": price_json(price.total_fixed_cost),
        "total_energy": number(price.total_energy),
        "total_energy_cost": price_json(price.total_energy_cost),
        "total_time": number(price.total_time),
        "total_time_cost": price_json(price.total_time_cost),
        "total_parking_time": number(price.total_parking_time),
        "total_parking_cost": price_json(price.total_parking_cost),
        "total_reservation_cost": price_json(price.total_reservation_cost),
        "last_updated": iso(issued_at),
    }
    # OCPI 2.2.1 has no stop-reason field; ``remark`` is its human-readable place "for example: reason
    # why a transaction was stopped". ``ended_by`` is the platform's reason (time_limit) or OCPP's.
    if tx.ended_by:
        out["remark"] = f"stop reason: {tx.ended_by}"[:255]
    return out


def credit_json(original: dict[str, Any], credit_id: str, issued_at: datetime) -> dict[str, Any]:
    """mod_cdrs "Credit CDRs": all the data of the original; only ``total_cost`` carries the negative
    amounts; ``credit`` and ``credit_reference_id`` set."""
    total = {k: -v for k, v in original["total_cost"].items()}
    return {
        **original,
        "id": credit_id,
        "total_cost": total,
        "credit": True,
        "credit_reference_id": original["id"],
        "last_updated": iso(issued_at),
    }
