"""$disconnect: forget the connection; the charger goes offline unless a reconnect already replaced it."""

from __future__ import annotations

from typing import Any

from voltway.adapters.roots import cached_commands, cached_disconnect_registry
from voltway.observability import begin, metrics
from voltway.ocpp import websocket_events as ws


@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    connection_id = ws.connection_id(event)
    begin(connection_id=connection_id)
    charge_point_id = cached_disconnect_registry().disconnect(connection_id)
    if charge_point_id is not None:
        # Its CALLs in flight and queued cannot be answered over this connection: offline.
        cached_commands().charger_disconnected(charge_point_id, connection_id)
    return ws.response(200)
