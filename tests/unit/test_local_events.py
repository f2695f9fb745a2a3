"""Canned events in tests/events/local_*.json are the local gateways' own events, so they cannot drift.

Each canned event is built here by the same builders the local runtime uses (WebSocket $connect/$default/
$disconnect, HTTP payload 1.0 with JWT authorizer claims, an SQS batch, a scheduler event) on the real
template, with volatile values (times, random ids) pinned. After changing a builder, regenerate with
``.venv/bin/python tests/unit/test_local_events.py`` and review the diff.
"""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from websockets.datastructures import Headers
from websockets.http11 import Request

from voltway.local.event_sources import scheduled_event, sqs_record
from voltway.local.http_gateway import EventBuilder, HttpRequest
from voltway.local.template import Template, load_template
from voltway.local.websocket_gateway import Connection, EventFactory

REPO = Path(__file__).resolve().parents[2]
EVENTS = REPO / "tests" / "events"
PINNED = {
    "requestTime": "02/Jan/2026:03:04:05 +0000",
    "requestTimeEpoch": 1767323045000,
    "timeEpoch": 1767323045000,
    "time": "02/Jan/2026:03:04:05 +0000",
    "extendedRequestId": "ExtReqId0000",
    "requestId": "ReqId0000000",
    "messageId": "MsgId0000000",
}
CHARGER_PUT = ("PUT", "/v1/chargers/{chargePointId}")  # the operator API's charger registration
CLAIMS = {
    "sub": "7d8e9f00-0000-4000-8000-000000000001",
    "iss": "https://cognito-idp.eu-west-1.amazonaws.com/voltway-local-UserPool",
    "aud": "voltway-local-UserPoolClient",
    "token_use": "id",
    "custom:tenant_id": "demo",
    "cognito:groups": ["operators"],
    "exp": 1767326645,
    "iat": 1767323045,
}


def _pin(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: PINNED.get(k, _pin(v)) if k in PINNED else _pin(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_pin(v) for v in value]
    return value


class _Socket:
    """Only what Connection keeps of a socket (the events never read it)."""


def websocket_events(template: Template) -> dict[str, dict[str, Any]]:
    assert template.websocket_api is not None
    factory = EventFactory(template.websocket_api, "127.0.0.1:9001")
    headers = Headers(
        [
            ("Host", "127.0.0.1:9000"),
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Protocol", "ocpp1.6"),
            ("Authorization", "Basic Q1AwMDE6c2VjcmV0LXB3"),  # CP001:secret-pw
            ("User-Agent", "ocpp-charger"),
        ]
    )
    conn = Connection(
        connection_id="Q1w2E3r4T5y6U7=",
        charge_point_id="CP001",
        socket=_Socket(),  # type: ignore[arg-type]
        connected_at_ms=1767323045000,
        source_ip="127.0.0.1",
        user_agent="ocpp-charger",
        headers=dict(headers.raw_items()),
    )
    request = Request("/ocpp/CP001", headers)
    boot = json.dumps(
        [2, "19223201", "BootNotification", {"chargePointVendor": "VendorX", "chargePointModel": "M1"}]
    )
    return {
        "local_ws_connect": factory.connect(conn, request, {"chargePointId": ["CP001"]}),
        "local_ws_message": factory.message(conn, boot),
        "local_ws_disconnect": factory.disconnect(conn, 1000, ""),
    }


def http_event(template: Template) -> dict[str, Any]:
    candidates = [
        r for r in template.http_routes if r.payload_format_version == "1.0" and r.authorizer is not None
    ]
    route = next((r for r in candidates if (r.method, r.path) == CHARGER_PUT), candidates[0])
    api = template.http_apis[route.api]
    names = re.findall(r"\{([^}+]+)\+?\}", route.path)
    params = {name: "CP001" if name == "chargePointId" else f"example-{name}" for name in names}
    path = route.path
    for name, value in params.items():
        path = path.replace("{" + name + "}", value)
    body = json.dumps({"status": "Accepted"}).encode()
    request = HttpRequest(
        method=route.method,
        path=path,
        raw_query="",
        headers=[
            ("host", "127.0.0.1:8000"),
            ("authorization", "Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2lnbmF0dXJl"),
            ("content-type", "application/json"),
        ],
        body=body,
        source_ip="127.0.0.1",
    )
    return EventBuilder(api, "127.0.0.1:8000").build(route, params, request, CLAIMS)


def sqs_event(template: Template) -> dict[str, Any]:
    source = next(s for s in template.sqs_event_sources if s.reports_batch_item_failures)
    records = []
    for i in (1, 2):
        message = {
            "MessageId": f"00000000-0000-4000-8000-00000000000{i}",
            "ReceiptHandle": f"receipt-handle-{i}",
            "Body": json.dumps({"kind": "example", "n": i}),
            "MD5OfBody": "0" * 32,
            "Attributes": {
                "ApproximateReceiveCount": "1",
                "SentTimestamp": "1767323045000",
                "SenderId": "123456789012",
                "ApproximateFirstReceiveTimestamp": "1767323045001",
            },
        }
        records.append(sqs_record(message, source.queue_arn))
    return {"Records": records}


def schedule_event(template: Template) -> Any:
    schedule = template.schedules[0]
    event = scheduled_event(schedule, datetime(2026, 1, 2, 3, 4, 0, tzinfo=UTC))
    if isinstance(event, dict) and "id" in event:
        event["id"] = "00000000-0000-4000-8000-00000000000a"
    return event


def canned_events() -> dict[str, Any]:
    template = load_template(REPO / "template.yaml")
    events: dict[str, Any] = websocket_events(template)
    events["local_http_v1_authorizer"] = http_event(template)
    events["local_sqs_batch"] = sqs_event(template)
    events["local_scheduler"] = schedule_event(template)
    return {name: _pin(event) for name, event in events.items()}


def _dump(event: Any) -> str:
    return json.dumps(event, indent=2, sort_keys=True) + "\n"


@pytest.mark.parametrize("name", sorted(canned_events()))
def test_canned_event_matches_the_gateways_builder(name: str) -> None:
    path = EVENTS / f"{name}.json"
    assert path.exists(), f"missing {path}: run .venv/bin/python tests/unit/test_local_events.py"
    assert path.read_text() == _dump(canned_events()[name]), f"{path} drifted: regenerate and review"


def test_canned_events_have_the_shapes_handlers_rely_on() -> None:
    events = canned_events()
    connect = events["local_ws_connect"]
    assert connect["requestContext"]["routeKey"] == "$connect"
    assert connect["queryStringParameters"] == {"chargePointId": "CP001"}
    assert connect["headers"]["Sec-WebSocket-Protocol"] == "ocpp1.6"
    assert events["local_ws_message"]["requestContext"]["routeKey"] == "$default"
    assert events["local_ws_disconnect"]["requestContext"]["disconnectStatusCode"] == 1000
    http = events["local_http_v1_authorizer"]
    assert http["version"] == "1.0"
    assert http["requestContext"]["authorizer"]["claims"]["custom:tenant_id"] == "demo"
    assert http["requestContext"]["authorizer"]["claims"]["cognito:groups"] == "[operators]"
    assert [r["eventSource"] for r in events["local_sqs_batch"]["Records"]] == ["aws:sqs", "aws:sqs"]
    assert events["local_scheduler"]["source"] in ("aws.scheduler", "aws.events")


if __name__ == "__main__":
    for event_name, canned in canned_events().items():
        (EVENTS / f"{event_name}.json").write_text(_dump(canned))
        print(f"wrote tests/events/{event_name}.json", file=sys.stderr)
