"""$disconnect: forget the connection; the charger goes offline unless a reconnect already replaced it."""

from __future__ import annotations

from typing import Any

from voltway.adapters.roots import cached_connect_registry
from voltway.observability import correlate, metrics
from voltway.ocpp import websocket_events as ws


@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    connection_id = ws.connection_id(event)
    correlate(connection_id=connection_id)
    cached_connect_registry().disconnect(connection_id)
    return ws.response(200)
