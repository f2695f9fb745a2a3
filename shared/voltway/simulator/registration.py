"""``--register``: create the simulated chargers through the operator API before they connect.

``PUT {http_api_url}/v1/chargers/{id}`` with ``{"password": ..., "security_profile": 1}`` and
``PUT /v1/id-tags/{tag}`` (Accepted) for the tag its sessions use, with an operator bearer token minted by
the local issuer (the same key ``voltway token`` uses).
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from voltway.identity.local_issuer import LocalIssuer
from voltway.operator_api import OperatorApi, OperatorApiError
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


def register_charger(api: OperatorApi, charger_id: str, password: str, id_tag: str) -> None:
    """Create or update one charger and the id tag its sessions use (raises ``OperatorApiError``)."""
    api.put_charger(charger_id, {"password": password, "security_profile": SECURITY_PROFILE_BASIC_AUTH})
    api.put_id_tag(id_tag, {"status": "Accepted"})


def register_chargers(
    http_api_url: str,
    token: str,
    passwords: Mapping[str, str],
    id_tags: Mapping[str, str],
    *,
    workers: int = 8,
    timeout_s: float = 10.0,
) -> dict[str, str]:
    """Register every charger in ``passwords`` with its id tag; return the failures (charger id → reason)."""
    api = OperatorApi(http_api_url, token, timeout_s=timeout_s)

    def one(charger_id: str) -> tuple[str, str | None]:
        try:
            register_charger(api, charger_id, passwords[charger_id], id_tags[charger_id])
        except OperatorApiError as e:
            return charger_id, str(e)
        return charger_id, None

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        results = list(pool.map(one, passwords))
    return {charger_id: reason for charger_id, reason in results if reason is not None}
