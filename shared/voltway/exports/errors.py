"""Typed errors of the export bounded context (mapped to HTTP once, in voltway.adapters.http)."""

from __future__ import annotations


class ExportError(Exception):
    """Base class of export errors."""


class ExportNotFound(ExportError):
    """No export with this id in the caller's tenant (another tenant's export is not found either)."""


class IdempotencyConflict(ExportError):
    """The Idempotency-Key was already used for a different request."""


class InvalidExportRequest(ExportError, ValueError):
    """The request is well formed but cannot be served (e.g. the range is too long)."""


class ExportSourceChanged(ExportError):
    """A shard read fewer or more rows than planned: the planned snapshot no longer holds."""


class ExportStateError(ExportError):
    """The export is not in a state this step can act on (e.g. merging with missing pieces)."""
