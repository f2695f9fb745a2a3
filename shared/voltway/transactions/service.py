"""Transaction use cases for the central system (start, meter values, stop) and the operator (reads).

Invariants: transaction ids come from an atomic counter (unique platform-wide); a StartTransaction
retried with the same charger, connector, id tag, meterStart and timestamp gets the same id; every
sampled value is stored; running totals never go back in time; a stop is recorded once; energy is
never negative (meters going backwards are flagged as anomalies); the charger's timestamps are kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from voltway.archive.archive import RecordArchive
from voltway.archive.transactions import meter_value_records_of, session_record_of
from voltway.idtags.model import IdTagInfo, IdTagStatus
from voltway.idtags.service import IdTagService
from voltway.observability import count, logger
from voltway.transactions.errors import IdTagBusy, StartAlreadyRecorded, TransactionNotFound
from voltway.transactions.model import (
    Anomaly,
    MeterSample,
    Reading,
    Transaction,
    TransactionPage,
    UnmatchedStop,
    start_key,
)
from voltway.transactions.ports import (
    MeterValueStore,
    StopRecord,
    TransactionRepository,
    charger_series,
    transaction_series,
    unmatched_series,
)

REGISTER = "Energy.Active.Import.Register"
POWER = "Power.Active.Import"


@dataclass(frozen=True, slots=True)
class StartRequest:
    tenant_id: str
    charge_point_id: str
    connector_id: int
    id_tag: str
    meter_start: int
    started_at: datetime
    reservation_id: int | None
    received_at: datetime


@dataclass(frozen=True, slots=True)
class Started:
    transaction_id: int
    id_tag_info: IdTagInfo
    retried: bool = False


@dataclass(frozen=True, slots=True)
class StopRequest:
    tenant_id: str
    charge_point_id: str
    transaction_id: int
    meter_stop: int
    stopped_at: datetime
    reason: str | None
    id_tag: str | None
    samples: list[MeterSample]
    unique_id: str
    received_at: datetime


@dataclass(frozen=True, slots=True)
class TransactionDetail:
    transaction: Transaction
    samples: list[MeterSample]


def reading_of(samples: Iterable[MeterSample]) -> Reading:
    """The newest total energy register (Wh) and total active power (W) among ``samples``: only
    numeric, phase-less values at the outlet (or unspecified location) count as totals."""
    register: tuple[datetime, int] | None = None
    power: tuple[datetime, float] | None = None
    for s in samples:
        v = s.sampled
        number = v.number()
        if number is None or v.phase is not None or v.location not in (None, "Outlet"):
            continue
        scale = 1000.0 if (v.unit or "").startswith("k") else 1.0
        if v.effective_measurand == REGISTER and (register is None or register[0] < s.timestamp):
            register = (s.timestamp, round(number * scale))
        elif v.effective_measurand == POWER and (power is None or power[0] < s.timestamp):
            power = (s.timestamp, number * scale)
    return Reading(
        register_wh=register[1] if register else None,
        register_at=register[0] if register else None,
        power_w=power[1] if power else None,
        power_at=power[0] if power else None,
    )


def register_anomalies(tx: Transaction, reading: Reading) -> set[str]:
    """A register lower than an earlier reading (or than meterStart), or higher than a later one."""
    found: set[str] = set()
    wh, at = reading.register_wh, reading.register_at
    if wh is None or at is None:
        return found
    if wh < tx.meter_start and at >= tx.started_at:
        found.add(Anomaly.REGISTER_WENT_BACKWARDS)
    last_wh, last_at = tx.last_register_wh, tx.last_register_at
    if (
        last_wh is not None
        and last_at is not None
        and ((at > last_at and wh < last_wh) or (at < last_at and wh > last_wh))
    ):
        found.add(Anomaly.REGISTER_WENT_BACKWARDS)
    return found


class TransactionService:
    def __init__(
        self,
        transactions: TransactionRepository,
        meter_values: MeterValueStore,
        id_tags: IdTagService,
        archive: RecordArchive | None = None,
        *,
        on_unmatched_stop: Callable[[UnmatchedStop], object] | None = None,
        on_anomaly: Callable[[Transaction, frozenset[str]], object] | None = None,
    ) -> None:
        self._transactions = transactions
        self._meter_values = meter_values
        self._id_tags = id_tags
        # Told of every StopTransaction for an unknown transaction (operators' alerts); never fails the stop.
        self._on_unmatched_stop = on_unmatched_stop
        # Told of meter anomalies as they are flagged (operators' alerts); never fails the frame.
        self._on_anomaly = on_anomaly
        # The export source (docs/decisions/export-source.md): every stop that DynamoDB holds is archived.
        self._archive = archive

    # ------------------------------------------------------------------ central system
    def start(self, request: StartRequest) -> Started:
        key = start_key(
            request.charge_point_id,
            request.connector_id,
            request.id_tag,
            request.meter_start,
            request.started_at,
        )
        existing = self._transactions.find_start(key)
        if existing is not None:
            return self._retried(existing)
        info = self._id_tags.authorize(request.tenant_id, request.id_tag, request.started_at)
        stale: int | None = None
        if info.accepted:
            holder = self._transactions.active_for_tag(request.tenant_id, request.id_tag)
            if holder is not None:
                held = self._transactions.get(holder)
                if held is not None and held.active:
                    info = IdTagInfo(IdTagStatus.CONCURRENT_TX, info.expiry_date, info.parent_id_tag)
                else:
                    stale = holder  # left behind by a stop that did not release it
        transaction = Transaction(
            transaction_id=self._transactions.next_transaction_id(),
            tenant_id=request.tenant_id,
            charge_point_id=request.charge_point_id,
            connector_id=request.connector_id,
            id_tag=request.id_tag,
            id_tag_status=info.status,
            meter_start=request.meter_start,
            started_at=request.started_at,
            reservation_id=request.reservation_id,
            received_at=request.received_at,
        )
        try:
            self._transactions.create(transaction, key, lock_tag=info.accepted, stale_lock=stale)
        except StartAlreadyRecorded as e:  # a concurrent delivery of the same start won the race
            return self._retried(e.transaction_id)
        except IdTagBusy:  # another start of this tag won the race for the lock
            info = IdTagInfo(IdTagStatus.CONCURRENT_TX, info.expiry_date, info.parent_id_tag)
            transaction = replace(transaction, id_tag_status=info.status)
            try:
                self._transactions.create(transaction, key, lock_tag=False, stale_lock=None)
            except StartAlreadyRecorded as e:
                return self._retried(e.transaction_id)
        count("TransactionStarted")
        if not info.accepted:
            count(f"TransactionStart{info.status.value}")
        logger.info(
            "transaction started",
            transaction_id=transaction.transaction_id,
            id_tag_status=info.status.value,
        )
        return Started(transaction.transaction_id, info)

    def _retried(self, transaction_id: int) -> Started:
        count("TransactionStartRetried")
        tx = self._transactions.get(transaction_id)
        status = tx.id_tag_status if tx is not None else IdTagStatus.INVALID
        info = IdTagInfo(status)
        if tx is not None and status is not IdTagStatus.CONCURRENT_TX:
            known = self._id_tags.authorize(tx.tenant_id, tx.id_tag, tx.started_at)
            info = IdTagInfo(status, known.expiry_date, known.parent_id_tag)
        return Started(transaction_id, info, retried=True)

    def meter_values(
        self,
        charge_point_id: str,
        connector_id: int,
        transaction_id: int | None,
        samples: list[MeterSample],
    ) -> None:
        if transaction_id is None:
            self._meter_values.add(charger_series(charge_point_id, connector_id), samples)
            return
        tx = self._transactions.get(transaction_id)
        if tx is None or tx.charge_point_id != charge_point_id:
            # OCPP errata 3.18: answer as if valid (e.g. -1 after a lost start); keep for review.
            count("MeterValuesUnmatched")
            self._meter_values.add(unmatched_series(charge_point_id, transaction_id), samples)
            return
        self._meter_values.add(transaction_series(transaction_id), samples)
        self._archive_meter_values(tx, samples)
        reading = reading_of(samples)
        anomalies = register_anomalies(tx, reading)
        if reading != Reading():
            self._transactions.record_reading(transaction_id, reading)
        if anomalies:
            count("TransactionAnomaly")
            self._transactions.flag(transaction_id, anomalies)
            self._tell_anomaly(tx, anomalies)

    def _tell_anomaly(self, tx: Transaction, anomalies: set[str]) -> None:
        if self._on_anomaly is None:
            return
        try:
            self._on_anomaly(tx, frozenset(anomalies))
        except Exception:
            logger.exception("anomaly side effect failed")

    def stop(self, request: StopRequest) -> IdTagInfo | None:
        """idTagInfo when the request carries an idTag (the Central System cannot refuse a stop)."""
        info = (
            self._id_tags.authorize(request.tenant_id, request.id_tag, request.stopped_at)
            if request.id_tag is not None
            else None
        )
        tx = self._transactions.get(request.transaction_id)
        if tx is None or tx.charge_point_id != request.charge_point_id:
            count("StopTransactionUnmatched")
            logger.warning("stop of an unknown transaction", transaction_id=request.transaction_id)
            if request.samples:
                self._meter_values.add(
                    unmatched_series(request.charge_point_id, request.transaction_id), request.samples
                )
            unmatched = UnmatchedStop(
                charge_point_id=request.charge_point_id,
                tenant_id=request.tenant_id,
                transaction_id=request.transaction_id,
                meter_stop=request.meter_stop,
                stopped_at=request.stopped_at,
                stop_reason=request.reason,
                id_tag=request.id_tag,
                unique_id=request.unique_id,
                received_at=request.received_at,
            )
            self._transactions.record_unmatched(unmatched)
            if self._on_unmatched_stop is not None:
                try:
                    self._on_unmatched_stop(unmatched)
                except Exception:
                    logger.exception("unmatched stop side effect failed")
            return info
        if request.samples:
            self.meter_values(request.charge_point_id, tx.connector_id, tx.transaction_id, request.samples)
            tx = self._transactions.get(tx.transaction_id) or tx
        anomalies: set[str] = set()
        if request.meter_stop < tx.meter_start:
            anomalies.add(Anomaly.METER_STOP_BELOW_START)
        if (
            tx.last_register_wh is not None
            and tx.last_register_at is not None
            and tx.last_register_at <= request.stopped_at
            and request.meter_stop < tx.last_register_wh
        ):
            anomalies.add(Anomaly.REGISTER_WENT_BACKWARDS)
        stop = StopRecord(
            request.stopped_at, request.meter_stop, request.reason, request.id_tag, request.unique_id
        )
        recorded = self._transactions.stop(tx.transaction_id, stop, anomalies)
        if recorded or (tx.stopped_at, tx.meter_stop) == (request.stopped_at, request.meter_stop):
            # First stop or a retry of it: (re)archive. Idempotent (same record, same batch key); a failure
            # fails the frame, so the charger's retry archives it, never a DynamoDB stop without archive.
            self._archive_session(tx, request)
        if recorded:
            count("TransactionStopped")
            if anomalies:
                count("TransactionAnomaly")
                self._tell_anomaly(tx, anomalies)
        elif tx.stopped_at is not None and (tx.meter_stop, tx.stopped_at) != (
            request.meter_stop,
            request.stopped_at,
        ):
            # A retry is harmless; a second, different stop is kept out and flagged.
            self._transactions.flag(tx.transaction_id, {Anomaly.STOPPED_TWICE})
            self._tell_anomaly(tx, {Anomaly.STOPPED_TWICE})
        self._transactions.release_tag(tx.tenant_id, tx.id_tag, tx.transaction_id)
        return info

    def _archive_meter_values(self, tx: Transaction, samples: list[MeterSample]) -> None:
        # After the store holds them; one batch per frame (per UTC day), ids from the sample identity:
        # a retried frame rewrites the same object, and a failure fails the frame (the charger retries).
        if self._archive is None:
            return
        records = meter_value_records_of(tx, samples)
        if records:
            self._archive.append(records)

    def _archive_session(self, tx: Transaction, request: StopRequest) -> None:
        if self._archive is None:
            return
        stopped = replace(
            tx,
            stopped_at=request.stopped_at,
            meter_stop=request.meter_stop,
            stop_reason=request.reason,
            stop_id_tag=request.id_tag,
        )
        self._archive.append([session_record_of(stopped)])

    # ------------------------------------------------------------------ operator
    def get(self, tenant_id: str, transaction_id: int) -> TransactionDetail:
        tx = self._transactions.get(transaction_id)
        if tx is None or tx.tenant_id != tenant_id:
            raise TransactionNotFound(str(transaction_id))
        return TransactionDetail(tx, self._meter_values.samples(transaction_series(transaction_id)))

    def list_for_charger(
        self, charge_point_id: str, limit: int, cursor: str | None
    ) -> tuple[list[TransactionDetail | UnmatchedStop], str | None]:
        """The caller checks that the charger is in its tenant."""
        page: TransactionPage = self._transactions.list_by_charger(charge_point_id, limit, cursor)
        items: list[TransactionDetail | UnmatchedStop] = [
            TransactionDetail(t, self._meter_values.samples(transaction_series(t.transaction_id)))
            if isinstance(t, Transaction)
            else t
            for t in page.items
        ]
        return items, page.cursor
