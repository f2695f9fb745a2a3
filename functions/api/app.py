"""The HTTP API (Chalice): operators manage chargers; every route is tenant-scoped."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from chalice.app import Chalice, Request, Response

from voltway.adapters.commands_http import json_object, wait_seconds
from voltway.adapters.http import BadRequest, int_param, mapped, principal
from voltway.adapters.roots import cached_api, cached_commands
from voltway.adapters.roots_transactions import cached_transactions_api
from voltway.alerts.http import alerts_blueprint
from voltway.api.routes.driver import driver_blueprint
from voltway.api.routes.registration import (
    docs_blueprint,
    register_conventions,
    sites_blueprint,
    stations_blueprint,
)
from voltway.billing.http import billing_blueprint
from voltway.billing.roots import cached_billing
from voltway.chargers.errors import ChargerNotFound
from voltway.chargers.http_models import (
    CHARGE_POINT_ID_PATTERN,
    PutChargerRequest,
    charger_view,
    message_view,
)
from voltway.chargers.model import Registration
from voltway.drivers.charges_http import charges_blueprint
from voltway.exports.http import export_view, job_view
from voltway.exports.model import ExportRequest
from voltway.exports.roots import cached_export_service
from voltway.identity import Forbidden, Principal, Role
from voltway.idtags.http_models import ID_TAG_PATTERN, PutIdTagRequest, id_tag_view
from voltway.idtags.model import IdTag, IdTagStatus
from voltway.invoices.http import invoices_blueprint
from voltway.ocpp.commands.model import Command
from voltway.ocpp.commands.views import command_view, reported_view
from voltway.payments.http import payments_blueprint
from voltway.transactions.http_models import listing_view, reports_view, transaction_view

app = Chalice(app_name="voltway-api")
register_conventions(app)  # signed cursors + one error shape on every route
app.register_blueprint(sites_blueprint())
app.register_blueprint(stations_blueprint())
app.register_blueprint(docs_blueprint())
app.register_blueprint(billing_blueprint())  # tariffs, contracts, CDRs (docs/billing.md)
app.register_blueprint(driver_blueprint())  # drivers' tokens, sessions, history (docs/drivers.md)
app.register_blueprint(alerts_blueprint())  # operators' open alerts (docs/api.md)
app.register_blueprint(charges_blueprint())  # drivers' charges, RFID-started included (docs/drivers.md)
app.register_blueprint(payments_blueprint())  # card holds, captures, refunds (docs/payments.md)
app.register_blueprint(invoices_blueprint())  # receipts, invoices, billing profiles (docs/invoices.md)
_ID = re.compile(CHARGE_POINT_ID_PATTERN)
_ID_TAG = re.compile(ID_TAG_PATTERN)


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
    if body.tariff_id is not None:
        cached_billing().tariffs.get(tenant_id, body.tariff_id)  # 404 before anything is written
    view = charger_view(cached_api().chargers.register(registration))
    if "tariff_id" in body.model_fields_set:  # optional: the charger's own tariff (docs/billing.md)
        cached_billing().tariffs.assign_charger(tenant_id, registration.charge_point_id, body.tariff_id)
        view["tariff_id"] = body.tariff_id
    return view


@app.route("/v1/chargers/{chargePointId}", methods=["GET"])
@mapped
def get_charger(chargePointId: str) -> dict[str, Any]:
    caller = _operator()
    view = charger_view(cached_api().chargers.get(caller.tenant_id, chargePointId))
    # As the charger reported it through accepted commands (configuration as last read, profiles...).
    view["reported"] = reported_view(cached_commands().reported(chargePointId))
    view.update(reports_view(cached_transactions_api().reports.get(chargePointId)))
    return view


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


def _command_response(command: Command) -> Response:
    """200 once the command has an outcome, 202 while it is pending."""
    status = 200 if command.status.terminal else 202
    return Response(command_view(command), {"Content-Type": "application/json"}, status)


@app.route("/v1/chargers/{chargePointId}/commands/{action}", methods=["POST"])
@mapped
def send_command(chargePointId: str, action: str) -> Response:
    """Body: the OCPP 1.6 request payload as on the wire. ``?wait=<s>`` (<= 25) waits for the answer."""
    caller = _operator()
    request = _request()
    commands = cached_commands()
    command = commands.submit(caller.tenant_id, chargePointId, action, json_object(request.raw_body))
    wait = wait_seconds(request.query_params)
    if wait and not command.status.terminal:
        command = commands.wait(caller.tenant_id, command.command_id, wait)
    return _command_response(command)


@app.route("/v1/commands/{commandId}", methods=["GET"])
@mapped
def get_command(commandId: str) -> Response:
    caller = _operator()
    commands = cached_commands()
    command = commands.get(caller.tenant_id, commandId)
    wait = wait_seconds(_request().query_params)
    if wait and not command.status.terminal:
        command = commands.wait(caller.tenant_id, commandId, wait)
    return _command_response(command)


@app.route("/v1/chargers/{chargePointId}/commands", methods=["GET"])
@mapped
def charger_commands(chargePointId: str) -> dict[str, Any]:
    caller = _operator()
    params = _request().query_params
    limit = int_param(params, "limit", 25, 1, 100)
    page = cached_commands().list_for_charger(caller.tenant_id, chargePointId, limit, _cursor(params))
    return {"items": [command_view(c) for c in page.items], "next_cursor": page.cursor}


@app.route("/v1/chargers/{chargePointId}/transactions", methods=["GET"])
@mapped
def charger_transactions(chargePointId: str) -> dict[str, Any]:
    caller = _operator()
    cached_api().chargers.get(caller.tenant_id, chargePointId)  # 404 unless the caller's tenant owns it
    params = _request().query_params
    limit = int_param(params, "limit", 10, 1, 50)
    items, cursor = cached_transactions_api().transactions.list_for_charger(
        chargePointId, limit, _cursor(params)
    )
    return {"items": [listing_view(i) for i in items], "next_cursor": cursor}


@app.route("/v1/transactions/{transactionId}", methods=["GET"])
@mapped
def get_transaction(transactionId: str) -> dict[str, Any]:
    caller = _operator()
    if not transactionId.lstrip("-").isdigit() or len(transactionId) > 12:
        raise BadRequest("invalid transaction id", {"field": "transactionId"})
    detail = cached_transactions_api().transactions.get(caller.tenant_id, int(transactionId))
    return transaction_view(detail)


def _id_tag(value: str) -> str:
    if not _ID_TAG.match(value):
        raise BadRequest("invalid id tag (OCPP IdToken: 1 to 20 printable characters)", {"field": "idTag"})
    return value


@app.route("/v1/id-tags/{idTag}", methods=["PUT"])
@mapped
def put_id_tag(idTag: str) -> dict[str, Any]:
    caller = _operator()
    body = PutIdTagRequest.model_validate_json(_request().raw_body or b"{}")
    tag = IdTag(
        caller.tenant_id, _id_tag(idTag), IdTagStatus(body.status), body.expiry_date, body.parent_id_tag
    )
    return id_tag_view(cached_transactions_api().id_tags.put(tag))


@app.route("/v1/id-tags/{idTag}", methods=["GET"])
@mapped
def get_id_tag(idTag: str) -> dict[str, Any]:
    caller = _operator()
    return id_tag_view(cached_transactions_api().id_tags.get(caller.tenant_id, _id_tag(idTag)))


# ---------------------------------------------------------------- exports (finance; see docs/exports.md)


@app.route("/v1/exports", methods=["POST"])
@mapped
def request_export() -> Response:
    request = _request()
    body = ExportRequest.model_validate_json(request.raw_body or b"{}")
    key: str | None = request.headers.get("idempotency-key") if request.headers else None
    job = cached_export_service().request(principal(request.context), body, key)
    location = f"/v1/exports/{job.export_id}"
    return Response({"export_id": job.export_id}, status_code=202, headers={"Location": location})


@app.route("/v1/exports/{exportId}", methods=["GET"])
@mapped
def get_export(exportId: str) -> dict[str, Any]:
    return export_view(cached_export_service().get(principal(_request().context), exportId))


@app.route("/v1/exports", methods=["GET"])
@mapped
def list_exports() -> dict[str, Any]:
    params = _request().query_params
    limit = int_param(params, "limit", 25, 1, 100)
    page = cached_export_service().list(principal(_request().context), limit, _cursor(params))
    return {"items": [job_view(j) for j in page.items], "next_cursor": page.cursor}


__all__ = ["ChargerNotFound", "app"]
