"""Drivers' charging flow: their tokens, start/stop charging from the app, the live session, history and
their own CDRs (docs/drivers.md). Every route is the caller's own: another driver's token, session or
CDR is 404, never data."""

from __future__ import annotations

from typing import Any, ParamSpec

from chalice.app import Blueprint, Response

from voltway.adapters.http import mapped, path_param, principal
from voltway.api.idempotency import cached_http_idempotency, run_idempotently
from voltway.api.openapi import Operation, documented
from voltway.api.routes import body, query_model
from voltway.billing.http import cdr_view
from voltway.billing.model import CDR_ID_PATTERN
from voltway.drivers.http_models import (
    SESSION_ID_PATTERN,
    AddTokenRequest,
    HistoryParams,
    SessionOut,
    SessionPageOut,
    StartSessionRequest,
    TokenListOut,
    TokenOut,
)
from voltway.drivers.roots import cached_drivers
from voltway.identity import Principal, Role
from voltway.idtags.http_models import ID_TAG_PATTERN

P = ParamSpec("P")
DRIVER = (Role.DRIVER, Role.ADMIN)
PATTERNS = {"idTag": ID_TAG_PATTERN, "sessionId": SESSION_ID_PATTERN, "cdrId": CDR_ID_PATTERN}
JSON: dict[str, str | list[str]] = {"Content-Type": "application/json"}


def driver_blueprint() -> Blueprint:
    bp = Blueprint(__name__)

    def driver() -> Principal:
        caller = principal(bp.current_request.context)
        caller.require(Role.DRIVER)
        return caller

    @bp.route("/v1/me/tokens", methods=["GET"])
    @documented(
        Operation(
            "My tokens (the app token is created on first use)", "drivers", None, None, TokenListOut, DRIVER
        )
    )
    @mapped
    def my_tokens() -> dict[str, Any]:
        caller = driver()
        views = cached_drivers().tokens(caller.tenant_id, caller.user_id)
        return body(TokenListOut(items=[TokenOut.of(v) for v in views]))

    @bp.route("/v1/me/tokens", methods=["POST"])
    @documented(
        Operation(
            "Add an RFID card (201; 200 if already mine; 409 if someone else's)",
            "drivers",
            AddTokenRequest,
            None,
            TokenOut,
            DRIVER,
            status=201,
        )
    )
    @mapped
    def add_token() -> Response:
        caller = driver()
        request = AddTokenRequest.model_validate_json(bp.current_request.raw_body or b"{}")
        view, created = cached_drivers().add_token(caller.tenant_id, caller.user_id, request.uid)
        return Response(body(TokenOut.of(view)), JSON, 201 if created else 200)

    @bp.route("/v1/me/tokens/{idTag}/block", methods=["POST"])
    @documented(
        Operation("Block one of my tokens", "drivers", None, None, TokenOut, DRIVER, path_patterns=PATTERNS)
    )
    @mapped
    def block_token(idTag: str) -> dict[str, Any]:
        caller = driver()
        view = cached_drivers().block_token(
            caller.tenant_id, caller.user_id, path_param(PATTERNS, "idTag", idTag)
        )
        return body(TokenOut.of(view))

    @bp.route("/v1/sessions", methods=["POST"])
    @documented(
        Operation(
            "Start charging with my app token (RemoteStartTransaction)",
            "drivers",
            StartSessionRequest,
            None,
            SessionOut,
            DRIVER,
            status=202,
            idempotency_key=True,
        )
    )
    @mapped
    def start_session() -> Response:
        caller = driver()
        request = bp.current_request
        start = StartSessionRequest.model_validate_json(request.raw_body or b"{}")

        def run() -> Response:
            detail = cached_drivers().start(
                caller.tenant_id, caller.user_id, start.charge_point_id, start.connector_id
            )
            location: dict[str, str | list[str]] = {
                **JSON,
                "Location": f"/v1/sessions/{detail.session.session_id}",
            }
            return Response(body(SessionOut.detail(detail)), location, 202)

        return run_idempotently(cached_http_idempotency(), request, caller, "POST /v1/sessions", run)

    @bp.route("/v1/sessions/{sessionId}", methods=["GET"])
    @documented(
        Operation(
            "My session: state, live energy/power/duration and cost so far",
            "drivers",
            None,
            None,
            SessionOut,
            DRIVER,
            path_patterns=PATTERNS,
        )
    )
    @mapped
    def get_session(sessionId: str) -> dict[str, Any]:
        caller = driver()
        detail = cached_drivers().get(
            caller.tenant_id, caller.user_id, path_param(PATTERNS, "sessionId", sessionId)
        )
        return body(SessionOut.detail(detail))

    @bp.route("/v1/sessions/{sessionId}/stop", methods=["POST"])
    @documented(
        Operation(
            "Stop charging (RemoteStopTransaction)",
            "drivers",
            None,
            None,
            SessionOut,
            DRIVER,
            status=202,
            path_patterns=PATTERNS,
        )
    )
    @mapped
    def stop_session(sessionId: str) -> Response:
        caller = driver()
        detail = cached_drivers().stop(
            caller.tenant_id, caller.user_id, path_param(PATTERNS, "sessionId", sessionId)
        )
        return Response(body(SessionOut.detail(detail)), JSON, 202)

    @bp.route("/v1/me/sessions", methods=["GET"])
    @documented(
        Operation("My sessions, newest first", "drivers", None, HistoryParams, SessionPageOut, DRIVER)
    )
    @mapped
    def my_sessions() -> dict[str, Any]:
        caller = driver()
        params = query_model(HistoryParams, bp.current_request.query_params)
        page = cached_drivers().history(caller.tenant_id, caller.user_id, params.limit, params.cursor)
        return body(SessionPageOut(items=[SessionOut.of(s) for s in page.items], next_cursor=page.cursor))

    @bp.route("/v1/me/cdrs/{cdrId}", methods=["GET"])
    @documented(
        Operation("A CDR of one of my tokens (OCPI 2.2.1)", "drivers", roles=DRIVER, path_patterns=PATTERNS)
    )
    @mapped
    def my_cdr(cdrId: str) -> dict[str, Any]:
        caller = driver()
        return cdr_view(
            cached_drivers().cdr(caller.tenant_id, caller.user_id, path_param(PATTERNS, "cdrId", cdrId))
        )

    return bp
