"""Typed errors of the xlsx export writer."""

from __future__ import annotations


class XlsxExportError(Exception):
    """Base class of every error the xlsx writer raises."""


class ExportDataError(XlsxExportError, ValueError):
    """A value cannot be written in its column (e.g. text in a datetime column, a row of the wrong width).

    Dirty-but-meaningful data (control characters, NaN, aware datetimes, overlong text) is sanitised
    instead; this error is for values whose meaning would be lost or faked.
    """

    def __init__(self, message: str, *, row: int | None = None, column: str | None = None) -> None:
        where = []
        if row is not None:
            where.append(f"data row {row}")
        if column is not None:
            where.append(f"column {column!r}")
        super().__init__(f"{message} ({', '.join(where)})" if where else message)
        self.reason = message
        self.row = row
        self.column = column


class SheetBoundaryError(XlsxExportError):
    """A piece would run past the end of its sheet; shards must be planned with :func:`plan_shards`."""


class AssemblyError(XlsxExportError):
    """The pieces handed to the merge do not form one gap-free export, or a piece's bytes are wrong."""
