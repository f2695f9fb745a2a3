"""Run N simulated chargers against one OCPP-J endpoint and collect what happened.

Each charger opens its own WebSocket (subprotocol ``ocpp1.6``, HTTP Basic auth with its id as user name),
runs its flow (see ``SimulatedCharger.simulate``) and closes. A refused handshake is recorded with its HTTP
status, never raised.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidMessage, InvalidStatus
from websockets.typing import Subprotocol

from voltway.simulator.charger import ChargerSettings, SimulatedCharger
from voltway.simulator.stats import ChargerOutcome, RunStats

SUBPROTOCOL = Subprotocol("ocpp1.6")
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
#: Longest pause between two handshake attempts (the pause doubles from 1 s up to this).
MAX_CONNECT_BACKOFF_S = 30.0


@dataclass(frozen=True)
class SimulationConfig:
    """One run: where to connect, which chargers, how long. Times in seconds."""

    url: str
    chargers: int = 1
    prefix: str = "SIM"
    passwords: Mapping[str, str] = field(default_factory=dict)
    default_password: str | None = None
    concurrency: int = 0  # chargers running at once; 0 = all
    duration_s: float = 0.0  # keep chargers connected at least this long after the start
    timeout_s: float = 300.0  # hard limit for the whole run
    connect_timeout_s: float = 10.0
    # Like real chargers, retry a connection that timed out or was dropped before the upgrade, with a
    # doubling back-off (a busy gateway is not a refusal). Refusals (HTTP 4xx) are never retried.
    connect_attempts: int = 4
    charger: ChargerSettings = field(default_factory=ChargerSettings)

    def charger_ids(self) -> list[str]:
        width = max(4, len(str(self.chargers)))
        return [f"{self.prefix}{n:0{width}d}" for n in range(1, self.chargers + 1)]

    def password_for(self, charger_id: str) -> str | None:
        return self.passwords.get(charger_id, self.default_password)


def charger_url(base_url: str, charger_id: str) -> str:
    """The charger's endpoint: ``{chargePointId}`` in ``base_url`` replaced, else the id appended."""
    for placeholder in ("{chargePointId}", "{charger_id}", "{id}"):
        if placeholder in base_url:
            return base_url.replace(placeholder, charger_id)
    return f"{base_url.rstrip('/')}/{charger_id}"


def basic_auth_header(user: str, password: str) -> str:
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


async def run_charger(
    config: SimulationConfig, charger_id: str, stats: RunStats, linger_until: float
) -> SimulatedCharger | None:
    """Connect one charger (retrying unanswered handshakes), run its flow, record the outcome.
    Returns the charger if it connected."""
    url = charger_url(config.url, charger_id)
    password = config.password_for(charger_id)
    headers = {"Authorization": basic_auth_header(charger_id, password)} if password else {}
    host = urlsplit(url).hostname or ""
    backoff_s = 1.0
    for attempt in range(1, max(1, config.connect_attempts) + 1):
        try:
            ws = await connect(
                url,
                subprotocols=[SUBPROTOCOL],
                additional_headers=headers,
                open_timeout=config.connect_timeout_s,
                compression=None,  # API Gateway does not negotiate permessage-deflate; chargers rarely do
                proxy=None if host in LOOPBACK_HOSTS else True,
                max_size=128 * 1024,
            )
            break
        except InvalidStatus as e:
            response = e.response
            reason = f"HTTP {response.status_code} {response.reason_phrase}".strip()
            stats.charger_finished(charger_id, ChargerOutcome.REFUSED, reason)
            return None
        except (OSError, TimeoutError, InvalidMessage) as e:
            # Unreachable, no answer in time, or the connection dropped mid-handshake (a busy gateway).
            if attempt >= config.connect_attempts:
                stats.charger_finished(charger_id, ChargerOutcome.UNREACHABLE, f"{type(e).__name__}: {e}")
                return None
            await asyncio.sleep(backoff_s)
            backoff_s = min(2 * backoff_s, MAX_CONNECT_BACKOFF_S)
        except InvalidHandshake as e:
            stats.charger_finished(charger_id, ChargerOutcome.REFUSED, f"handshake failed: {e}")
            return None
    async with ws:
        if ws.subprotocol != SUBPROTOCOL:
            stats.charger_finished(
                charger_id, ChargerOutcome.REFUSED, f"server did not select subprotocol {SUBPROTOCOL}"
            )
            return None
        stats.charger_connected(charger_id)
        cp = SimulatedCharger(charger_id, ws, config.charger, stats)
        await _drive(cp, stats, linger_until)
        return cp


async def _drive(cp: SimulatedCharger, stats: RunStats, linger_until: float) -> None:
    receiver = asyncio.create_task(cp.start())
    flow = asyncio.create_task(cp.simulate(linger_until))
    try:
        await asyncio.wait({receiver, flow}, return_when=asyncio.FIRST_COMPLETED)
        if flow.done():
            problem = flow.exception() or flow.result()
            if isinstance(problem, ConnectionClosed):
                stats.charger_finished(cp.id, ChargerOutcome.DISCONNECTED, _closed(problem))
            elif isinstance(problem, BaseException):
                stats.charger_finished(
                    cp.id, ChargerOutcome.DISCONNECTED, f"{type(problem).__name__}: {problem}"
                )
            elif problem:
                stats.charger_finished(cp.id, ChargerOutcome.NOT_ACCEPTED, str(problem))
            else:
                stats.charger_finished(cp.id, ChargerOutcome.COMPLETED)
        else:
            error = receiver.exception()
            reason = _closed(error) if isinstance(error, ConnectionClosed) else repr(error)
            stats.charger_finished(cp.id, ChargerOutcome.DISCONNECTED, reason)
    finally:
        for task in (flow, receiver):
            task.cancel()
        await asyncio.gather(flow, receiver, return_exceptions=True)
        await cp.cancel_background()


def _closed(error: ConnectionClosed) -> str:
    close = error.rcvd or error.sent
    return f"connection closed ({close.code} {close.reason})".strip() if close else "connection closed"


async def run_simulation(
    config: SimulationConfig,
    on_tick: Callable[[RunStats], None] | None = None,
    tick_interval_s: float = 0.2,
    stats: RunStats | None = None,
) -> RunStats:
    """Run every charger of ``config``; return the finished statistics (never raises for charger failures)."""
    ids = config.charger_ids()
    stats = stats or RunStats()
    stats.chargers_planned = len(ids)
    stats.sessions_planned = len(ids) * config.charger.sessions
    linger_until = time.monotonic() + config.duration_s
    limit = asyncio.Semaphore(config.concurrency if config.concurrency > 0 else len(ids) or 1)

    async def one(charger_id: str) -> None:
        async with limit:
            await run_charger(config, charger_id, stats, linger_until)

    ticker = asyncio.create_task(_tick(stats, on_tick, tick_interval_s)) if on_tick else None
    try:
        async with asyncio.timeout(config.timeout_s):
            await asyncio.gather(*(one(i) for i in ids))
    except TimeoutError:
        for charger_id in ids:
            if charger_id not in stats.outcomes:
                stats.charger_finished(
                    charger_id, ChargerOutcome.TIMED_OUT, f"run timeout ({config.timeout_s:g}s)"
                )
    finally:
        stats.finish()
        if ticker is not None:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
    return stats


async def _tick(stats: RunStats, on_tick: Callable[[RunStats], None], interval_s: float) -> None:
    while True:
        on_tick(stats)
        await asyncio.sleep(interval_s)
