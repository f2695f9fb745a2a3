"""API Gateway WebSocket, played locally: ``$connect``/``$default``/``$disconnect`` + ``@connections``.

The charger connects to ``ws://127.0.0.1:9000/ocpp/{chargePointId}``. Like the CloudFront viewer-request
function in the template, the gateway moves the last path segment into the ``chargePointId`` query
parameter; then it plays API Gateway: the ``$connect`` function decides (status, subprotocol), each text
frame is one ``$default`` invocation (concurrent, as in AWS), the close is one ``$disconnect``. Limits:
frame size (close 1009), idle timeout and maximum lifetime (close 1001 "Going away").

The management API (``POST/GET/DELETE /{stage}/@connections/{id}``) is a separate HTTP server so that
``boto3.client("apigatewaymanagementapi", endpoint_url="http://127.0.0.1:9001/<stage>")`` really reaches
the socket, and answers 410 ``GoneException`` for unknown or closed connections.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from voltway.local.lambdas import InvocationResult, LambdaService
from voltway.local.template import WebSocketApiSpec

logger = logging.getLogger(__name__)
events_logger = logging.getLogger("voltway.local.events")

DEFAULT_FRAME_LIMIT = 32 * 1024
DEFAULT_IDLE_TIMEOUT = 10 * 60.0
DEFAULT_MAX_LIFETIME = 2 * 60 * 60.0
GOING_AWAY = 1001


@dataclass(frozen=True)
class WebSocketSettings:
    host: str = "127.0.0.1"
    port: int = 9000
    management_port: int = 9001
    path_prefix: str = "ocpp"
    frame_limit: int = DEFAULT_FRAME_LIMIT
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    max_lifetime: float = DEFAULT_MAX_LIFETIME


@dataclass
class Connection:
    """What API Gateway knows about one open connection."""

    connection_id: str
    charge_point_id: str
    socket: ServerConnection
    connected_at_ms: int
    source_ip: str
    user_agent: str
    headers: dict[str, str]
    last_active: float = field(default_factory=time.monotonic)
    last_active_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    closed: bool = False

    def touch(self) -> None:
        self.last_active = time.monotonic()
        self.last_active_ms = int(time.time() * 1000)


def new_connection_id() -> str:
    """A connection id shaped like API Gateway's (16 base64 characters ending in ``=``)."""
    return base64.b64encode(os.urandom(11)).decode()


