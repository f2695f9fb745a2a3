"""Composition root of ``GET /v1/me/charges`` (built once per process)."""

from __future__ import annotations

import functools
from collections.abc import Mapping

from pynamodb.connection import Connection

from voltway.adapters.aws import client
from voltway.adapters.dynamo_transactions import DynamoTransactionRepository, TransactionRecord, bind_model
from voltway.config import AwsSettings
from voltway.drivers.charges import DriverCharges
from voltway.drivers.dynamo import DynamoDriverStore


class ChargesSettings(AwsSettings):
    drivers_table: str
    transactions_table: str


def driver_charges(environ: Mapping[str, str] | None = None) -> DriverCharges:
    s = ChargesSettings.from_env(environ)
    region, host = s.aws_region, s.aws_endpoint_url
    transactions = DynamoTransactionRepository(
        bind_model(TransactionRecord, s.transactions_table, region=region, host=host),
        Connection(region=region, host=host),
    )
    drivers = DynamoDriverStore(client("dynamodb", region=region, endpoint_url=host), s.drivers_table)
    return DriverCharges(drivers, transactions)


cached_driver_charges = functools.cache(driver_charges)
