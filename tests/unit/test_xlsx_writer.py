"""The sliced xlsx writer: pieces written independently, joined by the merge, read back by openpyxl."""

from __future__ import annotations

import csv
import io
import itertools
import math
import shutil
import struct
import subprocess
import zipfile
import zlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voltway.exports.xlsx import (
    AssemblyError,
    ColumnKind,
    ExportColumn,
    ExportDataError,
    ExportSummary,
    Piece,
    PieceRef,
    SheetBoundaryError,
    assemble_xlsx,
    crc32_combine,
    plan_shards,
    sanitise_text,
    write_piece,
)

COLUMNS = (
    ExportColumn("CDR id"),
    ExportColumn("Connector", ColumnKind.INT),
    ExportColumn("Start", ColumnKind.DATETIME),
    ExportColumn("Energy (kWh)", ColumnKind.ENERGY_KWH),
    ExportColumn("Total", ColumnKind.MONEY),
    ExportColumn("Currency", width=9),
)
GENERATED = datetime(2025, 6, 1, 8, 30)


def make_rows(count: int, start: int = 0) -> list[tuple[Any, ...]]:
    base = datetime(2025, 1, 1)
    return [
        (
            f"CDR-{i:06d}",
            1 + i % 3,
            base + timedelta(minutes=17 * i, seconds=i % 60),
            Decimal(i * 731 % 90_000) / 1000,
            Decimal(i * 37 % 10_000) / 100,
            "EUR" if i % 4 else "CHF",
        )
        for i in range(start, start + count)
    ]


def summary_for(rows: Sequence[Sequence[Any]], **extra: Any) -> ExportSummary:
    totals: dict[str, Decimal] = {}
    for row in rows:
        totals[row[5]] = totals.get(row[5], Decimal(0)) + row[4]
    return ExportSummary(
        row_count=len(rows),
        energy_kwh_total=sum((r[3] for r in rows), Decimal(0)),
        money_totals=totals,
        generated_at=GENERATED,
        filters={"tenant": "acme", "from": "2025-01-01"},
        **extra,
    )


def pieces_for(
    rows: Sequence[Sequence[Any]], cuts: Sequence[int], columns: Sequence[ExportColumn] = COLUMNS, **kw: Any
) -> list[PieceRef]:
    """Pieces for rows[0:c1], rows[c1:c2], ...; cuts are the inner boundaries."""
    bounds = [0, *cuts, len(rows)]
    refs = []
    for start, end in itertools.pairwise(bounds):
        sink = io.BytesIO()
        piece = write_piece(iter(rows[start:end]), columns, start, sink, **kw)
        refs.append(PieceRef.from_bytes(piece, sink.getvalue()))
    return refs


def assemble(
    refs: Sequence[PieceRef],
    summary: ExportSummary,
    columns: Sequence[ExportColumn] = COLUMNS,
    **kw: Any,
) -> bytes:
    sink = io.BytesIO()
    assemble_xlsx(columns, refs, summary, sink, **kw)
    return sink.getvalue()


def sheet_values(data: bytes) -> dict[str, list[tuple[Any, ...]]]:
    workbook = openpyxl.load_workbook(io.BytesIO(data))
    return {ws.title: [tuple(r) for r in ws.iter_rows(values_only=True)] for ws in workbook}


def all_data_rows(data: bytes, capacity: int, total: int) -> list[tuple[Any, ...]]:
    """Data rows of every data sheet by position (openpyxl drops trailing rows that have no cells)."""
    workbook = openpyxl.load_workbook(io.BytesIO(data))
    out: list[tuple[Any, ...]] = []
    for index, sheet in enumerate(workbook.worksheets[1:]):
        count = min(capacity, total - index * capacity)
        out += [
            tuple(r)
            for r in sheet.iter_rows(min_row=2, max_row=count + 1, max_col=len(COLUMNS), values_only=True)
        ]
    return out


