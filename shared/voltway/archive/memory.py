"""In-memory twin of the archive's blob store (unit tests)."""

from __future__ import annotations

from collections.abc import Iterator

from voltway.archive.errors import ArchiveReadError


class MemoryBlobs:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.puts = 0

    def put(self, key: str, data: bytes) -> None:
        self.objects[key] = data
        self.puts += 1

    def get(self, key: str) -> bytes:
        try:
            return self.objects[key]
        except KeyError as e:
            raise ArchiveReadError(f"no archive object {key}") from e

    def list_keys(self, prefix: str) -> Iterator[str]:
        return iter(sorted(k for k in self.objects if k.startswith(prefix)))

    def list_sizes(self, prefix: str) -> Iterator[tuple[str, int]]:
        return iter([(k, len(self.objects[k])) for k in sorted(self.objects) if k.startswith(prefix)])

    def delete(self, key: str) -> None:
        self.objects.pop(key, None)

    def list_folders(self, prefix: str) -> Iterator[str]:
        rests = (k[len(prefix) :] for k in self.objects if k.startswith(prefix))
        return iter(sorted({prefix + r[: r.index("/") + 1] for r in rests if "/" in r}))
