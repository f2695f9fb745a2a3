"""``voltway export``: request an export through the finance API, follow it, print the download URL.

By default the running local stack is used (``<state dir>/local.json``) and a finance token is minted by
the local issuer; ``--api-url`` and ``--token`` point it at any other environment.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

from voltway.archive.command import ProgressBar


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kind", choices=["cdrs", "sessions", "meter_values"], default="cdrs")
    parser.add_argument(
        "--from", dest="from_at", required=True, help="date or ISO date-time (UTC if no offset)"
    )
    parser.add_argument("--to", dest="to_at", required=True, help="end, excluded")
    for name in ("station", "site", "account", "partner"):
        parser.add_argument(f"--{name}", action="append", default=[], help=f"only this {name} (repeatable)")
    parser.add_argument("--wait", action="store_true", help="follow the export and print the download URL")
    parser.add_argument("--output", default=None, help="with --wait: also download the file here")
    parser.add_argument("--tenant", default="demo")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--api-url", default=None)
    parser.add_argument("--token", default=None, help="finance JWT (default: minted by the local issuer)")


def _call(url: str, token: str, method: str = "GET", body: Any = None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    if method == "POST":
        headers["Idempotency-Key"] = str(uuid.uuid4())
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        result: dict[str, Any] = json.loads(response.read() or b"{}")
        return result


def _local(tenant: str) -> tuple[str, str]:
    from voltway.identity.local_issuer import LocalIssuer
    from voltway.statedir import issuer_key_path, read_local_info

    info = read_local_info()
    token = LocalIssuer.load_or_create(issuer_key_path()).mint(
        issuer=info.jwt_issuer,
        audience=info.jwt_audience,
        subject="voltway-cli-finance",
        tenant=tenant,
        roles=["finance"],
        ttl_seconds=3600,
    )
    return info.http_api_url, token


def run(args: argparse.Namespace) -> int:
    api_url, token = args.api_url, args.token
    if api_url is None or token is None:
        try:
            local_url, local_token = _local(args.tenant)
        except FileNotFoundError as e:
            print(f"voltway export: {e}", file=sys.stderr)
            return 2
        api_url, token = api_url or local_url, token or local_token
    base = f"{api_url.rstrip('/')}/v1/exports"
    filters = {
        "stations": args.station,
        "sites": args.site,
        "accounts": args.account,
        "partners": args.partner,
    }
    body = {"kind": args.kind, "from": args.from_at, "to": args.to_at, "filters": filters}
    try:
        export_id = _call(base, token, "POST", body)["export_id"]
        print(f"export {export_id} requested", file=sys.stderr)
        if not args.wait:
            print(export_id)
            return 0
        return _follow(f"{base}/{export_id}", token, args)
    except urllib.error.HTTPError as e:
        print(f"voltway export: HTTP {e.code}: {e.read().decode(errors='replace')}", file=sys.stderr)
        return 1


def _follow(url: str, token: str, args: argparse.Namespace) -> int:
    started = time.monotonic()
    bar: ProgressBar | None = None
    while True:
        status = _call(url, token)
        if status.get("rows_total") is not None:
            bar = bar or ProgressBar(status["rows_total"], "exporting")
            shards = f"shards {status['shards_done']}/{status['shards_total']} {status['status']}"
            bar.update(status["rows_written"], shards)
        if status["status"] in ("done", "failed"):
            break
        if time.monotonic() - started > args.timeout:
            print(f"\nvoltway export: still {status['status']} after {args.timeout} s", file=sys.stderr)
            return 1
        time.sleep(0.5)
    if bar is not None:
        bar.close()
    if status["status"] == "failed":
        print(f"voltway export: failed: {status.get('error')}", file=sys.stderr)
        return 1
    elapsed = time.monotonic() - started
    print(
        f"{status['rows_written']:,} rows, {status.get('file_size', 0):,} bytes in {elapsed:.1f} s",
        file=sys.stderr,
    )
    if args.output:
        urllib.request.urlretrieve(status["download_url"], args.output)
        print(f"saved to {args.output}", file=sys.stderr)
    print(status["download_url"])
    return 0
