"""Composition roots: one per function, built once per process from validated configuration."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from pydantic import Field

from voltway.adapters.apigateway import ApiGatewayConnections, management_endpoint
from voltway.adapters.aws import client
from voltway.adapters.dynamo import (
    DynamoChargerRepository,
    DynamoConnectionRegistry,
    DynamoIdempotencyStore,
    DynamoMessageAudit,
)
from voltway.adapters.dynamo_commands import (
    DynamoBootReadClaims,
    DynamoCommandQueue,
    DynamoCommandStore,
    DynamoReportedStateStore,
)
from voltway.adapters.dynamo_models import ChargerItem, ConnectionItem, IdempotencyItem, MessageItem, bind
from voltway.adapters.roots_transactions import register_charger_profiles
from voltway.adapters.sns import SnsAlertPublisher
from voltway.alerts.roots import alert_service
from voltway.alerts.service import AlertService
from voltway.chargers.ports import ChargerRepository
from voltway.chargers.service import ChargerRegistry
from voltway.config import AwsSettings
from voltway.fleet.roots import fleet_limits
from voltway.fleet.service import FleetLimits
from voltway.ocpp.central_system import CentralSystem
from voltway.ocpp.commands.lifecycle import ReportedLifecycle
from voltway.ocpp.commands.service import CommandPolicy, CommandService
from voltway.ocpp.core import CorePolicy, CoreProfile
from voltway.ocpp.dispatch import Dispatcher
from voltway.ocpp.ports import MessageAudit

Environ = Mapping[str, str] | None


class ChargersSettings(AwsSettings):
    chargers_table: str


class ConnectSettings(ChargersSettings):
    connections_table: str


class MessageSettings(ConnectSettings):
    messages_table: str
    ocpp_idempotency_table: str
    ws_management_endpoint: str
    registration_policy: Literal["reject", "pending"]
    heartbeat_interval_seconds: int = Field(ge=30, le=86400)
    # A retried CALL within this window gets the first answer again.
    ocpp_idempotency_ttl_seconds: int = Field(default=3600, ge=60)
    message_audit_ttl_days: int = Field(default=30, ge=1)
    alerts_table: str


class MonitorSettings(ChargersSettings):
    alerts_topic_arn: str
    alerts_table: str
    offline_after_seconds: int = Field(ge=60)


class ApiSettings(ChargersSettings):
    messages_table: str


class CommandSettings(ChargersSettings):
    commands_table: str
    ws_management_endpoint: str
    command_timeout_seconds: int = Field(ge=1, le=600)
    # Commands waiting per charger besides the one in flight; more are refused (HTTP 409).
    command_queue_limit: int = Field(default=20, ge=1, le=500)
    # An Accepted boot reads the configuration (GetConfiguration) unless it was read this recently.
    boot_configuration_fresh_seconds: int = Field(default=600, ge=0)


def _chargers(settings: ChargersSettings) -> DynamoChargerRepository:
    model = bind(
        ChargerItem, settings.chargers_table, region=settings.aws_region, host=settings.aws_endpoint_url
    )
    return DynamoChargerRepository(model)


def _connections(settings: ConnectSettings) -> DynamoConnectionRegistry:
    model = bind(
        ConnectionItem, settings.connections_table, region=settings.aws_region, host=settings.aws_endpoint_url
    )
    return DynamoConnectionRegistry(model)


def _audit(table: str, settings: AwsSettings, ttl_days: int = 30) -> DynamoMessageAudit:
    model = bind(MessageItem, table, region=settings.aws_region, host=settings.aws_endpoint_url)
    return DynamoMessageAudit(model, timedelta(days=ttl_days))


def commands(environ: Environ = None) -> CommandService:
    """The command flow (platform -> charger CALLs), for the API, $default, $disconnect and the monitor."""
    settings = CommandSettings.from_env(environ)
    dynamodb = client("dynamodb", region=settings.aws_region, endpoint_url=settings.aws_endpoint_url)
    management = client(
        "apigatewaymanagementapi",
        region=settings.aws_region,
        endpoint_url=management_endpoint(settings.ws_management_endpoint),
    )
    return CommandService(
        chargers=_chargers(settings),
        store=DynamoCommandStore(dynamodb, settings.commands_table),
        queue=DynamoCommandQueue(dynamodb, settings.commands_table),
        reported=DynamoReportedStateStore(dynamodb, settings.commands_table),
        sender=ApiGatewayConnections(management),
        policy=CommandPolicy(
            timedelta(seconds=settings.command_timeout_seconds),
            settings.command_queue_limit,
            boot_read_fresh=timedelta(seconds=settings.boot_configuration_fresh_seconds),
        ),
        boot_claims=DynamoBootReadClaims(dynamodb, settings.commands_table),
    )


def reported_lifecycle(environ: Environ = None) -> ReportedLifecycle:
    """Reservations ending (expiry, use) and TxProfiles ending with their transaction: $default, monitor."""
    settings = CommandSettings.from_env(environ)
    dynamodb = client("dynamodb", region=settings.aws_region, endpoint_url=settings.aws_endpoint_url)
    store = DynamoReportedStateStore(dynamodb, settings.commands_table)
    return ReportedLifecycle(store, store)


def connect_registry(environ: Environ = None) -> ChargerRegistry:
    """$connect: a reconnect also resolves the charger's offline alert (ALERTS_TABLE)."""
    settings = ConnectSettings.from_env(environ)
    alerts = alert_service(environ)
    return ChargerRegistry(_chargers(settings), _connections(settings), on_connected=alerts.charger_connected)


