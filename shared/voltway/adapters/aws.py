"""boto3 clients from one botocore session per process (each extra client costs 2-3 ms, a session ~90 ms).
The endpoint (AWS, LocalStack, the embedded emulator) comes from configuration."""

from __future__ import annotations

import functools
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=3, read_timeout=10)


@functools.cache
def _session(region: str) -> boto3.session.Session:
    return boto3.session.Session(region_name=region)


def client(service: str, *, region: str, endpoint_url: str | None = None) -> Any:
    return _session(region).client(service, endpoint_url=endpoint_url, config=_CONFIG)  # type: ignore[call-overload]
