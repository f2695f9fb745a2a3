"""HTTP bodies and views of the drivers' routes (pydantic: validation at the edge, OpenAPI schemas)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from voltway.chargers.http_models import CHARGE_POINT_ID_PATTERN
from voltway.drivers.model import ChargingSession, LiveFigures
from voltway.drivers.service import SessionDetail, TokenView
from voltway.idtags.http_models import ID_TAG_PATTERN
from voltway.payments.model import Payment

SESSION_ID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AddTokenRequest(_Body):
    uid: str = Field(pattern=ID_TAG_PATTERN, description="The RFID card's uid (OCPP IdToken, 1-20 chars)")


class StartSessionRequest(_Body):
    charge_point_id: str = Field(pattern=CHARGE_POINT_ID_PATTERN)
    connector_id: int = Field(ge=1, le=99)


class HistoryParams(_Body):
    limit: int = Field(default=20, ge=1, le=50)
    cursor: str | None = None


class TokenOut(BaseModel):
    id_tag: str
    kind: Literal["rfid", "app"]
    status: str = Field(description="OCPP status: Accepted | Blocked | Expired | Invalid")
    created_at: datetime

    @classmethod
    def of(cls, view: TokenView) -> TokenOut:
        return cls(
            id_tag=view.link.id_tag,
            kind=view.link.kind.value,
            status=view.status.value,
            created_at=view.link.created_at,
        )


class TokenListOut(BaseModel):
    items: list[TokenOut]


class CostOut(BaseModel):
    currency: str
    excl_vat: str = Field(description="Decimal text, the tariff's currency")
    incl_vat: str | None
    tariff_id: str
    estimate: bool = Field(description="true until the CDR is issued: priced at the current tariff")


class LiveOut(BaseModel):
    energy_kwh: float
    power_kw: float | None
    duration_seconds: int
    cost: CostOut | None = Field(description="null when no tariff applies to the charger")
    cdr_id: str | None
    updated_at: datetime | None = Field(description="time of the newest meter reading")

    @classmethod
    def of(cls, live: LiveFigures) -> LiveOut:
        cost = live.cost
        return cls(
            energy_kwh=round(live.energy_wh / 1000, 3),
            power_kw=round(live.power_w / 1000, 3) if live.power_w is not None else None,
            duration_seconds=live.duration_seconds,
            cost=CostOut(
                currency=cost.currency,
                excl_vat=str(cost.excl_vat),
                incl_vat=str(cost.incl_vat) if cost.incl_vat is not None else None,
                tariff_id=cost.tariff_id,
                estimate=cost.estimate,
            )
            if cost is not None
            else None,
            cdr_id=live.cdr_id,
            updated_at=live.updated_at,
        )


class SessionPaymentOut(BaseModel):
    payment_id: str
    status: str = Field(description="authorized | declined | captured | capture_failed | voided | ...")
    currency: str
    held: str = Field(description="pre-authorised amount (Decimal text)")
    captured: str
    refunded: str

    @classmethod
    def of(cls, p: Payment) -> SessionPaymentOut:
        return cls(
            payment_id=p.payment_id,
            status=p.status.value,
            currency=p.currency,
            held=str(p.held),
            captured=str(p.captured),
            refunded=str(p.refunded),
        )


class SessionOut(BaseModel):
    session_id: str
    state: Literal["requested", "accepted", "rejected", "offline", "timeout", "expired", "started", "stopped"]
    charge_point_id: str
    connector_id: int
    id_tag: str
    requested_at: datetime
    answered_at: datetime | None
    started_at: datetime | None
    stopped_at: datetime | None
    transaction_id: int | None
    stop_requested_at: datetime | None
    stop_status: str | None = Field(default=None, description="the RemoteStopTransaction command's status")
    live: LiveOut | None = None
    payment: SessionPaymentOut | None = Field(default=None, description="paid app starts: the card hold")

    @classmethod
    def of(cls, session: ChargingSession, detail: SessionDetail | None = None) -> SessionOut:
        s = session
        return cls(
            session_id=s.session_id,
            state=s.state.value,
            charge_point_id=s.charge_point_id,
            connector_id=s.connector_id,
            id_tag=s.id_tag,
            requested_at=s.created_at,
            answered_at=s.answered_at,
            started_at=s.started_at,
            stopped_at=s.stopped_at,
            transaction_id=s.transaction_id,
            stop_requested_at=s.stop_requested_at,
            stop_status=detail.stop_status if detail else None,
            live=LiveOut.of(detail.live) if detail and detail.live else None,
            payment=SessionPaymentOut.of(detail.payment) if detail and detail.payment else None,
        )

    @classmethod
    def detail(cls, detail: SessionDetail) -> SessionOut:
        return cls.of(detail.session, detail)


class SessionPageOut(BaseModel):
    items: list[SessionOut]
    next_cursor: str | None
