"""``voltway seed --cdrs N``: fill the running local stack with realistic, consistent charging data.

The archive (S3) gets the bulk: one finished session and one priced CDR per generated session (and, with
``--meter-values K``, K register readings each), in day partitions. Tables get only what listings need:
the fleet's chargers are registered through the operator API. A million sessions take well under a minute
of generation; the progress bar shows sessions generated.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import time
from datetime import date

from voltway.archive.records import ArchiveKind


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cdrs", type=int, required=True, help="number of sessions (one CDR each)")
    parser.add_argument("--tenant", default="demo")
    parser.add_argument("--from", dest="first_day", type=date.fromisoformat, default=date(2025, 1, 1))
    parser.add_argument("--days", type=int, default=90, help="days the sessions are spread over")
    parser.add_argument("--stations", type=int, default=50, help="chargers in the fleet (registered)")
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--meter-values", type=int, default=0, help="meter values per session")
    parser.add_argument("--seed", type=int, default=7, help="random seed (same seed, same data)")
    parser.add_argument("--no-chargers", action="store_true", help="archive only; register no chargers")
    parser.add_argument("--archive-bucket", default="voltway-local-archivebucket")


class ProgressBar:
    """A one-line progress bar on stderr."""

    def __init__(self, total: int, label: str) -> None:
        self.total = max(total, 1)
        self.label = label
        self.started = time.monotonic()

    def update(self, done: int, extra: str = "") -> None:
        fraction = min(done / self.total, 1.0)
        filled = int(fraction * 30)
        elapsed = time.monotonic() - self.started
        bar = "#" * filled + "-" * (30 - filled)
        sys.stderr.write(
            f"\r{self.label} [{bar}] {fraction:6.1%} {done:,}/{self.total:,} {elapsed:5.1f} s {extra}"
        )
        sys.stderr.flush()

    def close(self) -> None:
        sys.stderr.write("\n")


def run(args: argparse.Namespace) -> int:
    import boto3

    from voltway.archive.archive import ArchiveWriter
    from voltway.archive.s3 import S3Blobs
    from voltway.archive.synthetic import Fleet, archive_rows, sessions
    from voltway.statedir import read_local_info

    try:
        info = read_local_info()
    except FileNotFoundError as e:
        print(f"voltway seed: {e}", file=sys.stderr)
        return 2
    s3 = boto3.client(
        "s3",
        endpoint_url=info.aws_endpoint_url,
        region_name=info.region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    fleet = Fleet.build(args.tenant, stations=args.stations, accounts=args.accounts, seed=args.seed)
    if not args.no_chargers:
        _register_chargers(info.http_api_url, info.jwt_issuer, info.jwt_audience, fleet)
    kinds = (ArchiveKind.SESSIONS, ArchiveKind.CDRS) + (
        (ArchiveKind.METER_VALUES,) if args.meter_values else ()
    )
    bar = ProgressBar(args.cdrs, "seeding archive")
    rows = sessions(
        fleet, args.cdrs, args.first_day, args.days, meter_values=args.meter_values, seed=args.seed
    )
    writer = ArchiveWriter(S3Blobs(s3, args.archive_bucket), level=1)
    started = time.monotonic()
    written = archive_rows(writer, rows, args.tenant, kinds=kinds, progress=bar.update)
    bar.close()
    elapsed = time.monotonic() - started
    last = date.fromordinal(args.first_day.toordinal() + args.days)
    print(
        f"{written:,} sessions + CDRs for tenant {args.tenant!r}, {args.first_day} to {last} "
        f"({written / max(elapsed, 1e-9):,.0f}/s). Export them with:\n"
        f"  voltway export --kind cdrs --from {args.first_day} --to {last} --tenant {args.tenant} --wait"
    )
    return 0


def _register_chargers(api_url: str, issuer: str, audience: str, fleet: object) -> None:
    from voltway.archive.synthetic import Fleet
    from voltway.identity.local_issuer import LocalIssuer
    from voltway.operator_api import OperatorApi
    from voltway.statedir import issuer_key_path

    assert isinstance(fleet, Fleet)
    token = LocalIssuer.load_or_create(issuer_key_path()).mint(
        issuer=issuer,
        audience=audience,
        subject="voltway-seed",
        tenant=fleet.tenant_id,
        roles=["operator"],
        ttl_seconds=600,
    )
    api = OperatorApi(api_url, token)
    bar = ProgressBar(len(fleet.stations), "registering chargers")
    for n, (charge_point_id, _) in enumerate(fleet.stations, start=1):
        api.put_charger(charge_point_id, {"password": secrets.token_urlsafe(18), "enabled": True})
        bar.update(n)
    bar.close()
