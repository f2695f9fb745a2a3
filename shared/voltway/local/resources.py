"""Create the resources a SAM template declares in whatever AWS endpoint is configured.

``provision(template, clients)`` creates every ``AWS::DynamoDB::Table`` (keys, GSIs/LSIs, TTL, streams),
``AWS::SQS::Queue`` (attributes, RedrivePolicy to the DLQ, FIFO), ``AWS::S3::Bucket``, ``AWS::SNS::Topic``
(+ ``sqs`` subscriptions) and ``AWS::SES::EmailIdentity``. It is idempotent: a resource that already
exists is kept with its data, so re-running ``voltway local`` or a test session loses nothing.

Integration tests call :func:`provision_template` (one line) so their tables and queues are the
template's and cannot drift from it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from voltway.local.template import REGION, LocalEndpoints, ResourceSpec, Template, load_template

logger = logging.getLogger(__name__)

FAKE_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}

# CloudFormation property -> SQS queue attribute
_QUEUE_ATTRIBUTES = {
    "VisibilityTimeout": "VisibilityTimeout",
    "MessageRetentionPeriod": "MessageRetentionPeriod",
    "DelaySeconds": "DelaySeconds",
    "MaximumMessageSize": "MaximumMessageSize",
    "ReceiveMessageWaitTimeSeconds": "ReceiveMessageWaitTimeSeconds",
    "ContentBasedDeduplication": "ContentBasedDeduplication",
    "DeduplicationScope": "DeduplicationScope",
    "FifoThroughputLimit": "FifoThroughputLimit",
    "SqsManagedSseEnabled": "SqsManagedSseEnabled",
    "KmsMasterKeyId": "KmsMasterKeyId",
}
_CREATE_ONLY_QUEUE_ATTRIBUTES = frozenset({"FifoQueue"})


@dataclass(frozen=True)
class AwsClients:
    """The boto3 clients provisioning needs, all pointed at one endpoint (None = boto3's default)."""

    dynamodb: Any
    sqs: Any
    s3: Any
    sns: Any
    ses: Any
    secretsmanager: Any

    @classmethod
    def create(
        cls, endpoint_url: str | None, region: str = REGION, *, fake_credentials: bool = True
    ) -> AwsClients:
        """Clients for ``endpoint_url``; fake credentials unless talking to real AWS."""
        if fake_credentials:
            session = boto3.session.Session(
                region_name=region,
                aws_access_key_id=FAKE_CREDENTIALS["aws_access_key_id"],
                aws_secret_access_key=FAKE_CREDENTIALS["aws_secret_access_key"],
            )
        else:
            session = boto3.session.Session(region_name=region)
        config = Config(retries={"max_attempts": 3, "mode": "standard"})

        def client(service: str) -> Any:
            return session.client(service, endpoint_url=endpoint_url, config=config)  # type: ignore[call-overload]

        return cls(
            dynamodb=client("dynamodb"),
            sqs=client("sqs"),
            s3=client("s3"),
            sns=client("sns"),
            ses=client("ses"),
            secretsmanager=client("secretsmanager"),
        )


@dataclass
class Provisioned:
    """Physical ids of what :func:`provision` created (or found), by logical id."""

    template: Template
    tables: dict[str, str] = field(default_factory=dict)  # name
    queues: dict[str, str] = field(default_factory=dict)  # URL as the endpoint returns it
    queue_arns: dict[str, str] = field(default_factory=dict)
    buckets: dict[str, str] = field(default_factory=dict)
    topics: dict[str, str] = field(default_factory=dict)  # ARN
    email_identities: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)  # name (what Ref gives locally)

    def queue_url_for_arn(self, arn: str) -> str:
        for logical_id, queue_arn in self.queue_arns.items():
            if queue_arn == arn:
                return self.queues[logical_id]
        raise KeyError(f"no provisioned queue with ARN {arn}")

    def function_environment(self, function_logical_id: str) -> dict[str, str]:
        """The function's resolved environment variables (table names, queue URLs...)."""
        return dict(self.template.functions[function_logical_id].environment)


