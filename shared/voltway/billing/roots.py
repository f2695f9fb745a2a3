"""Composition roots of billing: the API's services, the CDR queue worker, and the $default trigger.
Built once per process from validated configuration."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from pydantic import Field
from pynamodb.connection import Connection

from voltway.adapters.aws import client
from voltway.adapters.dynamo_transactions import (
    DynamoIdTagRepository,
    DynamoMeterValueStore,
    DynamoTransactionRepository,
    IdTagItem,
    MeterValueItem,
    TransactionRecord,
    bind_model,
)
from voltway.archive import Archive
from voltway.archive.s3 import S3Blobs
from voltway.billing.aws import (
    ArchiveCdrs,
    DynamoCdrs,
    DynamoContracts,
    DynamoTariffs,
    IdTagAccounts,
    SiteLocations,
    SqsCdrQueue,
    TransactionSessions,
)
from voltway.billing.service import CdrService, CdrSettings, ContractService, TariffService
from voltway.billing.sweep import CdrSweeper
from voltway.billing.trigger import CdrTrigger
from voltway.config import AwsSettings
from voltway.sites.dynamo import DynamoSiteRepository

Environ = Mapping[str, str] | None


class BillingSettings(AwsSettings):
    tariffs_table: str
    cdrs_table: str
    transactions_table: str
    meter_values_table: str
    id_tags_table: str
    sites_table: str
    archive_bucket: str
    # Below this active power (W) a vehicle is "not requesting power": parking (OCPI 2.2.1).
    parking_below_w: Decimal = Field(default=Decimal(100), ge=0)


class TriggerSettings(AwsSettings):
    cdr_queue_url: str


class SweepSettings(AwsSettings):
    cdrs_table: str
    archive_bucket: str
    cdr_queue_url: str
    # Stops older than this are not looked at again; younger than the grace are left to the queue.
    cdr_sweep_lookback_minutes: int = Field(default=180, ge=30, le=7 * 24 * 60)
    cdr_sweep_grace_minutes: int = Field(default=10, ge=1, le=24 * 60)


@dataclass(frozen=True, slots=True)
class BillingRoot:
    tariffs: TariffService
    contracts: ContractService
    cdrs: CdrService


def billing(environ: Environ = None) -> BillingRoot:
    s = BillingSettings.from_env(environ)
    region, host = s.aws_region, s.aws_endpoint_url
    dynamodb = client("dynamodb", region=region, endpoint_url=host)
    tariff_store = DynamoTariffs(dynamodb, s.tariffs_table)
    tariffs = TariffService(tariff_store)
    contracts = ContractService(DynamoContracts(tariff_store))
    sessions = TransactionSessions(
        DynamoTransactionRepository(
            bind_model(TransactionRecord, s.transactions_table, region=region, host=host),
            Connection(region=region, host=host),
        ),
        DynamoMeterValueStore(bind_model(MeterValueItem, s.meter_values_table, region=region, host=host)),
    )
    cdrs = CdrService(
        tariffs=tariffs,
        contracts=contracts,
        cdrs=DynamoCdrs(dynamodb, s.cdrs_table),
        sessions=sessions,
        accounts=IdTagAccounts(
            DynamoIdTagRepository(bind_model(IdTagItem, s.id_tags_table, region=region, host=host))
        ),
        locations=SiteLocations(DynamoSiteRepository(dynamodb, s.sites_table)),
        archive=ArchiveCdrs(client("s3", region=region, endpoint_url=host), s.archive_bucket),
        settings=CdrSettings(parking_below_w=s.parking_below_w),
    )
    return BillingRoot(tariffs, contracts, cdrs)


def trigger(environ: Environ = None) -> CdrTrigger:
    s = TriggerSettings.from_env(environ)
    return CdrTrigger(
        SqsCdrQueue(client("sqs", region=s.aws_region, endpoint_url=s.aws_endpoint_url), s.cdr_queue_url)
    )


def cdr_sweeper(environ: Environ = None) -> CdrSweeper:
    s = SweepSettings.from_env(environ)
    region, host = s.aws_region, s.aws_endpoint_url
    return CdrSweeper(
        Archive(S3Blobs(client("s3", region=region, endpoint_url=host), s.archive_bucket)),
        DynamoCdrs(client("dynamodb", region=region, endpoint_url=host), s.cdrs_table),
        SqsCdrQueue(client("sqs", region=region, endpoint_url=host), s.cdr_queue_url),
        lookback=timedelta(minutes=s.cdr_sweep_lookback_minutes),
        grace=timedelta(minutes=s.cdr_sweep_grace_minutes),
        clock=lambda: datetime.now(UTC),
    )


cached_billing = functools.cache(billing)
cached_cdr_sweeper = functools.cache(cdr_sweeper)
cached_trigger = functools.cache(trigger)
