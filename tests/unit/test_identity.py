"""Identity: principals from claims, and the local issuer's tokens."""

from __future__ import annotations

import time
from pathlib import Path

import jwt
import pytest

from voltway.identity import Forbidden, InvalidToken, Principal, Role, Unauthenticated
from voltway.identity.local_issuer import LocalIssuer
from voltway.identity.principal import parse_groups

ISS = "https://cognito-idp.eu-west-1.amazonaws.com/voltway-local-UserPool"
AUD = "voltway-local-UserPoolClient"


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> LocalIssuer:
    return LocalIssuer.load_or_create(tmp_path_factory.mktemp("state") / "key.pem")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (["operator", "driver"], {"operator", "driver"}),
        ("[operator driver]", {"operator", "driver"}),
        ('["operator", "driver"]', {"operator", "driver"}),
        ("operator,finance", {"operator", "finance"}),
        ("[]", set()),
        (None, set()),
    ],
)
def test_groups_claim_in_every_shape_api_gateway_forwards(raw: object, expected: set[str]) -> None:
    assert parse_groups(raw) == expected


def test_principal_from_claims_keeps_only_known_roles() -> None:
    p = Principal.from_claims({"sub": "u1", "custom:tenant": "t1", "cognito:groups": "[operator hacker]"})
    assert p == Principal("u1", "t1", frozenset({Role.OPERATOR}))


@pytest.mark.parametrize(
    "claims", [None, {}, {"sub": "u1"}, {"custom:tenant": "t1"}, {"sub": "", "custom:tenant": "t"}]
)
def test_incomplete_claims_are_unauthenticated(claims: dict[str, str] | None) -> None:
    with pytest.raises(Unauthenticated):
        Principal.from_claims(claims)


def test_require_role_admin_holds_all() -> None:
    driver = Principal("u", "t", frozenset({Role.DRIVER}))
    admin = Principal("a", "t", frozenset({Role.ADMIN}))
    with pytest.raises(Forbidden):
        driver.require(Role.OPERATOR)
    driver.require(Role.DRIVER, Role.OPERATOR)
    admin.require(Role.FINANCE)


def test_minted_token_verifies_and_yields_the_principal(issuer: LocalIssuer) -> None:
    token = issuer.mint(issuer=ISS, audience=AUD, subject="op-1", tenant="acme", roles=["operator"])
    claims = issuer.verify(token, issuer=ISS, audience=AUD)
    assert Principal.from_claims(claims) == Principal("op-1", "acme", frozenset({Role.OPERATOR}))


def test_wrong_audience_issuer_expiry_and_key_are_rejected(issuer: LocalIssuer, tmp_path: Path) -> None:
    token = issuer.mint(issuer=ISS, audience=AUD, subject="u", tenant="t", roles=["driver"])
    with pytest.raises(InvalidToken):
        issuer.verify(token, issuer=ISS, audience="other-client")
    with pytest.raises(InvalidToken):
        issuer.verify(token, issuer="https://evil.example", audience=AUD)
    expired = issuer.mint(issuer=ISS, audience=AUD, subject="u", tenant="t", roles=[], ttl_seconds=-120)
    with pytest.raises(InvalidToken):
        issuer.verify(expired, issuer=ISS, audience=AUD)
    other = LocalIssuer.load_or_create(tmp_path / "other.pem")
    forged = other.mint(issuer=ISS, audience=AUD, subject="u", tenant="t", roles=["admin"])
    with pytest.raises(InvalidToken):
        issuer.verify(forged, issuer=ISS, audience=AUD)
    unsigned = jwt.encode(
        {"iss": ISS, "aud": AUD, "sub": "u", "exp": int(time.time()) + 60}, key=None, algorithm="none"
    )
    with pytest.raises(InvalidToken):
        issuer.verify(unsigned, issuer=ISS, audience=AUD)


def test_key_is_persisted_privately_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    first = LocalIssuer.load_or_create(path)
    assert path.stat().st_mode & 0o777 == 0o600
    second = LocalIssuer.load_or_create(path)
    assert first.kid == second.kid
    assert first.jwks()["keys"][0]["kid"] == first.kid
