"""Configuration: validated pydantic models read once from the environment at cold start.

The AWS endpoint (real AWS, LocalStack, the embedded emulator) is configuration, never a code path:
boto3 and PynamoDB both honour ``AWS_ENDPOINT_URL``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Self

from pydantic import BaseModel, ConfigDict


class EnvModel(BaseModel):
    """A settings model whose fields are read from upper-case environment variables.

    Field ``chargers_table`` is read from ``CHARGERS_TABLE``. Missing required variables fail loudly at
    cold start instead of hiding behind silent defaults.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        env = os.environ if environ is None else environ
        values = {name: env[name.upper()] for name in cls.model_fields if name.upper() in env}
        return cls.model_validate(values)


class AwsSettings(EnvModel):
    aws_region: str = "eu-west-1"
    aws_endpoint_url: str | None = None
