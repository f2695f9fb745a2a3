"""Composition of fleet limits for OcppMessageFunction (record deadlines, send the safety net, close on
stop) and ChargerMonitorFunction (the sweep). Disabled (None) when FLEET_DEADLINES_TABLE is unset."""

from __future__ import annotations

from collections.abc import Mapping

from pynamodb.connection import Connection

from voltway.adapters.aws import client
from voltway.adapters.dynamo_transactions import DynamoTransactionRepository, TransactionRecord, bind_model
from voltway.billing.aws import DynamoContracts, DynamoTariffs
from voltway.config import AwsSettings
from voltway.fleet.aws import BillingContractLookup, DynamoDeadlines
from voltway.fleet.ports import ChargerCommands
from voltway.fleet.service import FleetLimits

Environ = Mapping[str, str] | None


class FleetSettings(AwsSettings):
    fleet_deadlines_table: str | None = None
    transactions_table: str
    # Contracts live in TariffsTable; only the function that records deadlines (StartTransaction) reads it.
    tariffs_table: str | None = None


def fleet_limits(commands: ChargerCommands, environ: Environ = None) -> FleetLimits | None:
    settings = FleetSettings.from_env(environ)
    if not settings.fleet_deadlines_table:
        return None
    region, host = settings.aws_region, settings.aws_endpoint_url
    dynamodb = client("dynamodb", region=region, endpoint_url=host)
    contracts = (
        BillingContractLookup(DynamoContracts(DynamoTariffs(dynamodb, settings.tariffs_table)))
        if settings.tariffs_table
        else None
    )
    transactions = DynamoTransactionRepository(
        bind_model(TransactionRecord, settings.transactions_table, region=region, host=host),
        Connection(region=region, host=host),
    )
    return FleetLimits(
        deadlines=DynamoDeadlines(dynamodb, settings.fleet_deadlines_table),
        contracts=contracts,
        commands=commands,
        stop_reasons=transactions,
    )
