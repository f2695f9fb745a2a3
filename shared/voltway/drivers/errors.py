"""Errors of the drivers context; HTTP maps them once (``voltway.adapters.http``)."""

from __future__ import annotations


class DriverError(Exception):
    """Base of the drivers context's errors."""


class TokenNotFound(DriverError):
    """No such token of the caller (another driver's token is reported the same way)."""


class TokenOwned(DriverError):
    """The uid is already linked to someone else (another driver or an operator's tag)."""


class TokenNotUsable(DriverError):
    """The driver's app token is not Accepted (blocked, expired, invalid)."""


class SessionNotFound(DriverError):
    """No such session of the caller (another driver's session is reported the same way)."""


class SessionNotRunning(DriverError):
    """The session has no running transaction to stop."""


class SessionConflict(DriverError):
    """A concurrent writer changed the session (the caller re-reads)."""


class DriverCdrNotFound(DriverError):
    """No such CDR of the caller's tokens (another driver's CDR is reported the same way)."""
