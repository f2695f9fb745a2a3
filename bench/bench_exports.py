"""Benchmark: an export end to end through the local runtime (real template.yaml, embedded emulator).

    python bench/bench_exports.py [--rows 100000] [--million] [--shard-rows 69905] [--max-concurrency 4]

Seeds the archive (timed separately), requests a CDR export through the HTTP API as a finance user,
follows it to done, downloads the file and checks its row count. Reports the end-to-end time and rows/s,
and where the time goes, from the pipeline's own log lines: planning (listing + counting the archive),
per shard archive reads (S3 GET, gunzip, JSON, filter) vs writing (row encoding + DEFLATE) vs piece
upload, and the merge (multipart assembly); and the wall-clock phases from the log lines' timestamps
(request → planned, planned → first shard started, shards running, last shard → done). Shards run
concurrently (the runtime's SQS poller delivers up to the function's concurrency, `--max-concurrency`),
so the per-shard sums are CPU-ish work summed over workers, not wall time.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import shutil
import sys
import tempfile
import threading
import time
import tomllib
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "shared"))

import boto3  # noqa: E402
import requests  # noqa: E402

from voltway.archive.archive import ArchiveWriter  # noqa: E402
from voltway.archive.s3 import S3Blobs  # noqa: E402
from voltway.archive.synthetic import Fleet, archive_rows, sessions  # noqa: E402
from voltway.local.runtime import LocalRuntime, RuntimeSettings  # noqa: E402

TENANT = "bench"
EXPORT_FUNCTIONS = ("ApiFunction", "ExportPlannerFunction", "ExportWorkerFunction")


class PipelineLog(logging.Handler):
    """Collects the JSON log lines the export functions print (forwarded by the runtime)."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        start = text.find("{")
        if start < 0 or "Export" not in text[:start]:
            return
        try:
            data = json.loads(text[start:])
        except ValueError:
            return
        with self._lock:
            self.events.append(data)

    def of(self, message: str) -> list[dict[str, Any]]:
        with self._lock:
            return [e for e in self.events if e.get("message") == message]


def stage(tmp: Path, shard_rows: int) -> Path:
    (tmp / "stacks").mkdir(parents=True)
    shutil.copy(ROOT / "template.yaml", tmp / "template.yaml")
    (tmp / "functions").symlink_to(ROOT / "functions")
    config = tomllib.loads((ROOT / "stacks" / "samconfig.toml").read_text())
    raw = config["local"]["deploy"]["parameters"]["parameter_overrides"]
    params = dict(p.split("=", 1) for p in raw.split())
    params["ExportShardRows"] = str(shard_rows)
    overrides = " ".join(f"{k}={v}" for k, v in params.items())
    (tmp / "stacks" / "samconfig.toml").write_text(
        f'version = 0.1\n[local.deploy.parameters]\nparameter_overrides = "{overrides}"\n'
    )
    return tmp / "template.yaml"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--million", action="store_true", help="1,000,000 rows")
    parser.add_argument("--shard-rows", type=int, default=69_905)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--max-concurrency", type=int, default=4, help="environments per function")
    parser.add_argument(
        "--cold", action="store_true", help="no prewarm (voltway local prewarms one environment per function)"
    )
    args = parser.parse_args()
    rows = 1_000_000 if args.million else args.rows

    log = PipelineLog()
    logging.getLogger("voltway.local.functions").addHandler(log)
    logging.getLogger("voltway.local.functions").setLevel(logging.INFO)
    with tempfile.TemporaryDirectory() as tmp:
        template = stage(Path(tmp) / "stage", args.shard_rows)
        (Path(tmp) / "state").mkdir()
        settings = RuntimeSettings.for_tests(
            template, Path(tmp) / "state", max_concurrency=args.max_concurrency
        )
        started = time.perf_counter()
        with LocalRuntime(settings) as runtime:
            print(f"runtime up in {time.perf_counter() - started:.1f} s")
            assert runtime.provisioned is not None
            s3 = boto3.client(
                "s3",
                endpoint_url=runtime.aws_endpoint_url,
                region_name="eu-west-1",
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
            assert runtime.lambdas is not None
            # As `voltway local` does (one environment per function at startup), unless --cold.
            prewarm = None if args.cold else runtime.lambdas.prewarm(list(EXPORT_FUNCTIONS))
            fleet = Fleet.build(TENANT, stations=200, accounts=5000)
            began = time.perf_counter()
            writer = ArchiveWriter(S3Blobs(s3, runtime.provisioned.buckets["ArchiveBucket"]), level=1)
            from datetime import date, timedelta

            first = date(2025, 1, 1)
            archive_rows(writer, sessions(fleet, rows, first, args.days), TENANT)
            seed_s = time.perf_counter() - began
            print(
                f"seeded {rows:,} sessions + CDRs into the archive in {seed_s:.1f} s ({rows / seed_s:,.0f}/s)"
            )

            if prewarm is not None:
                prewarm.join()
            token = runtime.issuer.mint(
                issuer=runtime.jwt_issuer,
                audience=runtime.jwt_audience,
                subject="bench-finance",
                tenant=TENANT,
                roles=["finance"],
                ttl_seconds=3600,
            )
            headers = {"Authorization": f"Bearer {token}"}
            body = {"kind": "cdrs", "from": str(first), "to": str(first + timedelta(days=args.days))}
            began = time.perf_counter()
            requested_at = time.time()
            response = requests.post(f"{runtime.http_url}/v1/exports", json=body, headers=headers, timeout=60)
            response.raise_for_status()
            export_id = response.json()["export_id"]
            while True:
                status = requests.get(
                    f"{runtime.http_url}/v1/exports/{export_id}", headers=headers, timeout=60
                )
                state = status.json()
                if state["status"] in ("done", "failed"):
                    break
                time.sleep(0.2)
            total_s = time.perf_counter() - began
            if state["status"] != "done":
                print(f"export failed: {state.get('error')}")
                return 1
            content = requests.get(state["download_url"], timeout=300).content
            with zipfile.ZipFile(io.BytesIO(content)) as book:
                sheets = [n for n in book.namelist() if n.startswith("xl/worksheets/sheet")]
                data_rows = sum(book.read(n).count(b"<row ") - 1 for n in sheets[1:])
            assert data_rows == rows, (data_rows, rows)

    planned = log.of("export planned")
    shards = log.of("shard written")
    merged = log.of("export done")
    count_s = sum(e.get("count_seconds", 0) for e in planned)
    read_s = sum(e["read_seconds"] for e in shards)
    write_s = sum(e["write_seconds"] for e in shards)
    upload_s = sum(e["upload_seconds"] for e in shards)
    merge_s = sum(e.get("merge_seconds", 0) for e in merged)
    rate = rows / total_s
    print(f"\nexport of {rows:,} CDR rows x 18 columns: {total_s:.1f} s end to end = {rate:,.0f} rows/s")
    size_mb = len(content) / 1e6
    print("cold start" if args.cold else f"prewarmed: {', '.join(EXPORT_FUNCTIONS)} (one environment each)")
    print(f"file {size_mb:.1f} MB, {len(sheets) - 1} data sheet(s), {len(shards)} shard(s)")
    print(f"work summed over functions (seconds; up to {args.max_concurrency} shards at once):")
    print(f"  plan: snapshot + count the archive  {count_s:7.2f}")
    print(f"  shards: archive reads              {read_s:7.2f}")
    print(f"  shards: writing (encode + deflate)  {write_s:7.2f}")
    print(f"  shards: piece uploads               {upload_s:7.2f}")
    print(f"  merge (S3 multipart assembly)       {merge_s:7.2f}  ({100 * merge_s / total_s:.1f} % of total)")
    if planned and shards and merged:
        planned_at = _at(planned[0])
        ends = [_at(e) for e in shards]
        starts = [
            end - e["read_seconds"] - e["write_seconds"] - e["upload_seconds"]
            for end, e in zip(ends, shards, strict=True)
        ]
        done_at = _at(merged[-1])
        print("wall clock (seconds, from the log lines' timestamps):")
        print(
            f"  request -> planned (API, queue, planner cold start, count) {planned_at - requested_at:6.2f}"
        )
        print(f"  planned -> first shard starts (queue, worker cold start)   {min(starts) - planned_at:6.2f}")
        print(f"  shards running (first start -> last end)                   {max(ends) - min(starts):6.2f}")
        print(f"  last shard -> done (merge claim + merge)                   {done_at - max(ends):6.2f}")
    return 0


def _at(event: dict[str, Any]) -> float:
    """A log line's timestamp ("2025-01-01 12:00:00,123+0000") as epoch seconds."""
    from datetime import datetime

    return datetime.strptime(str(event["timestamp"]), "%Y-%m-%d %H:%M:%S,%f%z").timestamp()


if __name__ == "__main__":
    raise SystemExit(main())
