"""The API Gateway management API (``@connections``): replies and commands to chargers."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from voltway.ocpp.ports import ConnectionGone


def management_endpoint(ws_endpoint: str) -> str:
    """``wss://id.execute-api.../stage`` -> ``https://id.execute-api.../stage`` (the management API is
    HTTPS on the same host and stage); a local ``http://`` endpoint is kept as it is."""
    if ws_endpoint.startswith("wss://"):
        return "https://" + ws_endpoint.removeprefix("wss://")
    if ws_endpoint.startswith("ws://"):
        return "http://" + ws_endpoint.removeprefix("ws://")
    return ws_endpoint


class ApiGatewayConnections:
    def __init__(self, management_client: Any) -> None:
        self._client = management_client

    def send(self, connection_id: str, frame: str) -> None:
        try:
            self._client.post_to_connection(ConnectionId=connection_id, Data=frame.encode("utf-8"))
        except ClientError as e:
            code = e.response.get("Error", {}).get("Code")
            status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code == "GoneException" or status == 410:
                raise ConnectionGone(connection_id) from e
            raise
