"""Composition root of the drivers' routes (built once per process, like ``cached_api``)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import timedelta

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
from voltway.adapters.roots import cached_commands
from voltway.adapters.roots_transactions import cached_transactions_api
from voltway.billing.aws import DynamoCdrs, IdTagAccounts, SiteLocations
from voltway.billing.roots import cached_billing
from voltway.config import AwsSettings
from voltway.drivers.dynamo import DynamoDriverStore
from voltway.drivers.estimate import TariffEstimator
from voltway.drivers.service import DriverService
from voltway.payments.roots import cached_payments
from voltway.sites.dynamo import DynamoSiteRepository
from voltway.transactions.model import MeterSample, Transaction
from voltway.transactions.ports import transaction_series


class DriverSettings(AwsSettings):
    drivers_table: str
    id_tags_table: str
    transactions_table: str
    meter_values_table: str
    cdrs_table: str
    sites_table: str
    # An accepted session whose StartTransaction has not come after this long expires (hold voided).
    driver_start_timeout_seconds: int = Field(default=120, ge=10, le=3600)


class TransactionReader:
    """The transactions a session links to: key lookups, plus one series of samples for the estimate."""

    def __init__(self, transactions: DynamoTransactionRepository, samples: DynamoMeterValueStore) -> None:
        self._transactions = transactions
        self._samples = samples

    def active_for_tag(self, tenant_id: str, id_tag: str) -> int | None:
        return self._transactions.active_for_tag(tenant_id, id_tag)

    def transaction(self, transaction_id: int) -> Transaction | None:
        return self._transactions.get(transaction_id)

    def samples(self, transaction_id: int) -> list[MeterSample]:
        return self._samples.samples(transaction_series(transaction_id))


def drivers(environ: Mapping[str, str] | None = None) -> DriverService:
    s = DriverSettings.from_env(environ)
    region, host = s.aws_region, s.aws_endpoint_url
    dynamodb = client("dynamodb", region=region, endpoint_url=host)
    billing = cached_billing()
    reader = TransactionReader(
        DynamoTransactionRepository(
            bind_model(TransactionRecord, s.transactions_table, region=region, host=host),
            Connection(region=region, host=host),
        ),
        DynamoMeterValueStore(bind_model(MeterValueItem, s.meter_values_table, region=region, host=host)),
    )
    estimator = TariffEstimator(
        billing.tariffs,
        billing.contracts,
        IdTagAccounts(
            DynamoIdTagRepository(bind_model(IdTagItem, s.id_tags_table, region=region, host=host))
        ),
        SiteLocations(DynamoSiteRepository(dynamodb, s.sites_table)),
    )
    return DriverService(
        store=DynamoDriverStore(dynamodb, s.drivers_table),
        id_tags=cached_transactions_api().id_tags,
        commands=cached_commands(),
        transactions=reader,
        cdrs=DynamoCdrs(dynamodb, s.cdrs_table),
        estimator=estimator,
        payments=cached_payments(),
        start_timeout=timedelta(seconds=s.driver_start_timeout_seconds),
    )


cached_drivers = functools.cache(drivers)
