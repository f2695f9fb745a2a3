"""The archive's storage port: a flat key → bytes store (S3 in AWS, a dict in unit tests)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol


class BlobStore(Protocol):
    def put(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key`` (overwriting: the same key always gets the same bytes)."""

    def get(self, key: str) -> bytes:
        """The object's bytes; :class:`~voltway.archive.errors.ArchiveReadError` if it does not exist."""

    def list_keys(self, prefix: str) -> Iterator[str]:
        """Keys under ``prefix`` in lexicographic order."""

    def list_folders(self, prefix: str) -> Iterator[str]:
        """The distinct next path segments under ``prefix`` (``a/b/`` of ``a/b/c``), in order."""

    def list_sizes(self, prefix: str) -> Iterator[tuple[str, int]]:
        """``(key, size in bytes)`` under ``prefix`` in lexicographic order (one listing, no reads)."""

    def delete(self, key: str) -> None:
        """Remove the object; removing one that does not exist is not an error."""
