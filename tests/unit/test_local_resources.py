"""Provisioning the template's resources, against moto in-process (no network) and the moto server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto import mock_aws

from voltway.local.emulator import Emulator
from voltway.local.resources import AwsClients, provision, provision_template
from voltway.local.template import LocalEndpoints, load_template

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def in_process_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield


@pytest.mark.usefixtures("in_process_aws")
def test_provision_creates_the_templates_resources() -> None:
    result = provision_template(None, REPO / "template.yaml")
    clients = AwsClients.create(None)

    table = clients.dynamodb.describe_table(TableName="voltway-local-ChargersTable")["Table"]
    assert [k["AttributeName"] for k in table["KeySchema"]] == ["charge_point_id"]
    assert [i["IndexName"] for i in table["GlobalSecondaryIndexes"]] == ["by_tenant"]
    ttl = clients.dynamodb.describe_time_to_live(TableName="voltway-local-ConnectionsTable")
    assert ttl["TimeToLiveDescription"]["AttributeName"] == "expires_at"

    url = result.queues["NotificationsQueue"]
    attrs = clients.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert json.loads(attrs["RedrivePolicy"]) == {
        "deadLetterTargetArn": result.queue_arns["NotificationsDeadLetterQueue"],
        "maxReceiveCount": 3,
    }
    assert attrs["VisibilityTimeout"] == "180"
    assert result.queue_url_for_arn(result.queue_arns["NotificationsQueue"]) == url

    assert result.buckets == {"ExportsBucket": "voltway-local-exportsbucket"}
    clients.s3.head_bucket(Bucket="voltway-local-exportsbucket")
    assert result.topics["AlertsTopic"] == "arn:aws:sns:eu-west-1:123456789012:voltway-local-AlertsTopic"


@pytest.mark.usefixtures("in_process_aws")
def test_provision_is_idempotent_and_keeps_data() -> None:
    provision_template(None, REPO / "template.yaml")
    clients = AwsClients.create(None)
    clients.dynamodb.put_item(TableName="voltway-local-ChargersTable", Item={"charge_point_id": {"S": "CP1"}})
    clients.s3.put_object(Bucket="voltway-local-exportsbucket", Key="k", Body=b"v")

    provision_template(None, REPO / "template.yaml")

    item = clients.dynamodb.get_item(
        TableName="voltway-local-ChargersTable", Key={"charge_point_id": {"S": "CP1"}}
    )
    assert "Item" in item
    assert clients.s3.get_object(Bucket="voltway-local-exportsbucket", Key="k")["Body"].read() == b"v"


def test_provision_against_the_moto_server(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with Emulator(port=0) as emulator:
        template = load_template(
            REPO / "template.yaml", endpoints=LocalEndpoints(emulator_url=emulator.endpoint_url)
        )
        result = provision(template, AwsClients.create(emulator.endpoint_url))
        # The queue URL the functions get from the template is the one the emulator serves.
        env_url = template.resolve({"Ref": "NotificationsQueue"})
        assert env_url == result.queues["NotificationsQueue"]
