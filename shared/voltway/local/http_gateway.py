"""API Gateway HTTP API, played locally: routes from the template's ``HttpApi`` events.

Semantics followed: most specific route wins (literal segments > ``{param}`` > ``{proxy+}``, a method
over ``ANY``); no stage prefix (as with a ``$default`` stage); proxy events in the route's payload format
(1.0 or 2.0); a route with a JWT authorizer answers 401 ``{"message":"Unauthorized"}`` without invoking
the function unless ``Authorization`` carries a token the local issuer signed for the authorizer's issuer
and audience; CORS preflight from the API's CorsConfiguration; the issuer's JWKS at
``/.well-known/jwks.json``.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

from voltway.local.lambdas import InvocationResult, LambdaService, ServiceStopped
from voltway.local.template import ACCOUNT_ID, CorsSpec, HttpApiSpec, HttpRouteSpec, JwtAuthorizerSpec

logger = logging.getLogger(__name__)
events_logger = logging.getLogger("voltway.local.events")

JWKS_PATH = "/.well-known/jwks.json"
_TEXT_TYPES = (
    "text/",
    "application/json",
    "application/xml",
    "application/javascript",
    "application/x-www-form-urlencoded",
    "+json",
    "+xml",
)
Claims = dict[str, Any] | None


class TokenVerifier(Protocol):
    """What the gateway needs from the local issuer (``voltway.identity.local_issuer.LocalIssuer``)."""

    def verify(self, token: str, *, issuer: str, audience: str) -> dict[str, Any]: ...

    def jwks(self) -> dict[str, Any]: ...


# --------------------------------------------------------------------------- routing


@dataclass(frozen=True)
class CompiledRoute:
    spec: HttpRouteSpec
    pattern: re.Pattern[str]
    param_names: tuple[str, ...]
    specificity: tuple[int, int, int]

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if self.spec.method not in ("ANY", method):
            return None
        found = self.pattern.fullmatch(path)
        if found is None:
            return None
        return {name: unquote(found.group(i + 1)) for i, name in enumerate(self.param_names)}


def compile_route(spec: HttpRouteSpec) -> CompiledRoute:
    if spec.path == "$default":
        return CompiledRoute(spec, re.compile(r".*"), (), (-1, 0, 0))
    parts, names, literals, greedy = [], [], 0, 0
    for segment in spec.path.strip("/").split("/"):
        param = re.fullmatch(r"\{([^}+]+)(\+?)\}", segment)
        if param is None:
            parts.append(re.escape(segment))
            literals += 1
        elif param.group(2):
            parts.append("(.+)")
            names.append(param.group(1))
            greedy = 1
        else:
            parts.append("([^/]+)")
            names.append(param.group(1))
    pattern = re.compile("/" + "/".join(parts))
    specificity = (literals, -greedy, int(spec.method != "ANY"))
    return CompiledRoute(spec, pattern, tuple(names), specificity)


class Router:
    """Picks the route API Gateway would pick for a method and path."""

    def __init__(self, routes: Iterable[HttpRouteSpec]) -> None:
        self._routes = [compile_route(r) for r in routes]

    def match(self, method: str, path: str) -> tuple[HttpRouteSpec, dict[str, str]] | None:
        best: tuple[CompiledRoute, dict[str, str]] | None = None
        for route in self._routes:
            params = route.match(method, path)
            if params is not None and (best is None or route.specificity > best[0].specificity):
                best = (route, params)
        return (best[0].spec, best[1]) if best else None

    def has_path(self, path: str) -> bool:
        return any(r.pattern.fullmatch(path) for r in self._routes)


# --------------------------------------------------------------------------- requests and events


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str
    raw_query: str
    headers: list[tuple[str, str]]  # as received, lower-cased names (HTTP API lower-cases them)
    body: bytes
    source_ip: str

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k == name.lower()]
        return ",".join(values) if values else None


def _is_text(content_type: str | None) -> bool:
    return content_type is None or any(t in content_type.lower() for t in _TEXT_TYPES)


def encode_body(request: HttpRequest) -> tuple[str | None, bool]:
    if not request.body:
        return None, False
    if _is_text(request.header("content-type")):
        try:
            return request.body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(request.body).decode(), True


def claim_strings(claims: dict[str, Any]) -> dict[str, str]:
    """Claims as API Gateway hands them to functions: strings, arrays as ``[a b]``."""
    rendered: dict[str, str] = {}
    for name, value in claims.items():
        if isinstance(value, list):
            rendered[name] = "[" + " ".join(str(v) for v in value) + "]"
        elif isinstance(value, bool):
            rendered[name] = str(value).lower()
        else:
            rendered[name] = str(value)
    return rendered


def _scopes(claims: dict[str, Any]) -> list[str] | None:
    scope = claims.get("scope") or claims.get("scp")
    if isinstance(scope, list):
        return [str(s) for s in scope]
    return str(scope).split() if scope else None


class EventBuilder:
    def __init__(self, api: HttpApiSpec, domain_name: str) -> None:
        self._api = api
        self._domain = domain_name

    def build(
        self,
        route: HttpRouteSpec,
        params: dict[str, str],
        request: HttpRequest,
        claims: dict[str, Any] | None,
    ) -> dict[str, Any]:
        if route.payload_format_version == "1.0":
            return self.v1(route, params, request, claims)
        return self.v2(route, params, request, claims)

    def _common_context(self, request: HttpRequest) -> dict[str, Any]:
        now_ms = int(time.time() * 1000)
        return {
            "accountId": ACCOUNT_ID,
            "apiId": self._api.api_id,
            "domainName": self._domain,
            "domainPrefix": self._domain.split(".")[0],
            "requestId": base64.b64encode(os.urandom(6)).decode(),
            "stage": self._api.stage,
            "_epoch": now_ms,
        }

    def v1(
        self,
        route: HttpRouteSpec,
        params: dict[str, str],
        request: HttpRequest,
        claims: dict[str, Any] | None,
    ) -> dict[str, Any]:
        multi_headers: dict[str, list[str]] = {}
        for name, value in request.headers:
            multi_headers.setdefault(name, []).append(value)
        multi_query: dict[str, list[str]] = {}
        for name, value in parse_qsl(request.raw_query, keep_blank_values=True):
            multi_query.setdefault(name, []).append(value)
        body, is_b64 = encode_body(request)
        context = self._common_context(request)
        epoch = context.pop("_epoch")
        context.update(
            {
                "extendedRequestId": context["requestId"],
                "httpMethod": request.method,
                "identity": {"sourceIp": request.source_ip, "userAgent": request.header("user-agent") or ""},
                "path": request.path,
                "protocol": "HTTP/1.1",
                "requestTime": datetime.fromtimestamp(epoch / 1000, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "requestTimeEpoch": epoch,
                "resourceId": route.route_key,
                "resourcePath": route.path,
            }
        )
        if claims is not None:
            context["authorizer"] = {"claims": claim_strings(claims), "scopes": _scopes(claims)}
        return {
            "version": "1.0",
            "resource": route.path,
            "path": request.path,
            "httpMethod": request.method,
            "headers": {k: v[-1] for k, v in multi_headers.items()},
            "multiValueHeaders": multi_headers,
            "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
            "multiValueQueryStringParameters": multi_query or None,
            "requestContext": context,
            "pathParameters": params or None,
            "stageVariables": None,
            "body": body,
            "isBase64Encoded": is_b64,
        }

    def v2(
        self,
        route: HttpRouteSpec,
        params: dict[str, str],
        request: HttpRequest,
        claims: dict[str, Any] | None,
    ) -> dict[str, Any]:
        headers: dict[str, str] = {}
        cookies: list[str] = []
        for name, value in request.headers:
            if name == "cookie":
                cookies.extend(c.strip() for c in value.split(";") if c.strip())
                continue
            headers[name] = f"{headers[name]},{value}" if name in headers else value
        query: dict[str, str] = {}
        for name, value in parse_qsl(request.raw_query, keep_blank_values=True):
            query[name] = f"{query[name]},{value}" if name in query else value
        body, is_b64 = encode_body(request)
        context = self._common_context(request)
        epoch = context.pop("_epoch")
        context.update(
            {
                "http": {
                    "method": request.method,
                    "path": request.path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": request.source_ip,
                    "userAgent": request.header("user-agent") or "",
                },
                "routeKey": route.route_key,
                "time": datetime.fromtimestamp(epoch / 1000, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "timeEpoch": epoch,
            }
        )
        if claims is not None:
            context["authorizer"] = {"jwt": {"claims": claim_strings(claims), "scopes": _scopes(claims)}}
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": route.route_key,
            "rawPath": request.path,
            "rawQueryString": request.raw_query,
            "headers": headers,
            "requestContext": context,
            "isBase64Encoded": is_b64,
        }
        if cookies:
            event["cookies"] = cookies
        if query:
            event["queryStringParameters"] = query
        if params:
            event["pathParameters"] = params
        if body is not None:
            event["body"] = body
        return event


# --------------------------------------------------------------------------- responses


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def json_response(status: int, payload: dict[str, Any]) -> HttpResponse:
    return HttpResponse(status, [("Content-Type", "application/json")], json.dumps(payload).encode())


def translate_response(result: InvocationResult, payload_format_version: str) -> HttpResponse:
    """The function's result as API Gateway turns it into an HTTP response."""
    if not result.ok:
        return json_response(500, {"message": "Internal Server Error"})
    payload = result.payload
    if not (isinstance(payload, dict) and "statusCode" in payload):
        if payload_format_version == "1.0":
            return json_response(500, {"message": "Internal Server Error"})
        # 2.0: any JSON is the body of a 200
        body = payload if isinstance(payload, str) else json.dumps(payload)
        return HttpResponse(200, [("Content-Type", "application/json")], body.encode())
    headers: list[tuple[str, str]] = [(str(k), str(v)) for k, v in (payload.get("headers") or {}).items()]
    for name, values in (payload.get("multiValueHeaders") or {}).items():
        headers.extend((str(name), str(v)) for v in values)
    headers.extend(("Set-Cookie", str(c)) for c in payload.get("cookies") or [])
    raw_body = payload.get("body")
    if raw_body is None:
        data = b""
    elif payload.get("isBase64Encoded"):
        data = base64.b64decode(str(raw_body))
    else:
        data = (raw_body if isinstance(raw_body, str) else json.dumps(raw_body)).encode()
    return HttpResponse(int(payload["statusCode"]), headers, data)


