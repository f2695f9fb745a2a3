"""Merge side: pieces + generated parts → one .xlsx, copying piece bytes and never recompressing them.

The file is laid out as a list of *segments*: small byte strings the merge generates (static members,
each data sheet's local header + compressed sheet header, its compressed footer, the central directory)
and references to the workers' pieces, copied verbatim. :func:`build_layout` computes every offset, size
and CRC from the pieces' metadata alone; :func:`write_layout` streams the segments to a sink that never
needs to seek; :func:`plan_multipart` maps the same layout onto S3 multipart parts (UploadPartCopy for
large pieces).
"""

from __future__ import annotations

import io
import os
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import IO, Any
from xml.sax.saxutils import quoteattr

from .cells import (
    STYLE_HEADER,
    cell_encoder,
    column_letters,
    header_row_xml,
    row_xml,
    text_cell,
)
from .columns import SHEET_DATA_CAPACITY, ColumnKind, ExportColumn, export_columns
from .crc import crc32_join
from .errors import AssemblyError
from .piece import BinarySink, Piece, SinkTarget, open_sink
from .zipfmt import ZIP32_LIMIT, ZipEntry, central_directory, dos_datetime, local_header

_NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_NS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_NS_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_XML_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_COPY_CHUNK = 1 << 20
_INVALID_SHEET_CHARS = frozenset("[]:*?/\\")


@dataclass(frozen=True, slots=True)
class ExportSummary:
    """What the summary sheet states. Totals are computed upstream (the planner / workers) and passed in.

    ``energy_kwh_total`` in kWh; ``money_totals`` maps ISO 4217 currency → total amount; ``generated_at``
    is shown in UTC (aware values are converted) and also stamps the zip entries, so the same export
    assembled twice gives the same bytes.
    """

    row_count: int
    energy_kwh_total: Decimal
    money_totals: Mapping[str, Decimal]
    generated_at: datetime
    filters: Mapping[str, str] = field(default_factory=dict)
    title: str = "Charging sessions export"


@dataclass(frozen=True, slots=True)
class PieceRef:
    """A finished piece and how to read its compressed bytes (a local file, an S3 object stream...).

    ``location`` is opaque to the merge (a path or an S3 key); the S3 layer uses it for UploadPartCopy.
    """

    piece: Piece
    opener: Callable[[], IO[bytes]]
    location: str = ""

    @classmethod
    def from_path(cls, piece: Piece, path: str | os.PathLike[str]) -> PieceRef:
        return cls(piece, lambda: open(path, "rb"), os.fspath(path))

    @classmethod
    def from_bytes(cls, piece: Piece, data: bytes) -> PieceRef:
        return cls(piece, lambda: io.BytesIO(data))


Segment = bytes | PieceRef


@dataclass(frozen=True, slots=True)
class SheetInfo:
    name: str
    first_row: int
    rows: int


@dataclass(frozen=True, slots=True)
class XlsxLayout:
    """The whole file as ordered segments; ``size`` is the file's length in bytes."""

    segments: tuple[Segment, ...]
    size: int
    sheets: tuple[SheetInfo, ...]


def _segment_len(segment: Segment) -> int:
    return len(segment) if isinstance(segment, bytes) else segment.piece.compressed_len


# --- static parts ------------------------------------------------------------------------------------


def _styles_xml() -> str:
    fmt = '<xf numFmtId="{}" fontId="{}" fillId="0" borderId="0" xfId="0"{}/>'
    return (
        f'{_XML_DECL}<styleSheet xmlns="{_NS_MAIN}">'
        '<numFmts count="3"><numFmt numFmtId="164" formatCode="yyyy-mm-dd hh:mm:ss"/>'
        '<numFmt numFmtId="165" formatCode="#,##0.00"/><numFmt numFmtId="166" formatCode="#,##0.000"/>'
        "</numFmts>"
        '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
        '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
        '<fills count="2"><fill><patternFill patternType="none"/></fill>'
        '<fill><patternFill patternType="gray125"/></fill></fills>'
        '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
        '<cellXfs count="5">'
        + fmt.format(0, 0, "")  # STYLE_DEFAULT
        + fmt.format(164, 0, ' applyNumberFormat="1"')  # STYLE_DATETIME
        + fmt.format(165, 0, ' applyNumberFormat="1"')  # STYLE_MONEY
        + fmt.format(166, 0, ' applyNumberFormat="1"')  # STYLE_ENERGY
        + fmt.format(0, 1, ' applyFont="1"')  # STYLE_HEADER
        + "</cellXfs>"
        '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
        "</styleSheet>"
    )


