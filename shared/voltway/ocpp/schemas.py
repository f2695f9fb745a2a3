"""Validation of OCPP 1.6 payloads against the JSON schemas shipped in the ``ocpp`` wheel.

The schemas are compiled with fastjsonschema (about 20 times faster than the package's own async jsonschema
validation) lazily, once per action and process, and ``date-time`` formats are really checked
(RFC 3339 with offset), which the ``ocpp`` package's validation skips. Schema violations map to OCPP-J
error codes here and nowhere else.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fastjsonschema

from voltway.ocpp.errors import (
    FormationViolation,
    OccurenceConstraintViolation,
    OcppError,
    PropertyConstraintViolation,
    TypeConstraintViolation,
)
from voltway.ocpp.timestamps import is_datetime

Validator = Callable[[Any], Any]

_RULE_TO_ERROR: dict[str, type[OcppError]] = {
    "type": TypeConstraintViolation,
    "required": OccurenceConstraintViolation,
    "minItems": OccurenceConstraintViolation,
    "maxItems": OccurenceConstraintViolation,
    "additionalProperties": FormationViolation,
}


@functools.cache
def _schema_dir() -> Path:
    """``ocpp/v16/schemas`` of the installed wheel, found without importing ``ocpp.v16`` (whose
    ``__init__`` pulls in jsonschema: see voltway.ocpp.actions)."""
    spec = importlib.util.find_spec("ocpp")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("the ocpp package (its OCPP 1.6 JSON schemas) is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "v16" / "schemas"


def _schema_text(name: str) -> str:
    return (_schema_dir() / f"{name}.json").read_text(encoding="utf-8")


@functools.cache
def validator_for(name: str) -> Validator:
    """Compiled validator of schema ``name`` (``"BootNotification"``, ``"HeartbeatResponse"``…)."""
    schema = json.loads(_schema_text(name))
    return fastjsonschema.compile(schema, formats={"date-time": is_datetime})


def validate(name: str, payload: dict[str, Any]) -> None:
    """Raise the OCPP error that describes the first violation of schema ``name`` by ``payload``."""
    try:
        validator_for(name)(payload)
    except fastjsonschema.JsonSchemaValueException as e:
        error = _RULE_TO_ERROR.get(e.rule or "", PropertyConstraintViolation)
        field = ".".join(str(p) for p in (e.path or [])[1:]) or None
        raise error(
            e.message.replace("data.", "", 1).replace("data ", "payload ", 1), {"field": field}
        ) from None
