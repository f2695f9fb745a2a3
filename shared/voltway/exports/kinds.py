"""What each export kind writes: columns (with units and UTC stated in the headers) and how an archived
record becomes a row, plus the per-row amounts the summary totals are built from."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from voltway.archive import ArchiveKind
from voltway.exports.xlsx import ColumnKind, ExportColumn, ExportColumns, export_columns

TEXT, INT, MONEY, KWH, DT = (
    ColumnKind.TEXT,
    ColumnKind.INT,
    ColumnKind.MONEY,
    ColumnKind.ENERGY_KWH,
    ColumnKind.DATETIME,
)
#: ISO 4217 minor-unit exponents that are not 2.
_EXPONENTS = {"JPY": 0, "KRW": 0, "ISK": 0, "CLP": 0, "VND": 0, "HUF": 2, "BHD": 3, "KWD": 3, "JOD": 3}


def currency_exponent(currency: str) -> int:
    return _EXPONENTS.get(currency, 2)


def money(minor: int, currency: str) -> Decimal:
    """Integer minor units → the amount as an exact Decimal (12345 EUR → 123.45)."""
    return Decimal(minor).scaleb(-currency_exponent(currency))


def kwh(wh: int | float) -> float:
    """Wh → kWh as the double Excel stores (exact: repr gives the shortest decimal, 16466 → 16.466)."""
    return wh / 1000


def cell_money(minor: int, scale: int) -> float:
    """Minor units → the amount as the double Excel stores: ``scale`` = 10 ** exponent (807, 100 → 8.07).

    Cheaper than a Decimal per cell, and exact in the file: the shortest decimal that round-trips the
    correctly rounded quotient is the amount itself for any amount below 2**53 minor units."""
    return minor / scale


def _ts(value: str | None) -> datetime | None:
    # Archive times are fixed-width UTC with a Z: drop it and write a naive UTC datetime (Excel has no zones).
    return datetime.fromisoformat(value[:-1]) if value else None


@dataclass(frozen=True, slots=True)
class ExportKindSpec:
    kind: ArchiveKind
    title: str
    columns: ExportColumns
    row: Callable[[dict[str, Any]], tuple[Any, ...]]
    #: Energy counted in the summary (Wh), and the money amount (currency, minor units) if any.
    energy_wh: Callable[[dict[str, Any]], int]
    amount: Callable[[dict[str, Any]], tuple[str, int] | None]


def _minutes(start: datetime | None, stop: datetime | None) -> float | None:
    return None if start is None or stop is None else round((stop - start).total_seconds() / 60, 2)


def _cdr_row(r: dict[str, Any]) -> tuple[Any, ...]:
    cur = r["currency"]
    scale = 10 ** currency_exponent(cur)
    started, stopped = _ts(r["started_at"]), _ts(r["stopped_at"])
    return (
        r["id"],
        r["session_id"],
        r["charge_point_id"],
        r["connector_id"],
        r.get("site_id"),
        r.get("account_id"),
        r.get("id_tag"),
        r.get("partner_id"),
        started,
        stopped,
        _minutes(started, stopped),
        kwh(r["energy_wh"]),
        cur,
        cell_money(r["price_excl_vat_minor"], scale),
        cell_money(r["vat_minor"], scale),
        cell_money(r["price_incl_vat_minor"], scale),
        r.get("tariff_id"),
        _ts(r["issued_at"]),
    )


def _session_row(r: dict[str, Any]) -> tuple[Any, ...]:
    started, stopped = _ts(r["started_at"]), _ts(r["stopped_at"])
    return (
        r["id"],
        r["transaction_id"],
        r["charge_point_id"],
        r["connector_id"],
        r.get("site_id"),
        r.get("account_id"),
        r.get("id_tag"),
        r.get("partner_id"),
        started,
        stopped,
        _minutes(started, stopped),
        kwh(r["meter_start_wh"]),
        kwh(r["meter_stop_wh"]),
        kwh(r["energy_wh"]),
        r.get("stop_reason"),
    )


def _meter_row(r: dict[str, Any]) -> tuple[Any, ...]:
    return (
        r["id"],
        r["session_id"],
        r["charge_point_id"],
        r["connector_id"],
        r.get("site_id"),
        r.get("account_id"),
        _ts(r["timestamp"]),
        r["measurand"],
        r.get("phase"),
        r["value"],
        r["unit"],
    )


_COMMON = [
    ExportColumn("Station", TEXT, 16),
    ExportColumn("Connector", INT, 10),
    ExportColumn("Site", TEXT, 14),
    ExportColumn("Account", TEXT, 14),
]

SPECS: dict[ArchiveKind, ExportKindSpec] = {
    ArchiveKind.CDRS: ExportKindSpec(
        ArchiveKind.CDRS,
        "CDRs",
        export_columns(
            [
                ExportColumn("CDR id", TEXT, 26),
                ExportColumn("Session id", TEXT, 26),
                *_COMMON,
                ExportColumn("Id tag", TEXT, 14),
                ExportColumn("Partner", TEXT, 12),
                ExportColumn("Start (UTC)", DT),
                ExportColumn("End (UTC)", DT),
                ExportColumn("Duration (min)", MONEY, 14),
                ExportColumn("Energy (kWh)", KWH, 13),
                ExportColumn("Currency", TEXT, 9),
                ExportColumn("Price excl. VAT", MONEY, 15),
                ExportColumn("VAT", MONEY, 11),
                ExportColumn("Price incl. VAT", MONEY, 15),
                ExportColumn("Tariff", TEXT, 14),
                ExportColumn("Issued (UTC)", DT),
            ]
        ),
        _cdr_row,
        lambda r: int(r["energy_wh"]),
        lambda r: (r["currency"], int(r["price_incl_vat_minor"])),
    ),
    ArchiveKind.SESSIONS: ExportKindSpec(
        ArchiveKind.SESSIONS,
        "Sessions",
        export_columns(
            [
                ExportColumn("Session id", TEXT, 26),
                ExportColumn("Transaction", INT, 12),
                *_COMMON,
                ExportColumn("Id tag", TEXT, 14),
                ExportColumn("Partner", TEXT, 12),
                ExportColumn("Start (UTC)", DT),
                ExportColumn("End (UTC)", DT),
                ExportColumn("Duration (min)", MONEY, 14),
                ExportColumn("Meter start (kWh)", KWH, 17),
                ExportColumn("Meter stop (kWh)", KWH, 17),
                ExportColumn("Energy (kWh)", KWH, 13),
                ExportColumn("Stop reason", TEXT, 14),
            ]
        ),
        _session_row,
        lambda r: int(r["energy_wh"]),
        lambda r: None,
    ),
    ArchiveKind.METER_VALUES: ExportKindSpec(
        ArchiveKind.METER_VALUES,
        "Meter values",
        export_columns(
            [
                ExportColumn("Id", TEXT, 30),
                ExportColumn("Session id", TEXT, 26),
                *_COMMON,
                ExportColumn("Time (UTC)", DT),
                ExportColumn("Measurand", TEXT, 30),
                ExportColumn("Phase", TEXT, 8),
                ExportColumn("Value", INT, 14),
                ExportColumn("Unit", TEXT, 8),
            ]
        ),
        _meter_row,
        # A register reading is not an amount of energy delivered: meter-value exports total no energy.
        lambda r: 0,
        lambda r: None,
    ),
}