def provision(template: Template, clients: AwsClients) -> Provisioned:
    """Create the template's tables, queues, buckets, topics and SES identities; keep existing ones."""
    result = Provisioned(template=template)
    for spec in template.resources_of_type("AWS::DynamoDB::Table"):
        result.tables[spec.logical_id] = _create_table(clients.dynamodb, spec)
    for spec in queues_in_creation_order(template.resources_of_type("AWS::SQS::Queue")):
        url, arn = _create_queue(clients.sqs, spec)
        result.queues[spec.logical_id], result.queue_arns[spec.logical_id] = url, arn
    for spec in template.resources_of_type("AWS::S3::Bucket"):
        result.buckets[spec.logical_id] = _create_bucket(clients.s3, spec)
    for spec in template.resources_of_type("AWS::SNS::Topic"):
        result.topics[spec.logical_id] = _create_topic(clients.sns, spec)
    for spec in template.resources_of_type("AWS::SNS::Subscription"):
        _subscribe(clients.sns, spec)
    for spec in template.resources_of_type("AWS::SES::EmailIdentity"):
        result.email_identities[spec.logical_id] = _verify_identity(clients.ses, spec)
    for spec in template.resources_of_type("AWS::SecretsManager::Secret"):
        if "GenerateSecretString" in spec.properties:
            result.secrets[spec.logical_id] = _create_generated_secret(clients.secretsmanager, spec)
    logger.info(
        "provisioned %d tables, %d queues, %d buckets, %d topics",
        len(result.tables),
        len(result.queues),
        len(result.buckets),
        len(result.topics),
    )
    return result


def provision_template(
    endpoint_url: str | None,
    template_path: Path | None = None,
    *,
    endpoints: LocalEndpoints | None = None,
) -> Provisioned:
    """One call for tests: load ``template.yaml`` (or another template) and provision it at ``endpoint_url``.

    ``endpoint_url=None`` uses boto3's default endpoint, which is what moto's in-process ``mock_aws`` serves.
    """
    template = load_template(template_path, endpoints=endpoints or LocalEndpoints(emulator_url=endpoint_url))
    return provision(template, AwsClients.create(endpoint_url))


# --------------------------------------------------------------------------- DynamoDB


