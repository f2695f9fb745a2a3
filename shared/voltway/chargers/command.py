"""``voltway charger add``: register a charger through the operator API of the configured environment.

By default the running local stack is used: ``<state dir>/local.json`` gives the HTTP API URL and the
JWT issuer/audience, and an operator token is minted with the local issuer. ``--api-url`` and
``--token`` point it at any other environment.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from voltway.operator_api import OperatorApi, OperatorApiError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="charger_command", required=True, metavar="ACTION")
    add = sub.add_parser("add", help="register (or update) a charger", description="register a charger")
    add.add_argument("charge_point_id", metavar="chargePointId")
    add.add_argument("--password", required=True, help="the charger's Basic-auth password (AuthorizationKey)")
    add.add_argument("--tenant", default=None, help="tenant id (default: the token's tenant)")
    add.add_argument("--security-profile", type=int, choices=[1, 2], default=1)
    add.add_argument("--disabled", action="store_true", help="register it disabled")
    add.add_argument("--api-url", default=None, help="HTTP API base URL (default: the local stack's)")
    add.add_argument("--token", default=None, help="operator JWT (default: minted by the local issuer)")


def _local_defaults(tenant: str | None) -> tuple[str, str]:
    from voltway.identity.local_issuer import LocalIssuer
    from voltway.statedir import issuer_key_path, read_local_info

    info = read_local_info()
    token = LocalIssuer.load_or_create(issuer_key_path()).mint(
        issuer=info.jwt_issuer,
        audience=info.jwt_audience,
        subject="voltway-cli",
        tenant=tenant or "demo",
        roles=["operator"],
        ttl_seconds=300,
    )
    return info.http_api_url, token


def run(args: argparse.Namespace) -> int:
    api_url, token = args.api_url, args.token
    if api_url is None or token is None:
        try:
            local_url, local_token = _local_defaults(args.tenant)
        except FileNotFoundError as e:
            print(f"voltway charger: {e}", file=sys.stderr)
            return 2
        api_url, token = api_url or local_url, token or local_token
    body: dict[str, Any] = {
        "password": args.password,
        "security_profile": args.security_profile,
        "enabled": not args.disabled,
    }
    if args.tenant:
        body["tenant_id"] = args.tenant
    try:
        charger = OperatorApi(api_url, token).put_charger(args.charge_point_id, body)
    except OperatorApiError as e:
        print(f"voltway charger: {e}", file=sys.stderr)
        return 1
    print(json.dumps(charger, indent=2))
    return 0
