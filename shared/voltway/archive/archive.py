"""Writing and reading the archive.

Idempotency (see docs/decisions/export-source.md): a batch's key is a hash of its records' ids, and its
bytes are a pure function of its records (sorted, gzip without a timestamp), so replaying the event that
wrote a batch rewrites the same object. A record that lands in two different batches (a hot-path write
and a later bulk/compaction batch, a retried stream batch split differently) is kept once by the reader,
which deduplicates on ``id`` within a day partition — a record's day never changes, since it is the UTC
day of an immutable timestamp.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Protocol

from voltway.archive.errors import ArchiveReadError
from voltway.archive.ports import BlobStore
from voltway.archive.records import RECORD_TYPES, ArchiveKind, ArchiveRecord

ROOT = "archive"
SUFFIX = ".ndjson.gz"
_ID_PREFIX = '{"id":"'


def tenant_prefix(kind: ArchiveKind, tenant_id: str) -> str:
    return f"{ROOT}/{kind.value}/tenant={tenant_id}/"


def partition_prefix(kind: ArchiveKind, tenant_id: str, day: date) -> str:
    return f"{tenant_prefix(kind, tenant_id)}day={day.isoformat()}/"


def batch_key(kind: ArchiveKind, tenant_id: str, day: date, ids: Iterable[str]) -> str:
    """The object key of the batch holding exactly these record ids (order does not matter)."""
    digest = hashlib.sha256("\n".join(sorted(set(ids))).encode()).hexdigest()[:32]
    return f"{partition_prefix(kind, tenant_id, day)}{digest}{SUFFIX}"


def day_of_key(key: str) -> date:
    marker = key.index("/day=") + 5
    return date.fromisoformat(key[marker : marker + 10])


class RecordArchive(Protocol):
    """The port producers call (session stop, CDR issue, meter values): append records, idempotently."""

    def append(self, records: Sequence[ArchiveRecord]) -> list[str]: ...


def encode_batch(lines: Iterable[str], level: int = 6) -> bytes:
    """Gzipped NDJSON with mtime 0: the same lines always give the same bytes."""
    return gzip.compress("".join(f"{line}\n" for line in lines).encode("utf-8"), level, mtime=0)


class ArchiveWriter:
    """Appends records as batches, one object per (kind, tenant, day) group of the call."""

    def __init__(self, blobs: BlobStore, *, level: int = 6) -> None:
        self._blobs = blobs
        self._level = level

    def append(self, records: Sequence[ArchiveRecord]) -> list[str]:
        groups: dict[tuple[ArchiveKind, str, date], dict[str, ArchiveRecord]] = defaultdict(dict)
        for record in records:
            groups[(record.kind, record.tenant_id, record.day)].setdefault(record.id, record)
        keys = []
        for (kind, tenant_id, day), by_id in groups.items():
            ordered = sorted(by_id.values(), key=lambda r: (r.at, r.id))
            keys.append(self.put_lines(kind, tenant_id, day, [(r.id, r.to_json_line()) for r in ordered]))
        return keys

    def put_lines(
        self, kind: ArchiveKind, tenant_id: str, day: date, lines: Sequence[tuple[str, str]]
    ) -> str:
        """Store already-encoded, already-ordered ``(id, json line)`` pairs of one partition (bulk path).

        A batch never holds an id twice (the first line of an id is kept), so the lines of a partition
        that is one object are its records, deduplicated and in order, without decoding them.
        """
        unique: dict[str, str] = {}
        for record_id, line in lines:
            unique.setdefault(record_id, line)
        key = batch_key(kind, tenant_id, day, unique)
        self._blobs.put(key, encode_batch(unique.values(), self._level))
        return key


@dataclass(frozen=True, slots=True)
class PartitionSnapshot:
    """The objects of one day partition at planning time: what an export of that day reads."""

    day: date
    keys: tuple[str, ...]

    def to_json(self) -> list[Any]:
        return [self.day.isoformat(), list(self.keys)]

    @classmethod
    def from_json(cls, data: Sequence[Any]) -> PartitionSnapshot:
        return cls(date.fromisoformat(data[0]), tuple(data[1]))


def decode_lines(lines: Sequence[str], key: str = "") -> list[dict[str, Any]]:
    """JSON lines → records, in one decoder call (faster than one ``json.loads`` per line)."""
    if not lines:
        return []
    try:
        records: list[dict[str, Any]] = json.loads(f"[{','.join(lines)}]")
    except ValueError as e:
        raise ArchiveReadError(f"archive object {key} cannot be decoded: {e}") from e
    return records


class Archive:
    """Reads the archive: snapshots of day partitions, and their records deduplicated and ordered."""

    def __init__(self, blobs: BlobStore) -> None:
        self._blobs = blobs

    def snapshot(
        self, kind: ArchiveKind, tenant_id: str, first_day: date, last_day: date
    ) -> list[PartitionSnapshot]:
        """Day partitions ``first_day..last_day`` (inclusive) that hold objects, in day order."""
        found: dict[date, list[str]] = defaultdict(list)
        if (last_day - first_day).days < 62:  # short ranges: one listing per day
            day = first_day
            while day <= last_day:
                found[day].extend(self._blobs.list_keys(partition_prefix(kind, tenant_id, day)))
                day += timedelta(days=1)
        else:
            for key in self._blobs.list_keys(tenant_prefix(kind, tenant_id)):
                day = day_of_key(key)
                if first_day <= day <= last_day:
                    found[day].append(key)
        return [
            PartitionSnapshot(day, tuple(sorted(k for k in keys if k.endswith(SUFFIX))))
            for day, keys in sorted(found.items())
            if keys
        ]

    def tenants(self, kind: ArchiveKind) -> list[str]:
        """The tenants that have records of ``kind`` (one S3 listing with a delimiter)."""
        root = f"{ROOT}/{kind.value}/tenant="
        return [folder[len(root) : -1] for folder in self._blobs.list_folders(root)]

    def read_partition(self, kind: ArchiveKind, keys: Iterable[str]) -> list[dict[str, Any]]:
        """Every record of the objects, once per id, ordered by (time, id)."""
        keys = tuple(keys)
        if len(keys) == 1:  # one batch: unique ids, already ordered (see ArchiveWriter)
            return decode_lines(self.lines(keys[0]), keys[0])
        time_field = RECORD_TYPES[kind].time_field
        seen: dict[str, dict[str, Any]] = {}
        for key in keys:
            for record in self._decode(key):
                seen.setdefault(record["id"], record)
        return sorted(seen.values(), key=lambda r: (r[time_field], r["id"]))

    def lines(self, key: str) -> list[str]:
        """The NDJSON lines of one object (one record each, unique ids, ordered by (time, id))."""
        try:
            text = gzip.decompress(self._blobs.get(key)).decode("utf-8")
        except (OSError, EOFError, UnicodeDecodeError) as e:
            raise ArchiveReadError(f"archive object {key} cannot be decoded: {e}") from e
        return [line for line in text.splitlines() if line]

    def count_ids(self, keys: Iterable[str]) -> int:
        """Distinct record ids in the objects, without decoding the records (ids are the first field)."""
        keys = tuple(keys)
        if len(keys) == 1:  # one batch never repeats an id: count its lines
            key = keys[0]
            try:
                return gzip.decompress(self._blobs.get(key)).count(b"\n")
            except (OSError, EOFError) as e:
                raise ArchiveReadError(f"archive object {key} cannot be decoded: {e}") from e
        ids: set[str] = set()
        for key in keys:
            try:
                text = gzip.decompress(self._blobs.get(key)).decode("utf-8")
            except (OSError, EOFError, UnicodeDecodeError) as e:
                raise ArchiveReadError(f"archive object {key} cannot be decoded: {e}") from e
            for line in text.splitlines():
                if line.startswith(_ID_PREFIX):
                    ids.add(line[7 : line.index('"', 7)])
                elif line:
                    ids.add(json.loads(line)["id"])
        return len(ids)

    def _decode(self, key: str) -> Iterator[dict[str, Any]]:
        try:
            text = gzip.decompress(self._blobs.get(key)).decode("utf-8")
            loads = json.loads
            for line in text.splitlines():
                if line:
                    yield loads(line)
        except (OSError, EOFError, UnicodeDecodeError, ValueError) as e:
            raise ArchiveReadError(f"archive object {key} cannot be decoded: {e}") from e

    def records(self, kind: ArchiveKind, snapshots: Iterable[PartitionSnapshot]) -> Iterator[dict[str, Any]]:
        for snap in snapshots:
            yield from self.read_partition(kind, snap.keys)
