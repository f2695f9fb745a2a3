"""Typed errors of the tariff engine (the bounded context 'tariffs')."""

from __future__ import annotations


class TariffError(Exception):
    """Base class of every error the tariff engine raises on purpose."""


class SessionInputError(TariffError, ValueError):
    """The charging periods cannot be priced as given (order, end before start, negative volumes...)."""


class UnknownTimeZoneError(TariffError, ValueError):
    """The IANA time zone name is not known to this machine's zoneinfo database."""