def _request_time(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")


def _iso(epoch_ms: int) -> str:
    return (
        datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{epoch_ms % 1000:03d}Z"
    )


def frame_label(body: str) -> str:
    """A short label for the event log: the OCPP action, CALLRESULT/CALLERROR, or a JSON ``action``."""
    try:
        message = json.loads(body)
    except ValueError:
        return "-"
    if isinstance(message, list) and message:
        kinds = {3: "CALLRESULT", 4: "CALLERROR"}
        if message[0] == 2 and len(message) > 2:
            return str(message[2])
        return kinds.get(message[0], "-")
    if isinstance(message, dict):
        return str(message.get("action", "-"))
    return "-"


class EventFactory:
    """Builds API Gateway WebSocket proxy events for one API."""

    def __init__(self, api: WebSocketApiSpec, domain_name: str) -> None:
        self._api = api
        self._domain_name = domain_name

    def _context(self, conn: Connection, route_key: str, event_type: str) -> dict[str, Any]:
        now_ms = int(time.time() * 1000)
        return {
            "routeKey": route_key,
            "eventType": event_type,
            "extendedRequestId": base64.b64encode(os.urandom(6)).decode(),
            "requestTime": _request_time(now_ms),
            "messageDirection": "IN",
            "stage": self._api.stage,
            "connectedAt": conn.connected_at_ms,
            "requestTimeEpoch": now_ms,
            "identity": {"userAgent": conn.user_agent, "sourceIp": conn.source_ip},
            "requestId": base64.b64encode(os.urandom(6)).decode(),
            "domainName": self._domain_name,
            "connectionId": conn.connection_id,
            "apiId": self._api.api_id,
        }

    def connect(self, conn: Connection, request: Request, query: dict[str, list[str]]) -> dict[str, Any]:
        multi_headers: dict[str, list[str]] = {}
        for name, value in request.headers.raw_items():
            multi_headers.setdefault(name, []).append(value)
        return {
            "headers": {name: ",".join(values) for name, values in multi_headers.items()},
            "multiValueHeaders": multi_headers,
            "queryStringParameters": {name: values[-1] for name, values in query.items()},
            "multiValueQueryStringParameters": query,
            "requestContext": self._context(conn, "$connect", "CONNECT"),
            "isBase64Encoded": False,
        }

    def message(self, conn: Connection, body: str) -> dict[str, Any]:
        context = self._context(conn, "$default", "MESSAGE")
        context["messageId"] = base64.b64encode(os.urandom(6)).decode()
        return {"requestContext": context, "body": body, "isBase64Encoded": False}

    def disconnect(self, conn: Connection, code: int, reason: str) -> dict[str, Any]:
        context = self._context(conn, "$disconnect", "DISCONNECT")
        context["disconnectStatusCode"] = code
        context["disconnectReason"] = reason
        headers = {"Host": conn.headers.get("Host", ""), "X-Forwarded-For": conn.source_ip}
        return {
            "headers": headers,
            "multiValueHeaders": {k: [v] for k, v in headers.items()},
            "requestContext": context,
            "isBase64Encoded": False,
        }


class WebSocketGateway:
    """The WebSocket API and its management API; ``start()`` runs both on background threads."""

    def __init__(
        self, api: WebSocketApiSpec, lambdas: LambdaService | None, settings: WebSocketSettings
    ) -> None:
        self.api = api
        self.settings = settings
        # Set before the first connection: the runtime binds the ports first, then resolves the template
        # (functions need the management API's URL), then starts the Lambda service.
        self.lambdas = lambdas
        self._connections: dict[str, Connection] = {}
        self._pending: dict[int, tuple[Connection, Subprotocol | None]] = {}
        # One pool per function, as each route's integration is independent in API Gateway: handshakes
        # ($connect) never queue behind a flood of frames ($default) — with one shared pool, a storm of
        # 1000 chargers left new handshakes waiting past their 30 s open timeout, for ever.
        self._executors: dict[str, ThreadPoolExecutor] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._management: ThreadingHTTPServer | None = None
        self._management_thread: threading.Thread | None = None
        self._events: EventFactory | None = None
        self._stopping = False
        self.port = settings.port
        self.management_port = settings.management_port

    # ------------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        return f"ws://{self.settings.host}:{self.port}/{self.settings.path_prefix}"

    @property
    def management_url(self) -> str:
        return f"http://{self.settings.host}:{self.management_port}"

    def bind_management(self) -> int:
        """Bind the management API (before functions are configured with its URL); returns its port."""
        handler = type("Handler", (_ManagementHandler,), {"gateway": self})
        self._management = ThreadingHTTPServer((self.settings.host, self.settings.management_port), handler)
        self._management.daemon_threads = True
        self.management_port = int(self._management.server_address[1])
        return self.management_port

    def start(self) -> None:
        if self._management is None:
            self.bind_management()
        assert self._management is not None
        self._management_thread = threading.Thread(
            target=self._management.serve_forever, name="ws-management", daemon=True
        )
        self._management_thread.start()
        self._events = EventFactory(self.api, f"{self.settings.host}:{self.management_port}")
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run_loop, args=(ready,), name="ws-gateway", daemon=True)
        self._thread.start()
        if not ready.wait(timeout=10):
            raise RuntimeError("the WebSocket gateway did not start")

    def _run_loop(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        self._server = loop.run_until_complete(self._serve())
        sockets = list(self._server.sockets)
        self.port = int(sockets[0].getsockname()[1])
        ready.set()
        loop.run_forever()
        loop.close()

    async def _serve(self) -> Server:
        return await serve(
            self._handle,
            self.settings.host,
            self.settings.port,
            process_request=self._process_request,
            select_subprotocol=self._select_subprotocol,
            max_size=self.settings.frame_limit,
            ping_interval=None,  # API Gateway answers pings but never sends them
            open_timeout=30,
            server_header=None,
        )

    def close_connections(self, timeout: float = 3.0) -> None:
        """Stop accepting, close every socket and give ``$disconnect`` up to ``timeout`` seconds.

        Frames that arrive from now on are not invoked. Invocations already running are not waited for:
        the Lambda service's ``close()`` abandons them (the runtime calls it next), then :meth:`stop`.
        """
        self._stopping = True
        loop, server = self._loop, self._server
        if loop is None or server is None or not loop.is_running():
            return
        future = asyncio.run_coroutine_threadsafe(self._shutdown(server), loop)
        try:
            future.result(timeout=timeout)
        except TimeoutError:
            logger.info("WebSocket gateway: $disconnect still running after %.0f s; abandoning it", timeout)
        except Exception:
            logger.exception("WebSocket gateway shutdown")

    def stop(self, timeout: float = 2.0) -> None:
        """Close connections (if not done yet), stop the event loop and the management API; bounded."""
        if not self._stopping:
            self.close_connections(timeout)
        loop = self._loop
        if loop is not None and loop.is_running():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self._cancel_tasks(), loop).result(timeout=timeout)
            loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=timeout)
            if self._thread.is_alive():
                logger.warning("WebSocket gateway thread did not stop within %.0f s", timeout)
        if self._management is not None:
            if self._management_thread is not None:  # shutdown() waits forever if never served
                self._management.shutdown()
            self._management.server_close()
            self._management = None
        # Threads still inside an invocation end when the Lambda service kills their worker; not waited for.
        for executor in self._executors.values():
            executor.shutdown(wait=False, cancel_futures=True)

    async def _shutdown(self, server: Server) -> None:
        server.close(close_connections=True)
        await server.wait_closed()

    async def _cancel_tasks(self) -> None:
        current = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # ------------------------------------------------------------------ handshake
    async def _process_request(self, socket: ServerConnection, request: Request) -> Response | None:
        parts = [p for p in urlsplit(request.path).path.split("/") if p]
        if len(parts) < 2 or parts[0] != self.settings.path_prefix:
            return socket.respond(HTTPStatus.NOT_FOUND, "Not Found\n")
        query = parse_qs(urlsplit(request.path).query, keep_blank_values=True)
        charge_point_id = unquote(parts[-1])
        query["chargePointId"] = [charge_point_id]  # what the CloudFront viewer-request function adds
        remote = socket.remote_address
        conn = Connection(
            connection_id=new_connection_id(),
            charge_point_id=charge_point_id,
            socket=socket,
            connected_at_ms=int(time.time() * 1000),
            source_ip=str(remote[0]) if remote else "127.0.0.1",
            user_agent=request.headers.get("User-Agent", ""),
            headers=dict(request.headers.raw_items()),
        )
        assert self._events is not None
        result = await self._invoke("$connect", self._events.connect(conn, request, query))
        status, headers = _connect_outcome(result)
        self._log("$connect", conn, str(status), result)
        if not 200 <= status < 300:
            return socket.respond(status, "")
        protocol = headers.get("Sec-WebSocket-Protocol") or headers.get("sec-websocket-protocol")
        self._pending[id(socket)] = (conn, Subprotocol(protocol) if protocol else None)
        self._connections[conn.connection_id] = conn
        return None

    def _select_subprotocol(self, socket: ServerConnection, offered: Any) -> Subprotocol | None:
        _, protocol = self._pending.get(id(socket), (None, None))
        return protocol

    # ------------------------------------------------------------------ open connection
    async def _handle(self, socket: ServerConnection) -> None:
        conn, _ = self._pending.pop(id(socket))
        watchdog = asyncio.create_task(self._watchdog(conn))
        tasks: set[asyncio.Task[None]] = set()
        try:
            async for message in socket:
                conn.touch()
                if self._stopping:
                    continue
                text = message if isinstance(message, str) else message.decode("utf-8", "replace")
                task = asyncio.create_task(self._on_message(conn, text))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        except ConnectionClosed:
            pass
        finally:
            watchdog.cancel()
            conn.closed = True
            self._connections.pop(conn.connection_id, None)
            await self._on_disconnect(conn)

    async def _on_message(self, conn: Connection, text: str) -> None:
        assert self._events is not None
        result = await self._invoke("$default", self._events.message(conn, text))
        self._log("$default", conn, frame_label(text), result)
        if not result.ok and not self._stopping:
            # What API Gateway sends back when the integration fails and no route response is set up.
            error = {"message": "Internal server error", "connectionId": conn.connection_id}
            error["requestId"] = result.request_id
            with contextlib.suppress(ConnectionClosed):
                await conn.socket.send(json.dumps(error))

    async def _on_disconnect(self, conn: Connection) -> None:
        # The frame that ended the connection: the peer's close, else ours (1009, 1001...).
        protocol = conn.socket.protocol
        close = protocol.close_rcvd or protocol.close_sent
        code = close.code if close is not None else 1006
        reason = close.reason if close is not None else ""
        if "$disconnect" not in self.api.routes:
            return
        assert self._events is not None
        result = await self._invoke("$disconnect", self._events.disconnect(conn, code, reason))
        self._log("$disconnect", conn, str(code), result)

    async def _watchdog(self, conn: Connection) -> None:
        deadline = time.monotonic() + self.settings.max_lifetime
        while True:
            now = time.monotonic()
            idle_left = conn.last_active + self.settings.idle_timeout - now
            life_left = deadline - now
            if idle_left <= 0 or life_left <= 0:
                await conn.socket.close(GOING_AWAY, "Going away")
                return
            await asyncio.sleep(min(idle_left, life_left, 1.0))

    async def _invoke(self, route_key: str, event: dict[str, Any]) -> InvocationResult:
        function = self.api.routes.get(route_key) or self.api.routes.get("$default")
        if function is None:
            raise RuntimeError(f"WebSocket API {self.api.logical_id} has no {route_key} route")
        if self.lambdas is None:
            raise RuntimeError("the WebSocket gateway has no Lambda service yet")
        loop = asyncio.get_running_loop()
        executor = self._executors.get(function)
        if executor is None:  # only the event loop's thread gets here: no race
            executor = ThreadPoolExecutor(max_workers=64, thread_name_prefix=f"ws-{function}")
            self._executors[function] = executor
        try:
            return await loop.run_in_executor(executor, self.lambdas.invoke, function, event)
        except RuntimeError as e:  # ServiceStopped, or the executor was shut down: we are stopping
            error = {"errorType": "Runtime.Stopped", "errorMessage": str(e)}
            return InvocationResult(function, "", None, error, 0.0, False)

    def _log(self, route: str, conn: Connection, label: str, result: InvocationResult) -> None:
        outcome = "" if result.ok else f"  ERROR {result.error.get('errorType') if result.error else ''}"
        events_logger.info(
            "ws   %s  %s  %s  %.1f ms%s", conn.charge_point_id, route, label, result.duration_ms, outcome
        )

    # ------------------------------------------------------------------ management API (called from threads)
    def connection(self, connection_id: str) -> Connection | None:
        conn = self._connections.get(connection_id)
        return None if conn is None or conn.closed else conn

    def post(self, connection_id: str, data: bytes) -> bool:
        conn = self.connection(connection_id)
        if conn is None or self._loop is None:
            return False
        try:
            payload: str | bytes = data.decode("utf-8")
        except UnicodeDecodeError:
            payload = data
        conn.touch()  # outbound messages count as activity for the idle timeout
        future = asyncio.run_coroutine_threadsafe(conn.socket.send(payload), self._loop)
        try:
            future.result(timeout=10)
        except ConnectionClosed:
            return False
        return True

    def delete(self, connection_id: str) -> bool:
        conn = self.connection(connection_id)
        if conn is None or self._loop is None:
            return False
        future = asyncio.run_coroutine_threadsafe(conn.socket.close(1000, ""), self._loop)
        future.result(timeout=10)
        return True