def expected_cell(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    return value


def test_workbook_from_several_pieces_reads_back_cell_for_cell() -> None:
    rows = make_rows(250)
    data = assemble(pieces_for(rows, [7, 100, 101, 180]), summary_for(rows))

    workbook = openpyxl.load_workbook(io.BytesIO(data))
    assert workbook.sheetnames == ["Summary", "Data"]
    sheet = workbook["Data"]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:F251"
    assert sheet.column_dimensions["A"].width == pytest.approx(18)
    values = [tuple(r) for r in sheet.iter_rows(values_only=True)]
    assert values[0] == tuple(c.name for c in COLUMNS)
    assert len(values) == 251
    for source, got in zip(rows, values[1:], strict=True):
        assert got == tuple(expected_cell(v) for v in source)
        assert isinstance(got[1], int)
        assert isinstance(got[2], datetime)
        assert isinstance(got[3], int | float)
    styles = [sheet.cell(row=2, column=i).number_format for i in (3, 4, 5)]
    assert styles == ["yyyy-mm-dd hh:mm:ss", "#,##0.000", "#,##0.00"]


def test_summary_sheet_states_counts_totals_filters_and_time() -> None:
    rows = make_rows(40)
    data = assemble(pieces_for(rows, [20]), summary_for(rows))
    summary = dict(row for row in sheet_values(data)["Summary"] if row[0] is not None)
    assert summary["Rows"] == 40
    assert summary["Generated at (UTC)"] == GENERATED
    assert summary["Energy (kWh)"] == pytest.approx(float(sum(r[3] for r in rows)))
    assert summary["Total EUR"] == pytest.approx(float(sum(r[4] for r in rows if r[5] == "EUR")))
    assert summary["Total CHF"] == pytest.approx(float(sum(r[4] for r in rows if r[5] == "CHF")))
    assert summary["tenant"] == "acme"
    assert summary["Data sheets"] == "Data"


def test_rows_split_across_sheets_at_capacity_each_with_its_header() -> None:
    capacity = 5
    rows = make_rows(12)
    shards = plan_shards(len(rows), 3, sheet_capacity=capacity)
    assert [(s.first_row, s.rows) for s in shards] == [(0, 3), (3, 2), (5, 3), (8, 2), (10, 2)]
    refs = pieces_for(rows, [s.first_row for s in shards[1:]], sheet_capacity=capacity)

    data = assemble(refs, summary_for(rows), sheet_capacity=capacity)

    sheets = sheet_values(data)
    assert list(sheets) == ["Summary", "Data", "Data (2)", "Data (3)"]
    header = tuple(c.name for c in COLUMNS)
    data_sheets = [sheets["Data"], sheets["Data (2)"], sheets["Data (3)"]]
    assert [len(s) - 1 for s in data_sheets] == [5, 5, 2]
    assert all(s[0] == header for s in data_sheets)
    joined = [row for s in data_sheets for row in s[1:]]
    assert joined == [tuple(expected_cell(v) for v in r) for r in rows]
    workbook = openpyxl.load_workbook(io.BytesIO(data))
    assert workbook["Data (3)"].auto_filter.ref == "A1:F3"


def test_plan_shards_never_straddles_and_covers_everything() -> None:
    shards = plan_shards(3_000_000, 100_000)
    capacity = 1_048_575
    assert sum(s.rows for s in shards) == 3_000_000
    assert all(s.first_row // capacity == (s.first_row + s.rows - 1) // capacity for s in shards)
    assert plan_shards(0, 10) == []


def test_writer_refuses_rows_past_its_sheet() -> None:
    with pytest.raises(SheetBoundaryError):
        write_piece(make_rows(4), COLUMNS, 3, io.BytesIO(), sheet_capacity=5)


def test_empty_export_is_a_valid_workbook_with_headers_and_zero_summary() -> None:
    summary = ExportSummary(0, Decimal(0), {}, GENERATED)
    data = assemble([], summary)
    assert zipfile.ZipFile(io.BytesIO(data)).testzip() is None
    sheets = sheet_values(data)
    assert sheets["Data"] == [tuple(c.name for c in COLUMNS)]
    summary_rows = dict(row for row in sheets["Summary"] if row[0] is not None)
    assert summary_rows["Rows"] == 0
    assert summary_rows["Energy (kWh)"] == 0


def test_dirty_data_is_sanitised_at_the_edge() -> None:
    columns = (
        ExportColumn("text"),
        ExportColumn("kwh", ColumnKind.ENERGY_KWH),
        ExportColumn("money", ColumnKind.MONEY),
        ExportColumn("at", ColumnKind.DATETIME),
        ExportColumn("n", ColumnKind.INT),
    )
    cet = timezone(timedelta(hours=1))
    rows = [
        (
            "bad\x00\x07ctl\x1fchars\ud800",
            float("nan"),
            Decimal("NaN"),
            datetime(2025, 1, 1, 13, tzinfo=cet),
            True,
        ),
        ("x" * 40_000, float("inf"), float("-inf"), datetime(2025, 1, 1, 12, tzinfo=UTC), None),
        ("  padded & <tagged>  ", 1.5, Decimal("2.005"), None, 7),
        ("line\nbreak\ttab", None, None, datetime(2025, 1, 1), False),
        ("€ 12,50 für Müller", -0.0, 3, datetime(2025, 1, 1, 0, 0, 0, 500_000), 2**40),
    ]
    refs = pieces_for(rows, [2], columns)
    data = assemble(refs, ExportSummary(len(rows), Decimal(0), {}, GENERATED), columns)

    got = sheet_values(data)["Data"][1:]
    assert got[0] == ("badctlchars", None, None, datetime(2025, 1, 1, 12), 1)
    assert got[1][0] == "x" * 32_767
    assert got[1][1:] == (None, None, datetime(2025, 1, 1, 12), None)
    assert got[2] == ("  padded & <tagged>  ", 1.5, 2.005, None, 7)
    assert got[3] == ("line\nbreak\ttab", None, None, datetime(2025, 1, 1), 0)
    assert got[4] == ("€ 12,50 für Müller", 0.0, 3, datetime(2025, 1, 1, 0, 0, 0, 500_000), 2**40)


def test_text_longer_than_excel_allows_counts_utf16_units() -> None:
    emoji = "\U0001f50c"  # two UTF-16 code units
    columns = (ExportColumn("t"),)
    sink = io.BytesIO()
    piece = write_piece([(emoji * 20_000,)], columns, 0, sink)
    data = assemble(
        [PieceRef.from_bytes(piece, sink.getvalue())], ExportSummary(1, Decimal(0), {}, GENERATED), columns
    )
    text = sheet_values(data)["Data"][1][0]
    assert len(text.encode("utf-16-le")) // 2 <= 32_767
    assert text == emoji * (32_767 // 2)


def test_excel_escape_sequences_are_written_literally() -> None:
    columns = (ExportColumn("t"),)
    sink = io.BytesIO()
    write_piece([("a_x0041_b",)], columns, 0, sink)
    xml = zlib.decompressobj(-15).decompress(sink.getvalue()).decode()
    assert "a_x005F_x0041_b" in xml


def test_values_that_cannot_be_written_fail_with_row_and_column() -> None:
    rows = make_rows(3)
    rows[2] = (rows[2][0], "one", *rows[2][2:])
    with pytest.raises(ExportDataError) as error:
        write_piece(rows, COLUMNS, 10, io.BytesIO())
    assert (error.value.row, error.value.column) == (12, "Connector")
    with pytest.raises(ExportDataError):
        write_piece([("too", "short")], COLUMNS, 0, io.BytesIO())


def test_zip_is_valid_without_zip64_and_the_joined_crc_is_the_whole_xml_crc() -> None:
    rows = make_rows(300)
    data = assemble(pieces_for(rows, [50, 51, 200]), summary_for(rows))

    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.testzip() is None
    for info in archive.infolist():
        assert info.extra == b""
        assert info.flag_bits & 0x08 == 0  # sizes in the local header, no data descriptor
        assert zlib.crc32(archive.read(info)) == info.CRC
        assert info.compress_type == zipfile.ZIP_DEFLATED
    assert b"PK\x06\x06" not in data  # no zip64 end of central directory
    local = archive.getinfo("xl/worksheets/sheet2.xml")
    signature, *_fields, _name_len, extra_len = struct.unpack(
        "<IHHHHHIIIHH", data[local.header_offset :][:30]
    )
    assert signature == 0x04034B50
    assert extra_len == 0


def test_zip64_is_written_only_when_a_value_needs_it() -> None:
    rows = make_rows(100)
    data = assemble(pieces_for(rows, [60]), summary_for(rows), zip64_limit=2_000)
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.testzip() is None
    big = archive.getinfo("xl/worksheets/sheet2.xml")
    assert big.file_size > 2_000
    assert big.extra[:2] == b"\x01\x00"
    assert archive.getinfo("_rels/.rels").extra == b""
    assert sheet_values(data)["Data"][1:] == [tuple(expected_cell(v) for v in r) for r in rows]


def test_crc32_combine_matches_zlib() -> None:
    parts = [b"", b"a", b"<row r='2'/>" * 1000, bytes(range(256)) * 17]
    crc = 0
    for part in parts:
        crc = crc32_combine(crc, zlib.crc32(part), len(part))
    assert crc == zlib.crc32(b"".join(parts))


@given(st.binary(max_size=300), st.binary(max_size=3000))
def test_crc32_combine_property(first: bytes, second: bytes) -> None:
    assert crc32_combine(zlib.crc32(first), zlib.crc32(second), len(second)) == zlib.crc32(first + second)


def test_merge_rejects_gaps_overlaps_wrong_counts_and_wrong_sizes() -> None:
    rows = make_rows(30)
    refs = pieces_for(rows, [10, 20])
    with pytest.raises(AssemblyError, match="gap"):
        assemble([refs[0], refs[2]], summary_for(rows[:20]))
    with pytest.raises(AssemblyError, match="overlap"):
        assemble([*refs, refs[1]], summary_for(rows + rows[10:20]))
    with pytest.raises(AssemblyError, match="summary"):
        assemble(refs, summary_for(rows[:29]))
    truncated = PieceRef(refs[1].piece, lambda: io.BytesIO(b"\x00\x01"))
    with pytest.raises(AssemblyError, match="size"):
        assemble([refs[0], truncated, refs[2]], summary_for(rows))


def test_pieces_and_result_as_files(tmp_path: Path) -> None:
    rows = make_rows(500)
    refs = []
    for shard in plan_shards(len(rows), 120):
        path = tmp_path / f"piece-{shard.index}.bin"
        piece = write_piece(
            iter(rows[shard.first_row : shard.first_row + shard.rows]), COLUMNS, shard.first_row, path
        )
        assert path.stat().st_size == piece.compressed_len
        refs.append(PieceRef.from_path(Piece.from_dict(piece.to_dict()), path))
    out = tmp_path / "export.xlsx"
    layout = assemble_xlsx(COLUMNS, refs, summary_for(rows), out)
    assert out.stat().st_size == layout.size
    in_memory = assemble(
        [PieceRef.from_bytes(r.piece, Path(r.location).read_bytes()) for r in refs], summary_for(rows)
    )
    assert out.read_bytes() == in_memory  # deterministic, and the kernel-side copy equals the plain one


def test_memory_is_bounded_for_a_streamed_shard() -> None:
    written: list[int] = []

    class CountingSink(io.RawIOBase):
        def writable(self) -> bool:
            return True

        def write(self, b: Any) -> int:
            written.append(len(b))
            return len(b)

    def endless() -> Any:
        i = 0
        while i < 20_000:
            yield (f"CDR-{i}", i, datetime(2025, 1, 1), Decimal("1.000"), Decimal("0.30"), "EUR")
            i += 1

    piece = write_piece(endless(), COLUMNS, 0, CountingSink(), chunk_rows=500)
    assert piece.rows == 20_000
    assert len(written) > 5  # streamed in chunks, not one buffer at the end
    assert sum(written) == piece.compressed_len


cell_values = st.one_of(
    st.none(),
    st.text(max_size=12),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=True, allow_infinity=True, width=32),
)


@st.composite
def rows_and_cuts(draw: st.DrawFn) -> tuple[list[tuple[Any, ...]], list[int]]:
    count = draw(st.integers(min_value=0, max_value=30))
    rows = [
        (
            draw(st.one_of(st.none(), st.text(max_size=12))),
            draw(st.one_of(st.none(), st.integers(min_value=-(2**40), max_value=2**40))),
            draw(
                st.one_of(
                    st.none(),
                    st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1)).map(
                        lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000)
                    ),
                )
            ),
            draw(st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True))),
            draw(st.one_of(st.none(), st.decimals(places=2, min_value=-(10**9), max_value=10**9))),
            draw(st.one_of(st.none(), st.sampled_from(["EUR", "CHF", " GBP"]))),
        )
        for _ in range(count)
    ]
    cuts = sorted(draw(st.lists(st.integers(min_value=0, max_value=count), max_size=6)))
    return rows, cuts


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows_and_cuts(), st.integers(min_value=1, max_value=12))
def test_random_piece_splits_give_the_same_workbook_as_one_piece(
    case: tuple[list[tuple[Any, ...]], list[int]], capacity: int
) -> None:
    rows, cuts = case
    # cut wherever the planner would: at the drawn cuts and at every sheet boundary
    cuts = sorted({*cuts, *range(capacity, len(rows), capacity)})
    whole_cuts = list(range(capacity, len(rows), capacity))
    summary = ExportSummary(len(rows), Decimal(0), {}, GENERATED)

    split = assemble(pieces_for(rows, cuts, sheet_capacity=capacity), summary, sheet_capacity=capacity)
    whole = assemble(pieces_for(rows, whole_cuts, sheet_capacity=capacity), summary, sheet_capacity=capacity)

    split_zip, whole_zip = zipfile.ZipFile(io.BytesIO(split)), zipfile.ZipFile(io.BytesIO(whole))
    assert split_zip.testzip() is None
    for info in whole_zip.infolist():
        assert split_zip.read(info.filename) == whole_zip.read(info.filename)
        assert split_zip.getinfo(info.filename).CRC == info.CRC
    assert sheet_values(split) == sheet_values(whole)
    data_rows = all_data_rows(split, capacity, len(rows))
    assert len(data_rows) == len(rows)
    for source, got in zip(rows, data_rows, strict=True):
        text = sanitise_text(source[0]) if source[0] else None
        assert got[0] == text or (not text and got[0] in (None, ""))
        assert got[1:3] == source[1:3]
        number = source[3]
        assert got[3] == (None if number is None or not math.isfinite(number) else number)
        assert got[4] == (None if source[4] is None else float(source[4]))
        assert got[5] == source[5]


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed")
def test_libreoffice_opens_the_workbook(tmp_path: Path) -> None:
    capacity = 4
    rows = make_rows(10)
    rows[1] = ("a_x0041_b  &  <c>", *rows[1][1:])
    rows[2] = (rows[2][0], None, None, *rows[2][3:])  # blank cells keep the columns in place
    shards = plan_shards(len(rows), 3, sheet_capacity=capacity)
    refs = pieces_for(rows, [s.first_row for s in shards[1:]], sheet_capacity=capacity)
    path = tmp_path / "export.xlsx"
    path.write_bytes(assemble(refs, summary_for(rows), sheet_capacity=capacity))
    subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation=file://{tmp_path}/lo-profile",
            "--headless",
            "--convert-to",
            "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,true,false,false,-1",
            "--outdir",
            str(tmp_path),
            str(path),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    lines = []
    for name in ("Data", "Data (2)", "Data (3)"):
        with open(tmp_path / f"export-{name}.csv", newline="", encoding="utf-8") as handle:
            table = list(csv.reader(handle))
        assert table[0] == [c.name for c in COLUMNS]
        lines += table[1:]
    assert len(lines) == 10
    assert lines[0] == ["CDR-000000", "1", "2025-01-01 00:00:00", "0.000", "0.00", "CHF"]
    assert lines[1][0] == "a_x0041_b  &  <c>"
    assert lines[1][2] == "2025-01-01 00:17:01"
    assert lines[2][1:3] == ["", ""]
    assert lines[2][3:] == [f"{rows[2][3]:.3f}", f"{rows[2][4]:.2f}", rows[2][5]]
