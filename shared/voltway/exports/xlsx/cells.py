"""Cell encoding: Python values → sheet-XML ``<c>`` elements, with deliberate sanitising at the edge.

Cells carry no ``r`` reference: readers (Excel, LibreOffice, openpyxl) place a reference-less cell in the
column after the previous one, which saves a fifth of the sheet XML. An empty value is a valueless
``<c/>`` (a blank cell holding its column's place), so every row is the plain concatenation of its cells.

Sanitising (each rule is deliberate, see docs/decisions/xlsx-writer.md):

- text: characters illegal in XML 1.0 (C0 controls except tab/newline/CR, lone surrogates, U+FFFE/U+FFFF)
  are removed; text is cut to Excel's 32,767 UTF-16 code units per cell; ``_xHHHH_`` sequences are escaped
  so Excel shows them literally; leading/trailing blanks are preserved.
- numbers: NaN and ±infinity become an empty cell; ``bool`` is written as 0/1.
- datetimes: aware values are converted to UTC, naive values are taken as UTC; written as serial days since
  1899-12-30 (Excel's 1900 date system) with a date-time style.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Final

from .columns import ColumnKind, ExportColumn, column_letter
from .errors import ExportDataError

#: Style ids in ``xl/styles.xml`` (cellXfs order); see :mod:`voltway.exports.xlsx.workbook`.
STYLE_DEFAULT: Final = 0
STYLE_DATETIME: Final = 1
STYLE_MONEY: Final = 2
STYLE_ENERGY: Final = 3
STYLE_HEADER: Final = 4

EXCEL_MAX_TEXT: Final = 32_767
_EPOCH: Final = datetime(1899, 12, 30)

# Fast path: a string of printable ASCII other than & < > _ (plus tab/LF) goes into the XML as it is, once
# blanks at either end are ruled out. Anything else (non-ASCII included) takes the full sanitising path;
# a single character class keeps the common-case check to one cheap regex scan.
_NOT_PLAIN: Final = re.compile(r"[^\t\n\x20-\x25\x27-\x3b\x3d\x3f-\x5e\x60-\x7e]")
_PLAIN_MAX: Final = EXCEL_MAX_TEXT // 2
_ILLEGAL_XML: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_EXCEL_ESCAPE: Final = re.compile(r"_(x[0-9A-Fa-f]{4}_)")

#: A blank cell: no value, no reference; it only holds its column's place.
EMPTY_CELL: Final = "<c/>"

#: A cell encoder: value → ``<c>`` element (``EMPTY_CELL`` for an empty value).
CellEncoder = Callable[[Any], str]


def sanitise_text(value: str) -> str:
    """Remove XML-illegal characters and cut to Excel's 32,767 UTF-16 code units (never mid-character)."""
    text = _ILLEGAL_XML.sub("", value)
    if len(text) > EXCEL_MAX_TEXT // 2 and len(text.encode("utf-16-le")) > 2 * EXCEL_MAX_TEXT:
        text = text[:EXCEL_MAX_TEXT]
        while len(text.encode("utf-16-le")) > 2 * EXCEL_MAX_TEXT:
            text = text[:-1]
    return text


def _xml_text(value: str) -> tuple[str, bool]:
    """(escaped text, needs xml:space="preserve") of a sanitised string."""
    text = sanitise_text(value)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")
    text = _EXCEL_ESCAPE.sub(r"_x005F_\1", text)
    return text, text != text.strip()


def text_cell(value: str, style: int = STYLE_DEFAULT) -> str:
    """An inline-string cell (any string: sanitised and escaped here)."""
    s_attr = f' s="{style}"' if style else ""
    if len(value) <= _PLAIN_MAX and value.strip() is value and not _NOT_PLAIN.search(value):
        return f'<c t="inlineStr"{s_attr}><is><t>{value}</t></is></c>'
    text, preserve = _xml_text(value)
    space = ' xml:space="preserve"' if preserve else ""
    return f'<c t="inlineStr"{s_attr}><is><t{space}>{text}</t></is></c>'


def excel_serial(value: datetime | date) -> float:
    """Excel serial day number (1900 system, UTC) of a date or datetime; aware values are made UTC."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
    else:
        value = datetime(value.year, value.month, value.day)
    return (value - _EPOCH).total_seconds() / 86400.0


def _number_text(value: Any, column: ExportColumn) -> str | None:
    """Lexical form of a finite number, None for NaN/inf; ExportDataError for non-numbers."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return str(value) if value.is_finite() else None
    raise ExportDataError(f"{type(value).__name__} value {value!r} is not a number", column=column.name)


def _text_encoder(column: ExportColumn) -> CellEncoder:
    def encode(value: Any) -> str:
        if value is None or value == "":
            return EMPTY_CELL
        if type(value) is not str:
            if isinstance(value, float) and not math.isfinite(value):
                return EMPTY_CELL
            value = str(value)
        if len(value) <= _PLAIN_MAX and value.strip() is value and not _NOT_PLAIN.search(value):
            return f'<c t="inlineStr"><is><t>{value}</t></is></c>'
        return text_cell(value)

    return encode


def _number_encoder(column: ExportColumn, style: int) -> CellEncoder:
    prefix = f'<c s="{style}"><v>' if style else "<c><v>"

    def encode(value: Any) -> str:
        kind = type(value)
        if kind is int or (kind is float and math.isfinite(value)):
            return prefix + repr(value) + "</v></c>"
        if kind is Decimal and value.is_finite():
            return prefix + str(value) + "</v></c>"
        if value is None:
            return EMPTY_CELL
        text = _number_text(value, column)
        return EMPTY_CELL if text is None else f"{prefix}{text}</v></c>"

    return encode


def _datetime_encoder(column: ExportColumn) -> CellEncoder:
    prefix = f'<c s="{STYLE_DATETIME}"><v>'

    def encode(value: Any) -> str:
        if type(value) is datetime and value.tzinfo is None:
            return prefix + repr((value - _EPOCH).total_seconds() / 86400.0) + "</v></c>"
        if value is None:
            return EMPTY_CELL
        if isinstance(value, date):
            return prefix + repr(excel_serial(value)) + "</v></c>"
        if isinstance(value, float) and not math.isfinite(value):
            return EMPTY_CELL
        raise ExportDataError(f"{type(value).__name__} value {value!r} is not a datetime", column=column.name)

    return encode


def cell_encoder(column: ExportColumn) -> CellEncoder:
    """The encoder of one column (a closure: no per-cell dispatch on the column kind)."""
    match column.kind:
        case ColumnKind.TEXT:
            return _text_encoder(column)
        case ColumnKind.INT:
            return _number_encoder(column, STYLE_DEFAULT)
        case ColumnKind.MONEY:
            return _number_encoder(column, STYLE_MONEY)
        case ColumnKind.ENERGY_KWH:
            return _number_encoder(column, STYLE_ENERGY)
        case ColumnKind.DATETIME:
            return _datetime_encoder(column)


def row_xml(row_number: int, cells: list[str]) -> str:
    """A ``<row>`` of encoded cells (blank ones included: they hold their columns' places)."""
    return f'<row r="{row_number}">{"".join(cells)}</row>'


def header_row_xml(columns: tuple[ExportColumn, ...]) -> str:
    """Row 1: the column names, bold."""
    return f'<row r="1">{"".join(text_cell(c.name, STYLE_HEADER) for c in columns)}</row>'


def column_letters(count: int) -> tuple[str, ...]:
    return tuple(column_letter(i) for i in range(count))
