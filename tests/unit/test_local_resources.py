"""Provisioning the template's resources, against moto in-process (no network) and the moto server."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws

from voltway.local.emulator import Emulator
from voltway.local.resources import AwsClients, provision, provision_template, queues_in_creation_order
from voltway.local.template import LocalEndpoints, ResourceSpec, load_template

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

    template = load_template(REPO / "template.yaml")
    buckets = {spec.logical_id for spec in template.resources_of_type("AWS::S3::Bucket")}
    assert set(result.buckets) == buckets and "ExportsBucket" in buckets
    assert result.buckets["ExportsBucket"] == "voltway-local-exportsbucket"
    for name in result.buckets.values():
        clients.s3.head_bucket(Bucket=name)
    queues = {spec.logical_id for spec in template.resources_of_type("AWS::SQS::Queue")}
    assert set(result.queues) == queues
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


def _queue(logical_id: str, dlq: str | None = None) -> ResourceSpec:
    properties: dict[str, object] = {}
    if dlq is not None:
        arn = f"arn:aws:sqs:eu-west-1:123456789012:voltway-local-{dlq}"
        properties["RedrivePolicy"] = {"deadLetterTargetArn": arn, "maxReceiveCount": 3}
    url = f"http://127.0.0.1:5000/123456789012/voltway-local-{logical_id}"
    return ResourceSpec(logical_id, "AWS::SQS::Queue", properties, url)


def test_dead_letter_queues_are_created_before_the_queues_naming_them_even_chained() -> None:
    # Work -> Dead -> Parking: a DLQ with its own RedrivePolicy, declared before its target.
    queues = [_queue("Work", "Dead"), _queue("Dead", "Parking"), _queue("Parking"), _queue("Other")]
    order = [q.logical_id for q in queues_in_creation_order(queues)]
    assert order.index("Parking") < order.index("Dead") < order.index("Work")
    assert sorted(order) == ["Dead", "Other", "Parking", "Work"]
    with pytest.raises(ValueError, match="cycle"):
        queues_in_creation_order([_queue("A", "B"), _queue("B", "A")])


def test_the_embedded_emulator_serves_one_dynamodb_request_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    # TransactWriteItems racing plain writes on one table: moto's threaded server alone answered some of
    # the transactions with a 500 ("dictionary changed size during iteration": ~10 in 8 s here); with
    # voltway.local.emulator.serialise_dynamodb none fails. No SDK retries, so every failure shows.
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with Emulator(port=0) as emulator:

        def client() -> Any:
            return boto3.client(
                "dynamodb",
                endpoint_url=emulator.endpoint_url,
                region_name="eu-west-1",
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
                config=Config(retries={"max_attempts": 1, "mode": "standard"}),
            )

        db = client()
        db.create_table(
            TableName="race",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        for n in range(300):  # a table worth deep-copying
            db.put_item(TableName="race", Item={"pk": {"S": f"seed{n}"}, "v": {"S": "x" * 50}})
        until = time.monotonic() + 4
        failures: list[str] = []

        def writer(w: int) -> None:
            c, n = client(), 0
            while time.monotonic() < until:
                n += 1
                c.put_item(TableName="race", Item={"pk": {"S": f"w{w}-{n}"}})

        def transactor() -> None:
            c, n = client(), 0
            while time.monotonic() < until:
                n += 1
                try:
                    c.transact_write_items(
                        TransactItems=[{"Put": {"TableName": "race", "Item": {"pk": {"S": f"tx{n}"}}}}]
                    )
                except ClientError as e:
                    failures.append(str(e))

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(3)]
        threads.append(threading.Thread(target=transactor))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == []


def test_a_transaction_in_the_embedded_emulator_copies_only_the_items_it_names(
    in_process_aws: None,
) -> None:
    # moto alone deep-copies each table a transaction touches (the table object is replaced by its copy
    # after a cancelled transaction); the emulator's patch keeps the table and puts back the named items.
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    from voltway.local.emulator import serialise_dynamodb

    serialise_dynamodb()
    db = boto3.client("dynamodb", region_name="eu-west-1")
    db.create_table(
        TableName="t",
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
    )
    db.put_item(TableName="t", Item={"pk": {"S": "a"}, "sk": {"S": "1"}, "n": {"N": "1"}})
    db.put_item(TableName="t", Item={"pk": {"S": "gone"}, "sk": {"S": "1"}})
    db.put_item(TableName="t", Item={"pk": {"S": "c"}, "sk": {"S": "1"}})
    table = dynamodb_backends[DEFAULT_ACCOUNT_ID]["eu-west-1"].tables["t"]

    with pytest.raises(ClientError) as cancelled:
        db.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": "t", "Item": {"pk": {"S": "new"}, "sk": {"S": "1"}}}},
                {
                    "Update": {
                        "TableName": "t",
                        "Key": {"pk": {"S": "a"}, "sk": {"S": "1"}},
                        "UpdateExpression": "SET n = n + :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
                {"Delete": {"TableName": "t", "Key": {"pk": {"S": "gone"}, "sk": {"S": "1"}}}},
                {
                    "ConditionCheck": {
                        "TableName": "t",
                        "Key": {"pk": {"S": "c"}, "sk": {"S": "1"}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )
    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert dynamodb_backends[DEFAULT_ACCOUNT_ID]["eu-west-1"].tables["t"] is table  # not replaced by a copy
    items = {(i["pk"]["S"], i["sk"]["S"]): i for i in db.scan(TableName="t")["Items"]}
    assert sorted(items) == [("a", "1"), ("c", "1"), ("gone", "1")]
    assert items[("a", "1")]["n"] == {"N": "1"}

    db.transact_write_items(
        TransactItems=[{"Put": {"TableName": "t", "Item": {"pk": {"S": "new"}, "sk": {"S": "1"}}}}]
    )
    assert len(db.scan(TableName="t")["Items"]) == 4
