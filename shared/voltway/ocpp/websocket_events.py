"""API Gateway WebSocket events ($connect, $default, $disconnect) decoded into typed values."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from voltway.chargers.service import Handshake


def _header(event: Mapping[str, Any], name: str) -> str | None:
    wanted = name.lower()
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == wanted:
            return str(value)
    return None


def connection_id(event: Mapping[str, Any]) -> str:
    return str(event["requestContext"]["connectionId"])


def handshake(event: Mapping[str, Any]) -> Handshake:
    query = event.get("queryStringParameters") or {}
    offered = _header(event, "Sec-WebSocket-Protocol") or ""
    return Handshake(
        connection_id=connection_id(event),
        charge_point_id=query.get("chargePointId") or None,
        authorization=_header(event, "Authorization"),
        subprotocols=tuple(p.strip() for p in offered.split(",") if p.strip()),
    )


@dataclass(frozen=True, slots=True)
class Frame:
    connection_id: str
    text: str


def frame(event: Mapping[str, Any]) -> Frame:
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        body = base64.b64decode(body).decode("utf-8", errors="replace")
    return Frame(connection_id(event), body)


def response(status: int, headers: dict[str, str] | None = None, body: str | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {"statusCode": status}
    if headers:
        result["headers"] = headers
    if body is not None:
        result["body"] = body
    return result