def _connect_outcome(result: InvocationResult) -> tuple[int, dict[str, str]]:
    if not result.ok:
        return 500, {}
    payload = result.payload
    if not isinstance(payload, dict):
        return 200, {}
    headers = {str(k): str(v) for k, v in (payload.get("headers") or {}).items()}
    return int(payload.get("statusCode", 200)), headers


class _ManagementHandler(BaseHTTPRequestHandler):
    """``/{stage}/@connections/{connectionId}``: POST (send), GET (info), DELETE (close)."""

    gateway: WebSocketGateway
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("management API: " + format, *args)

    def _connection_id(self) -> str | None:
        parts = urlsplit(self.path).path.split("/")
        # ['', stage, '@connections', id]
        if len(parts) != 4 or parts[1] != self.gateway.api.stage or parts[2] != "@connections":
            return None
        return unquote(parts[3])

    def _reply(self, status: int, body: dict[str, Any] | None = None, error_type: str | None = None) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        if error_type:
            self.send_header("x-amzn-ErrorType", error_type)
        self.end_headers()
        self.wfile.write(data)

    def _gone(self) -> None:
        self._reply(HTTPStatus.GONE, {"message": None, "__type": "GoneException"}, "GoneException")

    def _forbidden(self) -> None:
        self._reply(HTTPStatus.FORBIDDEN, {"message": "Forbidden"}, "ForbiddenException")

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_POST(self) -> None:
        body = self._read_body()
        connection_id = self._connection_id()
        if connection_id is None:
            return self._forbidden()
        if len(body) > 128 * 1024:
            return self._reply(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"message": "Message too long"})
        if not self.gateway.post(connection_id, body):
            return self._gone()
        self._reply(HTTPStatus.OK)

    def do_GET(self) -> None:
        connection_id = self._connection_id()
        if connection_id is None:
            return self._forbidden()
        conn = self.gateway.connection(connection_id)
        if conn is None:
            return self._gone()
        self._reply(
            HTTPStatus.OK,
            {
                "connectedAt": _iso(conn.connected_at_ms),
                "identity": {"sourceIp": conn.source_ip, "userAgent": conn.user_agent},
                "lastActiveAt": _iso(conn.last_active_ms),
            },
        )

    def do_DELETE(self) -> None:
        connection_id = self._connection_id()
        if connection_id is None:
            return self._forbidden()
        if not self.gateway.delete(connection_id):
            return self._gone()
        self._reply(HTTPStatus.NO_CONTENT)


__all__ = ["Connection", "EventFactory", "WebSocketGateway", "WebSocketSettings", "frame_label"]
