"""Column schema of an export: name, kind (how a value is written and styled) and width."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

#: Excel's limits (https://support.microsoft.com/office/excel-specifications-and-limits).
EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_COLUMNS = 16_384
#: Data rows per sheet: every sheet spends row 1 on the header.
SHEET_DATA_CAPACITY = EXCEL_MAX_ROWS - 1


class ColumnKind(enum.Enum):
    """How a column's values are written.

    - ``TEXT``: inline string (anything is accepted and converted with ``str``).
    - ``INT``: whole number, general format.
    - ``MONEY``: number shown with 2 decimals (``#,##0.00``); the value is written unrounded.
    - ``ENERGY_KWH``: number shown with 3 decimals (``#,##0.000``), in kWh.
    - ``DATETIME``: Excel serial number (days since 1899-12-30, UTC) with a ``yyyy-mm-dd hh:mm:ss`` style.
    """

    TEXT = "text"
    INT = "int"
    MONEY = "decimal2"
    ENERGY_KWH = "energy_kwh3"
    DATETIME = "datetime"


_DEFAULT_WIDTH = {
    ColumnKind.TEXT: 18.0,
    ColumnKind.INT: 10.0,
    ColumnKind.MONEY: 12.0,
    ColumnKind.ENERGY_KWH: 12.0,
    ColumnKind.DATETIME: 20.0,
}


@dataclass(frozen=True, slots=True)
class ExportColumn:
    """One column: header ``name``, value ``kind`` and display ``width`` in characters (None: by kind)."""

    name: str
    kind: ColumnKind = ColumnKind.TEXT
    width: float | None = None

    @property
    def display_width(self) -> float:
        return self.width if self.width is not None else max(_DEFAULT_WIDTH[self.kind], len(self.name) + 2)


ExportColumns = tuple[ExportColumn, ...]


def export_columns(columns: Sequence[ExportColumn]) -> ExportColumns:
    """Validate a column list: 1..16,384 columns with unique, non-empty names."""
    cols = tuple(columns)
    if not 1 <= len(cols) <= EXCEL_MAX_COLUMNS:
        raise ValueError(f"an export needs 1..{EXCEL_MAX_COLUMNS} columns, got {len(cols)}")
    names = [c.name for c in cols]
    if any(not n for n in names) or len(set(names)) != len(names):
        raise ValueError(f"column names must be unique and non-empty: {names}")
    return cols


def column_letter(index: int) -> str:
    """Excel column letters of a 0-based column index (0 → A, 26 → AA)."""
    letters = ""
    n = index + 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return letters
