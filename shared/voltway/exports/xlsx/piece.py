"""Worker side: one shard of rows → one independently compressed piece of sheet XML.

A piece is raw DEFLATE of a run of ``<row>`` elements, ended with a full flush (byte-aligned, no final
block, no back-references into other pieces), so pieces of one sheet can be concatenated byte for byte
between the sheet's header and footer. Its CRC-32 and uncompressed length let the merge compute the zip
member's CRC and sizes without reading the data.

Rows are numbered globally: data row ``i`` (0-based, header rows not counted) lives on sheet
``i // capacity`` at sheet row ``i % capacity + 2``. A piece never straddles a sheet boundary:
:func:`plan_shards` cuts shards there, and :func:`write_piece` refuses a row past its sheet's end.
"""

from __future__ import annotations

import operator
import os
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from .cells import cell_encoder
from .columns import SHEET_DATA_CAPACITY, ExportColumn
from .errors import ExportDataError, SheetBoundaryError

#: zlib level 1: measured ~3x faster than the default level for ~10 % larger files.
DEFAULT_LEVEL = 1
#: Rows encoded per compress call; bounds a worker's buffer to a few MB whatever the shard size.
DEFAULT_CHUNK_ROWS = 2048


class BinarySink(Protocol):
    """Anything with ``write(bytes)``: a file, BytesIO, an S3 multipart upload stream."""

    def write(self, data: bytes, /) -> object: ...


SinkTarget = str | os.PathLike[str] | BinarySink


@dataclass(frozen=True, slots=True)
class Piece:
    """Metadata of a compressed piece; the bytes live wherever the worker's sink put them.

    ``first_row`` is the 0-based index of the piece's first data row in the whole export; ``raw_len`` and
    ``crc32`` describe the uncompressed XML, ``compressed_len`` the raw-DEFLATE bytes.
    """

    first_row: int
    rows: int
    raw_len: int
    crc32: int
    compressed_len: int

    def sheet_index(self, capacity: int = SHEET_DATA_CAPACITY) -> int:
        return self.first_row // capacity

    def to_dict(self) -> dict[str, int]:
        """JSON-ready form, for the queue message / S3 metadata that reports a finished piece."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Piece:
        return cls(**{k: int(data[k]) for k in ("first_row", "rows", "raw_len", "crc32", "compressed_len")})


@dataclass(frozen=True, slots=True)
class Shard:
    """A planned unit of work: data rows ``first_row .. first_row + rows - 1``, all on one sheet."""

    index: int
    first_row: int
    rows: int


def plan_shards(
    total_rows: int, shard_rows: int, *, sheet_capacity: int = SHEET_DATA_CAPACITY
) -> list[Shard]:
    """Cut ``total_rows`` into shards of at most ``shard_rows``, never across a sheet boundary.

    Shard sizes that divide the capacity (1,048,575 = 3·5²·11·31·41, e.g. 69,905 or 209,715) tile every
    sheet exactly; any other size just gets a shorter last shard per sheet. Zero rows → no shards.
    """
    if total_rows < 0 or shard_rows < 1 or sheet_capacity < 1:
        raise ValueError("total_rows >= 0, shard_rows >= 1 and sheet_capacity >= 1 required")
    shards: list[Shard] = []
    start = 0
    while start < total_rows:
        room_on_sheet = sheet_capacity - start % sheet_capacity
        size = min(shard_rows, room_on_sheet, total_rows - start)
        shards.append(Shard(len(shards), start, size))
        start += size
    return shards


@contextmanager
def open_sink(target: SinkTarget) -> Iterator[BinarySink]:
    """A binary sink from a path (created/truncated, closed afterwards) or a file-like (left open)."""
    if isinstance(target, str | os.PathLike):
        with open(target, "wb") as handle:
            yield handle
    else:
        yield target


def write_piece(
    rows: Iterable[Sequence[Any]],
    columns: Sequence[ExportColumn],
    first_row: int,
    sink: SinkTarget,
    *,
    sheet_capacity: int = SHEET_DATA_CAPACITY,
    level: int = DEFAULT_LEVEL,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> Piece:
    """Encode ``rows`` (streamed, any length up to the end of the sheet) and write the piece to ``sink``.

    Memory stays bounded by ``chunk_rows`` rows of XML whatever the shard size. Raises
    :class:`ExportDataError` for a value that cannot be written and :class:`SheetBoundaryError` when the
    rows run past the end of the sheet ``first_row`` lies on.
    """
    if first_row < 0:
        raise ValueError("first_row must be >= 0")
    cols = tuple(columns)
    ncols = len(cols)
    encoders = [cell_encoder(c) for c in cols]
    room = sheet_capacity - first_row % sheet_capacity
    sheet_row = first_row % sheet_capacity + 2
    call = operator.call

    compressor = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
    crc = 0
    raw_len = 0
    compressed_len = 0
    count = 0
    buffer: list[str] = []

    with open_sink(sink) as out:

        def flush_buffer() -> None:
            nonlocal crc, raw_len, compressed_len
            data = "".join(buffer).encode("utf-8")
            buffer.clear()
            crc = zlib.crc32(data, crc)
            raw_len += len(data)
            chunk = compressor.compress(data)
            if chunk:
                out.write(chunk)
                compressed_len += len(chunk)

        try:
            for row in rows:
                if count == room:
                    raise SheetBoundaryError(
                        f"piece starting at data row {first_row} runs past its sheet "
                        f"(capacity {sheet_capacity}); plan shards with plan_shards()"
                    )
                if len(row) != ncols:
                    raise ExportDataError(f"row has {len(row)} values, the export has {ncols} columns")
                buffer.append(f'<row r="{sheet_row}">{"".join(map(call, encoders, row))}</row>')
                sheet_row += 1
                count += 1
                if len(buffer) >= chunk_rows:
                    flush_buffer()
        except ExportDataError as error:
            raise ExportDataError(error.reason, row=first_row + count, column=error.column) from error
        flush_buffer()
        tail = compressor.flush(zlib.Z_FULL_FLUSH)
        out.write(tail)
        compressed_len += len(tail)

    return Piece(first_row=first_row, rows=count, raw_len=raw_len, crc32=crc, compressed_len=compressed_len)
