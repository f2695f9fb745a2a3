"""A stopped transaction as an archived session record (the StopTransaction hook's mapping).

The record is a pure function of the stored transaction and its stop, so a retried StopTransaction
archives byte-identical data under the same batch key.
"""

from __future__ import annotations

from voltway.archive.records import SessionRecord
from voltway.transactions.model import Transaction


def session_id(charge_point_id: str, transaction_id: int) -> str:
    return f"{charge_point_id}:{transaction_id}"


def session_record_of(tx: Transaction) -> SessionRecord:
    """``tx`` must be stopped (stopped_at and meter_stop set)."""
    if tx.stopped_at is None or tx.meter_stop is None:
        raise ValueError(f"transaction {tx.transaction_id} is not stopped")
    return SessionRecord(
        id=session_id(tx.charge_point_id, tx.transaction_id),
        tenant_id=tx.tenant_id,
        charge_point_id=tx.charge_point_id,
        connector_id=tx.connector_id,
        transaction_id=tx.transaction_id,
        id_tag=tx.id_tag,
        started_at=tx.started_at,
        stopped_at=tx.stopped_at,
        meter_start_wh=max(tx.meter_start, 0),
        meter_stop_wh=max(tx.meter_stop, 0),
        energy_wh=tx.energy_wh or 0,
        stop_reason=tx.stop_reason,
    )