def disconnect_registry(environ: Environ = None) -> ChargerRegistry:
    settings = ConnectSettings.from_env(environ)
    return ChargerRegistry(_chargers(settings), _connections(settings))


def central_system(environ: Environ = None) -> CentralSystem:
    settings = MessageSettings.from_env(environ)
    chargers = _chargers(settings)
    dispatcher = Dispatcher()
    lifecycle = reported_lifecycle(environ)
    alerts = alert_service(environ)
    CoreProfile(
        chargers,
        CorePolicy(settings.registration_policy, settings.heartbeat_interval_seconds),
        status_observer=lifecycle,
        alerts=alerts,
    ).register(dispatcher)
    register_charger_profiles(
        dispatcher,
        environ,
        lifecycle=lifecycle,
        limits=fleet_limits(commands(environ), environ),
        alerts=alerts,
    )
    idempotency_model = bind(
        IdempotencyItem,
        settings.ocpp_idempotency_table,
        region=settings.aws_region,
        host=settings.aws_endpoint_url,
    )
    management = client(
        "apigatewaymanagementapi",
        region=settings.aws_region,
        endpoint_url=management_endpoint(settings.ws_management_endpoint),
    )
    command_service = commands(environ)
    return CentralSystem(
        chargers=chargers,
        connections=_connections(settings),
        dispatcher=dispatcher,
        idempotency=DynamoIdempotencyStore(
            idempotency_model, timedelta(seconds=settings.ocpp_idempotency_ttl_seconds)
        ),
        audit=_audit(settings.messages_table, settings, settings.message_audit_ttl_days),
        sender=ApiGatewayConnections(management),
        commands=command_service,
        boot_hooks=command_service,
    )


@dataclass(frozen=True, slots=True)
class MonitorRoot:
    registry: ChargerRegistry
    alerts: SnsAlertPublisher
    offline_after: timedelta
    chargers: ChargerRepository
    alert_store: AlertService  # operators' alerts (GET /v1/alerts)


def monitor(environ: Environ = None) -> MonitorRoot:
    settings = MonitorSettings.from_env(environ)
    sns = client("sns", region=settings.aws_region, endpoint_url=settings.aws_endpoint_url)
    chargers = _chargers(settings)
    return MonitorRoot(
        ChargerRegistry(chargers),
        SnsAlertPublisher(sns, settings.alerts_topic_arn),
        timedelta(seconds=settings.offline_after_seconds),
        chargers,
        alert_service(environ),
    )


@dataclass(frozen=True, slots=True)
class ApiRoot:
    chargers: ChargerRegistry
    messages: MessageAudit


def api(environ: Environ = None) -> ApiRoot:
    settings = ApiSettings.from_env(environ)
    return ApiRoot(ChargerRegistry(_chargers(settings)), _audit(settings.messages_table, settings))


# Cached per process: the functions call these at cold start.
cached_connect_registry = functools.cache(connect_registry)
cached_disconnect_registry = functools.cache(disconnect_registry)
cached_central_system = functools.cache(central_system)
cached_monitor = functools.cache(monitor)
cached_api = functools.cache(api)
# Exports (builders and settings in voltway.exports.aws): the API's service, and the queue workers' root.
cached_commands = functools.cache(commands)
cached_reported_lifecycle = functools.cache(reported_lifecycle)


def fleet_sweeper(environ: Environ = None) -> FleetLimits | None:
    """The monitor's sweep of due fleet deadlines (None when FLEET_DEADLINES_TABLE is unset)."""
    return fleet_limits(commands(environ), environ)


cached_fleet_sweeper = functools.cache(fleet_sweeper)