def _content_types_xml(sheet_count: int) -> str:
    ct = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    sheets = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{ct}.worksheet+xml"/>'
        for i in range(1, sheet_count + 1)
    )
    return (
        f'{_XML_DECL}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{ct}.sheet.main+xml"/>'
        f'<Override PartName="/xl/styles.xml" ContentType="{ct}.styles+xml"/>{sheets}'
        '<Override PartName="/docProps/core.xml" '
        'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
        '<Override PartName="/docProps/app.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/>'
        "</Types>"
    )


def _root_rels_xml() -> str:
    od = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    return (
        f'{_XML_DECL}<Relationships xmlns="{_NS_PKG_REL}">'
        f'<Relationship Id="rId1" Type="{od}/officeDocument" Target="xl/workbook.xml"/>'
        '<Relationship Id="rId2" '
        'Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" '
        'Target="docProps/core.xml"/>'
        f'<Relationship Id="rId3" Type="{od}/extended-properties" Target="docProps/app.xml"/>'
        "</Relationships>"
    )


def _core_xml(summary: ExportSummary, generated: datetime) -> str:
    stamp = generated.strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        f"{_XML_DECL}<cp:coreProperties "
        'xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<dc:title>{_escape(summary.title)}</dc:title><dc:creator>Voltway</dc:creator>"
        f'<dcterms:created xsi:type="dcterms:W3CDTF">{stamp}</dcterms:created>'
        f'<dcterms:modified xsi:type="dcterms:W3CDTF">{stamp}</dcterms:modified>'
        "</cp:coreProperties>"
    )


def _app_xml() -> str:
    return (
        f"{_XML_DECL}<Properties "
        'xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
        "<Application>Voltway</Application></Properties>"
    )


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _workbook_xml(sheets: Sequence[SheetInfo], last_column: str) -> str:
    entries = ['<sheet name="Summary" sheetId="1" r:id="rId1"/>']
    names = []
    for number, sheet in enumerate(sheets, start=2):
        entries.append(f'<sheet name={quoteattr(sheet.name)} sheetId="{number}" r:id="rId{number}"/>')
        quoted = sheet.name.replace("'", "''")
        names.append(
            f'<definedName name="_xlnm._FilterDatabase" localSheetId="{number - 1}" hidden="1">'
            f"{_escape(repr_sheet_ref(quoted, last_column, sheet.rows + 1))}</definedName>"
        )
    return (
        f'{_XML_DECL}<workbook xmlns="{_NS_MAIN}" xmlns:r="{_NS_REL}">'
        '<workbookPr/><bookViews><workbookView activeTab="0"/></bookViews>'
        f"<sheets>{''.join(entries)}</sheets><definedNames>{''.join(names)}</definedNames></workbook>"
    )


def repr_sheet_ref(quoted_name: str, last_column: str, last_row: int) -> str:
    return f"'{quoted_name}'!$A$1:${last_column}${last_row}"


def _workbook_rels_xml(sheet_count: int) -> str:
    ws = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"
    rels = "".join(
        f'<Relationship Id="rId{i}" Type="{ws}" Target="worksheets/sheet{i}.xml"/>'
        for i in range(1, sheet_count + 1)
    )
    styles = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles"
    return (
        f'{_XML_DECL}<Relationships xmlns="{_NS_PKG_REL}">{rels}'
        f'<Relationship Id="rId{sheet_count + 1}" Type="{styles}" Target="styles.xml"/></Relationships>'
    )


