"""Composition of the charger-initiated OCPP profiles beyond Core (id tags, transactions, reports) and of
the operator API's transaction / id tag services. Called from ``voltway.adapters.roots``."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pynamodb.connection import Connection

from voltway.adapters.aws import client
from voltway.adapters.dynamo_transactions import (
    ChargerReportsItem,
    DataTransferItem,
    DynamoChargerReports,
    DynamoDataTransferLog,
    DynamoIdTagRepository,
    DynamoMeterValueStore,
    DynamoTransactionRepository,
    IdTagItem,
    MeterValueItem,
    TransactionRecord,
    bind_model,
)
from voltway.alerts.service import AlertService
from voltway.archive.archive import ArchiveWriter
from voltway.archive.s3 import S3Blobs
from voltway.config import AwsSettings
from voltway.idtags.service import IdTagService
from voltway.ocpp.commands.lifecycle import ReportedLifecycle
from voltway.ocpp.dispatch import Dispatcher
from voltway.ocpp.ports import ChargerReports
from voltway.ocpp.reports import ReportsProfile
from voltway.ocpp.transactions import SessionLimits, TransactionProfile
from voltway.transactions.model import UnmatchedStop
from voltway.transactions.service import TransactionService

Environ = Mapping[str, str] | None


class TransactionSettings(AwsSettings):
    chargers_table: str
    id_tags_table: str
    transactions_table: str
    meter_values_table: str
    # The export archive (S3); unset: stops are not archived (e.g. functions that never stop transactions).
    archive_bucket: str | None = None


class ChargerProfileSettings(TransactionSettings):
    data_transfers_table: str


def _services(
    settings: TransactionSettings, alerts: AlertService | None = None
) -> tuple[IdTagService, TransactionService, ChargerReports]:
    region, host = settings.aws_region, settings.aws_endpoint_url
    id_tags = IdTagService(
        DynamoIdTagRepository(bind_model(IdTagItem, settings.id_tags_table, region=region, host=host))
    )
    repository = DynamoTransactionRepository(
        bind_model(TransactionRecord, settings.transactions_table, region=region, host=host),
        Connection(region=region, host=host),
    )
    meter_values = DynamoMeterValueStore(
        bind_model(MeterValueItem, settings.meter_values_table, region=region, host=host)
    )
    reports = DynamoChargerReports(
        bind_model(ChargerReportsItem, settings.chargers_table, region=region, host=host)
    )
    archive = None
    if settings.archive_bucket:
        s3 = client("s3", region=region, endpoint_url=host)
        archive = ArchiveWriter(S3Blobs(s3, settings.archive_bucket))
    service = TransactionService(
        repository,
        meter_values,
        id_tags,
        archive,
        on_unmatched_stop=_unmatched_stop_alert(alerts) if alerts is not None else None,
        on_anomaly=alerts.meter_anomaly if alerts is not None else None,
    )
    return id_tags, service, reports


def register_charger_profiles(
    dispatcher: Dispatcher,
    environ: Environ = None,
    *,
    lifecycle: ReportedLifecycle | None = None,
    limits: SessionLimits | None = None,
    alerts: AlertService | None = None,
) -> None:
    """Authorize, Start/StopTransaction, MeterValues, DataTransfer, Diagnostics/FirmwareStatusNotification.
    ``lifecycle``: reservations used by StartTransaction, TxProfiles ending with StopTransaction.
    ``limits``: fleet time limits (deadlines recorded at StartTransaction, closed at StopTransaction).
    ``alerts``: a StopTransaction for an unknown transaction, and meter anomalies, open operators' alerts."""
    settings = ChargerProfileSettings.from_env(environ)
    id_tags, transactions, reports = _services(settings, alerts)
    TransactionProfile(id_tags, transactions, lifecycle=lifecycle, limits=limits).register(dispatcher)
    data_transfers = DynamoDataTransferLog(
        bind_model(
            DataTransferItem,
            settings.data_transfers_table,
            region=settings.aws_region,
            host=settings.aws_endpoint_url,
        )
    )
    ReportsProfile(reports, data_transfers).register(dispatcher)


def _unmatched_stop_alert(alerts: AlertService) -> Callable[[UnmatchedStop], object]:
    def raise_alert(stop: UnmatchedStop) -> None:
        alerts.unknown_transaction_stop(
            tenant_id=stop.tenant_id,
            charge_point_id=stop.charge_point_id,
            transaction_id=stop.transaction_id,
            details={
                "meter_stop": stop.meter_stop,
                "stopped_at": stop.stopped_at.isoformat(),
                "reason": stop.stop_reason,
                "id_tag": stop.id_tag,
            },
            at=stop.received_at,
        )

    return raise_alert


@dataclass(frozen=True, slots=True)
class TransactionsApiRoot:
    id_tags: IdTagService
    transactions: TransactionService
    reports: ChargerReports


def transactions_api(environ: Environ = None) -> TransactionsApiRoot:
    id_tags, transactions, reports = _services(TransactionSettings.from_env(environ))
    return TransactionsApiRoot(id_tags, transactions, reports)


cached_transactions_api = functools.cache(transactions_api)
