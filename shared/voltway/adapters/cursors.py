"""DynamoDB pagination keys ↔ opaque cursor strings (the HTTP edge signs them: voltway.api.pagination)."""

from __future__ import annotations

import base64
import json
from typing import Any


def key_to_cursor(key: dict[str, Any] | None) -> str | None:
    """A ``LastEvaluatedKey`` as a cursor; ``None`` when the listing is complete."""
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode() if key else None


def cursor_to_key(cursor: str, error: type[Exception] = ValueError) -> dict[str, Any]:
    """The ``ExclusiveStartKey`` a cursor stands for; ``error("invalid cursor")`` if it is not one."""
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except ValueError as e:
        raise error("invalid cursor") from e
    if not isinstance(key, dict):
        raise error("invalid cursor")
    return key
