"""HTTP API route matching as API Gateway does it: most specific route wins."""

from __future__ import annotations

import pytest

from voltway.local.http_gateway import Router
from voltway.local.template import HttpRouteSpec


def _route(method: str, path: str, function: str) -> HttpRouteSpec:
    return HttpRouteSpec(function, function, "Api", path, method, "2.0", None)


ROUTER = Router(
    [
        _route("GET", "/v1/chargers", "list"),
        _route("GET", "/v1/chargers/{chargePointId}", "get"),
        _route("ANY", "/v1/chargers/{chargePointId}", "any"),
        _route("GET", "/v1/chargers/mine", "mine"),
        _route("POST", "/v1/chargers/{chargePointId}/commands/{action}", "command"),
        _route("ANY", "/files/{proxy+}", "files"),
        _route("GET", "/files/readme", "readme"),
        _route("ANY", "$default", "fallback"),
    ]
)


@pytest.mark.parametrize(
    ("method", "path", "function", "params"),
    [
        ("GET", "/v1/chargers", "list", {}),
        ("GET", "/v1/chargers/mine", "mine", {}),  # literal beats {param}
        ("GET", "/v1/chargers/CP001", "get", {"chargePointId": "CP001"}),  # method beats ANY
        ("DELETE", "/v1/chargers/CP001", "any", {"chargePointId": "CP001"}),
        ("GET", "/v1/chargers/CP%2F01", "get", {"chargePointId": "CP/01"}),  # decoded, one segment
        ("POST", "/v1/chargers/CP1/commands/Reset", "command", {"chargePointId": "CP1", "action": "Reset"}),
        ("GET", "/files/a/b/c.txt", "files", {"proxy": "a/b/c.txt"}),  # greedy spans segments
        ("GET", "/files/readme", "readme", {}),  # literal beats {proxy+}
        ("PUT", "/v1/chargers/CP1/commands/Reset", "fallback", {}),  # wrong method: $default
        ("GET", "/elsewhere", "fallback", {}),
        ("GET", "/v1/chargers/CP1/", "fallback", {}),  # a trailing slash is another path
    ],
)
def test_most_specific_route_wins(method: str, path: str, function: str, params: dict[str, str]) -> None:
    found = ROUTER.match(method, path)
    assert found is not None
    route, matched = found
    assert (route.function, matched) == (function, params)


def test_no_route_and_no_default_is_no_match() -> None:
    router = Router([_route("GET", "/v1/chargers", "list")])
    assert router.match("GET", "/v1/other") is None
    assert router.match("POST", "/v1/chargers") is None
    assert router.has_path("/v1/chargers") and not router.has_path("/v1/other")
