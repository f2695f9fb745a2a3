"""Append-only archive of finished sessions, CDRs and meter values in S3: the source of exports.

Objects: ``archive/{kind}/tenant={tenant}/day={YYYY-MM-DD}/{batch_id}.ndjson.gz`` (gzipped NDJSON, one
record per line, sorted by time then id). See docs/decisions/export-source.md.
"""

from __future__ import annotations

from voltway.archive.archive import Archive, ArchiveWriter, PartitionSnapshot, RecordArchive, batch_key
from voltway.archive.errors import ArchiveError, ArchiveReadError
from voltway.archive.memory import MemoryBlobs
from voltway.archive.ports import BlobStore
from voltway.archive.records import (
    ArchiveKind,
    ArchiveRecord,
    CdrRecord,
    MeterValueRecord,
    SessionRecord,
    format_ts,
    record_of,
)

__all__ = [
    "Archive",
    "ArchiveError",
    "ArchiveKind",
    "ArchiveReadError",
    "ArchiveRecord",
    "ArchiveWriter",
    "BlobStore",
    "CdrRecord",
    "MemoryBlobs",
    "MeterValueRecord",
    "PartitionSnapshot",
    "RecordArchive",
    "SessionRecord",
    "batch_key",
    "format_ts",
    "record_of",
]
