"""The local gateway end to end: ``voltway local`` on the real template + ``voltway simulate``.

Starts ``voltway local`` in a subprocess (free ports, a private state dir, the embedded moto server, the
real OCPP functions, the demo seed: its tenant default tariff prices every simulated session, so the CDR
worker issues a CDR and a receipt per session alongside the OCPP load), warms it with one charger, then
runs ``voltway simulate --register --chargers N --sessions 1 --json`` and prints frames/s, latency
percentiles and lost/unanswered counts. The runtime's log goes to ``<state dir>/runtime.log``.
DynamoDB-heavy frames are paced by moto (~50-160 frames/s, see ../shared/docs/field-notes.md), not by
the gateway.

    .venv/bin/python bench/bench_gateway.py [--chargers 100|1000] [--meter-samples 10]
        [--sample-interval 0.2] [--max-concurrency 4] [--py-spy FILE.svg]
        [--timeout S] [--response-timeout S] [--connect-timeout S]   [--connect-attempts N]
        (1000 chargers: --timeout 3000 --response-timeout 1800 --connect-timeout 60 --connect-attempts 40)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
VOLTWAY = [str(BIN / "voltway")] if (BIN / "voltway").exists() else [sys.executable, "-m", "voltway.cli"]


def start_runtime(state_dir: Path, max_concurrency: int, log: Any) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"}
    command = [
        *VOLTWAY,
        "local",
        "--state-dir",
        str(state_dir),
        "--max-concurrency",
        str(max_concurrency),
        *("--http-port", "0", "--ws-port", "0", "--management-port", "0", "--emulator-port", "0"),
    ]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
    deadline = time.monotonic() + 120
    while not (state_dir / "local.json").exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            log.flush()
            raise RuntimeError(f"voltway local did not start:\n{Path(log.name).read_text()[-3000:]}")
        time.sleep(0.2)
    while "prewarmed" not in Path(log.name).read_text():  # one warm environment per function
        if process.poll() is not None or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    return process


def simulate(state_dir: Path, args: argparse.Namespace, chargers: int, prefix: str) -> dict[str, Any]:
    env = {**os.environ, "VOLTWAY_STATE_DIR": str(state_dir)}
    env.pop("AWS_ENDPOINT_URL", None)
    command = [
        *VOLTWAY,
        "simulate",
        "--register",
        "--chargers",
        str(chargers),
        "--prefix",
        prefix,
        "--sessions",
        "1",
        "--meter-samples",
        str(args.meter_samples),
        "--sample-interval",
        str(args.sample_interval),
        "--timeout",
        str(args.timeout),
        "--response-timeout",
        str(args.response_timeout),
        "--connect-timeout",
        str(args.connect_timeout),
        "--connect-attempts",
        str(args.connect_attempts),
        "--json",
        "--no-progress",
    ]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if not done.stdout.strip():
        raise RuntimeError(f"simulate printed nothing (exit {done.returncode}):\n{done.stderr[-3000:]}")
    summary: dict[str, Any] = json.loads(done.stdout)
    return summary


# The gateway's line per WebSocket invocation: "<date> <time> ws   <charger>  <route>  <action|code>  <ms> ms"
_INVOCATION = re.compile(r"^\S+ \S+ ws\s+(?P<cp>\S+)\s+(?P<route>\$\w+)\s+(?P<what>\S+)\s+(?P<ms>[\d.]+) ms")


def invocations(log_text: str, prefix: str = "SIM") -> dict[str, list[float]]:
    """Function durations per route ($default: per action) of the measured chargers, from the runtime's
    log: what one invocation costs, apart from the time a frame waits for a free environment."""
    found: dict[str, list[float]] = {}
    for line in log_text.splitlines():
        m = _INVOCATION.match(line)
        if m and m["cp"].startswith(prefix):
            key = m["what"] if m["route"] == "$default" else m["route"]
            found.setdefault(key, []).append(float(m["ms"]))
    return found


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report_invocations(found: dict[str, list[float]]) -> None:
    every = [ms for values in found.values() for ms in values]
    if not every:
        return
    p50, p99 = _percentile(every, 0.5), _percentile(every, 0.99)
    print(
        f"  invocations {len(every)}: p50 {p50:.1f} ms  p99 {p99:.1f} ms  max {max(every):.1f} ms"
        " (function durations; the latency above adds the wait for a free environment)"
    )
    print(f"  {'route/action':<24}{'n':>6}{'p50':>10}{'p99':>10}{'max':>10}")
    for key, values in sorted(found.items()):
        print(
            f"  {key:<24}{len(values):>6}{_percentile(values, 0.5):>10.1f}{_percentile(values, 0.99):>10.1f}"
            f"{max(values):>10.1f}"
        )


def report(summary: dict[str, Any], title: str) -> None:
    frames, calls, latency = summary["frames"], summary["calls"], summary["latency"]["overall"]
    chargers = summary["chargers"]
    print(title)
    print(
        f"  chargers   {chargers['connected']} connected, {chargers['failed']} failed"
        f" of {chargers['planned']}  {chargers['problems'] or ''}"
    )
    print(
        f"  frames     {frames['sent']} sent, {frames['received']} received, {frames['per_second']} frames/s"
        f" over {summary['wall_time_s']} s"
    )
    print(
        f"  calls      {calls['sent']} sent, {calls['unanswered']} unanswered,"
        f" {calls['call_errors']} CALLERROR"
    )
    print(
        f"  latency    p50 {latency.get('p50_ms', 0):.1f} ms  p95 {latency.get('p95_ms', 0):.1f} ms"
        f"  p99 {latency.get('p99_ms', 0):.1f} ms  max {latency.get('max_ms', 0):.1f} ms"
    )
    print(f"  {'action':<24}{'n':>6}{'p50':>10}{'p95':>10}{'p99':>10}  CALLERROR")
    for action, figures in summary["latency"]["by_action"].items():
        errors = summary["responses"].get(action, {}).get("CALLERROR") or ""
        print(
            f"  {action:<24}{figures.get('count', 0):>6}{figures.get('p50_ms', 0):>10.1f}"
            f"{figures.get('p95_ms', 0):>10.1f}{figures.get('p99_ms', 0):>10.1f}  {errors}"
        )
    skipped = summary["sessions"]["skipped"]
    completed = summary["sessions"]["completed"]
    print(f"  sessions   {completed} completed" + (f", skipped {skipped}" if skipped else ""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chargers", type=int, default=100)
    parser.add_argument("--meter-samples", type=int, default=10)
    parser.add_argument("--sample-interval", type=float, default=0.2)
    parser.add_argument("--max-concurrency", type=int, default=4, help="environments per function")
    parser.add_argument("--timeout", type=float, default=170, help="simulator --timeout")
    # A boot storm of N chargers queues behind the emulator (~20-60 frames/s): at 1000 chargers the last
    # handshake and BootNotification are answered minutes in, so those runs need patient chargers.
    parser.add_argument("--response-timeout", type=float, default=30, help="simulator --response-timeout")
    parser.add_argument("--connect-timeout", type=float, default=10, help="simulator --connect-timeout")
    # The local gateway answers a handshake within 30 s, and $connect runs in --max-concurrency
    # environments: in a storm of 1000 most handshakes need retrying, as real chargers do.
    parser.add_argument("--connect-attempts", type=int, default=4, help="simulator --connect-attempts")
    parser.add_argument("--log", type=Path, default=None, help="keep the runtime's log in this file")
    parser.add_argument(
        "--py-spy", type=Path, default=None, help="record the runtime with py-spy to this file"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="voltway-bench-") as tmp:
        state_dir = Path(tmp)
        with open(state_dir / "runtime.log", "w") as log:
            runtime = start_runtime(state_dir, args.max_concurrency, log)
            spy: subprocess.Popen[bytes] | None = None
            try:
                warm = simulate(
                    state_dir, argparse.Namespace(**{**vars(args), "meter_samples": 1}), 1, "WARM"
                )
                if warm["chargers"]["connected"] != 1:
                    raise RuntimeError(f"warm-up charger failed: {warm['chargers']}")
                if args.py_spy is not None:
                    spy = subprocess.Popen(
                        [
                            str(BIN / "py-spy"),
                            "record",
                            "-p",
                            str(runtime.pid),
                            "-o",
                            str(args.py_spy),
                            "--nonblocking",
                        ],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                summary = simulate(state_dir, args, args.chargers, "SIM")
            finally:
                if spy is not None:
                    spy.send_signal(signal.SIGINT)
                    spy.wait(timeout=30)
                runtime.send_signal(signal.SIGTERM)
                try:
                    runtime.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    runtime.kill()
                log.flush()
                if args.log is not None:
                    shutil.copyfile(log.name, args.log)
                log_text = Path(log.name).read_text(errors="replace")
    report(
        summary,
        f"local gateway: {args.chargers} chargers x 1 session x {args.meter_samples} MeterValues"
        f" every {args.sample_interval} s, max {args.max_concurrency} environments per function",
    )
    report_invocations(invocations(log_text))
    return 0 if summary["calls"]["unanswered"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