def _cols_xml(widths: Sequence[float]) -> str:
    cols = "".join(
        f'<col min="{i}" max="{i}" width="{w:g}" customWidth="1"/>' for i, w in enumerate(widths, start=1)
    )
    return f"<cols>{cols}</cols>"


def _summary_sheet_xml(summary: ExportSummary, sheets: Sequence[SheetInfo], generated: datetime) -> str:
    label = ExportColumn("label")
    dt = cell_encoder(ExportColumn("at", ColumnKind.DATETIME))
    money = cell_encoder(ExportColumn("money", ColumnKind.MONEY))
    energy = cell_encoder(ExportColumn("energy", ColumnKind.ENERGY_KWH))
    integer = cell_encoder(ExportColumn("int", ColumnKind.INT))
    text = cell_encoder(label)

    def bold(value: str) -> str:
        return text_cell(value, STYLE_HEADER)

    lines: list[list[str]] = [
        [bold("Export"), text(summary.title)],
        [bold("Generated at (UTC)"), dt(generated)],
        [bold("Rows"), integer(summary.row_count)],
        [bold("Data sheets"), text(", ".join(s.name for s in sheets))],
        [bold("Energy (kWh)"), energy(summary.energy_kwh_total)],
    ]
    lines += [
        [bold(f"Total {currency}"), money(summary.money_totals[currency])]
        for currency in sorted(summary.money_totals)
    ]
    lines.append([])  # a blank row between the totals and the filters
    lines.append([bold("Filter"), bold("Value")])
    lines += [[text(key), text(value)] for key, value in summary.filters.items()]
    rows = "".join(row_xml(n, cells) for n, cells in enumerate(lines, start=1))
    return (
        f'{_XML_DECL}<worksheet xmlns="{_NS_MAIN}" xmlns:r="{_NS_REL}">'
        '<sheetViews><sheetView tabSelected="1" workbookViewId="0"/></sheetViews>'
        f"{_cols_xml([24, 48])}<sheetData>{rows}</sheetData></worksheet>"
    )


def _data_sheet_header_xml(columns: Sequence[ExportColumn], last_column: str, last_row: int) -> str:
    return (
        f'{_XML_DECL}<worksheet xmlns="{_NS_MAIN}" xmlns:r="{_NS_REL}">'
        f'<dimension ref="A1:{last_column}{last_row}"/>'
        '<sheetViews><sheetView workbookViewId="0">'
        '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
        '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/></sheetView></sheetViews>'
        '<sheetFormatPr defaultRowHeight="15"/>'
        f"{_cols_xml([c.display_width for c in columns])}"
        f"<sheetData>{header_row_xml(tuple(columns))}"
    )


def _data_sheet_footer_xml(last_column: str, last_row: int) -> str:
    return f'</sheetData><autoFilter ref="A1:{last_column}{last_row}"/></worksheet>'


# --- layout ------------------------------------------------------------------------------------------


def _deflate(data: bytes, mode: int) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush(mode)


def sheet_names(title: str, count: int) -> list[str]:
    """``title``, ``title (2)``, ...: at most 31 characters, none of ``[]:*?/\\``, not "Summary"."""
    if not title or _INVALID_SHEET_CHARS & set(title) or title.strip("'") != title:
        raise ValueError(f"invalid sheet title {title!r}")
    names = []
    for number in range(1, count + 1):
        suffix = "" if number == 1 else f" ({number})"
        names.append(title[: 31 - len(suffix)] + suffix)
    if "summary" in {n.lower() for n in names}:
        raise ValueError("the data sheet title must differ from 'Summary'")
    return names


