"""HTTP edge of the command flow: command errors become the transport errors that
``voltway.adapters.http.to_response`` maps (its one table), and the ``?wait`` parameter."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from typing import Any, ParamSpec, TypeVar

from voltway.adapters.http import BadRequest, int_param
from voltway.chargers.errors import ChargerConflict, ChargerNotFound
from voltway.ocpp.commands.errors import (
    CommandError,
    CommandNotFound,
    InvalidCommand,
    QueueFull,
    UnknownCommand,
)

P = ParamSpec("P")
R = TypeVar("R")
# API Gateway ends an integration after 29 s: a request never waits longer than this for the charger.
MAX_WAIT_SECONDS = 25


def http_error(error: CommandError) -> Exception:
    """404 for an unknown command id, 400 (with the violation) for an unknown action or an invalid
    payload, 409 for a full queue."""
    if isinstance(error, CommandNotFound):
        return ChargerNotFound(str(error))
    if isinstance(error, UnknownCommand | InvalidCommand):
        return BadRequest(str(error), error.details)
    if isinstance(error, QueueFull):
        return ChargerConflict(str(error))
    return error


def command_errors(view: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return view(*args, **kwargs)
        except CommandError as e:
            raise http_error(e) from e

    return wrapper


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
