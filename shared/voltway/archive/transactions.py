"""A stopped transaction as an archived session record (the StopTransaction hook's mapping), and a
MeterValues frame's samples as meter value records (the MeterValues hook's mapping).

Each record is a pure function of the stored transaction and its stop (or of the frame's samples), so
a retried StopTransaction or MeterValues frame archives byte-identical data under the same batch key.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from voltway.archive.records import MeterValueRecord, SessionRecord, format_ts
from voltway.transactions.model import MeterSample, Transaction


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


#: Units the archive's MeterValueRecord accepts (OCPP 1.6 units outside this set are not archived).
ARCHIVED_UNITS = frozenset(("Wh", "kWh", "W", "kW", "A", "V", "Percent", "Celsius", "varh", "var"))


def meter_value_id(session: str, sample: MeterSample) -> str:
    """The sample's identity: session, its timestamp and what was measured (not the value), so a
    re-sent frame (the charger's retry) archives the same ids under the same batch key."""
    return f"{session}:{format_ts(sample.timestamp)}:{sample.sampled.identity()}"


def meter_value_records_of(tx: Transaction, samples: Iterable[MeterSample]) -> list[MeterValueRecord]:
    """The numeric samples of one frame of ``tx`` as archive records (SignedData, non-numeric values and
    units the archive does not model are skipped; the meter value store keeps every sample)."""
    session = session_id(tx.charge_point_id, tx.transaction_id)
    records: dict[str, MeterValueRecord] = {}
    for sample in samples:
        value = sample.sampled.number()
        unit = sample.sampled.unit or "Wh"  # the OCPP default
        if value is None or not math.isfinite(value) or unit not in ARCHIVED_UNITS:
            continue
        record_id = meter_value_id(session, sample)
        if record_id not in records:
            records[record_id] = MeterValueRecord.model_validate(
                {
                    "id": record_id,
                    "tenant_id": tx.tenant_id,
                    "charge_point_id": tx.charge_point_id,
                    "connector_id": tx.connector_id,
                    "session_id": session,
                    "timestamp": sample.timestamp,
                    "measurand": sample.sampled.effective_measurand,
                    "phase": sample.sampled.phase,
                    "value": value,
                    "unit": unit,
                }
            )
    return list(records.values())
