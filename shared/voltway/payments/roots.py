"""Composition root of payments (the API's routes, the drivers' start and the CDR worker's capture).
Built once per process from validated configuration; the provider is chosen by ``PAYMENT_PROVIDER``."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Literal, Self

from pydantic import Field, model_validator

from voltway.adapters.aws import client
from voltway.adapters.sns import SnsAlertPublisher
from voltway.alerts.dynamo import DynamoAlertStore
from voltway.alerts.service import AlertService
from voltway.billing.errors import NoTariffAssigned
from voltway.billing.roots import cached_billing
from voltway.billing.service import TariffService
from voltway.config import AwsSettings
from voltway.payments.alerts import PaymentAlerts
from voltway.payments.dynamo import DynamoPaymentStore
from voltway.payments.fake import FakePaymentProvider
from voltway.payments.fiserv import FiservCommerceHub, FiservCredentials
from voltway.payments.ports import PaymentProvider
from voltway.payments.service import CurrencyOf, PaymentService, PaymentSettings

# Stages that take real money: the fake gateway is refused there at cold start.
_REAL_MONEY = frozenset({"staging", "prod"})


class PaymentsSettings(AwsSettings):
    stage: str
    payments_table: str
    payment_provider: Literal["fake", "fiserv"]
    payment_hold_amount: Decimal = Field(default=Decimal("50.00"), gt=0, decimal_places=2)
    payment_default_currency: str = Field(default="EUR", min_length=3, max_length=3)
    # Secrets Manager secret (JSON: base_url, api_key, api_secret, merchant_id, terminal_id); fiserv only.
    payment_gateway_secret_arn: str | None = None
    # Per attempt (3 attempts): the API answers within API Gateway's 29 s, a worker record within ~16 s.
    payment_gateway_timeout_seconds: float = Field(default=5.0, gt=0, le=10)
    alerts_topic_arn: str | None = None
    alerts_table: str | None = None  # failed captures in the operators' alert list (GET /v1/alerts)

    @model_validator(mode="after")
    def _provider(self) -> Self:
        if self.payment_provider == "fake" and self.stage in _REAL_MONEY:
            raise ValueError(f"PAYMENT_PROVIDER=fake is not allowed on stage {self.stage}")
        if self.payment_provider == "fiserv" and not self.payment_gateway_secret_arn:
            raise ValueError("PAYMENT_PROVIDER=fiserv needs PAYMENT_GATEWAY_SECRET_ARN")
        return self


def provider_of(s: PaymentsSettings) -> PaymentProvider:
    if s.payment_provider == "fake":
        return FakePaymentProvider()
    secrets = client("secretsmanager", region=s.aws_region, endpoint_url=s.aws_endpoint_url)
    text = secrets.get_secret_value(SecretId=s.payment_gateway_secret_arn)["SecretString"]
    base_url = json.loads(text)["base_url"]
    credentials = FiservCredentials.from_json(text)
    return FiservCommerceHub(base_url, credentials, timeout=s.payment_gateway_timeout_seconds, attempts=3)


def tariff_currency(tariffs: TariffService) -> CurrencyOf:
    """The hold's currency: the charger's tariff (billing's precedence), if any."""

    def currency(tenant_id: str, charge_point_id: str) -> str | None:
        try:
            return tariffs.select(tenant_id, charge_point_id).currency
        except NoTariffAssigned:
            return None

    return currency


def payments(
    environ: Mapping[str, str] | None = None, tariffs: TariffService | None = None
) -> PaymentService:
    s = PaymentsSettings.from_env(environ)
    region, host = s.aws_region, s.aws_endpoint_url
    dynamodb = client("dynamodb", region=region, endpoint_url=host)
    topic = s.alerts_topic_arn
    alerts = PaymentAlerts(
        SnsAlertPublisher(client("sns", region=region, endpoint_url=host), topic) if topic else None,
        AlertService(DynamoAlertStore(dynamodb, s.alerts_table)) if s.alerts_table else None,
    )
    return PaymentService(
        store=DynamoPaymentStore(dynamodb, s.payments_table),
        provider=provider_of(s),
        settings=PaymentSettings(s.payment_hold_amount, s.payment_default_currency),
        currency_of=tariff_currency(tariffs) if tariffs is not None else None,
        alerts=alerts,
    )


@functools.cache
def cached_payments() -> PaymentService:
    # The API and the CDR worker both carry billing's configuration; the hold's currency is the tariff's.
    return payments(tariffs=cached_billing().tariffs)
