"""Helpers shared by the sites/stations/openapi route tests: the Chalice app invoked as Lambda with API
Gateway HTTP API payload-1.0 events carrying the JWT authorizer's claims, on moto with tables built
from template.yaml. (No tests here.)"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from moto import mock_aws

from voltway.adapters import roots
from voltway.api import conventions
from voltway.api import roots as api_roots
from voltway.local.resources import AwsClients, _create_generated_secret, _create_table
from voltway.local.template import LocalEndpoints, load_template

REPO = Path(__file__).resolve().parents[2]


def load_app() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fn_api_sites", REPO / "functions" / "api" / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Api:
    def __init__(self) -> None:
        self.module = load_app()

    def __call__(
        self,
        method: str,
        resource: str,
        path_params: dict[str, str] | None = None,
        *,
        body: Any = None,
        raw_body: str | None = None,
        query: dict[str, str] | None = None,
        groups: str | None = "[operator]",
        tenant: str = "t1",
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        status, _, payload = self.full(
            method,
            resource,
            path_params,
            body=body,
            raw_body=raw_body,
            query=query,
            groups=groups,
            tenant=tenant,
            headers=headers,
        )
        return status, payload

    def full(
        self,
        method: str,
        resource: str,
        path_params: dict[str, str] | None = None,
        *,
        body: Any = None,
        raw_body: str | None = None,
        query: dict[str, str] | None = None,
        groups: str | None = "[operator]",
        tenant: str = "t1",
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], Any]:
        path = resource
        for k, v in (path_params or {}).items():
            path = path.replace("{" + k + "}", v)
        authorizer = None
        if groups is not None:
            claims = {"sub": "user-1", "custom:tenant": tenant, "cognito:groups": groups, "token_use": "id"}
            authorizer = {"claims": claims, "scopes": None}
        all_headers = {"content-type": "application/json", **(headers or {})}
        event = {
            "version": "1.0",
            "resource": resource,
            "path": path,
            "httpMethod": method,
            "headers": all_headers,
            "multiValueHeaders": {k: [v] for k, v in all_headers.items()},
            "queryStringParameters": query,
            "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
            "pathParameters": path_params,
            "stageVariables": None,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "api1",
                "authorizer": authorizer,
                "httpMethod": method,
                "path": path,
                "resourcePath": resource,
                "stage": "$default",
                "requestId": "r1",
                "identity": {"sourceIp": "127.0.0.1"},
            },
            "body": raw_body if raw_body is not None else (json.dumps(body) if body is not None else None),
            "isBase64Encoded": False,
        }
        response = self.module.app(event, None)
        payload = json.loads(response["body"]) if response.get("body") else None
        return response["statusCode"], dict(response.get("headers") or {}), payload


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        # Only the tables and generated secrets (from template.yaml): no queues or buckets needed.
        template = load_template(REPO / "template.yaml", endpoints=LocalEndpoints(emulator_url=None))
        clients = AwsClients.create(None)
        for spec in template.resources_of_type("AWS::DynamoDB::Table"):
            _create_table(clients.dynamodb, spec)
        for spec in template.resources_of_type("AWS::SecretsManager::Secret"):  # the cursor signing key
            if "GenerateSecretString" in spec.properties:
                _create_generated_secret(clients.secretsmanager, spec)
        for key, value in template.functions["ApiFunction"].environment.items():
            monkeypatch.setenv(key, str(value))
        roots.cached_api.cache_clear()
        api_roots.cached_sites_root.cache_clear()
        conventions.default_signer.cache_clear()
        yield


def site_body(
    name: str = "Main Street Hub", lat: float = 52.52, lon: float = 13.405, **extra: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "address": "Main Street 1",
        "city": "Berlin",
        "country": "DEU",
        "coordinates": {"lat": lat, "lon": lon},
        "time_zone": "Europe/Berlin",
        "grid_limit_kw": 150,
        **extra,
    }