# --------------------------------------------------------------------------- the gateway


class HttpGateway:
    """The HTTP API server; ``start()`` serves on a background thread."""

    def __init__(
        self,
        api: HttpApiSpec,
        routes: Iterable[HttpRouteSpec],
        lambdas: LambdaService | None,
        verifier: TokenVerifier | None,
        *,
        host: str = "127.0.0.1",
        port: int = 8000,
    ) -> None:
        self.api = api
        self.router = Router(routes)
        self.lambdas = lambdas  # set before serving (see WebSocketGateway.lambdas)
        self._verifier = verifier
        handler = type("Handler", (_HttpHandler,), {"gateway": self})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self.host = host
        self.port = int(self._server.server_address[1])
        self._events = EventBuilder(api, f"{host}:{self.port}")
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.serve_forever, name="http-gateway", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving (bounded: requests still inside an invocation end when the Lambda service closes)."""
        if self._thread is not None:  # shutdown() waits forever if serve_forever never ran
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    # ------------------------------------------------------------------ request handling
    def handle(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self._dispatch(request)
        origin = request.header("origin")
        if origin and self.api.cors is not None and request.method != "OPTIONS":
            response.headers.extend(_cors_headers(self.api.cors, origin, preflight=False))
        elapsed = (time.perf_counter() - started) * 1000
        line = f"{request.path}?{request.raw_query}" if request.raw_query else request.path
        events_logger.info("http %s %s %d %.1f ms", request.method, line, response.status, elapsed)
        return response

    def _dispatch(self, request: HttpRequest) -> HttpResponse:
        if request.method == "GET" and request.path == JWKS_PATH and self._verifier is not None:
            return json_response(200, self._verifier.jwks())
        origin = request.header("origin")
        preflight = request.method == "OPTIONS" and request.header("access-control-request-method")
        if preflight and origin and self.api.cors is not None:
            return HttpResponse(204, _cors_headers(self.api.cors, origin, preflight=True), b"")
        found = self.router.match(request.method, request.path)
        if found is None:
            return json_response(404, {"message": "Not Found"})
        route, params = found
        claims: dict[str, Any] | None = None
        if route.authorizer is not None:
            claims = self._authorize(route.authorizer, request)
            if claims is None:
                return json_response(401, {"message": "Unauthorized"})
            scopes = _scopes(claims) or []
            if route.authorization_scopes and not set(route.authorization_scopes) & set(scopes):
                return json_response(403, {"message": "Forbidden"})
        event = self._events.build(route, params, request, claims)
        if self.lambdas is None:
            raise RuntimeError("the HTTP gateway has no Lambda service yet")
        try:
            result = self.lambdas.invoke(route.function, event)
        except ServiceStopped:
            return json_response(503, {"message": "Service Unavailable"})
        return translate_response(result, route.payload_format_version)

    def _authorize(self, authorizer: JwtAuthorizerSpec, request: HttpRequest) -> dict[str, Any] | None:
        from voltway.identity.errors import InvalidToken

        header_name = authorizer.identity_source.rsplit(".", 1)[-1]
        value = request.header(header_name)
        if not value or self._verifier is None:
            return None
        token = value[7:] if value[:7].lower() == "bearer " else value
        for audience in authorizer.audience or ("",):
            try:
                return self._verifier.verify(token.strip(), issuer=authorizer.issuer, audience=audience)
            except InvalidToken:
                continue
        return None


def _cors_headers(cors: CorsSpec, origin: str, *, preflight: bool) -> list[tuple[str, str]]:
    if "*" in cors.allow_origins:
        allowed = "*" if not cors.allow_credentials else origin
    elif origin in cors.allow_origins:
        allowed = origin
    else:
        return []
    headers = [("Access-Control-Allow-Origin", allowed)]
    if cors.allow_credentials:
        headers.append(("Access-Control-Allow-Credentials", "true"))
    if preflight:
        if cors.allow_methods:
            headers.append(("Access-Control-Allow-Methods", ",".join(cors.allow_methods)))
        if cors.allow_headers:
            headers.append(("Access-Control-Allow-Headers", ",".join(h.lower() for h in cors.allow_headers)))
        if cors.max_age is not None:
            headers.append(("Access-Control-Max-Age", str(cors.max_age)))
    elif cors.expose_headers:
        headers.append(("Access-Control-Expose-Headers", ",".join(cors.expose_headers)))
    return headers


class _HttpHandler(BaseHTTPRequestHandler):
    gateway: HttpGateway
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("http: " + format, *args)

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        request = HttpRequest(
            method=self.command.upper(),
            path=split.path,
            raw_query=split.query,
            headers=[(k.lower(), v) for k, v in self.headers.items()],
            body=body,
            source_ip=self.client_address[0],
        )
        try:
            response = self.gateway.handle(request)
        except Exception:
            logger.exception("HTTP gateway failed on %s %s", request.method, request.path)
            response = json_response(500, {"message": "Internal Server Error"})
        self.send_response(response.status)
        names = {k.lower() for k, _ in response.headers}
        for name, value in response.headers:
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        if "content-type" not in names and response.body:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(response.body)))
        self.send_header("apigw-requestid", uuid.uuid4().hex[:16])
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _serve
