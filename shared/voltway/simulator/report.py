"""Showing a run: the progress line while it runs, the summary when it ends.

Progress goes to stderr (one updating line on a terminal, a line every few seconds otherwise) so that
``--json`` output on stdout stays machine-readable.
"""

from __future__ import annotations

import time
from typing import Any, TextIO

from voltway.simulator.stats import RunStats

BAR_WIDTH = 24
MAX_PROBLEMS_SHOWN = 20


class ProgressBar:
    """Call with the run's stats as often as you like; it decides when to draw."""

    def __init__(self, stream: TextIO, *, tty: bool | None = None, line_interval_s: float = 5.0) -> None:
        self._stream = stream
        self._tty = stream.isatty() if tty is None else tty
        self._line_interval_s = line_interval_s
        self._last_line: float | None = None
        self._width = 0

    def __call__(self, stats: RunStats) -> None:
        if self._tty:
            line = progress_line(stats)
            self._stream.write("\r" + line.ljust(self._width))
            self._width = max(self._width, len(line))
            self._stream.flush()
        elif self._last_line is None or time.monotonic() - self._last_line >= self._line_interval_s:
            self._last_line = time.monotonic()
            self._stream.write(progress_line(stats) + "\n")
            self._stream.flush()

    def close(self, stats: RunStats) -> None:
        line = progress_line(stats)
        self._stream.write(("\r" + line.ljust(self._width) if self._tty else line) + "\n")
        self._stream.flush()


def progress_line(stats: RunStats) -> str:
    fraction = stats.progress()
    filled = round(fraction * BAR_WIDTH)
    bar = "#" * filled + "-" * (BAR_WIDTH - filled)
    refused = stats.refused
    return (
        f"[{bar}] {fraction * 100:3.0f}% | chargers {len(stats.connected)}/{stats.chargers_planned} up"
        f"{f', {refused} refused' if refused else ''}"
        f" | sessions {stats.sessions_completed}/{stats.sessions_planned}"
        f" | frames {stats.frames_sent} out {stats.frames_received} in"
        f" | CALLERROR {stats.call_errors} | waiting {stats.unanswered} | {stats.wall_time_s:.1f}s"
    )


def format_summary(summary: dict[str, Any], url: str) -> str:
    """The human-readable summary of ``RunStats.summary()``."""
    chargers, sessions = summary["chargers"], summary["sessions"]
    frames, calls, latency = summary["frames"], summary["calls"], summary["latency"]
    lines = [
        f"Simulated chargers against {url}",
        f"  chargers   {chargers['connected']} connected, {chargers['refused']} refused, "
        f"{chargers['failed']} failed, of {chargers['planned']}",
    ]
    problems = list(chargers["problems"].items())
    lines += [f"    {cid}: {problem}" for cid, problem in problems[:MAX_PROBLEMS_SHOWN]]
    if len(problems) > MAX_PROBLEMS_SHOWN:
        lines.append(f"    … and {len(problems) - MAX_PROBLEMS_SHOWN} more (see --json)")
    skipped = ", ".join(f"{reason}: {n}" for reason, n in sessions["skipped"].items())
    lines += [
        f"  sessions   {sessions['completed']} completed of {sessions['planned']} planned"
        f" ({sessions['remote_completed']} remote-started), {sessions['energy_wh']} Wh",
        *([f"    skipped: {skipped}"] if skipped else []),
        f"  frames     {frames['sent']} sent, {frames['received']} received, "
        f"{frames['per_second']} frames/s over {summary['wall_time_s']} s",
        f"  calls      {calls['sent']} sent, {calls['call_errors']} answered with CALLERROR, "
        f"{calls['unanswered']} unanswered",
    ]
    if calls["invalid_responses_by_action"]:
        lines.append(f"    invalid responses: {_counts(calls['invalid_responses_by_action'])}")
    header = f"  {'action':<32}{'CALLRESULT':>11}  {'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}  CALLERROR"
    lines += ["", header]
    for action, outcome in summary["responses"].items():
        lat = latency["by_action"].get(action, {})
        lines.append(
            f"  {action:<32}{outcome['CALLRESULT']:>11}  {_percentiles(lat)}"
            f"  {_counts(outcome['CALLERROR']) or '-'}"
        )
    lines.append(f"  {'(all)':<32}{'':>11}  {_percentiles(latency['overall'])}")
    incoming = summary["central_system_calls"]
    if incoming["by_action"]:
        lines += ["", f"  central system CALLs answered: {_counts(incoming['by_action'])}"]
    lines += [
        "",
        "  result: OK" if summary["ok"] else "  result: FAILED (a charger failed or a CALL went unanswered)",
    ]
    return "\n".join(lines)


def _percentiles(latency: dict[str, float]) -> str:
    return "".join(f"{latency.get(key, 0.0):>8.1f}" for key in ("p50_ms", "p95_ms", "p99_ms"))


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{key}: {n}" for key, n in counts.items())
