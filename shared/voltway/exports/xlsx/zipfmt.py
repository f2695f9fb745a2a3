"""Just enough of the zip format (PKWARE APPNOTE 6.3) to write a stored-size, deflated archive.

Sizes and CRCs are known before a member's data is written (the merge computes them from the pieces'
metadata), so local headers carry them and no data descriptor is needed: the sink never has to seek.
Zip64 fields appear only when a value does not fit in 32 bits — LibreOffice refuses needless zip64.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import datetime
from typing import Final

ZIP32_LIMIT: Final = 0xFFFFFFFF  # a 32-bit field equal to this means "see the zip64 extra field"
_ZIP16_LIMIT: Final = 0xFFFF
_DEFLATED: Final = 8
_VERSION_20: Final = 20
_VERSION_45: Final = 45  # zip64


@dataclass(frozen=True, slots=True)
class ZipEntry:
    name: str
    crc32: int
    compressed_size: int
    uncompressed_size: int
    header_offset: int


def dos_datetime(moment: datetime) -> tuple[int, int]:
    """(time, date) in MS-DOS format; clamps to the 1980..2107 range the format can hold."""
    year = min(max(moment.year, 1980), 2107)
    dos_time = (moment.hour << 11) | (moment.minute << 5) | (moment.second // 2)
    dos_date = ((year - 1980) << 9) | (moment.month << 5) | moment.day
    return dos_time, dos_date


def _needs_zip64(entry: ZipEntry, limit: int) -> bool:
    return entry.compressed_size >= limit or entry.uncompressed_size >= limit


def local_header(entry: ZipEntry, stamp: tuple[int, int], *, zip64_limit: int = ZIP32_LIMIT) -> bytes:
    """Local file header of a deflated member whose CRC and sizes are already known."""
    name = entry.name.encode("ascii")
    extra = b""
    csize, usize = entry.compressed_size, entry.uncompressed_size
    version = _VERSION_20
    if _needs_zip64(entry, zip64_limit):
        extra = struct.pack("<HHQQ", 0x0001, 16, usize, csize)
        csize = usize = ZIP32_LIMIT
        version = _VERSION_45
    return (
        struct.pack(
            "<IHHHHHIIIHH",
            0x04034B50,
            version,
            0,  # flags: sizes in this header, no data descriptor
            _DEFLATED,
            stamp[0],
            stamp[1],
            entry.crc32,
            csize,
            usize,
            len(name),
            len(extra),
        )
        + name
        + extra
    )


def central_directory(
    entries: list[ZipEntry], cd_offset: int, stamp: tuple[int, int], *, zip64_limit: int = ZIP32_LIMIT
) -> bytes:
    """Central directory records + (zip64 end records only if needed) + end of central directory."""
    records = []
    for entry in entries:
        name = entry.name.encode("ascii")
        csize, usize, offset = entry.compressed_size, entry.uncompressed_size, entry.header_offset
        fields: list[int] = []
        if usize >= zip64_limit:
            fields.append(usize)
            usize = ZIP32_LIMIT
        if csize >= zip64_limit:
            fields.append(csize)
            csize = ZIP32_LIMIT
        if offset >= zip64_limit:
            fields.append(offset)
            offset = ZIP32_LIMIT
        extra = struct.pack(f"<HH{len(fields)}Q", 0x0001, 8 * len(fields), *fields) if fields else b""
        version = _VERSION_45 if fields else _VERSION_20
        records.append(
            struct.pack(
                "<IHHHHHHIIIHHHHHII",
                0x02014B50,
                version,  # made by: MS-DOS host, spec version
                version,
                0,
                _DEFLATED,
                stamp[0],
                stamp[1],
                entry.crc32,
                csize,
                usize,
                len(name),
                len(extra),
                0,  # comment length
                0,  # disk number start
                0,  # internal attributes
                0,  # external attributes
                offset,
            )
            + name
            + extra
        )
    body = b"".join(records)
    count, size, offset = len(entries), len(body), cd_offset
    tail = b""
    if count >= _ZIP16_LIMIT or size >= zip64_limit or offset >= zip64_limit:
        eocd64_offset = cd_offset + size
        tail = struct.pack(
            "<IQHHIIQQQQ", 0x06064B50, 44, _VERSION_45, _VERSION_45, 0, 0, count, count, size, offset
        ) + struct.pack("<IIQI", 0x07064B50, 0, eocd64_offset, 1)
        count = _ZIP16_LIMIT if count >= _ZIP16_LIMIT else count
        size = ZIP32_LIMIT if size >= zip64_limit else size
        offset = ZIP32_LIMIT if offset >= zip64_limit else offset
    eocd = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, size, offset, 0)
    return body + tail + eocd
