"""Identity: principals from verified JWT claims, and the local token issuer."""

from voltway.identity.errors import Forbidden, IdentityError, InvalidToken, Unauthenticated
from voltway.identity.principal import Principal, Role

__all__ = ["Forbidden", "IdentityError", "InvalidToken", "Principal", "Role", "Unauthenticated"]
