"""``voltway token``: print a JWT for the local stack, signed by the local issuer."""

from __future__ import annotations

import argparse
import sys

from voltway.identity.local_issuer import LocalIssuer
from voltway.identity.principal import Role
from voltway.statedir import issuer_key_path, read_local_info


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--role",
        action="append",
        choices=[r.value for r in Role],
        required=True,
        help="role to grant (repeat for several)",
    )
    parser.add_argument("--tenant", default="demo", help="tenant id (default: demo)")
    parser.add_argument("--user", default=None, help="user id, the token's subject (default: <role>-1)")
    parser.add_argument("--email", default=None)
    parser.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds (default: 3600)")


def run(args: argparse.Namespace) -> int:
    try:
        info = read_local_info()
    except FileNotFoundError as e:
        print(f"voltway token: {e}", file=sys.stderr)
        return 2
    issuer = LocalIssuer.load_or_create(issuer_key_path())
    roles: list[str] = args.role
    token = issuer.mint(
        issuer=info.jwt_issuer,
        audience=info.jwt_audience,
        subject=args.user or f"{roles[0]}-1",
        tenant=args.tenant,
        roles=roles,
        ttl_seconds=args.ttl,
        email=args.email,
    )
    print(token)
    return 0
