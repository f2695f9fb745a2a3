"""Composition root of the alerts (the API's routes; the monitor and $default build their own from the
same settings through ``alert_service``)."""

from __future__ import annotations

import functools
from collections.abc import Mapping

from voltway.adapters.aws import client
from voltway.alerts.dynamo import DynamoAlertStore
from voltway.alerts.service import AlertService
from voltway.config import AwsSettings


class AlertsSettings(AwsSettings):
    alerts_table: str


def alert_service(environ: Mapping[str, str] | None = None) -> AlertService:
    settings = AlertsSettings.from_env(environ)
    dynamodb = client("dynamodb", region=settings.aws_region, endpoint_url=settings.aws_endpoint_url)
    return AlertService(DynamoAlertStore(dynamodb, settings.alerts_table))


cached_alerts = functools.cache(alert_service)
