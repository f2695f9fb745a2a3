"""``--register``: create the simulated chargers through the operator API before they connect.

``PUT {http_api_url}/v1/chargers/{id}`` with ``{"password": ..., "security_profile": 1}`` and an operator
bearer token minted by the local issuer (the same key ``voltway token`` uses).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote, urlsplit

from voltway.identity.local_issuer import LocalIssuer
from voltway.statedir import LocalInfo, issuer_key_path

SECURITY_PROFILE_BASIC_AUTH = 1
SIMULATOR_SUBJECT = "voltway-simulator"


def operator_token(info: LocalInfo, tenant: str, state_dir: Path | None = None) -> str:
    issuer = LocalIssuer.load_or_create(issuer_key_path(state_dir))
    return issuer.mint(
        issuer=info.jwt_issuer,
        audience=info.jwt_audience,
        subject=SIMULATOR_SUBJECT,
        tenant=tenant,
        roles=["operator"],
    )


def register_charger(http_api_url: str, token: str, charger_id: str, password: str, timeout_s: float) -> None:
    """Create or update one charger; raises ``RegistrationError`` with the HTTP status and body on failure."""
    url = f"{http_api_url.rstrip('/')}/v1/chargers/{quote(charger_id, safe='')}"
    body = json.dumps({"password": password, "security_profile": SECURITY_PROFILE_BASIC_AUTH}).encode()
    request = urllib.request.Request(
        url,
        data=body,
        method="PUT",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    host = urlsplit(url).hostname or ""
    # Local endpoints must not go through whatever HTTP proxy the environment configures.
    handlers = [urllib.request.ProxyHandler({})] if host in {"127.0.0.1", "localhost", "::1"} else []
    opener = urllib.request.build_opener(*handlers)
    try:
        with opener.open(request, timeout=timeout_s) as response:
            response.read()
    except urllib.error.HTTPError as e:
        detail = e.read().decode(errors="replace")[:200]
        raise RegistrationError(f"HTTP {e.code} {detail}".strip()) from e
    except (urllib.error.URLError, OSError) as e:
        raise RegistrationError(f"{type(e).__name__}: {e}") from e


class RegistrationError(Exception):
    """The operator API did not register a charger."""


def register_chargers(
    http_api_url: str, token: str, passwords: Mapping[str, str], *, workers: int = 8, timeout_s: float = 10.0
) -> dict[str, str]:
    """Register every charger in ``passwords``; return the failures (charger id → reason)."""

    def one(charger_id: str) -> tuple[str, str | None]:
        try:
            register_charger(http_api_url, token, charger_id, passwords[charger_id], timeout_s)
        except RegistrationError as e:
            return charger_id, str(e)
        return charger_id, None

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        results = list(pool.map(one, passwords))
    return {charger_id: reason for charger_id, reason in results if reason is not None}
