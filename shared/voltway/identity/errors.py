"""Identity errors: mapped to HTTP 401/403 in one place per transport."""

from __future__ import annotations


class IdentityError(Exception):
    """Base of the identity context's errors."""


class Unauthenticated(IdentityError):
    """No usable identity: missing, malformed or incomplete claims (HTTP 401)."""


class InvalidToken(Unauthenticated):
    """A bearer token failed verification: signature, issuer, audience or expiry (HTTP 401)."""


class Forbidden(IdentityError):
    """The caller is known but lacks the role for the operation (HTTP 403)."""
