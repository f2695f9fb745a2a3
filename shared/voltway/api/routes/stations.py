"""Drivers' station search and station detail with live connector status."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

from voltway.adapters.http import mapped, principal
from voltway.api.openapi import Operation, documented
from voltway.api.roots import cached_sites_root
from voltway.api.routes import body, query_model
from voltway.identity import Principal, Role
from voltway.sites.http_models import SITE_ID_PATTERN
from voltway.stations.http_models import (
    StationDetailParams,
    StationPageView,
    StationSearchParams,
    StationView,
)

DRIVERS = (Role.DRIVER, Role.OPERATOR, Role.ADMIN)


def stations_blueprint() -> Blueprint:
    bp = Blueprint(__name__)

    def driver() -> Principal:
        caller = principal(bp.current_request.context)
        caller.require(Role.DRIVER, Role.OPERATOR)
        return caller

    @bp.route("/v1/stations", methods=["GET"])
    @documented(
        Operation(
            "Stations near a point (by distance) or by text, with live availability",
            "stations",
            None,
            StationSearchParams,
            StationPageView,
            DRIVERS,
        )
    )
    @mapped
    def search_stations() -> dict[str, Any]:
        caller = driver()
        params = query_model(StationSearchParams, bp.current_request.query_params)
        page = cached_sites_root().search.search(params.to_query(caller.tenant_id), params.cursor)
        return body(StationPageView(items=[StationView.of(s) for s in page.items], next_cursor=page.cursor))

    @bp.route("/v1/stations/{siteId}", methods=["GET"])
    @documented(
        Operation(
            "A station with each connector's live status",
            "stations",
            None,
            StationDetailParams,
            StationView,
            DRIVERS,
            path_patterns={"siteId": SITE_ID_PATTERN},
        )
    )
    @mapped
    def get_station(siteId: str) -> dict[str, Any]:
        caller = driver()
        params = query_model(StationDetailParams, bp.current_request.query_params)
        near = (params.lat, params.lon) if params.lat is not None and params.lon is not None else None
        return body(StationView.of(cached_sites_root().search.station(caller.tenant_id, siteId, near)))

    return bp
