"""The charger simulator against a test-only OCPP 1.6J central system over real WebSockets.

The central system here is the ``ocpp`` package's server-side v16 ``ChargePoint`` with ``@on`` handlers,
served by ``websockets`` on 127.0.0.1 (port 0), checking HTTP Basic auth against the path's charger id.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import threading
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from ocpp.exceptions import NotSupportedError
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action, AuthorizationStatus, RegistrationStatus, ResetType
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from voltway.cli import main
from voltway.identity.local_issuer import LocalIssuer
from voltway.simulator.charger import ChargerSettings
from voltway.simulator.runner import SimulationConfig, run_simulation
from voltway.simulator.stats import ChargerOutcome, RunStats
from voltway.statedir import LocalInfo, write_local_info

PASSWORD = "correct-horse-battery"
pytestmark = pytest.mark.timeout(60)


@dataclass
class CentralSystem:
    """Records every frame it sees; ``unsupported`` actions are answered with NotSupported."""

    passwords: dict[str, str]
    unsupported: set[str] = field(default_factory=set)
    heartbeat_interval: int = 1
    frames_in: Counter[str] = field(default_factory=Counter)  # "CALL:<action>", "CALLRESULT", "CALLERROR"
    frames_out: Counter[str] = field(default_factory=Counter)
    calls: defaultdict[str, list[tuple[str, dict[str, Any]]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    connected: dict[str, CentralSystemSide] = field(default_factory=dict)
    events: asyncio.Queue[tuple[str, str, dict[str, Any]]] = field(default_factory=asyncio.Queue)
    tx_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))
    last_tx_id: int = 0
    boot_replies: list[tuple[RegistrationStatus, int]] = field(default_factory=list)  # then Accepted
    sequence: list[str] = field(default_factory=list)  # actions of the CALLs received, in order

    def check_auth(self, connection: ServerConnection, request: Request) -> Response | None:
        charger_id = request.path.rstrip("/").rsplit("/", 1)[-1]
        header = request.headers.get("Authorization", "")
        expected = base64.b64encode(f"{charger_id}:{self.passwords.get(charger_id)}".encode()).decode()
        if charger_id not in self.passwords or header != f"Basic {expected}":
            return Response(HTTPStatus.UNAUTHORIZED, "Unauthorized", Headers(), b"")
        return None

    async def handle(self, ws: ServerConnection) -> None:
        charger_id = ws.request.path.rstrip("/").rsplit("/", 1)[-1] if ws.request else "?"
        side = CentralSystemSide(charger_id, ws, self)
        self.connected[charger_id] = side
        with suppress(ConnectionClosed):
            await side.start()

    def record(self, charger_id: str, action: str, payload: dict[str, Any]) -> None:
        self.calls[action].append((charger_id, payload))
        self.sequence.append(action)
        self.events.put_nowait((charger_id, action, payload))

    async def wait_for(self, charger_id: str, action: str, timeout: float = 5.0) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                who, what, payload = await self.events.get()
                if who == charger_id and what == action:
                    return payload


def _kind(raw: str) -> str:
    frame = json.loads(raw)
    return {2: f"CALL:{frame[2] if frame[0] == 2 else ''}", 3: "CALLRESULT", 4: "CALLERROR"}[frame[0]]


class CentralSystemSide(ChargePoint):  # type: ignore[misc]
    def __init__(self, charger_id: str, connection: ServerConnection, cs: CentralSystem) -> None:
        super().__init__(charger_id, connection, response_timeout=5)
        self.cs = cs

    async def route_message(self, raw_msg: str) -> None:
        self.cs.frames_in[_kind(raw_msg)] += 1
        frame = json.loads(raw_msg)
        if frame[0] == 2:
            self.cs.record(self.id, frame[2], frame[3])
            if frame[2] in self.cs.unsupported:
                self.cs.frames_out["CALLERROR"] += 1
                await self._connection.send(
                    json.dumps([4, frame[1], "NotSupported", f"{frame[2]} not supported", {}])
                )
                return
        await super().route_message(raw_msg)

    async def _send(self, message: str) -> None:
        self.cs.frames_out[_kind(message)] += 1
        await self._connection.send(message)

    @on(Action.boot_notification)
    def on_boot(self, **_: Any) -> Any:
        status, interval = (
            self.cs.boot_replies.pop(0)
            if self.cs.boot_replies
            else (RegistrationStatus.accepted, self.cs.heartbeat_interval)
        )
        return call_result.BootNotification(
            current_time=datetime.now(UTC).isoformat(), interval=interval, status=status
        )

    @on(Action.heartbeat)
    def on_heartbeat(self, **_: Any) -> Any:
        return call_result.Heartbeat(current_time=datetime.now(UTC).isoformat())

    @on(Action.status_notification)
    def on_status(self, **_: Any) -> Any:
        return call_result.StatusNotification()

    @on(Action.authorize)
    def on_authorize(self, **_: Any) -> Any:
        return call_result.Authorize(id_tag_info={"status": AuthorizationStatus.accepted})

    @on(Action.start_transaction)
    def on_start(self, **_: Any) -> Any:
        if Action.start_transaction in self.cs.unsupported:
            raise NotSupportedError()
        self.cs.last_tx_id = next(self.cs.tx_ids)
        return call_result.StartTransaction(
            transaction_id=self.cs.last_tx_id, id_tag_info={"status": AuthorizationStatus.accepted}
        )

    @on(Action.meter_values)
    def on_meter_values(self, **_: Any) -> Any:
        return call_result.MeterValues()

    @on(Action.stop_transaction)
    def on_stop(self, **_: Any) -> Any:
        return call_result.StopTransaction(id_tag_info={"status": AuthorizationStatus.accepted})


@asynccontextmanager
async def central_system(cs: CentralSystem, subprotocol: str | None = "ocpp1.6") -> AsyncIterator[str]:
    server: Server = await serve(
        cs.handle,
        "127.0.0.1",
        0,
        subprotocols=[Subprotocol(subprotocol)] if subprotocol else None,
        process_request=cs.check_auth,
        compression=None,
    )
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"ws://127.0.0.1:{port}/ocpp"
    finally:
        server.close()
        await server.wait_closed()


FAST = ChargerSettings(
    sessions=2, meter_samples=3, sample_interval_s=0.05, heartbeat_interval_s=0.2, response_timeout_s=5
)


def config(url: str, chargers: int, **overrides: Any) -> SimulationConfig:
    return SimulationConfig(
        url=url,
        chargers=chargers,
        default_password=PASSWORD,
        timeout_s=20,
        **overrides,
    )


def passwords(n: int) -> dict[str, str]:
    return {f"SIM{i:04d}": PASSWORD for i in range(1, n + 1)}


def test_three_chargers_two_sessions_each_and_counts_match_the_server() -> None:
    async def scenario() -> tuple[RunStats, CentralSystem]:
        cs = CentralSystem(passwords(3))
        async with central_system(cs) as url:
            stats = await run_simulation(config(url, 3, charger=FAST))
        return stats, cs

    stats, cs = asyncio.run(scenario())
    summary = stats.summary()

    assert summary["ok"] is True
    assert summary["chargers"]["connected"] == 3
    assert summary["sessions"]["completed"] == 6
    # What the simulator counted is what the central system saw, frame for frame.
    assert stats.frames_sent == sum(cs.frames_in.values())
    assert stats.frames_received == sum(cs.frames_out.values())
    for action in ("BootNotification", "Authorize", "StartTransaction", "MeterValues", "StopTransaction"):
        assert summary["responses"][action]["CALLRESULT"] == cs.frames_in[f"CALL:{action}"]
    assert summary["responses"]["StartTransaction"]["CALLRESULT"] == 6
    assert summary["responses"]["MeterValues"]["CALLRESULT"] == 18
    # Connector 0 + 2 connectors at boot, then Preparing, Charging, Finishing, Available per session.
    assert cs.frames_in["CALL:StatusNotification"] == 3 * 3 + 6 * 4
    assert summary["calls"]["unanswered"] == 0
    assert summary["latency"]["overall"]["count"] == summary["calls"]["sent"]
    assert summary["latency"]["overall"]["p50_ms"] > 0

    # Energy only ever goes up, per charger and connector, and each stop is at or above its start.
    registers: defaultdict[tuple[str, int], list[float]] = defaultdict(list)
    for charger_id, payload in cs.calls["MeterValues"]:
        values = payload["meterValue"][0]["sampledValue"]
        energy = next(v for v in values if v["measurand"] == "Energy.Active.Import.Register")
        power = next(v for v in values if v["measurand"] == "Power.Active.Import")
        assert energy["unit"] == "Wh" and power["unit"] == "W"
        assert 0 <= float(power["value"]) <= FAST.max_power_w
        registers[(charger_id, payload["connectorId"])].append(float(energy["value"]))
    assert all(series == sorted(series) for series in registers.values())
    for charger_id in passwords(3):
        starts = [p for who, p in cs.calls["StartTransaction"] if who == charger_id]
        stops = [p for who, p in cs.calls["StopTransaction"] if who == charger_id]
        assert len(starts) == len(stops) == 2
        for start, stop in zip(starts, stops, strict=True):
            assert stop["meterStop"] >= start["meterStart"]
            assert stop["reason"] == "Local"


def test_not_supported_start_transaction_is_counted_and_the_run_carries_on() -> None:
    async def scenario() -> tuple[RunStats, CentralSystem]:
        cs = CentralSystem(passwords(1), unsupported={"StartTransaction"})
        async with central_system(cs) as url:
            stats = await run_simulation(config(url, 1, charger=FAST))
        return stats, cs

    stats, cs = asyncio.run(scenario())
    summary = stats.summary()

    assert summary["responses"]["StartTransaction"] == {"CALLRESULT": 0, "CALLERROR": {"NotSupported": 2}}
    assert summary["calls"]["call_errors"] == 2
    assert summary["sessions"]["completed"] == 0
    assert summary["sessions"]["skipped"] == {"StartTransaction CALLERROR NotSupported": 2}
    assert cs.frames_in["CALL:MeterValues"] == 0
    assert cs.frames_in["CALL:StopTransaction"] == 0
    assert summary["chargers"]["by_outcome"] == {"completed": 1}
    assert summary["ok"] is True  # CALLERRORs are answers: counted, not failures


def test_wrong_password_is_refused_with_the_http_status() -> None:
    async def scenario() -> RunStats:
        cs = CentralSystem(passwords(2))
        async with central_system(cs) as url:
            cfg = SimulationConfig(
                url=url, chargers=2, passwords={"SIM0002": "wrong-password"}, default_password=PASSWORD
            )
            return await run_simulation(
                SimulationConfig(**{**cfg.__dict__, "charger": FAST, "timeout_s": 20})
            )

    stats = asyncio.run(scenario())
    summary = stats.summary()

    assert stats.outcomes == {"SIM0001": ChargerOutcome.COMPLETED, "SIM0002": ChargerOutcome.REFUSED}
    assert summary["chargers"]["refused"] == 1
    assert summary["chargers"]["problems"] == {"SIM0002": "HTTP 401 Unauthorized"}
    assert summary["ok"] is False


def test_a_server_without_the_ocpp_subprotocol_is_a_refusal() -> None:
    async def scenario() -> RunStats:
        cs = CentralSystem(passwords(1))
        async with central_system(cs, subprotocol=None) as url:
            return await run_simulation(config(url, 1, charger=FAST))

    stats = asyncio.run(scenario())

    assert stats.outcomes == {"SIM0001": ChargerOutcome.REFUSED}
    assert stats.problems == {"SIM0001": "server did not select subprotocol ocpp1.6"}


def test_boot_pending_is_retried_after_the_interval_before_anything_else_is_sent() -> None:
    async def scenario() -> tuple[RunStats, CentralSystem]:
        cs = CentralSystem(passwords(1), boot_replies=[(RegistrationStatus.pending, 1)])
        async with central_system(cs) as url:
            settings = ChargerSettings(sessions=1, meter_samples=1, sample_interval_s=0.05)
            stats = await run_simulation(config(url, 1, charger=settings))
        return stats, cs

    stats, cs = asyncio.run(scenario())

    assert cs.frames_in["CALL:BootNotification"] == 2
    assert cs.sequence[:3] == ["BootNotification", "BootNotification", "StatusNotification"]
    assert stats.summary()["sessions"]["completed"] == 1
    assert stats.summary()["latency"]["by_action"]["BootNotification"]["count"] == 2


def test_the_simulator_answers_the_central_systems_commands() -> None:
    async def scenario() -> tuple[RunStats, dict[str, Any]]:
        cs = CentralSystem(passwords(1))
        seen: dict[str, Any] = {}
        async with central_system(cs) as url:
            settings = ChargerSettings(sessions=0, sample_interval_s=0.05, heartbeat_interval_s=5)
            run = asyncio.create_task(run_simulation(config(url, 1, charger=settings, duration_s=4)))
            await cs.wait_for("SIM0001", "StatusNotification")
            side = cs.connected["SIM0001"]

            seen["config"] = await side.call(call.GetConfiguration(key=["HeartbeatInterval", "Nope"]))
            seen["start"] = await side.call(call.RemoteStartTransaction(id_tag="REMOTE-1", connector_id=2))
            started = await cs.wait_for("SIM0001", "StartTransaction")
            seen["started"] = started
            await cs.wait_for("SIM0001", "MeterValues")
            seen["stop"] = await side.call(call.RemoteStopTransaction(transaction_id=cs.last_tx_id))
            seen["stopped"] = await cs.wait_for("SIM0001", "StopTransaction")
            seen["reset"] = await side.call(call.Reset(type=ResetType.soft))
            seen["reboot"] = await cs.wait_for("SIM0001", "BootNotification")
            seen["unknown_tx"] = await side.call(call.RemoteStopTransaction(transaction_id=999_999))
            stats = await run
        return stats, seen

    stats, seen = asyncio.run(scenario())

    assert seen["config"].configuration_key == [{"key": "HeartbeatInterval", "readonly": False, "value": "5"}]
    assert seen["config"].unknown_key == ["Nope"]
    assert seen["start"].status == "Accepted"
    assert seen["started"]["connectorId"] == 2 and seen["started"]["idTag"] == "REMOTE-1"
    assert seen["stop"].status == "Accepted"
    assert seen["stopped"]["reason"] == "Remote"
    assert seen["reset"].status == "Accepted"
    assert seen["reboot"]["chargePointModel"] == "Simulator"
    assert seen["unknown_tx"].status == "Rejected"
    summary = stats.summary()
    assert summary["central_system_calls"]["by_action"] == {
        "GetConfiguration": 1,
        "RemoteStartTransaction": 1,
        "RemoteStopTransaction": 2,
        "Reset": 1,
    }
    assert summary["sessions"]["remote_completed"] == 1
    assert summary["ok"] is True


class OperatorApiStub(BaseHTTPRequestHandler):
    """``PUT /v1/chargers/{id}``: checks the operator token, then lets the charger in;
    ``PUT /v1/id-tags/{tag}``: records the tag."""

    issuer: LocalIssuer
    info: LocalInfo
    central: CentralSystem
    registered: dict[str, dict[str, Any]]
    id_tags: dict[str, dict[str, Any]]

    def do_PUT(self) -> None:
        token = self.headers.get("Authorization", "").removeprefix("Bearer ")
        claims = self.issuer.verify(token, issuer=self.info.jwt_issuer, audience=self.info.jwt_audience)
        assert "operator" in claims["cognito:groups"]
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path.startswith("/v1/id-tags/"):
            self.id_tags[self.path.removeprefix("/v1/id-tags/")] = body
        else:
            charger_id = self.path.removeprefix("/v1/chargers/")
            self.registered[charger_id] = body
            self.central.passwords[charger_id] = body["password"]
        self.send_response(HTTPStatus.CREATED)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_cli_registers_chargers_then_runs_against_the_local_stack_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cs = CentralSystem(passwords={})
    loop = asyncio.new_event_loop()
    ready: list[str] = []
    stop = threading.Event()

    async def serve_until_stopped() -> None:
        async with central_system(cs) as url:
            ready.append(url)
            while not stop.is_set():
                await asyncio.sleep(0.05)

    server_thread = threading.Thread(target=loop.run_until_complete, args=(serve_until_stopped(),))
    server_thread.start()
    http = ThreadingHTTPServer(("127.0.0.1", 0), OperatorApiStub)
    http_thread = threading.Thread(target=http.serve_forever)
    http_thread.start()
    try:
        deadline = time.monotonic() + 5
        while not ready and time.monotonic() < deadline:
            time.sleep(0.01)
        info = LocalInfo(
            http_api_url=f"http://127.0.0.1:{http.server_address[1]}",
            charger_ws_url=ready[0],
            management_url="http://127.0.0.1:1",
            region="eu-west-1",
            stage="local",
            jwt_issuer="http://127.0.0.1/local-issuer",
            jwt_audience="voltway-local",
        )
        write_local_info(info, tmp_path)
        monkeypatch.setenv("VOLTWAY_STATE_DIR", str(tmp_path))
        OperatorApiStub.issuer = LocalIssuer.load_or_create(tmp_path / "local-issuer-key.pem")
        OperatorApiStub.info, OperatorApiStub.central, OperatorApiStub.registered = info, cs, {}
        OperatorApiStub.id_tags = {}

        argv = ["simulate", "--chargers", "2", "--sessions", "1", "--prefix", "CLI", "--register"]
        argv += ["--meter-samples", "2", "--sample-interval", "0.05", "--json", "--timeout", "20"]
        exit_code = main(argv)
    finally:
        stop.set()
        server_thread.join(10)
        http.shutdown()
        http_thread.join(10)
        loop.close()

    out = capsys.readouterr()
    summary = json.loads(out.out)
    assert exit_code == 0, out.err
    assert set(OperatorApiStub.registered) == {"CLI0001", "CLI0002"}
    assert OperatorApiStub.id_tags == {
        "TAG-CLI0001": {"status": "Accepted"},
        "TAG-CLI0002": {"status": "Accepted"},
    }
    assert all(
        b["security_profile"] == 1 and len(b["password"]) >= 16 for b in OperatorApiStub.registered.values()
    )
    assert summary["url"] == info.charger_ws_url
    assert summary["chargers"]["connected"] == 2
    assert summary["sessions"]["completed"] == 2
    assert summary["responses"]["MeterValues"]["CALLRESULT"] == 4


class SlowToAnswer(CentralSystem):
    """Leaves the first ``stalls`` opening handshakes unanswered for a while, like a busy gateway."""

    def __init__(self, passwords: dict[str, str], stalls: int) -> None:
        super().__init__(passwords)
        self.stalls = stalls
        self.handshakes = 0

    async def check_auth_slowly(self, connection: ServerConnection, request: Request) -> Response | None:
        self.handshakes += 1
        if self.handshakes <= self.stalls:
            await asyncio.sleep(1.0)
        return self.check_auth(connection, request)


@asynccontextmanager
async def slow_central_system(cs: SlowToAnswer) -> AsyncIterator[str]:
    server: Server = await serve(
        cs.handle,
        "127.0.0.1",
        0,
        subprotocols=[Subprotocol("ocpp1.6")],
        process_request=cs.check_auth_slowly,
        compression=None,
    )
    try:
        yield f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/ocpp"
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize(("stalls", "attempts", "outcome"), [(2, 3, "completed"), (3, 3, "unreachable")])
def test_an_unanswered_handshake_is_retried_like_a_real_charger(
    stalls: int, attempts: int, outcome: str
) -> None:
    async def scenario() -> tuple[RunStats, SlowToAnswer]:
        cs = SlowToAnswer(passwords(1), stalls)
        async with slow_central_system(cs) as url:
            cfg = config(url, 1, charger=FAST, connect_timeout_s=0.3, connect_attempts=attempts)
            return await run_simulation(cfg), cs

    stats, cs = asyncio.run(scenario())

    assert stats.outcomes == {"SIM0001": ChargerOutcome(outcome)}
    assert cs.handshakes == min(stalls + 1, attempts)
