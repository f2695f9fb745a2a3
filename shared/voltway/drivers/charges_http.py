"""``GET /v1/me/charges``: the driver's charges with any of their tokens (RFID cards included)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from chalice.app import Blueprint
from pydantic import BaseModel, ConfigDict, Field

from voltway.adapters.http import BadRequest, mapped, principal
from voltway.api.openapi import Operation, documented
from voltway.api.routes import body, query_model
from voltway.drivers.charges import Charge, InvalidChargesCursor
from voltway.drivers.roots_charges import cached_driver_charges
from voltway.identity import Role

DRIVER = (Role.DRIVER, Role.ADMIN)


class ChargesParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    limit: int = Field(default=20, ge=1, le=50)
    cursor: str | None = None


class ChargeOut(BaseModel):
    transaction_id: int
    charge_point_id: str
    connector_id: int
    id_tag: str
    token_kind: Literal["rfid", "app"]
    state: Literal["running", "stopped"]
    started_at: datetime
    stopped_at: datetime | None
    energy_wh: int | None = Field(description="meterStop - meterStart, or so far while running")
    stop_reason: str | None

    @classmethod
    def of(cls, charge: Charge) -> ChargeOut:
        t = charge.transaction
        return cls(
            transaction_id=t.transaction_id,
            charge_point_id=t.charge_point_id,
            connector_id=t.connector_id,
            id_tag=t.id_tag,
            token_kind=charge.token_kind.value,
            state="running" if t.active else "stopped",
            started_at=t.started_at,
            stopped_at=t.stopped_at,
            energy_wh=t.energy_wh,
            stop_reason=t.ended_by,
        )


class ChargePageOut(BaseModel):
    items: list[ChargeOut]
    next_cursor: str | None


def charges_blueprint() -> Blueprint:
    bp = Blueprint(__name__)

    @bp.route("/v1/me/charges", methods=["GET"])
    @documented(
        Operation(
            "My charges with any of my tokens (RFID cards and the app), newest first",
            "drivers",
            None,
            ChargesParams,
            ChargePageOut,
            DRIVER,
        )
    )
    @mapped
    def my_charges() -> dict[str, Any]:
        caller = principal(bp.current_request.context)
        caller.require(Role.DRIVER)
        params = query_model(ChargesParams, bp.current_request.query_params)
        try:
            page = cached_driver_charges().charges(
                caller.tenant_id, caller.user_id, params.limit, params.cursor
            )
        except InvalidChargesCursor as e:
            raise BadRequest("invalid cursor", {"field": "cursor"}) from e
        return body(ChargePageOut(items=[ChargeOut.of(c) for c in page.items], next_cursor=page.cursor))

    return bp
