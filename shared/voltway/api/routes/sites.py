"""Operators' sites: create/update, read, list, and place chargers (with connector metadata)."""

from __future__ import annotations

from typing import Any

from chalice.app import Blueprint

from voltway.adapters.http import int_param, mapped, path_param, principal
from voltway.api.openapi import Operation, documented
from voltway.api.roots import cached_sites_root
from voltway.api.routes import body
from voltway.chargers.http_models import CHARGE_POINT_ID_PATTERN
from voltway.identity import Principal, Role
from voltway.sites.http_models import (
    SITE_ID_PATTERN,
    PutSiteChargerRequest,
    PutSiteRequest,
    SitePageView,
    SiteView,
)

PATTERNS = {"siteId": SITE_ID_PATTERN, "chargePointId": CHARGE_POINT_ID_PATTERN}
OPERATOR = (Role.OPERATOR, Role.ADMIN)


def sites_blueprint() -> Blueprint:
    bp = Blueprint(__name__)

    def operator() -> Principal:
        caller = principal(bp.current_request.context)
        caller.require(Role.OPERATOR)
        return caller

    @bp.route("/v1/sites/{siteId}", methods=["PUT"])
    @documented(
        Operation(
            "Create or update a site",
            "sites",
            PutSiteRequest,
            None,
            SiteView,
            OPERATOR,
            path_patterns=PATTERNS,
        )
    )
    @mapped
    def put_site(siteId: str) -> dict[str, Any]:
        caller = operator()
        request = PutSiteRequest.model_validate_json(bp.current_request.raw_body or b"{}")
        site_id = path_param(PATTERNS, "siteId", siteId)
        return body(
            SiteView.of(cached_sites_root().catalog.put_site(caller.tenant_id, site_id, request.to_details()))
        )

    @bp.route("/v1/sites/{siteId}", methods=["GET"])
    @documented(
        Operation("A site with its chargers", "sites", None, None, SiteView, OPERATOR, path_patterns=PATTERNS)
    )
    @mapped
    def get_site(siteId: str) -> dict[str, Any]:
        caller = operator()
        return body(SiteView.of(cached_sites_root().catalog.get_site(caller.tenant_id, siteId)))

    @bp.route("/v1/sites", methods=["GET"])
    @documented(Operation("The tenant's sites, by id", "sites", None, None, SitePageView, OPERATOR))
    @mapped
    def list_sites() -> dict[str, Any]:
        caller = operator()
        params = bp.current_request.query_params
        limit = int_param(params, "limit", 25, 1, 100)
        cursor = params.get("cursor") if params else None
        page = cached_sites_root().catalog.list_sites(caller.tenant_id, limit, cursor)
        return body(SitePageView(items=[SiteView.of(s) for s in page.items], next_cursor=page.cursor))

    @bp.route("/v1/sites/{siteId}/chargers/{chargePointId}", methods=["PUT"])
    @documented(
        Operation(
            "Place a charger at a site (moving it from another) with its connectors",
            "sites",
            PutSiteChargerRequest,
            None,
            SiteView,
            OPERATOR,
            path_patterns=PATTERNS,
        )
    )
    @mapped
    def put_site_charger(siteId: str, chargePointId: str) -> dict[str, Any]:
        caller = operator()
        request = PutSiteChargerRequest.model_validate_json(bp.current_request.raw_body or b"{}")
        cp = path_param(PATTERNS, "chargePointId", chargePointId)
        site = cached_sites_root().catalog.place_charger(caller.tenant_id, siteId, cp, request.to_specs())
        return body(SiteView.of(site))

    @bp.route("/v1/sites/{siteId}/chargers/{chargePointId}", methods=["DELETE"])
    @documented(
        Operation(
            "Remove a charger from a site", "sites", None, None, SiteView, OPERATOR, path_patterns=PATTERNS
        )
    )
    @mapped
    def delete_site_charger(siteId: str, chargePointId: str) -> dict[str, Any]:
        caller = operator()
        site = cached_sites_root().catalog.remove_charger(caller.tenant_id, siteId, chargePointId)
        return body(SiteView.of(site))

    return bp