def _ordered_pieces(refs: Iterable[PieceRef], capacity: int) -> list[PieceRef]:
    ordered = sorted((r for r in refs if r.piece.rows > 0), key=lambda r: r.piece.first_row)
    expected = 0
    for ref in ordered:
        piece = ref.piece
        if piece.first_row != expected:
            kind = "gap" if piece.first_row > expected else "overlap"
            raise AssemblyError(f"{kind} in pieces: expected data row {expected}, got {piece.first_row}")
        if piece.first_row % capacity + piece.rows > capacity:
            raise AssemblyError(f"piece at data row {piece.first_row} straddles a sheet boundary")
        expected += piece.rows
    return ordered


def build_layout(
    columns: Sequence[ExportColumn],
    pieces: Iterable[PieceRef],
    summary: ExportSummary,
    *,
    sheet_title: str = "Data",
    sheet_capacity: int = SHEET_DATA_CAPACITY,
    zip64_limit: int = ZIP32_LIMIT,
) -> XlsxLayout:
    """Plan the whole file from piece metadata: pieces must cover data rows 0..N-1 without gaps."""
    cols = export_columns(columns)
    ordered = _ordered_pieces(pieces, sheet_capacity)
    total = sum(r.piece.rows for r in ordered)
    if total != summary.row_count:
        raise AssemblyError(f"pieces hold {total} rows, the summary says {summary.row_count}")
    sheet_count = max(1, -(-total // sheet_capacity))
    names = sheet_names(sheet_title, sheet_count)
    sheets = [
        SheetInfo(name, i * sheet_capacity, min(sheet_capacity, total - i * sheet_capacity) if total else 0)
        for i, name in enumerate(names)
    ]
    generated = summary.generated_at
    if generated.tzinfo is not None:
        generated = generated.astimezone(UTC).replace(tzinfo=None)
    stamp = dos_datetime(generated)
    last_column = column_letters(len(cols))[-1]

    segments: list[Segment] = []
    entries: list[ZipEntry] = []
    offset = 0

    def add_member(name: str, parts: list[tuple[Segment, int, int]]) -> None:
        """parts: (compressed segment, crc32 of its XML, XML length)."""
        nonlocal offset
        entry = ZipEntry(
            name=name,
            crc32=crc32_join((crc, length) for _, crc, length in parts),
            compressed_size=sum(_segment_len(seg) for seg, _, _ in parts),
            uncompressed_size=sum(length for _, _, length in parts),
            header_offset=offset,
        )
        entries.append(entry)
        header = local_header(entry, stamp, zip64_limit=zip64_limit)
        segments.append(header)
        offset += len(header)
        for seg, _, _ in parts:
            segments.append(seg)
            offset += _segment_len(seg)

    def add_static(name: str, xml: str) -> None:
        data = xml.encode("utf-8")
        add_member(name, [(_deflate(data, zlib.Z_FINISH), zlib.crc32(data), len(data))])

    add_static("[Content_Types].xml", _content_types_xml(sheet_count + 1))
    add_static("_rels/.rels", _root_rels_xml())
    add_static("docProps/core.xml", _core_xml(summary, generated))
    add_static("docProps/app.xml", _app_xml())
    add_static("xl/workbook.xml", _workbook_xml(sheets, last_column))
    add_static("xl/_rels/workbook.xml.rels", _workbook_rels_xml(sheet_count + 1))
    add_static("xl/styles.xml", _styles_xml())
    add_static("xl/worksheets/sheet1.xml", _summary_sheet_xml(summary, sheets, generated))

    by_sheet: list[list[PieceRef]] = [[] for _ in sheets]
    for ref in ordered:
        by_sheet[ref.piece.first_row // sheet_capacity].append(ref)
    for number, (sheet, refs) in enumerate(zip(sheets, by_sheet, strict=True), start=2):
        last_row = sheet.rows + 1
        head = _data_sheet_header_xml(cols, last_column, last_row).encode("utf-8")
        foot = _data_sheet_footer_xml(last_column, last_row).encode("utf-8")
        parts: list[tuple[Segment, int, int]] = [
            (_deflate(head, zlib.Z_FULL_FLUSH), zlib.crc32(head), len(head))
        ]
        parts += [(ref, ref.piece.crc32, ref.piece.raw_len) for ref in refs]
        parts.append((_deflate(foot, zlib.Z_FINISH), zlib.crc32(foot), len(foot)))
        add_member(f"xl/worksheets/sheet{number}.xml", parts)

    directory = central_directory(entries, offset, stamp, zip64_limit=zip64_limit)
    segments.append(directory)
    offset += len(directory)
    return XlsxLayout(_coalesce(segments), offset, tuple(sheets))


def _coalesce(segments: list[Segment]) -> tuple[Segment, ...]:
    """Join neighbouring generated byte strings, so a layout alternates few literals with pieces."""
    out: list[Segment] = []
    for seg in segments:
        last = out[-1] if out else None
        if isinstance(seg, bytes) and isinstance(last, bytes):
            out[-1] = last + seg
        else:
            out.append(seg)
    return tuple(out)


# --- writing -----------------------------------------------------------------------------------------


def _copy_piece(ref: PieceRef, sink: BinarySink) -> None:
    expected = ref.piece.compressed_len
    with ref.opener() as source:
        copied = _fast_copy(source, sink, expected)
        if copied is None:
            copied = 0
            while copied < expected:
                chunk = source.read(min(_COPY_CHUNK, expected - copied))
                if not chunk:
                    break
                sink.write(chunk)
                copied += len(chunk)
        if copied != expected or source.read(1):
            raise AssemblyError(
                f"piece at data row {ref.piece.first_row} has a different size than its metadata "
                f"({expected} bytes expected)"
            )


def _fast_copy(source: IO[bytes], target: BinarySink, length: int) -> int | None:
    """Kernel-side copy (copy_file_range) between two regular files; None when it does not apply."""
    if not hasattr(os, "copy_file_range"):
        return None
    sink: Any = target  # a real file when this path applies; anything else fails over below
    try:
        src_fd, dst_fd = source.fileno(), sink.fileno()
        if not (sink.seekable() and source.seekable()):
            return None
        sink.flush()
        src_pos, dst_pos = source.tell(), sink.tell()
    except (OSError, io.UnsupportedOperation, AttributeError):
        return None
    copied = 0
    try:
        while copied < length:
            n = os.copy_file_range(src_fd, dst_fd, length - copied, src_pos + copied, dst_pos + copied)
            if n == 0:
                break
            copied += n
    except OSError:
        if copied:
            raise
        return None
    source.seek(src_pos + copied)
    sink.seek(dst_pos + copied)
    return copied


def write_layout(layout: XlsxLayout, sink: SinkTarget) -> int:
    """Stream the file: generated bytes are written, piece bytes copied verbatim. Returns the size."""
    with open_sink(sink) as out:
        for seg in layout.segments:
            if isinstance(seg, bytes):
                out.write(seg)
            else:
                _copy_piece(seg, out)
        flush = getattr(out, "flush", None)
        if flush is not None:
            flush()
    return layout.size


def assemble_xlsx(
    columns: Sequence[ExportColumn],
    pieces: Iterable[PieceRef],
    summary: ExportSummary,
    sink: SinkTarget,
    *,
    sheet_title: str = "Data",
    sheet_capacity: int = SHEET_DATA_CAPACITY,
    zip64_limit: int = ZIP32_LIMIT,
) -> XlsxLayout:
    """Build the layout and write the .xlsx to ``sink`` (a path or a binary file-like; no seek needed)."""
    layout = build_layout(
        columns,
        pieces,
        summary,
        sheet_title=sheet_title,
        sheet_capacity=sheet_capacity,
        zip64_limit=zip64_limit,
    )
    write_layout(layout, sink)
    return layout


def piece_ref_of(piece: Piece, data: bytes) -> PieceRef:
    """Convenience for tests and small exports: a piece held in memory."""
    return PieceRef.from_bytes(piece, data)
