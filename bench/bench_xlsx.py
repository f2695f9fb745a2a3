"""Benchmark: sliced xlsx writer (pieces in worker processes + byte-copy merge) vs openpyxl write-only.

    python bench/bench_xlsx.py [--rows 1000000] [--baseline-rows 250000] [--pieces 8] [--processes 2]

Both writers get the same rows, produced in the writing process by the same cheap generator (15 realistic
CDR columns), so generation cost is inside both timings. When ``--baseline-rows`` is below ``--rows`` the
baseline's rows/s is measured on fewer rows and its time extrapolated linearly (stated in the output).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "shared"))

from voltway.exports.xlsx import (
    ColumnKind,
    ExportColumn,
    ExportSummary,
    Piece,
    PieceRef,
    assemble_xlsx,
    plan_shards,
    write_piece,
)

COLUMNS = (
    ExportColumn("CDR id", width=16),
    ExportColumn("Session id", width=38),
    ExportColumn("Charge point", width=14),
    ExportColumn("Connector", ColumnKind.INT),
    ExportColumn("EVSE id", width=20),
    ExportColumn("Auth id", width=14),
    ExportColumn("Start (UTC)", ColumnKind.DATETIME),
    ExportColumn("End (UTC)", ColumnKind.DATETIME),
    ExportColumn("Duration (s)", ColumnKind.INT),
    ExportColumn("Energy (kWh)", ColumnKind.ENERGY_KWH),
    ExportColumn("Tariff", width=14),
    ExportColumn("Currency", width=9),
    ExportColumn("Net", ColumnKind.MONEY),
    ExportColumn("VAT", ColumnKind.MONEY),
    ExportColumn("Total", ColumnKind.MONEY),
)
_POOL_SIZE = 4096


def _template_pool() -> list[tuple[Any, ...]]:
    base = datetime(2025, 1, 1)
    pool = []
    for i in range(_POOL_SIZE):
        start = base + timedelta(seconds=i * 7919 % 31_536_000)
        duration = 600 + i * 37 % 14_000
        energy = Decimal(i * 104_729 % 80_000) / 1000
        net = (energy * Decimal("0.39")).quantize(Decimal("0.01"))
        vat = (net * Decimal("0.19")).quantize(Decimal("0.01"))
        pool.append(
            (
                f"{i:08x}-4f1c-4b7e-9a55-{i * 2654435761 % 2**48:012x}",
                f"CP-{i % 500:05d}",
                1 + i % 2,
                f"DE*VLT*E{i % 500:05d}*{1 + i % 2}",
                f"{i * 48271 % 2**32:08X}",
                start,
                start + timedelta(seconds=duration),
                duration,
                energy,
                f"TARIFF-{i % 7}",
                "EUR" if i % 5 else "CHF",
                net,
                vat,
                net + vat,
            )
        )
    return pool


def generate_rows(first: int, count: int) -> Iterator[tuple[Any, ...]]:
    pool = _template_pool()
    for i in range(first, first + count):
        yield (f"CDR-{i:010d}", *pool[i % _POOL_SIZE])


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _worker_piece(args: tuple[int, int, int, str]) -> tuple[dict[str, int], str, float, int, float]:
    index, first, count, directory = args
    path = os.path.join(directory, f"piece-{index:05d}.bin")
    cpu = _cpu_seconds()
    piece = write_piece(generate_rows(first, count), COLUMNS, first, path)
    return piece.to_dict(), path, _peak_rss_mb(), os.getpid(), _cpu_seconds() - cpu


def _warm(_: int) -> int:
    return os.getpid()


def run_sliced(rows: int, pieces: int, processes: int, directory: str) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")  # clean workers: their RSS is theirs, not the parent's
    shards = plan_shards(rows, max(1, -(-rows // pieces)))
    with ctx.Pool(processes) as pool:
        pool.map(_warm, range(processes))  # process start-up is not writer time (Lambdas are warm too)
        started = time.perf_counter()
        tasks = [(s.index, s.first_row, s.rows, directory) for s in shards]
        results = pool.map(_worker_piece, tasks, chunksize=1)
        written = time.perf_counter()
    refs = [PieceRef.from_path(Piece.from_dict(meta), path) for meta, path, _, _, _ in results]
    summary = ExportSummary(
        row_count=rows,
        energy_kwh_total=Decimal(0),
        money_totals={"EUR": Decimal(0)},
        generated_at=datetime(2025, 6, 1),
        filters={"bench": "synthetic"},
    )
    out = os.path.join(directory, "sliced.xlsx")
    merge_start, merge_cpu = time.perf_counter(), time.process_time()
    assemble_xlsx(COLUMNS, refs, summary, out)
    finished, merge_cpu = time.perf_counter(), time.process_time() - merge_cpu
    rss_by_pid: dict[int, float] = {}
    cpu_by_pid: dict[int, float] = {}
    for _, _, rss, pid, cpu in results:
        rss_by_pid[pid] = max(rss, rss_by_pid.get(pid, 0.0))
        cpu_by_pid[pid] = cpu_by_pid.get(pid, 0.0) + cpu
    return {
        "total_s": finished - started,
        "write_s": written - started,
        "merge_s": finished - merge_start,
        "rss_mb": sorted(rss_by_pid.values()),
        "worker_cpu_s": sum(cpu_by_pid.values()),
        "merge_cpu_s": merge_cpu,
        "path": out,
        "size": os.path.getsize(out),
        "pieces": len(shards),
        "piece_sizes": [r.piece.compressed_len for r in refs],
    }


def _baseline(args: tuple[int, str]) -> tuple[float, float, float]:
    from openpyxl import Workbook

    rows, path = args
    cpu = _cpu_seconds()
    started = time.perf_counter()
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Data")
    sheet.append([c.name for c in COLUMNS])
    for row in generate_rows(0, rows):
        sheet.append(row)
    workbook.save(path)
    return time.perf_counter() - started, _peak_rss_mb(), _cpu_seconds() - cpu


def run_baseline(rows: int, directory: str) -> tuple[float, float, float]:
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(_baseline, ((rows, os.path.join(directory, "baseline.xlsx")),))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--baseline-rows", type=int, default=250_000, help="0: skip the baseline")
    parser.add_argument("--pieces", type=int, default=8)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--verify", action="store_true", help="check every member's CRC of the result")
    parser.add_argument("--keep", help="copy the sliced result to this path")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-xlsx-") as directory:
        print(f"rows={args.rows:,} columns={len(COLUMNS)} pieces={args.pieces} processes={args.processes}")
        sliced = run_sliced(args.rows, args.pieces, args.processes, directory)
        rate = args.rows / sliced["total_s"]
        merge_pct = 100 * sliced["merge_s"] / sliced["total_s"]
        print(
            f"sliced writer : {sliced['total_s']:7.2f} s total, {rate:10,.0f} rows/s "
            f"(pieces {sliced['write_s']:.2f} s + merge {sliced['merge_s']:.3f} s"
            f" = {merge_pct:.1f} % of total)"
        )
        print(
            f"  file {sliced['size'] / 1e6:.1f} MB, pieces {min(sliced['piece_sizes']) / 2**20:.1f}.."
            f"{max(sliced['piece_sizes']) / 2**20:.1f} MiB, "
            f"peak RSS per worker: {', '.join(f'{r:.0f} MB' for r in sliced['rss_mb'])}"
        )
        if args.verify:
            with zipfile.ZipFile(sliced["path"]) as archive:
                bad = archive.testzip()
            print(f"  verify: {'all CRCs good' if bad is None else f'bad member {bad}'}")
        if args.keep:
            os.replace(sliced["path"], args.keep)

        if args.baseline_rows > 0:
            base_rows = min(args.baseline_rows, args.rows)
            seconds, rss, base_cpu = run_baseline(base_rows, directory)
            base_rate = base_rows / seconds
            note = "" if base_rows == args.rows else f" (measured on {base_rows:,} rows, extrapolated)"
            base_total = args.rows / base_rate
            print(
                f"openpyxl w/o  : {base_total:7.2f} s total, {base_rate:10,.0f} rows/s{note}, "
                f"peak RSS {rss:.0f} MB"
            )
            print(f"speed-up      : {base_total / sliced['total_s']:.1f}x wall clock (target >= 15x)")
            # CPU seconds do not depend on what else runs on the machine: the same comparison, as if each
            # of the workers had its core to itself.
            base_cpu_total = base_cpu * args.rows / base_rows
            sliced_cpu = sliced["worker_cpu_s"] / args.processes + sliced["merge_cpu_s"]
            print(
                f"CPU view      : openpyxl {base_cpu_total:.1f} CPU-s; "
                f"sliced {sliced['worker_cpu_s']:.1f} CPU-s "
                f"over {args.processes} workers + merge {sliced['merge_cpu_s']:.2f} CPU-s "
                f"= {sliced_cpu:.1f} s on idle cores -> {base_cpu_total / sliced_cpu:.1f}x"
            )
        print(
            f"targets       : merge {merge_pct:.1f} % (<= 2 %), "
            f"worker RSS {max(sliced['rss_mb']):.0f} MB (<= 128 MB)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
