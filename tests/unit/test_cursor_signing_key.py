"""The cursor signing key is a generated secret (issue 4): never in the template or the environment,
read from Secrets Manager once per process, with least privilege (ApiFunction may read that one secret)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from pydantic import ValidationError

from tests.unit.test_template import load_template
from voltway.adapters import aws
from voltway.api.conventions import ConventionSettings, default_signer, signing_key
from voltway.api.pagination import CursorSigner


def test_the_template_generates_the_key_and_grants_reading_that_secret_only() -> None:
    resources = load_template()["Resources"]
    secret = resources["CursorSigningKeySecret"]
    assert secret["Type"] == "AWS::SecretsManager::Secret"
    assert secret["Properties"]["GenerateSecretString"]["PasswordLength"] >= 32
    api = resources["ApiFunction"]["Properties"]
    variables = api["Environment"]["Variables"]
    assert "CURSOR_SIGNING_KEY" not in variables
    assert variables["CURSOR_SIGNING_KEY_SECRET_ARN"] == {"Ref": "CursorSigningKeySecret"}
    grants = [
        statement
        for policy in api["Policies"]
        if isinstance(policy, dict) and "Statement" in policy
        for statement in policy["Statement"]
        if "secretsmanager:GetSecretValue" in str(statement["Action"])
    ]
    assert {"Ref": "CursorSigningKeySecret"} in [g["Resource"] for g in grants]
    for name, resource in resources.items():  # no other function reads it
        if name != "ApiFunction" and resource["Type"] == "AWS::Serverless::Function":
            assert "CursorSigningKeySecret" not in str(resource["Properties"].get("Policies"))


def test_exactly_one_key_source() -> None:
    with pytest.raises(ValidationError):
        ConventionSettings.from_env({})
    with pytest.raises(ValidationError):
        ConventionSettings.from_env({"CURSOR_SIGNING_KEY": "k" * 32, "CURSOR_SIGNING_KEY_SECRET_ARN": "arn"})
    assert signing_key(ConventionSettings.from_env({"CURSOR_SIGNING_KEY": "k" * 32})) == b"k" * 32


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("CURSOR_SIGNING_KEY", raising=False)
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        arn = boto3.client("secretsmanager", region_name="eu-west-1").create_secret(
            Name="cursor-key", SecretString="s" * 64
        )["ARN"]
        monkeypatch.setenv("CURSOR_SIGNING_KEY_SECRET_ARN", arn)
        aws._session.cache_clear()
        default_signer.cache_clear()
        yield arn
        default_signer.cache_clear()


def test_the_key_is_read_from_secrets_manager_once_per_process(secret: str) -> None:
    reads: list[Any] = []
    session = aws._session("eu-west-1")
    session.events.register("before-call.secrets-manager.GetSecretValue", lambda **kw: reads.append(kw))
    signer = default_signer()
    token = signer.sign("raw", "t1\n/v1/alerts")
    assert default_signer() is signer and len(reads) == 1
    assert CursorSigner(b"s" * 64).verify(token, "t1\n/v1/alerts") == "raw"
