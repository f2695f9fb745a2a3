"""``GET /v1/openapi.json``: the OpenAPI document of every route of the app, built once per process."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

from voltway.adapters.http import mapped
from voltway.api.openapi import Operation, build_document, documented
from voltway.chargers.http_models import CHARGE_POINT_ID_PATTERN, PutChargerRequest

# Routes defined before the documentation existed, described here so their modules stay untouched.
KNOWN: dict[tuple[str, str], Operation] = {
    ("GET", "/v1/health"): Operation("Liveness", "meta", public=True),
    ("PUT", "/v1/chargers/{chargePointId}"): Operation(
        "Register or update a charger",
        "chargers",
        PutChargerRequest,
        path_patterns={"chargePointId": CHARGE_POINT_ID_PATTERN},
    ),
    ("GET", "/v1/chargers/{chargePointId}"): Operation(
        "A charger", "chargers", path_patterns={"chargePointId": CHARGE_POINT_ID_PATTERN}
    ),
    ("GET", "/v1/chargers"): Operation("The tenant's chargers", "chargers"),
    ("GET", "/v1/chargers/{chargePointId}/messages"): Operation(
        "A charger's OCPP message log", "chargers", path_patterns={"chargePointId": CHARGE_POINT_ID_PATTERN}
    ),
}


def docs_blueprint() -> Blueprint:
    bp = Blueprint(__name__)
    cache: dict[str, dict[str, Any]] = {}

    @bp.route("/v1/openapi.json", methods=["GET"])
    @documented(Operation("This document (OpenAPI 3.1)", "meta", public=True))
    @mapped
    def openapi_document() -> dict[str, Any]:
        if "doc" not in cache:
            cache["doc"] = build_document(bp.current_app.routes, known=KNOWN)
        return cache["doc"]

    return bp
