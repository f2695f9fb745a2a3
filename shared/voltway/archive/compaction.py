"""The archive compactor: many small batches of a day partition → few large ones.

The hot path writes a batch per event (one CDR, one stop, one MeterValues frame), so a busy day is
thousands of tiny objects — each one a GET for every export and a line count for every plan. The
compactor (a scheduled function) folds them, per day partition of the last ``window_days`` days:

1. **Compact.** Objects smaller than ``small_bytes`` (from the listing: nothing big is read) that no
   pending manifest lists are read in key order, in groups of at most ``max_group_records`` records;
   each group is written as one ordinary batch (deduplicated, ordered by (time, id) — the invariant
   readers rely on), then a **manifest** ``compacted-<UTC stamp>-<digest>.json`` next to it lists the
   group's inputs. Nothing is deleted yet: readers deduplicate on ``id``, so the partition reads the
   same records, and exports planned before (whose frozen keys name the inputs) still find them.
2. **Delete after the grace.** A manifest older than ``grace`` (24 h by default — far beyond an
   export's lifetime) has its inputs deleted, then itself.

Crash-safe at every step: the batch key is a hash of the ids, so a group compacted again after a crash
before its manifest rewrites the same object; a manifest is written only after its batch; inputs are
deleted only after the grace, and deleting twice is harmless. See docs/decisions/export-source.md.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from voltway.archive.archive import SUFFIX, Archive, ArchiveWriter, partition_prefix
from voltway.archive.ports import BlobStore
from voltway.archive.records import RECORD_TYPES, ArchiveKind

MANIFEST = "compacted-"
_STAMP = "%Y%m%dT%H%M%SZ"


@dataclass(frozen=True, slots=True)
class CompactionSettings:
    window_days: int = 7
    small_bytes: int = 256 * 1024
    max_group_records: int = 100_000
    grace: timedelta = timedelta(hours=24)


@dataclass(slots=True)
class CompactionResult:
    partitions: int = 0
    batches_written: int = 0
    objects_compacted: int = 0
    objects_deleted: int = 0
    manifests_pending: int = 0

    def to_dict(self) -> dict[str, int]:
        return {
            "partitions": self.partitions,
            "batches_written": self.batches_written,
            "objects_compacted": self.objects_compacted,
            "objects_deleted": self.objects_deleted,
            "manifests_pending": self.manifests_pending,
        }


def manifest_key(prefix: str, at: datetime, output: str) -> str:
    digest = hashlib.sha256(output.encode()).hexdigest()[:16]
    return f"{prefix}{MANIFEST}{at.astimezone(UTC).strftime(_STAMP)}-{digest}.json"


def manifest_time(key: str) -> datetime:
    name = key.rsplit("/", 1)[-1][len(MANIFEST) :]
    return datetime.strptime(name.split("-", 1)[0], _STAMP).replace(tzinfo=UTC)


class ArchiveCompactor:
    def __init__(
        self,
        blobs: BlobStore,
        *,
        settings: CompactionSettings | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._blobs = blobs
        self._archive = Archive(blobs)
        self._writer = ArchiveWriter(blobs)
        self._settings = settings or CompactionSettings()
        self._clock = clock

    def run(self) -> CompactionResult:
        """Every kind, every tenant, the last ``window_days`` days (today included)."""
        now = self._clock()
        result = CompactionResult()
        today = now.astimezone(UTC).date()
        days = [today - timedelta(days=n) for n in range(self._settings.window_days)]
        for kind in ArchiveKind:
            for tenant_id in self._archive.tenants(kind):
                for day in days:
                    self.compact_partition(kind, tenant_id, day, now, result)
        return result

    def compact_partition(
        self, kind: ArchiveKind, tenant_id: str, day: date, now: datetime, result: CompactionResult
    ) -> None:
        prefix = partition_prefix(kind, tenant_id, day)
        listed = list(self._blobs.list_sizes(prefix))
        if not listed:
            return
        result.partitions += 1
        pending: set[str] = set()
        deleted: set[str] = set()
        for key, _ in listed:
            if not key.rsplit("/", 1)[-1].startswith(MANIFEST):
                continue
            manifest = json.loads(self._blobs.get(key))
            inputs = [k for k in manifest["inputs"] if k != manifest["output"]]
            if now - manifest_time(key) >= self._settings.grace:
                for old in inputs:
                    self._blobs.delete(old)
                self._blobs.delete(key)
                deleted.update(inputs)
                result.objects_deleted += len(inputs)
            else:
                pending.update(inputs)
                result.manifests_pending += 1
        small = [
            key
            for key, size in listed
            if key.endswith(SUFFIX)
            and size < self._settings.small_bytes
            and key not in pending
            and key not in deleted
        ]
        if len(small) < 2:
            return  # one small batch is already as compact as it gets
        for group in self._groups(small):
            self._compact((kind, tenant_id, day, prefix), group, now, result)

    def _groups(self, keys: list[str]) -> Iterator[list[tuple[str, list[str]]]]:
        group: list[tuple[str, list[str]]] = []
        records = 0
        for key in keys:
            lines = self._archive.lines(key)
            group.append((key, lines))
            records += len(lines)
            if records >= self._settings.max_group_records:
                yield group
                group, records = [], 0
        if len(group) >= 2:
            yield group

    def _compact(
        self,
        where: tuple[ArchiveKind, str, date, str],
        group: list[tuple[str, list[str]]],
        now: datetime,
        result: CompactionResult,
    ) -> None:
        kind, tenant_id, day, prefix = where
        time_field = RECORD_TYPES[kind].time_field
        by_id: dict[str, tuple[str, str]] = {}
        for _, lines in group:
            for line in lines:
                record = json.loads(line)
                by_id.setdefault(record["id"], (record[time_field], line))
        ordered = sorted(by_id.items(), key=lambda item: (item[1][0], item[0]))
        output = self._writer.put_lines(kind, tenant_id, day, [(i, line) for i, (_, line) in ordered])
        inputs = [key for key, _ in group]
        body = {"output": output, "inputs": inputs, "at": now.astimezone(UTC).isoformat()}
        self._blobs.put(manifest_key(prefix, now, output), json.dumps(body).encode())
        result.batches_written += 1
        result.objects_compacted += len([k for k in inputs if k != output])
