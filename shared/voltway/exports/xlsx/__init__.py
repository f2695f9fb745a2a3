"""Sliced .xlsx writer: workers write independently compressed pieces of sheet XML; a merge joins them.

Worker: ``write_piece(rows, columns, first_row, sink) -> Piece``. Planner: ``plan_shards``. Merge:
``assemble_xlsx(columns, [PieceRef...], summary, sink)`` (or ``build_layout`` + ``write_layout`` /
``plan_multipart`` to assemble on S3). See docs/decisions/xlsx-writer.md.
"""

from __future__ import annotations

from .cells import excel_serial, sanitise_text
from .columns import (
    EXCEL_MAX_ROWS,
    SHEET_DATA_CAPACITY,
    ColumnKind,
    ExportColumn,
    ExportColumns,
    export_columns,
)
from .crc import crc32_combine, crc32_join
from .errors import AssemblyError, ExportDataError, SheetBoundaryError, XlsxExportError
from .multipart import PartPlan, PartSlice, plan_multipart
from .piece import Piece, Shard, plan_shards, write_piece
from .workbook import (
    ExportSummary,
    PieceRef,
    SheetInfo,
    XlsxLayout,
    assemble_xlsx,
    build_layout,
    write_layout,
)

__all__ = [
    "EXCEL_MAX_ROWS",
    "SHEET_DATA_CAPACITY",
    "AssemblyError",
    "ColumnKind",
    "ExportColumn",
    "ExportColumns",
    "ExportDataError",
    "ExportSummary",
    "PartPlan",
    "PartSlice",
    "Piece",
    "PieceRef",
    "Shard",
    "SheetBoundaryError",
    "SheetInfo",
    "XlsxExportError",
    "XlsxLayout",
    "assemble_xlsx",
    "build_layout",
    "crc32_combine",
    "crc32_join",
    "excel_serial",
    "export_columns",
    "plan_multipart",
    "plan_shards",
    "sanitise_text",
    "write_layout",
    "write_piece",
]
