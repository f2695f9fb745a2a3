"""$connect: authenticate the charger (HTTP Basic, OCPP security profiles 1/2), register the connection,
and agree on the ``ocpp1.6`` subprotocol."""

from __future__ import annotations

from typing import Any

from voltway.adapters.roots import cached_connect_registry
from voltway.chargers.errors import AuthenticationFailed
from voltway.chargers.service import OCPP16_SUBPROTOCOL, SubprotocolRefused
from voltway.observability import begin, logger, metrics
from voltway.ocpp import websocket_events as ws


@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    handshake = ws.handshake(event)
    begin(charge_point_id=handshake.charge_point_id, connection_id=handshake.connection_id)
    try:
        cached_connect_registry().connect(handshake)
    except SubprotocolRefused as e:
        logger.info("handshake refused: subprotocol", reason=str(e))
        return ws.response(400)
    except AuthenticationFailed as e:
        logger.info("handshake refused: authentication", reason=str(e))
        if e.missing_credentials:
            return ws.response(401, {"WWW-Authenticate": 'Basic realm="ocpp", charset="UTF-8"'})
        return ws.response(403)
    return ws.response(200, {"Sec-WebSocket-Protocol": OCPP16_SUBPROTOCOL})
