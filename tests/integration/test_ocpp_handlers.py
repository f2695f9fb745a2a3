"""The real Lambda handlers and DynamoDB/API Gateway/SNS adapters on moto (in-process), tables created
from template.yaml, driven by the canned API Gateway events in tests/events/."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.integration.support import load_handler, moto_stack
from voltway.adapters import roots

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
EVENTS = REPO / "tests" / "events"
MANAGEMENT = "wss://abc123.execute-api.eu-west-1.amazonaws.com/local"


def event(name: str, **changes: Any) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    result = copy.deepcopy(loaded)
    result.update(changes)
    return result


def frame_event(frame: list[Any], connection_id: str = "Q1w2E3r4T5y6=") -> dict[str, Any]:
    e = event("ocpp_message", body=json.dumps(frame))
    e["requestContext"]["connectionId"] = connection_id
    return e


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    functions = ("OcppConnectFunction", "OcppMessageFunction", "ChargerMonitorFunction", "ApiFunction")
    # moto intercepts AWS-shaped hosts only
    with moto_stack(monkeypatch, functions, WS_MANAGEMENT_ENDPOINT=MANAGEMENT) as (_, env):
        yield env


def register(charge_point_id: str = "CP001", password: str = "secret-pw-1", enabled: bool = True) -> None:
    from voltway.chargers.model import Registration

    roots.api().chargers.register(Registration(charge_point_id, "t1", password, 1, enabled))


def test_connect_message_disconnect_through_the_real_handlers(aws: dict[str, str]) -> None:
    register()
    connect, message, disconnect = (
        load_handler(f) for f in ("ocpp_connect", "ocpp_message", "ocpp_disconnect")
    )

    assert connect.handler(event("ocpp_connect"), None) == {
        "statusCode": 200,
        "headers": {"Sec-WebSocket-Protocol": "ocpp1.6"},
    }
    assert message.handler(event("ocpp_message"), None) == {"statusCode": 200}
    assert message.handler(
        frame_event(
            [
                2,
                "s1",
                "StatusNotification",
                {
                    "connectorId": 1,
                    "errorCode": "NoError",
                    "status": "Available",
                    "timestamp": "2026-01-02T05:00:00+02:00",
                },
            ]
        ),
        None,
    ) == {"statusCode": 200}
    # A retry of the boot: same answer, nothing breaks.
    assert message.handler(event("ocpp_message"), None) == {"statusCode": 200}

    charger = roots.api().chargers.get("t1", "CP001")
    assert charger.online and charger.connection_id == "Q1w2E3r4T5y6="
    assert charger.registration_status is not None and charger.registration_status.value == "Accepted"
    assert charger.boot is not None and charger.boot.model == "SingleSocketCharger"
    assert charger.connectors[1].status == "Available"
    assert charger.connectors[1].timestamp.isoformat() == "2026-01-02T03:00:00+00:00"

    audit = roots.api().messages.recent("CP001", 10, None)
    assert [(e.direction, e.unique_id) for e in audit.items][:2] == [("out", "19223201"), ("in", "19223201")]
    replies = [json.loads(e.frame) for e in audit.items if e.direction == "out" and e.unique_id == "19223201"]
    assert len(replies) == 2 and replies[0] == replies[1] and replies[0][2]["status"] == "Accepted"

    assert disconnect.handler(event("ocpp_disconnect"), None) == {"statusCode": 200}
    charger = roots.api().chargers.get("t1", "CP001")
    assert not charger.online and charger.connection_id is None


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Sec-WebSocket-Protocol": "ocpp1.6"}, 401),  # no Authorization
        (
            {
                "Authorization": "Basic " + base64.b64encode(b"CP001:wrong-password").decode(),
                "Sec-WebSocket-Protocol": "ocpp1.6",
            },
            403,
        ),
        (
            {
                "Authorization": "Basic " + base64.b64encode(b"CP002:secret-pw-1").decode(),
                "Sec-WebSocket-Protocol": "ocpp1.6",
            },
            403,
        ),
        (
            {
                "Authorization": "Basic " + base64.b64encode(b"CP001:secret-pw-1").decode(),
                "Sec-WebSocket-Protocol": "ocpp2.0.1",
            },
            400,
        ),
    ],
)
def test_connect_refusals(aws: dict[str, str], headers: dict[str, str], status: int) -> None:
    register()
    connect = load_handler("ocpp_connect")
    assert connect.handler(event("ocpp_connect", headers=headers), None)["statusCode"] == status


def test_disabled_and_unknown_chargers_are_refused(aws: dict[str, str]) -> None:
    register(enabled=False)
    connect = load_handler("ocpp_connect")
    assert connect.handler(event("ocpp_connect"), None)["statusCode"] == 403
    unknown = event("ocpp_connect", queryStringParameters={"chargePointId": "NOPE"})
    assert connect.handler(unknown, None)["statusCode"] == 403


def test_a_stale_disconnect_does_not_take_a_reconnected_charger_offline(aws: dict[str, str]) -> None:
    register()
    connect, disconnect = load_handler("ocpp_connect"), load_handler("ocpp_disconnect")
    first = event("ocpp_connect")
    second = event("ocpp_connect")
    second["requestContext"]["connectionId"] = "second="
    connect.handler(first, None)
    connect.handler(second, None)
    disconnect.handler(event("ocpp_disconnect"), None)  # the first connection's late $disconnect
    charger = roots.api().chargers.get("t1", "CP001")
    assert charger.online and charger.connection_id == "second="


def test_monitor_alerts_once_per_absence(aws: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import UTC, datetime, timedelta

    register()
    load_handler("ocpp_connect").handler(event("ocpp_connect"), None)
    chargers = roots.api().chargers
    # Heard from long ago:
    repo = roots._chargers(roots.ApiSettings.from_env())
    repo.touch("CP001", datetime.now(UTC) - timedelta(hours=1))
    sqs = boto3.client("sqs", region_name="eu-west-1")
    sns = boto3.client("sns", region_name="eu-west-1")
    queue_url = sqs.create_queue(QueueName="alerts-probe")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=aws["ALERTS_TOPIC_ARN"], Protocol="sqs", Endpoint=queue_arn)

    monitor = load_handler("charger_monitor")
    assert monitor.handler({"source": "aws.scheduler"}, None)["offline"] == ["CP001"]
    assert monitor.handler({"source": "aws.scheduler"}, None)["offline"] == []
    assert not chargers.get("t1", "CP001").online
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    assert len(messages) == 1 and "CP001" in messages[0]["Body"]
