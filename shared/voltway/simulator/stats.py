"""What a simulation run measured: frames, responses by action and outcome, latencies, sessions.

One ``RunStats`` is shared by every simulated charger of a run (they all live on one event loop, so no
locking). Latency is measured on the wire: from the moment a CALL frame is handed to the WebSocket to the
moment its CALLRESULT/CALLERROR frame arrives, so time spent waiting for the one-CALL-at-a-time lock or
validating payloads is not counted.
"""

from __future__ import annotations

import math
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

CALLRESULT = "CALLRESULT"
CALLERROR = "CALLERROR"


class ChargerOutcome(StrEnum):
    """How a simulated charger's run ended."""

    COMPLETED = "completed"
    REFUSED = "refused"  # the handshake was refused (HTTP status, missing subprotocol)
    UNREACHABLE = "unreachable"  # no TCP/WebSocket connection at all
    NOT_ACCEPTED = "not_accepted"  # BootNotification never Accepted
    DISCONNECTED = "disconnected"  # the central system closed the connection mid-run
    TIMED_OUT = "timed_out"  # the run's timeout hit before the charger finished


FAILED_OUTCOMES = frozenset(
    {
        ChargerOutcome.REFUSED,
        ChargerOutcome.UNREACHABLE,
        ChargerOutcome.NOT_ACCEPTED,
        ChargerOutcome.DISCONNECTED,
        ChargerOutcome.TIMED_OUT,
    }
)


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values (``fraction`` in 0..1); 0.0 when empty."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def latency_summary(samples_s: list[float]) -> dict[str, float | int]:
    """Count and p50/p95/p99/max of latency samples, reported in milliseconds."""
    ordered = sorted(samples_s)
    return {
        "count": len(ordered),
        "p50_ms": round(percentile(ordered, 0.50) * 1000, 3),
        "p95_ms": round(percentile(ordered, 0.95) * 1000, 3),
        "p99_ms": round(percentile(ordered, 0.99) * 1000, 3),
        "max_ms": round((ordered[-1] if ordered else 0.0) * 1000, 3),
    }


@dataclass
class PendingCall:
    charger_id: str
    action: str
    sent_at: float


