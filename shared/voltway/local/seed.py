"""The local stack's demo data, seeded through the platform's own HTTP API on every start (idempotent).

The embedded emulator keeps its data in memory, so each ``voltway local`` seeds again: registering a
charger is an upsert, so a second run changes nothing. Passwords are generated on first use and kept in
``<state dir>/demo.json`` (mode 0600): no secret lives in the repository.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from voltway.identity.local_issuer import LocalIssuer
from voltway.operator_api import OperatorApi

logger = logging.getLogger(__name__)

DEMO_TENANT = "demo"
DEMO_CHARGERS = ("DEMO-CP001", "DEMO-CP002", "DEMO-CP003")
# Id tags (RFID card uids) a newcomer can use at the demo chargers, one blocked to show a refusal.
DEMO_ID_TAGS = {"DEMO-TAG-001": "Accepted", "DEMO-TAG-002": "Accepted", "DEMO-TAG-BLOCKED": "Blocked"}
# The tenant's default tariff (OCPI 2.2.1), so that simulated and hand-driven sessions end in a CDR and a
# receipt: a session fee and energy (both 19 % VAT).
DEMO_TARIFF: dict[str, Any] = {
    "country_code": "DE",
    "party_id": "VWY",
    "id": "DEMO-STANDARD",
    "currency": "EUR",
    "elements": [
        {
            "price_components": [
                {"type": "FLAT", "price": 0.35, "vat": 19.0, "step_size": 1},
                {"type": "ENERGY", "price": 0.39, "vat": 19.0, "step_size": 1},
            ]
        },
    ],
}
DEMO_USERS = {"driver-1": ["driver"], "operator-1": ["operator"], "finance-1": ["finance"]}
DEMO_FILE = "demo.json"


class Runtime(Protocol):
    """What the seed needs of :class:`voltway.local.runtime.LocalRuntime`."""

    http_url: str
    charger_ws_url: str
    jwt_issuer: str
    jwt_audience: str
    issuer: Any
    state_dir: Path


@dataclass(frozen=True)
class DemoData:
    tenant: str
    passwords: dict[str, str]


def demo_data(state_dir: Path) -> DemoData:
    """The demo chargers' passwords, created once per state directory."""
    path = state_dir / DEMO_FILE
    if path.exists():
        stored = json.loads(path.read_text())
        passwords = {cp: stored["passwords"][cp] for cp in DEMO_CHARGERS if cp in stored.get("passwords", {})}
        if len(passwords) == len(DEMO_CHARGERS):
            return DemoData(stored.get("tenant", DEMO_TENANT), passwords)
    data = DemoData(DEMO_TENANT, {cp: secrets.token_urlsafe(15) for cp in DEMO_CHARGERS})
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump({"tenant": data.tenant, "passwords": data.passwords}, out, indent=2)
    return data


def seed(runtime: Runtime) -> DemoData:
    """Register the demo chargers and id tags through the operator API; log what a newcomer needs."""
    data = demo_data(runtime.state_dir)
    issuer: LocalIssuer = runtime.issuer
    token = issuer.mint(
        issuer=runtime.jwt_issuer,
        audience=runtime.jwt_audience,
        subject="voltway-seed",
        tenant=data.tenant,
        roles=["admin"],
        ttl_seconds=300,
    )
    api = OperatorApi(runtime.http_url, token)
    for charge_point_id, password in data.passwords.items():
        api.put_charger(charge_point_id, {"password": password, "security_profile": 1})
    for id_tag, status in DEMO_ID_TAGS.items():
        api.put_id_tag(id_tag, {"status": status})
    api.request("PUT", f"/v1/tariffs/{DEMO_TARIFF['id']}", {**DEMO_TARIFF, "default": True})
    lines = [f"Demo data (tenant {data.tenant!r}), passwords kept in {runtime.state_dir / DEMO_FILE}:"]
    lines += [
        f"  charger {cp:<11} {runtime.charger_ws_url}/{cp}  Basic auth {cp}:{pw}"
        for cp, pw in data.passwords.items()
    ]
    lines += [f"  id tag  {tag:<16} {status}" for tag, status in DEMO_ID_TAGS.items()]
    lines.append(f"  tariff  {DEMO_TARIFF['id']:<16} the tenant default (every charger without its own)")
    for user, roles in DEMO_USERS.items():
        lines.append(
            f"  user    {user:<11} voltway token --tenant {data.tenant} --user {user} --role {roles[0]}"
        )
    lines.append("  simulate: voltway simulate --register --chargers 10 --sessions 2")
    logger.info("\n".join(lines))
    return data
