"""The local HTTP API gateway: routing, payload formats, JWT authorizer, errors, CORS."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from voltway.local.runtime import LocalRuntime

pytestmark = pytest.mark.e2e


def call(runtime: LocalRuntime, method: str, path: str, **headers: str) -> tuple[int, dict[str, str], Any]:
    request = urllib.request.Request(runtime.http_url + path, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            raw, status, got = response.read(), response.status, dict(response.headers)
    except urllib.error.HTTPError as e:
        raw, status, got = e.read(), e.code, dict(e.headers)
    return status, got, json.loads(raw) if raw else None


def token(runtime: LocalRuntime, **overrides: Any) -> str:
    args: dict[str, Any] = {
        "issuer": runtime.jwt_issuer,
        "audience": runtime.jwt_audience,
        "subject": "user-1",
        "tenant": "acme",
        "roles": ["operator", "driver"],
    }
    args.update(overrides)
    return str(runtime.issuer.mint(**args))


def test_payload_1_0_with_path_and_query_parameters(runtime: LocalRuntime) -> None:
    status, headers, body = call(runtime, "GET", "/v1/items/a%20b?x=1&x=2&y=3")
    assert status == 200 and headers["X-Function"] == "voltway-local-HttpFunction"
    event = body["event"]
    assert event["version"] == "1.0" and event["resource"] == "/v1/items/{itemId}"
    assert event["pathParameters"] == {"itemId": "a b"}
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"], "y": ["3"]}
    assert event["requestContext"]["resourcePath"] == "/v1/items/{itemId}"
    assert event["requestContext"]["identity"]["sourceIp"] == "127.0.0.1"
    assert "authorizer" not in event["requestContext"]


def test_payload_2_0_and_greedy_proxy(runtime: LocalRuntime) -> None:
    status, _, body = call(runtime, "DELETE", "/v2/items/42?q=1")
    assert status == 200
    event = body["event"]
    assert event["version"] == "2.0" and event["routeKey"] == "ANY /v2/items/{itemId}"
    assert event["rawQueryString"] == "q=1" and event["requestContext"]["http"]["method"] == "DELETE"
    _, _, body = call(runtime, "POST", "/files/a/b/c.txt")
    assert body["event"]["pathParameters"] == {"proxy": "a/b/c.txt"}


def test_unknown_route_is_404(runtime: LocalRuntime) -> None:
    assert call(runtime, "GET", "/nowhere")[::2] == (404, {"message": "Not Found"})
    assert call(runtime, "POST", "/v1/items/1")[::2] == (404, {"message": "Not Found"})


def test_jwt_routes_refuse_missing_invalid_and_expired_tokens(runtime: LocalRuntime) -> None:
    unauthorized = (401, {"message": "Unauthorized"})
    assert call(runtime, "GET", "/v1/secure")[::2] == unauthorized
    assert call(runtime, "GET", "/v1/secure", Authorization="Bearer not-a-jwt")[::2] == unauthorized
    expired = token(runtime, ttl_seconds=-120)
    assert call(runtime, "GET", "/v1/secure", Authorization=f"Bearer {expired}")[::2] == unauthorized
    other_audience = token(runtime, audience="someone-else")
    assert call(runtime, "GET", "/v2/secure", Authorization=f"Bearer {other_audience}")[::2] == unauthorized


def test_jwt_claims_reach_the_function(runtime: LocalRuntime) -> None:
    status, _, body = call(runtime, "GET", "/v1/secure", Authorization=f"Bearer {token(runtime)}")
    assert status == 200
    claims = body["event"]["requestContext"]["authorizer"]["claims"]
    assert claims["sub"] == "user-1" and claims["cognito:groups"] == "[operator driver]"
    status, _, body = call(runtime, "GET", "/v2/secure", Authorization=token(runtime))
    assert status == 200
    assert body["event"]["requestContext"]["authorizer"]["jwt"]["claims"]["custom:tenant"] == "acme"


def test_function_error_and_timeout_are_500(runtime: LocalRuntime) -> None:
    assert call(runtime, "GET", "/boom")[::2] == (500, {"message": "Internal Server Error"})
    assert call(runtime, "GET", "/slow")[::2] == (500, {"message": "Internal Server Error"})


def test_cors_preflight_and_jwks(runtime: LocalRuntime) -> None:
    status, headers, _ = call(
        runtime,
        "OPTIONS",
        "/v1/secure",
        Origin="http://app.example",
        **{"Access-Control-Request-Method": "GET"},
    )
    assert status == 204
    assert headers["Access-Control-Allow-Origin"] == "http://app.example"
    assert headers["Access-Control-Max-Age"] == "600"
    status, _, jwks = call(runtime, "GET", "/.well-known/jwks.json")
    assert status == 200 and jwks["keys"][0]["kid"] == runtime.issuer.kid
