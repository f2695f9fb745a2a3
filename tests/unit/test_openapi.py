"""The OpenAPI document is generated from the Chalice routes and pydantic models, and the routes of
the app, the document and the template's ApiFunction events agree (so routes cannot drift)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.test_sites_support import REPO, Api, aws
from voltway.local.template import load_template

pytestmark = pytest.mark.usefixtures("aws")
__all__ = ["aws"]

API = Api()


def document() -> dict[str, Any]:
    status, doc = API("GET", "/v1/openapi.json", groups=None)
    assert status == 200
    assert isinstance(doc, dict)
    return doc


def chalice_routes() -> set[tuple[str, str]]:
    return {(method, path) for path, methods in API.module.app.routes.items() for method in methods}


def template_routes() -> dict[tuple[str, str], bool]:
    """(METHOD, path) -> needs a token, for the ApiFunction's HttpApi events."""
    template = load_template(REPO / "template.yaml")
    return {
        (r.method, r.path): r.authorizer is not None
        for r in template.http_routes
        if r.function == "ApiFunction"
    }


def test_every_route_is_in_the_document_and_the_template_and_vice_versa() -> None:
    doc = document()
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    routes = chalice_routes()
    in_template = set(template_routes())
    assert routes - documented == set(), "routes missing from the OpenAPI document"
    assert documented - routes == set(), "documented routes the app does not serve"
    assert routes - in_template == set(), "Chalice routes API Gateway does not route to ApiFunction"
    assert in_template - routes == set(), "template events with no Chalice route"


def test_auth_in_the_document_matches_the_template() -> None:
    doc = document()
    for (method, path), needs_token in template_routes().items():
        operation = doc["paths"][path][method.lower()]
        public = operation.get("security") == []
        assert public == (not needs_token), f"{method} {path}: document and template disagree on auth"


def test_the_document_is_openapi_3_and_refs_resolve() -> None:
    doc = document()
    assert doc["openapi"].startswith("3.1") and doc["paths"]
    schemas = doc["components"]["schemas"]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in schemas, ref
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc)
    search = doc["paths"]["/v1/stations"]["get"]
    params = {p["name"]: p for p in search["parameters"]}
    assert {
        "lat",
        "lon",
        "radius_km",
        "q",
        "connector_type",
        "min_power_kw",
        "available",
        "cursor",
        "limit",
    } <= set(params)
    put_site = doc["paths"]["/v1/sites/{siteId}"]["put"]
    assert put_site["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PutSiteRequest"
    }
    assert "IEC_62196_T2_COMBO" in str(schemas["ConnectorType"])
    assert put_site["responses"]["404"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/ErrorBody"
    )
    assert doc["paths"]["/v1/chargers/{chargePointId}"]["put"]["requestBody"]  # existing routes documented


def test_chalice_adds_no_cors_headers_of_its_own() -> None:
    """API Gateway's CorsConfiguration owns CORS; a route-level cors= would send a second set."""
    for path, methods in API.module.app.routes.items():
        for method, entry in methods.items():
            assert entry.cors is None, (
                f"{method} {path} sets Chalice CORS; use the template's CorsConfiguration"
            )
    status, headers, _ = API.full("GET", "/v1/sites", headers={"origin": "https://app.example"})
    assert status == 200 and not any(h.lower().startswith("access-control-") for h in headers)


def test_chalice_errors_use_the_one_error_shape() -> None:
    status, body = API("POST", "/v1/sites")  # a known path, an unknown method
    assert status == 405 and body["error"]["code"] == "method_not_allowed"
