"""Errors of the id tags context; HTTP maps them once (voltway.adapters.http)."""

from __future__ import annotations


class IdTagError(Exception):
    """Base of the id tags context's errors."""


class IdTagNotFound(IdTagError):
    """No such id tag in the caller's tenant."""