def _create_table(dynamodb: Any, spec: ResourceSpec) -> str:
    name = spec.physical_id
    props = spec.properties
    request: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PROVISIONED"),
    }
    throughput = props.get("ProvisionedThroughput") or {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
    if request["BillingMode"] == "PROVISIONED":
        request["ProvisionedThroughput"] = _int_values(throughput)
    if props.get("GlobalSecondaryIndexes"):
        request["GlobalSecondaryIndexes"] = [
            _index(i, request["BillingMode"], throughput) for i in props["GlobalSecondaryIndexes"]
        ]
    if props.get("LocalSecondaryIndexes"):
        request["LocalSecondaryIndexes"] = [
            {k: v for k, v in i.items() if k in ("IndexName", "KeySchema", "Projection")}
            for i in props["LocalSecondaryIndexes"]
        ]
    stream = props.get("StreamSpecification")
    if stream:
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    try:
        dynamodb.create_table(**request)
        logger.debug("created table %s", name)
    except ClientError as e:
        if e.response["Error"]["Code"] != "ResourceInUseException":
            raise
        logger.debug("table %s exists, kept", name)
    ttl = props.get("TimeToLiveSpecification")
    if ttl and _truthy(ttl.get("Enabled", False)):
        _enable_ttl(dynamodb, name, str(ttl["AttributeName"]))
    return name


def _index(index: Mapping[str, Any], billing_mode: str, throughput: Mapping[str, Any]) -> dict[str, Any]:
    result = {k: v for k, v in index.items() if k in ("IndexName", "KeySchema", "Projection")}
    if billing_mode == "PROVISIONED":
        result["ProvisionedThroughput"] = _int_values(index.get("ProvisionedThroughput") or throughput)
    return result


def _enable_ttl(dynamodb: Any, table: str, attribute: str) -> None:
    current = dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    if current.get("TimeToLiveStatus") in ("ENABLED", "ENABLING"):
        return
    dynamodb.update_time_to_live(
        TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": attribute}
    )


def _int_values(mapping: Mapping[str, Any]) -> dict[str, int]:
    return {k: int(v) for k, v in mapping.items()}


def _truthy(value: Any) -> bool:
    return str(value).lower() == "true"


# --------------------------------------------------------------------------- SQS, S3, SNS, SES


def queue_attributes(properties: Mapping[str, Any]) -> dict[str, str]:
    """SQS queue attributes (strings) from CloudFormation queue properties."""
    attributes = {
        attr: (str(properties[prop]).lower() if isinstance(properties[prop], bool) else str(properties[prop]))
        for prop, attr in _QUEUE_ATTRIBUTES.items()
        if prop in properties
    }
    if "RedrivePolicy" in properties:
        policy = properties["RedrivePolicy"]
        attributes["RedrivePolicy"] = json.dumps(
            {
                "deadLetterTargetArn": policy["deadLetterTargetArn"],
                "maxReceiveCount": int(policy["maxReceiveCount"]),
            }
        )
    if _truthy(properties.get("FifoQueue", False)):
        attributes["FifoQueue"] = "true"
    return attributes


def queues_in_creation_order(queues: list[ResourceSpec]) -> list[ResourceSpec]:
    """Every queue after the dead-letter queue its RedrivePolicy names (DLQs may chain: a DLQ's DLQ)."""
    by_name = {spec.physical_id.rsplit("/", 1)[-1]: spec for spec in queues}
    ordered: list[ResourceSpec] = []
    placed: set[str] = set()

    def place(spec: ResourceSpec, path: tuple[str, ...]) -> None:
        if spec.logical_id in placed:
            return
        if spec.logical_id in path:
            raise ValueError(f"RedrivePolicy cycle: {' -> '.join((*path, spec.logical_id))}")
        policy = spec.properties.get("RedrivePolicy")
        target = (
            str(policy.get("deadLetterTargetArn", "")).rsplit(":", 1)[-1] if isinstance(policy, dict) else ""
        )
        if target in by_name:
            place(by_name[target], (*path, spec.logical_id))
        placed.add(spec.logical_id)
        ordered.append(spec)

    for spec in queues:
        place(spec, ())
    return ordered


def _create_queue(sqs: Any, spec: ResourceSpec) -> tuple[str, str]:
    name = spec.physical_id.rsplit("/", 1)[-1]
    attributes = queue_attributes(spec.properties)
    try:
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        mutable = {k: v for k, v in attributes.items() if k not in _CREATE_ONLY_QUEUE_ATTRIBUTES}
        if mutable:
            sqs.set_queue_attributes(QueueUrl=url, Attributes=mutable)
        logger.debug("queue %s exists, kept (attributes updated)", name)
    except ClientError as e:
        if e.response["Error"]["Code"] not in (
            "AWS.SimpleQueueService.NonExistentQueue",
            "QueueDoesNotExist",
        ):
            raise
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        logger.debug("created queue %s", name)
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return str(url), str(arn)


def _create_bucket(s3: Any, spec: ResourceSpec) -> str:
    name = spec.physical_id
    try:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
        logger.debug("created bucket %s", name)
    except ClientError as e:
        if e.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise
    return name


def _create_topic(sns: Any, spec: ResourceSpec) -> str:
    name = spec.physical_id.rsplit(":", 1)[-1]
    attributes = {}
    if _truthy(spec.properties.get("FifoTopic", False)):
        attributes["FifoTopic"] = "true"
    if "ContentBasedDeduplication" in spec.properties:
        attributes["ContentBasedDeduplication"] = str(spec.properties["ContentBasedDeduplication"]).lower()
    # CreateTopic is idempotent: it returns the existing topic's ARN.
    return str(sns.create_topic(Name=name, Attributes=attributes)["TopicArn"])


def _create_generated_secret(secretsmanager: Any, spec: ResourceSpec) -> str:
    """A secret CloudFormation would generate: locally a fixed value derived from its name (local runs
    only, never a deployed stack), so restarts and tests sign and verify alike. Kept if it exists."""
    name = spec.physical_id
    value = "local-" + hashlib.sha256(f"voltway-local-secret:{name}".encode()).hexdigest()
    with contextlib.suppress(secretsmanager.exceptions.ResourceExistsException):
        secretsmanager.create_secret(Name=name, SecretString=value)
    return name


def _subscribe(sns: Any, spec: ResourceSpec) -> None:
    props = spec.properties
    if str(props.get("Protocol")) != "sqs":
        return  # e-mail, https...: nothing local can receive them
    existing = sns.list_subscriptions_by_topic(TopicArn=props["TopicArn"]).get("Subscriptions", [])
    if any(s.get("Endpoint") == props["Endpoint"] for s in existing):
        return
    attributes = {}
    if "RawMessageDelivery" in props:
        attributes["RawMessageDelivery"] = str(props["RawMessageDelivery"]).lower()
    if "FilterPolicy" in props:
        attributes["FilterPolicy"] = json.dumps(props["FilterPolicy"])
    sns.subscribe(
        TopicArn=props["TopicArn"], Protocol="sqs", Endpoint=props["Endpoint"], Attributes=attributes
    )


def _verify_identity(ses: Any, spec: ResourceSpec) -> str:
    identity = str(spec.properties.get("EmailIdentity", ""))
    if not identity:
        return identity
    if "@" in identity:
        ses.verify_email_identity(EmailAddress=identity)
    else:
        ses.verify_domain_identity(Domain=identity)
    return identity
