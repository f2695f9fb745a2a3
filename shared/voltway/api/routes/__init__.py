"""Chalice blueprints; each is built by a factory so every app instance gets its own."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)


def query_model(model: type[M], params: Mapping[str, str] | None) -> M:
    """Validate the query string (last value of a repeated parameter) with ``model``."""
    values: dict[str, Any] = {k: params[k] for k in params} if params else {}
    return model.model_validate(values)


def body(view: BaseModel) -> dict[str, Any]:
    """A response model as JSON-ready data: times in ISO-8601 UTC (``Z``)."""
    return view.model_dump(mode="json")
