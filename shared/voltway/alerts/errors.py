"""Errors of the alerts context (mapped once in voltway.adapters.http)."""

from __future__ import annotations


class AlertError(Exception):
    """Base of the alerts context's errors."""


class AlertNotFound(AlertError):
    """No such alert occurrence in the caller's tenant."""


class AlertResolved(AlertError):
    """The alert is resolved already: nothing left to acknowledge."""
