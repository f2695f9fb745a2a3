"""Scaffolding for the e2e modules on a local runtime (the session's shared one, or their own): bearer tokens
from the runtime's local issuer, two shapes of HTTP client for its API, and OCPP 1.6 chargers on real
WebSockets served by an asyncio loop in a thread, while the test itself calls HTTP from the main thread.

What a module checks stays in the module: its tenant, passwords, scripted chargers and runtime settings.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

import requests
from ocpp.v16 import ChargePoint, call
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from voltway.local.runtime import LocalRuntime

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
OCPP16 = [Subprotocol("ocpp1.6")]
T = TypeVar("T")
ChargerT = TypeVar("ChargerT", bound=ChargePoint)


class Closable(Protocol):
    def close(self) -> None: ...


StackT = TypeVar("StackT", bound=Closable)


class Loop:
    """An asyncio loop in a thread: the chargers live there, the test calls HTTP from the main thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """``coro``'s result, run on the loop; TimeoutError after ``timeout`` seconds."""
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@contextmanager
def stack_on(runtime: LocalRuntime, stack: Callable[[LocalRuntime, Loop], StackT]) -> Iterator[StackT]:
    """``stack(runtime, loop)`` with a charger loop of its own; its chargers and the loop are closed after
    use (the runtime is the session's, see conftest.py)."""
    loop = Loop()
    try:
        built = stack(runtime, loop)
        try:
            yield built
        finally:
            built.close()
    finally:
        loop.close()


def bearer_token(
    runtime: LocalRuntime, *, subject: str, tenant: str, roles: Sequence[str], ttl_seconds: int = 3600
) -> str:
    """A JWT from the runtime's local issuer that its HTTP API accepts (3600 s: the issuer's default)."""
    token: str = runtime.issuer.mint(
        issuer=runtime.jwt_issuer,
        audience=runtime.jwt_audience,
        subject=subject,
        tenant=tenant,
        roles=roles,
        ttl_seconds=ttl_seconds,
    )
    return token


class JsonClient:
    """One caller of the runtime's HTTP API: ``client(method, path, body)`` is the status and the decoded
    JSON body (None when empty), error statuses included."""

    def __init__(self, runtime: LocalRuntime, token: str, *, timeout: float = 60) -> None:
        self._url = runtime.http_url
        self._token = token
        self._timeout = timeout

    def __call__(
        self, method: str, path: str, body: Any = None, *, idempotency_key: str | None = None
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self._token}", "Content-Type": "application/json"}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self._url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")


class SessionClient:
    """One caller of the runtime's HTTP API on a requests session: ``client(method, path, body)`` is the
    response (``body`` sent as JSON)."""

    def __init__(self, runtime: LocalRuntime, token: str, *, timeout: float = 30) -> None:
        self._url = runtime.http_url
        self._timeout = timeout
        self._session = requests.Session()
        self._session.headers["Authorization"] = f"Bearer {token}"

    def __call__(
        self, method: str, path: str, body: Any = None, *, params: Mapping[str, Any] | None = None
    ) -> requests.Response:
        return self._session.request(
            method, self._url + path, json=body, params=params, timeout=self._timeout
        )


def wait_for_cdr(api: SessionClient, transaction_id: int, timeout: float = 60) -> dict[str, Any]:
    """The transaction's CDR, once the CDR worker has issued it."""
    deadline = time.monotonic() + timeout
    while True:
        response = api("GET", f"/v1/transactions/{transaction_id}/cdr")
        if response.status_code == 200:
            body: dict[str, Any] = response.json()
            return body
        assert response.status_code == 404, response.text
        if time.monotonic() > deadline:
            raise AssertionError(f"no CDR for transaction {transaction_id} within {timeout} s")
        time.sleep(0.5)


def basic_auth(username: str, password: str) -> dict[str, str]:
    """The header a charger authenticates its WebSocket upgrade with (the username is its id)."""
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


class PlainCharger(ChargePoint):  # type: ignore[misc]  # ocpp ships no type hints
    """A plain OCPP 1.6 charge point: sends CALLs, answers nothing."""


class ChargerSockets:
    """Chargers of one runtime, each on its own WebSocket and listening in a task on ``loop``;
    ``close()`` closes the sockets and cancels the tasks."""

    def __init__(self, runtime: LocalRuntime, loop: Loop) -> None:
        self.runtime = runtime
        self.loop = loop
        self._sockets: list[ClientConnection] = []
        self._tasks: list[asyncio.Task[Any]] = []

    async def open(
        self,
        charge_point_id: str,
        password: str,
        charger: Callable[[str, ClientConnection], ChargerT],
        *,
        subprotocols: Sequence[str] = ("ocpp1.6",),
        open_timeout: float = 10,
    ) -> ChargerT:
        """On the loop: ``charger(charge_point_id, ws)`` connected and listening, not yet booted."""
        ws = await connect(
            f"{self.runtime.charger_ws_url}/{charge_point_id}",
            subprotocols=[Subprotocol(p) for p in subprotocols],
            additional_headers=basic_auth(charge_point_id, password),
            open_timeout=open_timeout,
        )
        opened = charger(charge_point_id, ws)
        self._sockets.append(ws)
        self._tasks.append(asyncio.get_running_loop().create_task(opened.start()))
        return opened

    def close(self, timeout: float = 30) -> None:
        async def shutdown() -> None:
            for ws in self._sockets:
                await ws.close()
            for task in self._tasks:
                task.cancel()

        self.loop.run(shutdown(), timeout)


async def boot_accepted(charger: ChargePoint) -> None:
    """On the loop: a BootNotification, which the platform must accept."""
    boot = await charger.call(call.BootNotification(charge_point_model="E2E", charge_point_vendor="Voltway"))
    assert boot.status == "Accepted"
