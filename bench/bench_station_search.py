"""Benchmark: drivers' station search at 1k / 10k / 50k stations, and the API function's import time.

    python bench/bench_station_search.py [--sizes 1000,10000,50000] [--emulator-sizes 1000,10000]
                                         [--queries 300] [--seed 7]

Stations are spread over Germany (~357,000 km², like a national network), each with one charger of two
connectors (CCS 150 kW + Type 2 22 kW, random live statuses). Queries: random points in the same area,
radius 10 km, limit 20, and variants (available=true + CCS, 50 km, text). Reported per size:

* index build (cold: what one Lambda process pays once per tenant and per site change),
* warm search p50/p99 against in-memory adapters (the search algorithm itself),
* against the embedded emulator (moto server, separate thread, real HTTP): index load (Query of all
  sites) and warm search p50/p99 (1 GetItem for the index version + BatchGetItem for live status).

Import time: ``import app`` of functions/api in a fresh interpreter (best of 3), as Lambda's init does.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "shared"))

from voltway.chargers.memory import InMemoryChargerRepository  # noqa: E402
from voltway.chargers.model import ConnectorState  # noqa: E402
from voltway.sites import snapshot  # noqa: E402
from voltway.sites.dynamo import details_values, placement_value  # noqa: E402
from voltway.sites.model import (  # noqa: E402
    ConnectorSpec,
    ConnectorType,
    Coordinates,
    Placement,
    Site,
    SiteDetails,
)
from voltway.stations.memory import RepositoryLiveStatus  # noqa: E402
from voltway.stations.model import StationQuery  # noqa: E402
from voltway.stations.service import StationSearch  # noqa: E402

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
LAT, LON = (47.3, 55.0), (6.0, 15.0)  # Germany's bounding box
STATUSES = ["Available", "Available", "Charging", "Preparing", "Faulted", "Unavailable"]
CCS, T2 = ConnectorType.IEC_62196_T2_COMBO, ConnectorType.IEC_62196_T2


def make_sites(n: int, rng: random.Random) -> list[Site]:
    sites = []
    for i in range(n):
        cp = f"CP{i:06d}"
        details = SiteDetails(
            name=f"Station {i} {rng.choice(['Markt', 'Bahnhof', 'Parkhaus', 'Autohof'])}",
            address=f"Hauptstraße {i % 200 + 1}",
            city=rng.choice(["Berlin", "Hamburg", "München", "Köln", "Leipzig", "Dorf"]),
            country="DEU",
            coordinates=Coordinates(rng.uniform(*LAT), rng.uniform(*LON)),
            time_zone="Europe/Berlin",
            grid_limit_kw=200.0,
        )
        placement = Placement(cp, (ConnectorSpec(1, CCS, 150.0), ConnectorSpec(2, T2, 22.0)))
        sites.append(Site("bench", f"S{i:06d}", details, {cp: placement}, NOW, NOW, 1))
    return sites


def queries(count: int, rng: random.Random) -> list[StationQuery]:
    result = []
    for i in range(count):
        near = Coordinates(rng.uniform(*LAT), rng.uniform(*LON))
        kind = i % 4
        if kind == 0:
            result.append(StationQuery("bench", near=near, radius_km=10, limit=20))
        elif kind == 1:
            result.append(StationQuery("bench", near=near, radius_km=50, limit=20))
        elif kind == 2:
            result.append(
                StationQuery(
                    "bench", near=near, radius_km=25, connector_type=CCS, available_only=True, limit=20
                )
            )
        else:
            result.append(StationQuery("bench", text="bahnhof köln", limit=20))
    return result


def pct(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


class FixedSites:
    """A site source that holds prebuilt sites (no repository bookkeeping in the measurement)."""

    def __init__(self, sites: list[Site]) -> None:
        self.sites = sites
        self.by_id = {s.site_id: s for s in sites}

    def get(self, tenant_id: str, site_id: str) -> Site | None:
        return self.by_id.get(site_id)

    def index_version(self, tenant_id: str) -> int:
        return 1

    def all_sites(self, tenant_id: str) -> list[Site]:
        return self.sites


def memory_bench(n: int, qs: list[StationQuery], rng: random.Random) -> dict[str, float]:
    sites = make_sites(n, rng)
    chargers = InMemoryChargerRepository()
    for site in sites:
        (cp,) = site.chargers
        chargers.save_registration(cp, "bench", password_hash="x", security_profile=1, enabled=True, now=NOW)
        chargers.mark_online(cp, "c", NOW)
        for connector in (1, 2):
            state = ConnectorState(rng.choice(STATUSES), "NoError", NOW)
            chargers.record_connector(cp, connector, state, NOW)
    search = StationSearch(FixedSites(sites), RepositoryLiveStatus(chargers))
    build = timed(lambda: search.index("bench"))
    samples = [timed(lambda q=q: search.search(q)) for q in qs]  # type: ignore[misc]
    hits = statistics.mean(len(search.search(q).items) for q in qs[:40])
    return {"build_ms": build, "p50": pct(samples, 50), "p99": pct(samples, 99), "hits": hits}


def emulator_bench(n: int, qs: list[StationQuery], rng: random.Random) -> dict[str, float]:
    import boto3
    from boto3.dynamodb.types import TypeSerializer
    from moto.server import ThreadedMotoServer

    from voltway.sites.dynamo import DynamoSiteRepository
    from voltway.stations.dynamo import DynamoLiveStatus

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        db: Any = boto3.client(
            "dynamodb",
            endpoint_url=f"http://{host}:{port}",
            region_name="eu-west-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        for table, keys in (
            (f"sites-{n}", [("tenant_id", "HASH"), ("site_id", "RANGE")]),
            (f"chargers-{n}", [("charge_point_id", "HASH")]),
        ):
            db.create_table(
                TableName=table,
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k, _ in keys],
                KeySchema=[{"AttributeName": k, "KeyType": t} for k, t in keys],
            )
        ser = TypeSerializer()
        sites = make_sites(n, rng)
        site_items, charger_items = [], []
        blob_bytes: list[int] = []
        for site in sites:
            values = {k: v for k, v in details_values(site.details).items() if v is not None}
            ((cp, placement),) = site.chargers.items()
            values.update(
                tenant_id="bench",
                site_id=site.site_id,
                chargers={cp: placement_value(placement)},
                created_at="2026-03-01T12:00:00.000000Z",
                updated_at="2026-03-01T12:00:00.000000Z",
                version=1,
            )
            site_items.append({k: ser.serialize(v) for k, v in values.items()})
            statuses = {str(c): {"status": rng.choice(STATUSES), "error_code": "NoError"} for c in (1, 2)}
            charger = {"charge_point_id": cp, "tenant_id": "bench", "online": True, "enabled": True}
            charger["connectors"] = statuses
            charger_items.append({k: ser.serialize(v) for k, v in charger.items()})
        site_items.append({"tenant_id": {"S": "bench"}, "site_id": {"S": "#index"}, "version": {"N": "1"}})
        shards: dict[int, dict[str, list[Any]]] = {i: {} for i in range(snapshot.SHARDS)}
        for site in sites:
            shards[snapshot.shard_of(site.site_id)][site.site_id] = snapshot.encode_site(site)
        for shard, entries in shards.items():
            blob = snapshot.pack(entries)
            blob_bytes.append(len(blob))
            site_items.append(
                {
                    "tenant_id": {"S": "bench"},
                    "site_id": {"S": snapshot.shard_key(shard)},
                    "blob": {"B": blob},
                }
            )
        started = time.perf_counter()
        for table, items in ((f"sites-{n}", site_items), (f"chargers-{n}", charger_items)):
            for i in range(0, len(items), 25):
                db.batch_write_item(
                    RequestItems={table: [{"PutRequest": {"Item": it}} for it in items[i : i + 25]]}
                )
        load_s = time.perf_counter() - started
        # moto keeps its state per process: one pair of tables per size.
        search = StationSearch(DynamoSiteRepository(db, f"sites-{n}"), DynamoLiveStatus(db, f"chargers-{n}"))
        build = timed(lambda: search.index("bench"))
        sample_qs = qs[: max(40, len(qs) // 4)]
        samples = [timed(lambda q=q: search.search(q)) for q in sample_qs]  # type: ignore[misc]
        return {
            "load_s": load_s,
            "build_ms": build,
            "p50": pct(samples, 50),
            "p99": pct(samples, 99),
            "snapshot_kb": sum(blob_bytes) / 1024,
            "largest_kb": max(blob_bytes) / 1024,
        }
    finally:
        server.stop()


def import_time_ms() -> float:
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT / 'functions' / 'api'}{os.pathsep}{ROOT / 'shared'}",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }
    code = "import time; t=time.perf_counter(); import app; print((time.perf_counter()-t)*1000)"
    runs = []
    for _ in range(3):
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        runs.append(float(out.stdout.strip().splitlines()[-1]))
    return min(runs)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--emulator-sizes", default="1000,10000")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto server's access log
    rng = random.Random(args.seed)
    qs = queries(args.queries, rng)
    print(f"queries: {len(qs)} (radius 10 km / 50 km / 25 km+CCS+available / text), limit 20")
    print(f"{'stations':>9} {'adapter':>9} {'index build ms':>15} {'p50 ms':>8} {'p99 ms':>8}  notes")
    for n in (int(s) for s in args.sizes.split(",") if s):
        r = memory_bench(n, qs, random.Random(args.seed + n))
        row = f"{n:>9} {'memory':>9} {r['build_ms']:>15.1f} {r['p50']:>8.2f} {r['p99']:>8.2f}"
        print(f"{row}  {r['hits']:.1f} hits/query")
    for n in (int(s) for s in args.emulator_sizes.split(",") if s):
        r = emulator_bench(n, qs, random.Random(args.seed + n))
        row = f"{n:>9} {'emulator':>9} {r['build_ms']:>15.1f} {r['p50']:>8.2f} {r['p99']:>8.2f}"
        shards = (
            f"snapshot {r['snapshot_kb']:.0f} KB in {snapshot.SHARDS} items, largest {r['largest_kb']:.0f} KB"
        )
        print(f"{row}  ({shards}; bulk load of {2 * n} items {r['load_s']:.1f} s)")
    print(f"import time of functions/api/app.py (best of 3, fresh interpreter): {import_time_ms():.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
