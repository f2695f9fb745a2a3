"""HTTP edge of the command flow: the ``?wait`` parameter and the raw OCPP payload body (command errors are
mapped in ``voltway.adapters.http``'s one table)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ParamSpec, TypeVar

from voltway.adapters.http import BadRequest, int_param

P = ParamSpec("P")
R = TypeVar("R")
# API Gateway ends an integration after 29 s: a request never waits longer than this for the charger.
MAX_WAIT_SECONDS = 25


def wait_seconds(params: Mapping[str, str] | None) -> int:
    """``?wait=<seconds>``, capped at ``MAX_WAIT_SECONDS``; 0 when absent."""
    return min(int_param(params, "wait", 0, 0, 3600), MAX_WAIT_SECONDS)


def json_object(raw: str | bytes | None) -> Any:
    """The request body as JSON (an empty body is ``{}``: actions without fields)."""
    if not raw or not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except ValueError as e:
        raise BadRequest(f"the body is not valid JSON: {e}", {"field": None}) from None
