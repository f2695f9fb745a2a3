"""The local runtime's template loader, on the real template.yaml and on small inline templates."""

from __future__ import annotations

from pathlib import Path

import pytest

from voltway.local.template import (
    LocalEndpoints,
    Template,
    TemplateError,
    load_template,
    parse_yaml,
    read_parameter_overrides,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def template() -> Template:
    return load_template(REPO / "template.yaml")


def inline(tmp_path: Path, text: str) -> Template:
    path = tmp_path / "template.yaml"
    path.write_text(text)
    return load_template(path, endpoints=LocalEndpoints(management_url="http://127.0.0.1:1234"))


def test_short_tags_become_long_form() -> None:
    doc = parse_yaml(
        "A: !Ref X\nB: !GetAtt Q.Arn\nC: !Sub ['x-${v}', {v: 1}]\nD: !Not [!Equals [!Ref P, '']]\n"
    )
    assert doc == {
        "A": {"Ref": "X"},
        "B": {"Fn::GetAtt": ["Q", "Arn"]},
        "C": {"Fn::Sub": ["x-${v}", {"v": 1}]},
        "D": {"Fn::Not": [{"Fn::Equals": [{"Ref": "P"}, ""]}]},
    }


def test_local_parameters_come_from_samconfig(template: Template) -> None:
    overrides = read_parameter_overrides(REPO / "stacks" / "samconfig.toml", "local")
    assert overrides["Stage"] == "local"
    assert template.parameters["Stage"] == "local"
    assert template.parameters["AllowedOrigins"] == ["http://127.0.0.1:8000"]
    assert template.parameters["AlertEmail"] == ""


def test_condition_false_drops_resource(template: Template) -> None:
    assert "AlertsEmailSubscription" not in template.raw_resources
    assert "AlertsTopic" in template.raw_resources


def test_function_environment_merges_globals_and_resolves_refs(template: Template) -> None:
    fn = template.functions["OcppMessageFunction"]
    assert fn.environment["STAGE"] == "local"
    assert fn.environment["POWERTOOLS_SERVICE_NAME"] == "voltway"
    assert fn.environment["CHARGERS_TABLE"] == "voltway-local-ChargersTable"
    # ${ChargersWebSocketApi.ApiEndpoint}/${Stage}: the local management API, plain http
    assert fn.environment["WS_MANAGEMENT_ENDPOINT"] == "http://127.0.0.1:9001/local"
    assert fn.code_uri == REPO / "functions" / "ocpp_message"
    assert fn.handler == "app.handler"
    assert fn.timeout == 10 and fn.memory_size == 512


def test_function_properties_override_globals(template: Template) -> None:
    assert template.functions["ChargerMonitorFunction"].timeout == 60
    topic = template.functions["ChargerMonitorFunction"].environment["ALERTS_TOPIC_ARN"]
    assert topic == "arn:aws:sns:eu-west-1:123456789012:voltway-local-AlertsTopic"


def test_websocket_routes_are_found_through_integrations(template: Template) -> None:
    api = template.websocket_api
    assert api is not None
    assert api.stage == "local"
    assert api.routes == {
        "$connect": "OcppConnectFunction",
        "$default": "OcppMessageFunction",
        "$disconnect": "OcppDisconnectFunction",
    }


def test_http_routes_use_default_authorizer_unless_none(template: Template) -> None:
    routes = {r.event_name: r for r in template.http_routes}
    assert routes["Health"].authorizer is None
    authorizer = routes["ListChargers"].authorizer
    assert authorizer is not None
    assert authorizer.issuer == "https://cognito-idp.eu-west-1.amazonaws.com/voltway-local-UserPool"
    assert authorizer.audience == ("voltway-local-UserPoolClient",)
    assert routes["GetCharger"].path == "/v1/chargers/{chargePointId}"
    assert routes["GetCharger"].method == "GET"
    assert routes["GetCharger"].payload_format_version == "1.0"


def test_http_api_cors(template: Template) -> None:
    cors = template.http_apis["HttpApi"].cors
    assert cors is not None
    assert cors.allow_origins == ("http://127.0.0.1:8000",)
    assert "Authorization" in cors.allow_headers and cors.max_age == 600


def test_sqs_event_source_and_schedule(template: Template) -> None:
    (source,) = [s for s in template.sqs_event_sources if s.function == "NotificationsFunction"]
    assert source.queue == "NotificationsQueue"
    assert source.queue_arn == "arn:aws:sqs:eu-west-1:123456789012:voltway-local-NotificationsQueue"
    assert source.reports_batch_item_failures and source.batch_size == 10
    (schedule,) = [s for s in template.schedules if s.function == "ChargerMonitorFunction"]
    assert schedule.expression == "rate(1 minute)" and schedule.enabled


def test_queue_redrive_policy_resolves_dlq_arn(template: Template) -> None:
    queues = {q.logical_id: q for q in template.resources_of_type("AWS::SQS::Queue")}
    queue = queues["NotificationsQueue"]
    assert queue.physical_id == "http://127.0.0.1:5000/123456789012/voltway-local-NotificationsQueue"
    dlq_arn = queue.properties["RedrivePolicy"]["deadLetterTargetArn"]
    assert dlq_arn == "arn:aws:sqs:eu-west-1:123456789012:voltway-local-NotificationsDeadLetterQueue"


def test_bucket_names_are_lower_case(template: Template) -> None:
    buckets = {b.logical_id: b.physical_id for b in template.resources_of_type("AWS::S3::Bucket")}
    assert buckets["ExportsBucket"] == "voltway-local-exportsbucket"
    assert all(name == name.lower() for name in buckets.values())


def test_intrinsics(tmp_path: Path) -> None:
    t = inline(
        tmp_path,
        """
Parameters:
  Env: {Type: String, Default: local}
  Names: {Type: CommaDelimitedList, Default: "a,b,c"}
Conditions:
  IsLocal: !Equals [!Ref Env, local]
  IsProd: !Equals [!Ref Env, prod]
Resources:
  Q: {Type: AWS::SQS::Queue, Properties: {FifoQueue: true}}
  T: {Type: AWS::SNS::Topic}
  Api: {Type: AWS::ApiGatewayV2::Api, Properties: {ProtocolType: WEBSOCKET}}
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn/
      Handler: app.handler
      Environment:
        Variables:
          JOINED: !Join ["-", [!Ref Env, !Select [1, !Ref Names]]]
          IF: !If [IsProd, "yes", "no"]
          SUB_LIST: !Sub ["${A}/${T.TopicName}/${!Literal}", {A: !GetAtt Q.QueueName}]
          ENDPOINT: !GetAtt Api.ApiEndpoint
          ARN: !GetAtt Fn.Arn
          PSEUDO: !Sub "${AWS::Partition}:${AWS::Region}:${AWS::AccountId}:${AWS::StackName}"
          SUFFIX: !Ref AWS::URLSuffix
""",
    )
    env = t.functions["Fn"].environment
    assert env["JOINED"] == "local-b"
    assert env["IF"] == "no"
    assert env["SUB_LIST"] == "voltway-local-Q.fifo/voltway-local-T/${Literal}"
    assert env["ENDPOINT"] == "http://127.0.0.1:1234"
    assert env["ARN"] == "arn:aws:lambda:eu-west-1:123456789012:function:voltway-local-Fn"
    assert env["PSEUDO"] == "aws:eu-west-1:123456789012:voltway-local"
    assert env["SUFFIX"] == "amazonaws.com"
    assert t.functions["Fn"].timeout == 3  # the Lambda default when neither Globals nor the function say


def test_dangling_reference_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="Missing"):
        inline(
            tmp_path,
            "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n"
            "      Environment: {Variables: {X: !Ref Missing}}\n",
        )
