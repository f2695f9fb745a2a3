"""OCPP 1.6 charger-initiated transaction messages: Authorize, StartTransaction, MeterValues,
StopTransaction. Handlers translate OCPP payloads into the transactions/id tags domain and back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from voltway.fleet.service import StartedSession
from voltway.idtags.service import IdTagService
from voltway.observability import correlate, count, logger
from voltway.ocpp.actions import Action
from voltway.ocpp.commands.lifecycle import ReportedLifecycle
from voltway.ocpp.dispatch import CallContext, Dispatcher
from voltway.ocpp.errors import PropertyConstraintViolation, SecurityError
from voltway.ocpp.timestamps import parse_datetime
from voltway.transactions.errors import TransactionError
from voltway.transactions.model import MeterSample, SampledValue
from voltway.transactions.service import StartRequest, StopRequest, TransactionService


def _tenant(ctx: CallContext) -> str:
    if ctx.charger is None:  # the dispatcher lets only accepted, registered chargers through
        raise SecurityError("unknown charger")
    return ctx.charger.tenant_id


def samples_of(
    meter_values: list[dict[str, Any]], *, source: str, connector_id: int | None
) -> list[MeterSample]:
    """Every sampled value of OCPP ``MeterValue`` elements (schema-validated), times in UTC."""
    samples: list[MeterSample] = []
    for element in meter_values:
        at = parse_datetime(element["timestamp"])
        for v in element["sampledValue"]:
            sampled = SampledValue(
                value=v["value"],
                context=v.get("context"),
                format=v.get("format"),
                measurand=v.get("measurand"),
                phase=v.get("phase"),
                location=v.get("location"),
                unit=v.get("unit"),
            )
            samples.append(MeterSample(at, sampled, source, connector_id))
    return samples


class SessionLimits(Protocol):
    """Fleet time limits (``voltway.fleet.service.FleetLimits``)."""

    def transaction_started(self, session: StartedSession) -> object: ...

    def transaction_stopped(self, transaction_id: int) -> None: ...


class TransactionProfile:
    def __init__(
        self,
        id_tags: IdTagService,
        transactions: TransactionService,
        *,
        lifecycle: ReportedLifecycle | None = None,
        limits: SessionLimits | None = None,
    ) -> None:
        self._id_tags = id_tags
        self._transactions = transactions
        self._lifecycle = lifecycle
        self._limits = limits

    def register(self, dispatcher: Dispatcher) -> None:
        dispatcher.register(Action.authorize, self.authorize, retry_safe=True)  # a read
        dispatcher.register(Action.start_transaction, self.start_transaction)
        dispatcher.register(Action.meter_values, self.meter_values)
        dispatcher.register(Action.stop_transaction, self.stop_transaction)

    def authorize(self, ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
        info = self._id_tags.authorize(_tenant(ctx), payload["idTag"], ctx.received_at)
        count(f"Authorize{info.status.value}")
        return {"idTagInfo": info.to_ocpp()}

    def start_transaction(self, ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
        connector_id: int = payload["connectorId"]
        if connector_id < 1:
            raise PropertyConstraintViolation(
                "connectorId of a transaction must be > 0", {"field": "connectorId"}
            )
        started = self._transactions.start(
            StartRequest(
                tenant_id=_tenant(ctx),
                charge_point_id=ctx.charge_point_id,
                connector_id=connector_id,
                id_tag=payload["idTag"],
                meter_start=payload["meterStart"],
                started_at=parse_datetime(payload["timestamp"]),
                reservation_id=payload.get("reservationId"),
                received_at=ctx.received_at,
            )
        )
        correlate(transaction_id=str(started.transaction_id))
        if self._limits is not None:
            # In the frame, not beside it: a deadline that cannot be persisted fails the frame, and the
            # charger's retry (same transaction, idempotent) records it.
            self._limits.transaction_started(
                StartedSession(
                    tenant_id=_tenant(ctx),
                    charge_point_id=ctx.charge_point_id,
                    connector_id=connector_id,
                    transaction_id=started.transaction_id,
                    id_tag_info=started.id_tag_info,
                    started_at=parse_datetime(payload["timestamp"]),
                    received_at=ctx.received_at,
                )
            )
        reservation_id = payload.get("reservationId")
        if reservation_id is not None and self._lifecycle is not None:
            lifecycle = self._lifecycle
            _side_effect(
                "reservation use",
                lambda: lifecycle.reservation_used(
                    ctx.charge_point_id, reservation_id, started.transaction_id, connector_id, ctx.received_at
                ),
            )
        return {"transactionId": started.transaction_id, "idTagInfo": started.id_tag_info.to_ocpp()}

    def meter_values(self, ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
        connector_id: int = payload["connectorId"]
        if connector_id < 0:
            raise PropertyConstraintViolation("connectorId must be >= 0", {"field": "connectorId"})
        transaction_id: int | None = payload.get("transactionId")
        correlate(transaction_id=None if transaction_id is None else str(transaction_id))
        samples = samples_of(payload["meterValue"], source="MeterValues", connector_id=connector_id)
        self._transactions.meter_values(ctx.charge_point_id, connector_id, transaction_id, samples)
        count("MeterValues")
        return {}

    def stop_transaction(self, ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
        transaction_id: int = payload["transactionId"]
        correlate(transaction_id=None if transaction_id is None else str(transaction_id))
        info = self._transactions.stop(
            StopRequest(
                tenant_id=_tenant(ctx),
                charge_point_id=ctx.charge_point_id,
                transaction_id=transaction_id,
                meter_stop=payload["meterStop"],
                stopped_at=parse_datetime(payload["timestamp"]),
                reason=payload.get("reason"),
                id_tag=payload.get("idTag"),
                samples=samples_of(
                    payload.get("transactionData") or [], source="StopTransaction", connector_id=None
                ),
                unique_id=ctx.unique_id,
                received_at=ctx.received_at,
            )
        )
        if self._lifecycle is not None:
            lifecycle, tenant = self._lifecycle, _tenant(ctx)
            _side_effect(
                "TxProfile end",
                lambda: lifecycle.transaction_stopped(
                    ctx.charge_point_id, transaction_id, lambda: self._connector_of(tenant, transaction_id)
                ),
            )
        if self._limits is not None:
            limits = self._limits
            _side_effect("fleet deadline close", lambda: limits.transaction_stopped(transaction_id))
        return {} if info is None else {"idTagInfo": info.to_ocpp()}

    def _connector_of(self, tenant_id: str, transaction_id: int) -> int | None:
        try:
            return self._transactions.get(tenant_id, transaction_id).transaction.connector_id
        except TransactionError:
            return None


def _side_effect(what: str, step: Callable[[], object]) -> None:
    """Bookkeeping beside the answer (reported state): a failure is logged, never fails the frame."""
    try:
        step()
    except Exception:
        logger.exception(f"{what} not recorded")
