"""Errors of the sites context; HTTP maps them once (``voltway.adapters.http``)."""

from __future__ import annotations


class SiteError(Exception):
    """Base of the sites context's errors."""


class SiteNotFound(SiteError):
    """No site with this id in the caller's tenant (another tenant's site is indistinguishable)."""


class SiteConflict(SiteError):
    """A racing or forbidden write, e.g. a connector id given twice or a lost optimistic race."""


class InvalidSiteCursor(SiteError):
    """A pagination cursor this API did not issue, or issued for another query."""
