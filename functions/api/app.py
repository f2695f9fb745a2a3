"""The HTTP API (Chalice): operators manage chargers; every route is tenant-scoped."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from chalice.app import Chalice, Request

from voltway.adapters.http import BadRequest, int_param, mapped, principal
from voltway.adapters.roots import cached_api
from voltway.chargers.errors import ChargerNotFound
from voltway.chargers.http_models import (
    CHARGE_POINT_ID_PATTERN,
    PutChargerRequest,
    charger_view,
    message_view,
)
from voltway.chargers.model import Registration
from voltway.identity import Forbidden, Principal, Role

app = Chalice(app_name="voltway-api")
_ID = re.compile(CHARGE_POINT_ID_PATTERN)


def _request() -> Request:
    request = app.current_request
    assert request is not None, "only called inside a route"
    return request


def _operator() -> Principal:
    caller = principal(_request().context)
    caller.require(Role.OPERATOR)
    return caller


def _cursor(params: Mapping[str, str] | None) -> str | None:
    return params.get("cursor") if params else None


def _charge_point_id(value: str) -> str:
    if not _ID.match(value):
        raise BadRequest("invalid charge point id", {"field": "chargePointId"})
    return value


@app.route("/v1/health", methods=["GET"])
@mapped
def health() -> dict[str, Any]:
    return {"status": "ok"}


@app.route("/v1/chargers/{chargePointId}", methods=["PUT"])
@mapped
def put_charger(chargePointId: str) -> dict[str, Any]:
    caller = _operator()
    body = PutChargerRequest.model_validate_json(_request().raw_body or b"{}")
    tenant_id = body.tenant_id or caller.tenant_id
    if tenant_id != caller.tenant_id and Role.ADMIN not in caller.roles:
        raise Forbidden("only an admin may register chargers for another tenant")
    registration = Registration(
        _charge_point_id(chargePointId), tenant_id, body.password, body.security_profile, body.enabled
    )
    return charger_view(cached_api().chargers.register(registration))


@app.route("/v1/chargers/{chargePointId}", methods=["GET"])
@mapped
def get_charger(chargePointId: str) -> dict[str, Any]:
    caller = _operator()
    return charger_view(cached_api().chargers.get(caller.tenant_id, chargePointId))


@app.route("/v1/chargers", methods=["GET"])
@mapped
def list_chargers() -> dict[str, Any]:
    caller = _operator()
    params = _request().query_params
    limit = int_param(params, "limit", 25, 1, 100)
    page = cached_api().chargers.list_chargers(caller.tenant_id, limit, _cursor(params))
    return {"items": [charger_view(c) for c in page.items], "next_cursor": page.cursor}


@app.route("/v1/chargers/{chargePointId}/messages", methods=["GET"])
@mapped
def charger_messages(chargePointId: str) -> dict[str, Any]:
    caller = _operator()
    root = cached_api()
    root.chargers.get(caller.tenant_id, chargePointId)  # 404 unless the caller's tenant owns it
    params = _request().query_params
    limit = int_param(params, "limit", 50, 1, 200)
    page = root.messages.recent(chargePointId, limit, _cursor(params))
    return {"items": [message_view(m) for m in page.items], "next_cursor": page.cursor}


__all__ = ["ChargerNotFound", "app"]
