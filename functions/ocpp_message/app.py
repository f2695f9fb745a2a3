"""$default: one OCPP-J frame per invocation; the answer goes back through the management API."""

from __future__ import annotations

from typing import Any

from voltway.adapters.roots import cached_central_system
from voltway.billing.roots import cached_trigger
from voltway.observability import metrics
from voltway.ocpp import websocket_events as ws


@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    frame = ws.frame(event)
    cached_central_system().receive(frame.connection_id, frame.text)
    cached_trigger().after_frame(frame.text)  # StopTransaction -> CDR request, after the reply
    return ws.response(200)
