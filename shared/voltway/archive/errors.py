"""Typed errors of the archive."""

from __future__ import annotations


class ArchiveError(Exception):
    """Base class of the archive's errors."""


class ArchiveReadError(ArchiveError):
    """An archive object is missing or cannot be decoded."""


class ArchiveWriteError(ArchiveError):
    """An archive batch could not be stored."""
