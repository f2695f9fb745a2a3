"""Composition of the charger-initiated OCPP profiles beyond Core (id tags, transactions, reports) and of
the operator API's transaction / id tag services. Called from ``voltway.adapters.roots``."""

from __future__ import annotations

import functools
from collections.abc import Mapping
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
from voltway.archive.archive import ArchiveWriter
from voltway.archive.s3 import S3Blobs
from voltway.config import AwsSettings
from voltway.idtags.service import IdTagService
from voltway.ocpp.commands.lifecycle import ReportedLifecycle
from voltway.ocpp.dispatch import Dispatcher
from voltway.ocpp.ports import ChargerReports
from voltway.ocpp.reports import ReportsProfile
from voltway.ocpp.transactions import SessionLimits, TransactionProfile
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


def _services(settings: TransactionSettings) -> tuple[IdTagService, TransactionService, ChargerReports]:
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
    return id_tags, TransactionService(repository, meter_values, id_tags, archive), reports


def register_charger_profiles(
    dispatcher: Dispatcher,
    environ: Environ = None,
    *,
    lifecycle: ReportedLifecycle | None = None,
    limits: SessionLimits | None = None,
) -> None:
    """Authorize, Start/StopTransaction, MeterValues, DataTransfer, Diagnostics/FirmwareStatusNotification.
    ``lifecycle``: reservations used by StartTransaction, TxProfiles ending with StopTransaction.
    ``limits``: fleet time limits (deadlines recorded at StartTransaction, closed at StopTransaction)."""
    settings = ChargerProfileSettings.from_env(environ)
    id_tags, transactions, reports = _services(settings)
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


@dataclass(frozen=True, slots=True)
class TransactionsApiRoot:
    id_tags: IdTagService
    transactions: TransactionService
    reports: ChargerReports


def transactions_api(environ: Environ = None) -> TransactionsApiRoot:
    id_tags, transactions, reports = _services(TransactionSettings.from_env(environ))
    return TransactionsApiRoot(id_tags, transactions, reports)


cached_transactions_api = functools.cache(transactions_api)
