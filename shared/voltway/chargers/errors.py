"""Errors of the charger registry; each transport maps them once (HTTP status, WebSocket refusal)."""

from __future__ import annotations


class ChargerError(Exception):
    """Base of the charger context's errors."""


class ChargerNotFound(ChargerError):
    """No charger with this id (or not in the caller's tenant: the two are indistinguishable)."""


class ChargerConflict(ChargerError):
    """A racing or forbidden write, e.g. the id belongs to another tenant."""


class InvalidRegistration(ChargerError):
    """A registration request that cannot be applied (e.g. a new charger without a password)."""


class AuthenticationFailed(ChargerError):
    """A charger's handshake credentials were wrong, or the charger may not connect."""

    def __init__(self, message: str, *, missing_credentials: bool = False) -> None:
        super().__init__(message)
        self.missing_credentials = missing_credentials


class InvalidCursor(ChargerError):
    """A pagination cursor that this API did not issue."""
