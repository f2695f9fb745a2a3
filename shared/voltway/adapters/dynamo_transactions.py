"""DynamoDB adapters of the id tags, transactions, meter values and OCPP report ports (PynamoDB).

TransactionsTable is one table with several item kinds under a string key ``pk`` (keys in
docs/data-model.md): ``TX#<id>`` transactions, ``START#<start key>`` idempotency items written in the
same TransactWriteItems as their transaction, ``LOCK#<tenant>#<idTag>`` active-transaction locks,
``COUNTER#transaction`` the atomic id counter, ``UNMATCHED#…`` stops of unknown transactions. Only
transactions and unmatched stops carry the sparse ``by_charger`` index attributes. Meter samples live in
MeterValuesTable, which no listing queries.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeVar

from pynamodb.attributes import (
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from voltway.adapters.conditional import guarded_delete, guarded_update
from voltway.adapters.cursors import key_to_cursor
from voltway.adapters.dynamo import _stamp, _start_key
from voltway.adapters.dynamo_models import ChargerItem
from voltway.idtags.model import IdTag, IdTagStatus
from voltway.ocpp.ports import DataTransferRecord, StatusReport, StatusReportKind
from voltway.transactions.errors import IdTagBusy, StartAlreadyRecorded
from voltway.transactions.model import (
    MeterSample,
    Reading,
    SampledValue,
    Transaction,
    TransactionPage,
    UnmatchedStop,
)
from voltway.transactions.ports import StopRecord

COUNTER_KEY = "COUNTER#transaction"


# ---------------------------------------------------------------------------------------------- models


class IdTagItem(Model):
    tenant_id = UnicodeAttribute(hash_key=True)
    id_tag = UnicodeAttribute(range_key=True)
    status = UnicodeAttribute()
    expiry_date = UTCDateTimeAttribute(null=True)
    parent_id_tag = UnicodeAttribute(null=True)
    updated_at = UTCDateTimeAttribute(null=True)


class TransactionsByCharger(GlobalSecondaryIndex["TransactionRecord"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = "by_charger"
        projection = AllProjection()

    charge_point_id = UnicodeAttribute(hash_key=True)
    list_sk = UnicodeAttribute(range_key=True)


class TransactionsByIdTag(GlobalSecondaryIndex["TransactionRecord"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = "by_id_tag"
        projection = AllProjection()

    id_tag = UnicodeAttribute(hash_key=True)
    list_sk = UnicodeAttribute(range_key=True)


class TransactionRecord(Model):
    """Every item kind of TransactionsTable; ``kind`` tells which attributes are set."""

    pk = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute()  # tx | start | lock | counter | unmatched
    transaction_id = NumberAttribute(null=True)
    counter = NumberAttribute(null=True)
    tenant_id = UnicodeAttribute(null=True)
    charge_point_id = UnicodeAttribute(null=True)
    list_sk = UnicodeAttribute(null=True)  # <start (or stop) time, fixed width>#<id>
    connector_id = NumberAttribute(null=True)
    id_tag = UnicodeAttribute(null=True)
    id_tag_status = UnicodeAttribute(null=True)
    meter_start = NumberAttribute(null=True)
    started_at = UTCDateTimeAttribute(null=True)
    reservation_id = NumberAttribute(null=True)
    stopped_at = UTCDateTimeAttribute(null=True)
    meter_stop = NumberAttribute(null=True)
    stop_reason = UnicodeAttribute(null=True)
    stop_id_tag = UnicodeAttribute(null=True)
    stop_unique_id = UnicodeAttribute(null=True)
    last_register_wh = NumberAttribute(null=True)
    last_register_at = UTCDateTimeAttribute(null=True)
    last_power_w = NumberAttribute(null=True)
    last_power_at = UTCDateTimeAttribute(null=True)
    anomalies = UnicodeSetAttribute(null=True)
    received_at = UTCDateTimeAttribute(null=True)
    stop_reason_requested = UnicodeAttribute(null=True)  # fleet time limit: "time_limit"
    write_token = UnicodeAttribute(null=True)  # the last guarded write's token (adapters.conditional)
    by_charger = TransactionsByCharger()
    by_id_tag = TransactionsByIdTag()


class MeterValueItem(Model):
    series = UnicodeAttribute(hash_key=True)  # TX#<id> | CP#<charger>#<connector> | UNMATCHED#<charger>#<id>
    sk = UnicodeAttribute(range_key=True)  # <UTC time, fixed width>#<source>#<sample identity>
    timestamp = UTCDateTimeAttribute()
    source = UnicodeAttribute()
    connector_id = NumberAttribute(null=True)
    value = UnicodeAttribute()
    context = UnicodeAttribute(null=True)
    format = UnicodeAttribute(null=True)
    measurand = UnicodeAttribute(null=True)
    phase = UnicodeAttribute(null=True)
    location = UnicodeAttribute(null=True)
    unit = UnicodeAttribute(null=True)


class DataTransferItem(Model):
    charge_point_id = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)  # <UTC time, fixed width>#<unique id>
    unique_id = UnicodeAttribute()
    received_at = UTCDateTimeAttribute()
    vendor_id = UnicodeAttribute()
    message_id = UnicodeAttribute(null=True)
    data = UnicodeAttribute(null=True)
    status = UnicodeAttribute()


class ChargerReportsItem(ChargerItem):
    """The charger item seen with its report attributes (the registry's model ignores them)."""

    firmware_status = MapAttribute[str, Any](null=True)  # type: ignore[no-untyped-call]
    diagnostics_status = MapAttribute[str, Any](null=True)  # type: ignore[no-untyped-call]


M = TypeVar("M", bound=Model)


def bind_model(model: type[M], table_name: str, *, region: str, host: str | None) -> type[M]:
    """Like ``dynamo_models.bind``, for this module's models (each bound class gets its own index)."""
    meta = type("Meta", (), {"table_name": table_name, "region": region, "host": host})
    attrs: dict[str, Any] = {"Meta": meta, "__module__": model.__module__}
    if model is TransactionRecord:
        attrs["by_charger"] = TransactionsByCharger()
        attrs["by_id_tag"] = TransactionsByIdTag()
    return type(f"{model.__name__}_{table_name}", (model,), attrs)


def _utc(moment: datetime | None) -> datetime | None:
    return moment.astimezone(UTC) if moment is not None else None


# ---------------------------------------------------------------------------------------------- id tags


class DynamoIdTagRepository:
    def __init__(self, model: type[IdTagItem]) -> None:
        self._model = model

    def get(self, tenant_id: str, id_tag: str) -> IdTag | None:
        try:
            item = self._model.get(tenant_id, id_tag)
        except DoesNotExist:
            return None
        return IdTag(
            tenant_id=item.tenant_id,
            id_tag=item.id_tag,
            status=IdTagStatus(item.status),
            expiry_date=_utc(item.expiry_date),
            parent_id_tag=item.parent_id_tag,
            updated_at=_utc(item.updated_at),
        )

    def put(self, tag: IdTag) -> IdTag:
        self._model(
            tag.tenant_id,
            tag.id_tag,
            status=tag.status.value,
            expiry_date=tag.expiry_date,
            parent_id_tag=tag.parent_id_tag,
            updated_at=tag.updated_at,
        ).save()
        return tag


# ---------------------------------------------------------------------------------------------- transactions


def _tx_key(transaction_id: int) -> str:
    return f"TX#{transaction_id}"


def _lock_key(tenant_id: str, id_tag: str) -> str:
    return f"LOCK#{tenant_id}#{id_tag}"


class DynamoTransactionRepository:
    def __init__(self, model: type[TransactionRecord], connection: Connection) -> None:
        self._model = model
        self._connection = connection

    # -- mapping
    @staticmethod
    def _to_transaction(item: TransactionRecord) -> Transaction:
        def num(value: float | None) -> int | None:
            return int(value) if value is not None else None

        assert item.transaction_id is not None and item.started_at is not None
        return Transaction(
            transaction_id=int(item.transaction_id),
            tenant_id=item.tenant_id or "",
            charge_point_id=item.charge_point_id or "",
            connector_id=int(item.connector_id or 0),
            id_tag=item.id_tag or "",
            id_tag_status=IdTagStatus(item.id_tag_status or "Invalid"),
            meter_start=int(item.meter_start or 0),
            started_at=item.started_at,
            reservation_id=num(item.reservation_id),
            stopped_at=item.stopped_at,
            meter_stop=num(item.meter_stop),
            stop_reason=item.stop_reason,
            stop_id_tag=item.stop_id_tag,
            last_register_wh=num(item.last_register_wh),
            last_register_at=item.last_register_at,
            last_power_w=float(item.last_power_w) if item.last_power_w is not None else None,
            last_power_at=item.last_power_at,
            anomalies=frozenset(item.anomalies or ()),
            received_at=item.received_at,
            stop_reason_requested=item.stop_reason_requested,
        )

    @staticmethod
    def _to_unmatched(item: TransactionRecord) -> UnmatchedStop:
        assert item.stopped_at is not None and item.received_at is not None
        return UnmatchedStop(
            charge_point_id=item.charge_point_id or "",
            tenant_id=item.tenant_id or "",
            transaction_id=int(item.transaction_id or 0),
            meter_stop=int(item.meter_stop or 0),
            stopped_at=item.stopped_at,
            stop_reason=item.stop_reason,
            id_tag=item.stop_id_tag,
            unique_id=item.stop_unique_id or "",
            received_at=item.received_at,
        )

    def _get(self, key: str) -> TransactionRecord | None:
        try:
            return self._model.get(key, consistent_read=True)
        except DoesNotExist:
            return None

    # -- port
    def next_transaction_id(self) -> int:
        item = self._model(COUNTER_KEY)
        item.update(actions=[self._model.counter.add(1), self._model.kind.set("counter")])
        assert item.counter is not None
        return int(item.counter)

    def find_start(self, key: str) -> int | None:
        item = self._get(f"START#{key}")
        return int(item.transaction_id) if item is not None and item.transaction_id is not None else None

    def active_for_tag(self, tenant_id: str, id_tag: str) -> int | None:
        item = self._get(_lock_key(tenant_id, id_tag))
        return int(item.transaction_id) if item is not None and item.transaction_id is not None else None

    def create(self, transaction: Transaction, key: str, lock_tag: bool, stale_lock: int | None) -> None:
        m = self._model
        t = transaction
        record = m(
            _tx_key(t.transaction_id),
            kind="tx",
            transaction_id=t.transaction_id,
            tenant_id=t.tenant_id,
            charge_point_id=t.charge_point_id,
            list_sk=f"{_stamp(t.started_at)}#{t.transaction_id:012d}",
            connector_id=t.connector_id,
            id_tag=t.id_tag,
            id_tag_status=t.id_tag_status.value,
            meter_start=t.meter_start,
            started_at=t.started_at,
            reservation_id=t.reservation_id,
            received_at=t.received_at,
        )
        start = m(f"START#{key}", kind="start", transaction_id=t.transaction_id)
        try:
            with TransactWrite(connection=self._connection) as write:
                write.save(record, condition=m.pk.does_not_exist())
                write.save(start, condition=m.pk.does_not_exist())
                if lock_tag:
                    lock = m(_lock_key(t.tenant_id, t.id_tag), kind="lock", transaction_id=t.transaction_id)
                    free = m.pk.does_not_exist()
                    if stale_lock is not None:
                        free = free | (m.transaction_id == stale_lock)
                    write.save(lock, condition=free)
        except TransactWriteError as e:
            reasons = [r.code if r is not None else None for r in e.cancellation_reasons]
            if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
                winner = self.find_start(key)
                if winner is not None:
                    raise StartAlreadyRecorded(winner) from e
            if len(reasons) > 2 and reasons[2] == "ConditionalCheckFailed":
                raise IdTagBusy(t.id_tag) from e
            raise

    def for_id_tag(
        self, tenant_id: str, id_tag: str, before: str | None, limit: int
    ) -> list[tuple[str, Transaction]]:
        """Up to ``limit`` transactions started with ``id_tag`` in ``tenant_id``, newest first, whose
        listing key (``list_sk``: start time, fixed width, then id — unique) is below ``before``. One
        Query of the index ``by_id_tag`` per page of ``limit`` (id tags are tenant-scoped: filtered)."""
        m = self._model
        found: list[tuple[str, Transaction]] = []
        start: dict[str, Any] | None = None
        while len(found) < limit:
            result = m.by_id_tag.query(
                id_tag,
                range_key_condition=(m.list_sk < before) if before is not None else None,
                filter_condition=(m.kind == "tx") & (m.tenant_id == tenant_id),
                scan_index_forward=False,
                limit=limit,
                last_evaluated_key=start,
            )
            found += [(str(i.list_sk), self._to_transaction(i)) for i in result]
            start = result.last_evaluated_key
            if start is None:
                break
        return found[:limit]

    def get(self, transaction_id: int) -> Transaction | None:
        item = self._get(_tx_key(transaction_id))
        return self._to_transaction(item) if item is not None and item.kind == "tx" else None

    def _update(self, transaction_id: int, actions: list[Any], condition: Any) -> bool:
        return guarded_update(self._model(_tx_key(transaction_id)), actions, condition)

    def record_reading(self, transaction_id: int, reading: Reading) -> None:
        m = self._model
        if reading.register_wh is not None and reading.register_at is not None:
            self._update(
                transaction_id,
                [m.last_register_wh.set(reading.register_wh), m.last_register_at.set(reading.register_at)],
                m.pk.exists()
                & (m.last_register_at.does_not_exist() | (m.last_register_at < reading.register_at)),
            )
        if reading.power_w is not None and reading.power_at is not None:
            self._update(
                transaction_id,
                [m.last_power_w.set(reading.power_w), m.last_power_at.set(reading.power_at)],
                m.pk.exists() & (m.last_power_at.does_not_exist() | (m.last_power_at < reading.power_at)),
            )

    def flag(self, transaction_id: int, anomalies: set[str]) -> None:
        if anomalies:
            self._update(transaction_id, [self._model.anomalies.add(set(anomalies))], self._model.pk.exists())

    def request_stop(self, transaction_id: int, reason: str) -> None:
        m = self._model
        self._update(transaction_id, [m.stop_reason_requested.set(reason)], m.pk.exists())

    def stop(self, transaction_id: int, stop: StopRecord, anomalies: set[str]) -> bool:
        m = self._model
        actions: list[Any] = [
            m.stopped_at.set(stop.stopped_at),
            m.meter_stop.set(stop.meter_stop),
            m.stop_unique_id.set(stop.unique_id),
        ]
        if stop.reason is not None:
            actions.append(m.stop_reason.set(stop.reason))
        if stop.id_tag is not None:
            actions.append(m.stop_id_tag.set(stop.id_tag))
        if anomalies:
            actions.append(m.anomalies.add(set(anomalies)))
        applied = self._update(transaction_id, actions, m.pk.exists() & m.stopped_at.does_not_exist())
        if applied:
            # The stop reading is the newest register unless a later sample is stored already.
            self.record_reading(
                transaction_id, Reading(register_wh=stop.meter_stop, register_at=stop.stopped_at)
            )
        return applied

    def release_tag(self, tenant_id: str, id_tag: str, transaction_id: int) -> None:
        m = self._model
        # False: a lock held by another transaction, or none: nothing to release
        guarded_delete(m(_lock_key(tenant_id, id_tag)), m.transaction_id == transaction_id)

    def record_unmatched(self, stop: UnmatchedStop) -> None:
        stamp = _stamp(stop.stopped_at)
        key = f"UNMATCHED#{stop.charge_point_id}#{stop.transaction_id}#{stamp}#{stop.meter_stop}"
        self._model(
            key,
            kind="unmatched",
            transaction_id=stop.transaction_id,
            tenant_id=stop.tenant_id,
            charge_point_id=stop.charge_point_id,
            list_sk=f"{_stamp(stop.stopped_at)}#U{stop.transaction_id}",
            meter_stop=stop.meter_stop,
            stopped_at=stop.stopped_at,
            stop_reason=stop.stop_reason,
            stop_id_tag=stop.id_tag,
            stop_unique_id=stop.unique_id,
            received_at=stop.received_at,
        ).save()

    def list_by_charger(self, charge_point_id: str, limit: int, cursor: str | None) -> TransactionPage:
        result = self._model.by_charger.query(
            charge_point_id, scan_index_forward=False, limit=limit, last_evaluated_key=_start_key(cursor)
        )
        items: list[Transaction | UnmatchedStop] = [
            self._to_transaction(i) if i.kind == "tx" else self._to_unmatched(i) for i in result
        ]
        return TransactionPage(items, key_to_cursor(result.last_evaluated_key))


# ---------------------------------------------------------------------------------------------- meter values


class DynamoMeterValueStore:
    def __init__(self, model: type[MeterValueItem]) -> None:
        self._model = model

    def add(self, series: str, samples: list[MeterSample]) -> None:
        with self._model.batch_write() as batch:
            for s in samples:
                v = s.sampled
                batch.save(
                    self._model(
                        series,
                        f"{_stamp(s.timestamp)}#{s.source}#{s.seq}",
                        timestamp=s.timestamp,
                        source=s.source,
                        connector_id=s.connector_id,
                        value=v.value,
                        context=v.context,
                        format=v.format,
                        measurand=v.measurand,
                        phase=v.phase,
                        location=v.location,
                        unit=v.unit,
                    )
                )

    def samples(self, series: str) -> list[MeterSample]:
        return [
            MeterSample(
                timestamp=i.timestamp,
                sampled=SampledValue(
                    value=i.value,
                    context=i.context,
                    format=i.format,
                    measurand=i.measurand,
                    phase=i.phase,
                    location=i.location,
                    unit=i.unit,
                ),
                source=i.source,
                connector_id=int(i.connector_id) if i.connector_id is not None else None,
            )
            for i in self._model.query(series)
        ]


# ---------------------------------------------------------------------------------------------- reports


class DynamoDataTransferLog:
    def __init__(self, model: type[DataTransferItem]) -> None:
        self._model = model

    def record(self, record: DataTransferRecord) -> None:
        self._model(
            record.charge_point_id,
            f"{_stamp(record.received_at)}#{record.unique_id}",
            unique_id=record.unique_id,
            received_at=record.received_at,
            vendor_id=record.vendor_id,
            message_id=record.message_id,
            data=record.data,
            status=record.status,
        ).save()


class DynamoChargerReports:
    def __init__(self, model: type[ChargerReportsItem]) -> None:
        self._model = model

    def record(self, charge_point_id: str, kind: StatusReportKind, report: StatusReport) -> None:
        m = self._model
        attribute = m.firmware_status if kind == "firmware" else m.diagnostics_status
        guarded_update(
            m(charge_point_id),
            [attribute.set({"status": report.status, "at": _stamp(report.at)})],
            m.charge_point_id.exists(),
        )

    def get(self, charge_point_id: str) -> dict[StatusReportKind, StatusReport]:
        try:
            item = self._model.get(charge_point_id)
        except DoesNotExist:
            return {}
        found: dict[StatusReportKind, StatusReport] = {}
        for kind, raw in (("firmware", item.firmware_status), ("diagnostics", item.diagnostics_status)):
            if raw is not None:
                values = raw.attribute_values
                at = datetime.fromisoformat(str(values["at"]).replace("Z", "+00:00"))
                found[kind] = StatusReport(str(values["status"]), at)  # type: ignore[index]
        return found
