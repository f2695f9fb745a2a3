"""Who is calling: the principal read from verified JWT claims.

API Gateway's JWT authorizer (Cognito in AWS, the local issuer in ``voltway local``) verifies the token;
functions read the claims it forwards. Claims follow Cognito ID tokens: ``sub``, ``email``,
``custom:tenant`` and ``cognito:groups`` (roles). With payload format 1.0 API Gateway renders list claims
as a string such as ``"[operator driver]"``; both that and a real list are accepted.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from voltway.identity.errors import Forbidden, Unauthenticated

TENANT_CLAIM = "custom:tenant"
GROUPS_CLAIM = "cognito:groups"


class Role(StrEnum):
    DRIVER = "driver"
    OPERATOR = "operator"
    FINANCE = "finance"
    ADMIN = "admin"


def parse_groups(value: Any) -> frozenset[str]:
    """Group names from a claim given as a list, a JSON list, ``"[a b]"`` or ``"a,b"``."""
    if value is None:
        return frozenset()
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("[") and '"' in text:
            try:
                loaded = json.loads(text)
            except ValueError:
                loaded = None
            if isinstance(loaded, list):
                return frozenset(str(v) for v in loaded)
        text = text.strip("[]")
        return frozenset(part for part in text.replace(",", " ").split() if part)
    if isinstance(value, Iterable):
        return frozenset(str(v) for v in value)
    raise Unauthenticated(f"unreadable {GROUPS_CLAIM} claim")


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated user of one tenant, with the roles its token grants."""

    user_id: str
    tenant_id: str
    roles: frozenset[Role]
    email: str | None = None

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any] | None) -> Principal:
        if not claims:
            raise Unauthenticated("no verified identity on the request")
        user_id = claims.get("sub")
        tenant_id = claims.get(TENANT_CLAIM)
        if not isinstance(user_id, str) or not user_id:
            raise Unauthenticated("token has no subject")
        if not isinstance(tenant_id, str) or not tenant_id:
            raise Unauthenticated(f"token has no {TENANT_CLAIM} claim")
        known = {r.value for r in Role}
        roles = frozenset(Role(g) for g in parse_groups(claims.get(GROUPS_CLAIM)) if g in known)
        email = claims.get("email")
        return cls(user_id, tenant_id, roles, email if isinstance(email, str) else None)

    def has_any(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles)) or Role.ADMIN in self.roles

    def require(self, *roles: Role) -> None:
        """Raise ``Forbidden`` unless the principal holds one of ``roles`` (admin holds all)."""
        if not self.has_any(*roles):
            wanted = ", ".join(r.value for r in roles)
            raise Forbidden(f"this operation needs one of the roles: {wanted}")
