"""The local stack's token issuer: Cognito's role played on one machine.

An RSA key kept in the local state directory (never in the repository) signs RS256 ID tokens shaped
like Cognito's (``sub``, ``email``, ``custom:tenant``, ``cognito:groups``, ``token_use``). The local HTTP
gateway verifies them the way API Gateway's JWT authorizer verifies Cognito's, against the issuer and
audience the template declares.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from voltway.identity.errors import InvalidToken
from voltway.identity.principal import GROUPS_CLAIM, TENANT_CLAIM

ALGORITHM = "RS256"
CLOCK_SKEW_SECONDS = 30


class LocalIssuer:
    """Signs and verifies tokens with one RSA key; ``kid`` is the key's SHA-256 thumbprint."""

    def __init__(self, private_key: rsa.RSAPrivateKey) -> None:
        self._private_key = private_key
        self._public_key = private_key.public_key()
        der = self._public_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.kid = base64.urlsafe_b64encode(hashlib.sha256(der).digest()[:16]).decode().rstrip("=")

    @classmethod
    def load_or_create(cls, key_path: Path) -> LocalIssuer:
        """Load the PEM key at ``key_path``, creating it (mode 0600) on first use."""
        if key_path.exists():
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
            if not isinstance(key, rsa.RSAPrivateKey):
                raise ValueError(f"{key_path} does not hold an RSA private key")
            return cls(key)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        key_path.parent.mkdir(parents=True, exist_ok=True)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        # Create with restrictive permissions, and never overwrite a key another process just wrote.
        try:
            fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return cls.load_or_create(key_path)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
        return cls(key)

    def jwks(self) -> dict[str, Any]:
        """The public key set, as served at ``/.well-known/jwks.json``."""
        jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(self._public_key))
        jwk.update({"kid": self.kid, "alg": ALGORITHM, "use": "sig"})
        return {"keys": [jwk]}

    def mint(
        self,
        *,
        issuer: str,
        audience: str,
        subject: str,
        tenant: str,
        roles: Sequence[str],
        ttl_seconds: int = 3600,
        email: str | None = None,
    ) -> str:
        """A signed ID token valid for ``ttl_seconds`` from now."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": issuer,
            "aud": audience,
            "sub": subject,
            "token_use": "id",
            "iat": now,
            "auth_time": now,
            "exp": now + ttl_seconds,
            "jti": str(uuid.uuid4()),
            TENANT_CLAIM: tenant,
            GROUPS_CLAIM: list(roles),
        }
        if email:
            claims["email"] = email
        return jwt.encode(claims, self._private_key, algorithm=ALGORITHM, headers={"kid": self.kid})

    def verify(self, token: str, *, issuer: str, audience: str) -> dict[str, Any]:
        """The token's claims if signature, issuer, audience and expiry hold; else ``InvalidToken``."""
        try:
            header = jwt.get_unverified_header(token)
            if header.get("kid") != self.kid:
                raise InvalidToken("token signed by an unknown key")
            claims: dict[str, Any] = jwt.decode(
                token,
                self._public_key,
                algorithms=[ALGORITHM],
                issuer=issuer,
                audience=audience,
                leeway=CLOCK_SKEW_SECONDS,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as e:
            raise InvalidToken(str(e)) from e
        return claims