@dataclass
class RunStats:
    """Counters of one run. Times come from ``time.perf_counter`` (seconds)."""

    chargers_planned: int = 0
    sessions_planned: int = 0
    frames_sent: int = 0
    frames_received: int = 0
    calls_sent: Counter[str] = field(default_factory=Counter)
    # action -> "CALLRESULT" -> n, and action -> "CALLERROR:<code>" -> n
    responses: defaultdict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    latencies: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    pending: dict[tuple[str, str], PendingCall] = field(default_factory=dict)
    timed_out_calls: Counter[str] = field(default_factory=Counter)
    invalid_responses: Counter[str] = field(default_factory=Counter)
    incoming_calls: Counter[str] = field(default_factory=Counter)
    incoming_ignored: int = 0
    connected: set[str] = field(default_factory=set)
    outcomes: dict[str, ChargerOutcome] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)
    sessions_completed: int = 0
    sessions_skipped: Counter[str] = field(default_factory=Counter)
    remote_sessions_completed: int = 0
    planned_sessions_ended: Counter[str] = field(default_factory=Counter)  # per charger, for progress
    energy_wh: int = 0
    started_at: float = field(default_factory=time.perf_counter)
    finished_at: float | None = None

    # -- recording (called by the simulated chargers) -------------------------------------------------

    def call_sent(self, charger_id: str, unique_id: str, action: str) -> None:
        self.frames_sent += 1
        self.calls_sent[action] += 1
        self.pending[(charger_id, unique_id)] = PendingCall(charger_id, action, time.perf_counter())

    def response_received(self, charger_id: str, unique_id: str, error_code: str | None) -> str | None:
        """Record a CALLRESULT (``error_code`` None) or CALLERROR; return the CALL's action if known."""
        self.frames_received += 1
        call = self.pending.pop((charger_id, unique_id), None)
        if call is None:
            self.responses["<unknown call>"][CALLERROR if error_code else CALLRESULT] += 1
            return None
        self.latencies[call.action].append(time.perf_counter() - call.sent_at)
        outcome = f"{CALLERROR}:{error_code}" if error_code else CALLRESULT
        self.responses[call.action][outcome] += 1
        return call.action

    def call_timed_out(self, action: str) -> None:
        self.timed_out_calls[action] += 1

    def response_invalid(self, action: str) -> None:
        self.invalid_responses[action] += 1

    def incoming_call(self, action: str) -> None:
        self.frames_received += 1
        self.incoming_calls[action] += 1

    def frame_sent(self) -> None:
        self.frames_sent += 1

    def frame_received(self) -> None:
        self.frames_received += 1

    def charger_connected(self, charger_id: str) -> None:
        self.connected.add(charger_id)

    def charger_finished(self, charger_id: str, outcome: ChargerOutcome, problem: str | None = None) -> None:
        # The first failure is the one worth reporting; a later "completed" must not hide it.
        if self.outcomes.get(charger_id) in FAILED_OUTCOMES:
            return
        self.outcomes[charger_id] = outcome
        if problem:
            self.problems[charger_id] = problem

    def session_completed(self, charger_id: str, energy_wh: int, remote: bool) -> None:
        self.sessions_completed += 1
        self.energy_wh += energy_wh
        if remote:
            self.remote_sessions_completed += 1
        else:
            self.planned_sessions_ended[charger_id] += 1

    def session_skipped(self, charger_id: str, reason: str, remote: bool) -> None:
        self.sessions_skipped[reason] += 1
        if not remote:
            self.planned_sessions_ended[charger_id] += 1

    def finish(self) -> None:
        self.finished_at = time.perf_counter()

    # -- reading ------------------------------------------------------------------------------------

    @property
    def wall_time_s(self) -> float:
        end = self.finished_at if self.finished_at is not None else time.perf_counter()
        return end - self.started_at

    def progress(self) -> float:
        """Share of the planned work done, 0..1: a finished charger counts as all its sessions done."""
        if self.chargers_planned == 0:
            return 1.0
        per_charger = 1 + (self.sessions_planned / self.chargers_planned)
        done = sum(
            per_charger if charger_id in self.outcomes else self.planned_sessions_ended[charger_id]
            for charger_id in self.outcomes.keys() | self.planned_sessions_ended.keys()
        )
        return min(1.0, done / (per_charger * self.chargers_planned))

    @property
    def unanswered(self) -> int:
        """CALLs that never got a response: timed out, or still pending when the run ended."""
        return len(self.pending)

    @property
    def failed_chargers(self) -> int:
        return sum(1 for outcome in self.outcomes.values() if outcome in FAILED_OUTCOMES)

    @property
    def refused(self) -> int:
        return sum(1 for outcome in self.outcomes.values() if outcome == ChargerOutcome.REFUSED)

    @property
    def call_errors(self) -> int:
        return sum(n for c in self.responses.values() for k, n in c.items() if k.startswith(CALLERROR))

    def ok(self) -> bool:
        """True when every charger connected and finished, and every CALL was answered."""
        return self.failed_chargers == 0 and self.unanswered == 0

    def summary(self) -> dict[str, Any]:
        """The run's summary as plain JSON-able data (the ``--json`` output)."""
        wall = self.wall_time_s
        frames = self.frames_sent + self.frames_received
        by_outcome = Counter(str(o) for o in self.outcomes.values())
        all_latencies = [s for samples in self.latencies.values() for s in samples]
        responses: dict[str, dict[str, Any]] = {}
        for action in sorted(self.responses):
            counts = self.responses[action]
            errors = {k.split(":", 1)[1]: n for k, n in sorted(counts.items()) if k.startswith(CALLERROR)}
            responses[action] = {"CALLRESULT": counts.get(CALLRESULT, 0), "CALLERROR": errors}
        return {
            "ok": self.ok(),
            "chargers": {
                "planned": self.chargers_planned,
                "connected": len(self.connected),
                "refused": self.refused,
                "failed": self.failed_chargers,
                "by_outcome": dict(sorted(by_outcome.items())),
                "problems": dict(sorted(self.problems.items())),
            },
            "frames": {
                "sent": self.frames_sent,
                "received": self.frames_received,
                "per_second": round(frames / wall, 1) if wall > 0 else 0.0,
            },
            "calls": {
                "sent": sum(self.calls_sent.values()),
                "by_action": dict(sorted(self.calls_sent.items())),
                "call_errors": self.call_errors,
                "unanswered": self.unanswered,
                "timed_out_by_action": dict(sorted(self.timed_out_calls.items())),
                "invalid_responses_by_action": dict(sorted(self.invalid_responses.items())),
            },
            "responses": responses,
            "latency": {
                "overall": latency_summary(all_latencies),
                "by_action": {a: latency_summary(s) for a, s in sorted(self.latencies.items())},
            },
            "central_system_calls": {
                "by_action": dict(sorted(self.incoming_calls.items())),
                "ignored": self.incoming_ignored,
            },
            "sessions": {
                "planned": self.sessions_planned,
                "completed": self.sessions_completed,
                "remote_completed": self.remote_sessions_completed,
                "skipped": dict(sorted(self.sessions_skipped.items())),
                "energy_wh": self.energy_wh,
            },
            "wall_time_s": round(wall, 3),
        }
