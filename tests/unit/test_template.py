"""template.yaml is linted and held to the house rules (house style 5, 8, 14).

cfn-lint runs twice: on the SAM form (what we edit) and on the CloudFormation the SAM translator produces
(what CloudFormation deploys). The SAM form alone misses errors inside a function's ``Events`` (an invalid
runtime, a dangling reference): the translated template catches them. The translation runs offline: code
locations are replaced by S3 URIs as ``sam package`` would, and managed policy names resolve from a static
map instead of IAM.

The structural checks below are generic: they hold for every function, queue and parameter, including the
ones added later.
"""

from __future__ import annotations

import ast
import copy
import json
import re
import shlex
import tomllib
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import boto3
import pytest
from cfnlint.api import ManualArgs, lint
from cfnlint.decode.decode import decode_str
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
SAMCONFIG = ROOT / "stacks" / "samconfig.toml"
ACCOUNT_ID = "123456789012"  # any 12 digits: the translator only substitutes it into ARNs

# Lint findings we accept, by rule id, with the reason. Errors are never ignored.
IGNORED_SAM_FORM: dict[str, str] = {}
IGNORED_TRANSLATED: dict[str, str] = {
    "W2001": (
        "the translator inlines the value of parameters it must resolve itself (HttpApi CorsConfiguration's "
        "AllowOrigins), so such a parameter looks unused afterwards; the SAM-form lint checks parameter use"
    ),
}

# AWS managed policies that SAM attaches to a function's role on its own. Each grants Resource "*" because
# the actions it covers take no resource ARN (logs:CreateLogGroup is account-wide before the group exists,
# X-Ray's PutTraceSegments has no resource type) or, for SQS, because SAM adds it for every SQS event.
SAM_ATTACHED_MANAGED_POLICIES: dict[str, str] = {
    "AWSLambdaBasicExecutionRole": "CloudWatch Logs for the function (added to every SAM function)",
    "AWSXrayWriteOnlyAccess": "X-Ray trace segments (added by Tracing: Active); X-Ray has no resource ARNs",
    "AWSLambdaSQSQueueExecutionRole": "SQS event source polling (added by SAM for an SQS event)",
}
# Actions that AWS only authorises on Resource "*" (no resource-level permissions).
WILDCARD_RESOURCE_ACTIONS = frozenset(
    {
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
        "xray:GetSamplingStatisticSummaries",
        "cloudwatch:PutMetricData",
        "ec2:CreateNetworkInterface",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DeleteNetworkInterface",
    }
)
# Managed policy names the translator may have to resolve to ARNs (names in a function's Policies that are
# not SAM policy templates). A static map keeps the translation offline; a name missing here fails loudly.
MANAGED_POLICY_MAP: dict[str, str] = {
    name: f"arn:aws:iam::aws:policy/{path}{name}"
    for name, path in {
        "AWSLambdaBasicExecutionRole": "service-role/",
        "AWSLambdaSQSQueueExecutionRole": "service-role/",
        "AWSLambdaDynamoDBExecutionRole": "service-role/",
        "AWSXrayWriteOnlyAccess": "",
        "CloudWatchLambdaInsightsExecutionRolePolicy": "",
    }.items()
}
FORBIDDEN_MANAGED_POLICY = re.compile(r"(AdministratorAccess|PowerUserAccess|FullAccess)$")


# ------------------------------------------------------------------------------------------ loading


def load_template() -> dict[str, Any]:
    """The SAM template as plain JSON-shaped data (``!Ref X`` expanded to ``{"Ref": X}``)."""
    template, errors = decode_str(TEMPLATE.read_text())
    assert not errors, [str(e) for e in errors]
    assert template is not None
    return json.loads(json.dumps(template))  # type: ignore[no-any-return]


@cache
def _template_cached() -> str:
    return json.dumps(load_template())


def template() -> dict[str, Any]:
    return json.loads(_template_cached())  # type: ignore[no-any-return]


def stage_parameters() -> dict[str, dict[str, str]]:
    """``parameter_overrides`` of every stage in stacks/samconfig.toml, parsed the way SAM CLI splits them."""
    config = tomllib.loads(SAMCONFIG.read_text())
    stages: dict[str, dict[str, str]] = {}
    for stage, section in config.items():
        if not isinstance(section, dict):
            continue
        overrides = section.get("deploy", {}).get("parameters", {}).get("parameter_overrides")
        if overrides is None:
            continue
        items = shlex.split(overrides) if isinstance(overrides, str) else list(overrides)
        stages[stage] = dict(item.split("=", 1) for item in items)
    return stages


def deployed_stages() -> list[str]:
    return [stage for stage in stage_parameters() if stage != "local"]


def region() -> str:
    config = tomllib.loads(SAMCONFIG.read_text())
    return str(config["default"]["global"]["parameters"]["region"])


@cache
def _translated_cached(stage: str) -> str:
    sam = template()
    for name, resource in sam["Resources"].items():
        props = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(props.get(key), str):  # a local path: `sam package` uploads it and writes an S3 URI
                props[key] = f"s3://voltway-artifacts/{name}.zip"
    parameters: dict[str, Any] = dict(stage_parameters()[stage])
    parameters.update({"AWS::Region": region(), "AWS::Partition": "aws", "AWS::AccountId": ACCOUNT_ID})
    # An explicit session with a region and dummy keys: the translator never calls AWS with it.
    session = boto3.session.Session(
        region_name=region(), aws_access_key_id="offline", aws_secret_access_key="offline"
    )
    translator = Translator(None, Parser(), boto_session=session)
    translated = translator.translate(
        sam, parameter_values=parameters, get_managed_policy_map=lambda: dict(MANAGED_POLICY_MAP)
    )
    return json.dumps(translated)


def translated(stage: str) -> dict[str, Any]:
    """The CloudFormation template SAM produces for ``stage`` (translated offline)."""
    return json.loads(_translated_cached(stage))  # type: ignore[no-any-return]


def resources_of(tpl: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in tpl["Resources"].items() if r.get("Type") == resource_type}


def functions() -> dict[str, dict[str, Any]]:
    """Every AWS::Serverless::Function, Globals.Function defaults merged in (shallowly, as SAM does)."""
    tpl = template()
    defaults = tpl.get("Globals", {}).get("Function", {})
    merged = {}
    for name, resource in resources_of(tpl, "AWS::Serverless::Function").items():
        props = copy.deepcopy(defaults)
        props.update(resource.get("Properties", {}))
        merged[name] = props
    return merged


def lint_findings(text: str, ignored: dict[str, str]) -> list[str]:
    matches = lint(text, config=ManualArgs(regions=[region()]))
    return [
        f"{m.rule.id} {m.message} (line {m.linenumber})"
        for m in matches
        if m.rule.id[0] in "EW" and not (m.rule.id[0] == "W" and m.rule.id in ignored)
    ]


# ------------------------------------------------------------------------------------------ lint


def test_sam_form_lints_clean() -> None:
    assert lint_findings(TEMPLATE.read_text(), IGNORED_SAM_FORM) == []


@pytest.mark.parametrize("stage", deployed_stages())
def test_translated_template_lints_clean(stage: str) -> None:
    assert lint_findings(json.dumps(translated(stage), indent=1), IGNORED_TRANSLATED) == []


def test_translation_is_offline_and_complete() -> None:
    cfn = translated(deployed_stages()[0])
    leftover = sorted(
        name for name, r in cfn["Resources"].items() if str(r.get("Type", "")).startswith("AWS::Serverless::")
    )
    assert leftover == []
    assert set(resources_of(cfn, "AWS::Lambda::Function")) == set(functions())


# ------------------------------------------------------------------------------------------ functions


def _handler_module(code_uri: str, handler: str) -> tuple[Path, str]:
    module, _, attribute = handler.rpartition(".")
    return ROOT / code_uri / (module.replace(".", "/") + ".py"), attribute


def _module_level_names(source: str) -> set[str]:
    names: set[str] = set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


@pytest.mark.parametrize("name", sorted(functions()))
def test_function_code_uri_holds_its_handler(name: str) -> None:
    props = functions()[name]
    code_uri, handler = props["CodeUri"], props["Handler"]
    assert isinstance(code_uri, str), f"{name}: CodeUri must be a local folder (sam package uploads it)"
    assert (ROOT / code_uri).is_dir(), f"{name}: CodeUri {code_uri} does not exist"
    module_path, attribute = _handler_module(code_uri, handler)
    assert module_path.is_file(), f"{name}: Handler {handler} needs {module_path.relative_to(ROOT)}"
    assert attribute in _module_level_names(module_path.read_text()), (
        f"{name}: {module_path.relative_to(ROOT)} defines no module-level {attribute!r}"
    )


@pytest.mark.parametrize("name", sorted(functions()))
def test_function_has_its_own_policies(name: str) -> None:
    props = functions()[name]
    assert "Role" not in props, f"{name}: a shared Role defeats per-function least privilege"
    policies = props.get("Policies")
    assert isinstance(policies, list) and policies, f"{name}: declare its own (narrow) Policies"
    for policy in policies:
        if isinstance(policy, str):
            assert not FORBIDDEN_MANAGED_POLICY.search(policy), f"{name}: {policy} is far too broad"


def _statements(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    statements = document.get("Statement", [])
    yield from statements if isinstance(statements, list) else [statements]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _managed_policy_name(arn: Any) -> str:
    text = json.dumps(arn) if not isinstance(arn, str) else arn
    return text.rsplit("/", 1)[-1].strip('"}')


@pytest.mark.parametrize("name", sorted(functions()))
def test_function_role_is_least_privilege(name: str) -> None:
    cfn = translated(deployed_stages()[0])
    role_ref = cfn["Resources"][name]["Properties"]["Role"]
    assert role_ref == {"Fn::GetAtt": [f"{name}Role", "Arn"]}, f"{name}: expected its own generated role"
    role = cfn["Resources"][f"{name}Role"]["Properties"]
    problems: list[str] = []
    for arn in role.get("ManagedPolicyArns", []):
        policy = _managed_policy_name(arn)
        if policy not in SAM_ATTACHED_MANAGED_POLICIES:
            problems.append(f"managed policy {policy} (inline a narrow statement instead)")
    for policy in role.get("Policies", []):
        for statement in _statements(policy["PolicyDocument"]):
            if statement.get("Effect") != "Allow":
                continue
            if "NotAction" in statement or "NotResource" in statement:
                problems.append(f"{policy['PolicyName']}: NotAction/NotResource")
            actions = [str(a) for a in _as_list(statement.get("Action", []))]
            problems += [f"{policy['PolicyName']}: wildcard action {a}" for a in actions if a.endswith("*")]
            if "*" in _as_list(statement.get("Resource")):
                problems += [
                    f"{policy['PolicyName']}: {a} on Resource '*'"
                    for a in actions
                    if a not in WILDCARD_RESOURCE_ACTIONS
                ]
    assert problems == [], f"{name}: {problems}"


# ------------------------------------------------------------------------------------------ queues


def _logical_id(reference: Any) -> str | None:
    if isinstance(reference, dict):
        if "Fn::GetAtt" in reference:
            target = reference["Fn::GetAtt"]
            return str(target[0] if isinstance(target, list) else target.split(".")[0])
        if "Ref" in reference:
            return str(reference["Ref"])
    return None


def queue_consumers() -> list[tuple[str, str, dict[str, Any]]]:
    """(function, queue logical id, event properties) for every SQS event of every function."""
    consumers = []
    for name, props in functions().items():
        for event in props.get("Events", {}).values():
            if event.get("Type") == "SQS":
                queue = _logical_id(event["Properties"]["Queue"])
                assert queue is not None, f"{name}: SQS event must reference a queue of this template"
                consumers.append((name, queue, event["Properties"]))
    return consumers


@pytest.mark.parametrize(
    ("function", "queue", "event"), queue_consumers(), ids=[f"{f}-{q}" for f, q, _ in queue_consumers()]
)
def test_consumed_queue_has_dlq_and_visibility_timeout(
    function: str, queue: str, event: dict[str, Any]
) -> None:
    queue_props = template()["Resources"][queue].get("Properties", {})
    redrive = queue_props.get("RedrivePolicy")
    assert redrive, f"{queue}: a queue consumed by {function} needs a RedrivePolicy (DLQ)"
    assert _logical_id(redrive.get("deadLetterTargetArn")) in template()["Resources"]
    assert 1 <= int(redrive.get("maxReceiveCount", 0)) <= 10
    timeout = int(functions()[function].get("Timeout", 3))
    visibility = int(queue_props.get("VisibilityTimeout", 30))
    assert visibility >= 6 * timeout, (
        f"{queue}: VisibilityTimeout {visibility} < 6 x {function} Timeout {timeout}"
    )
    assert "ReportBatchItemFailures" in event.get("FunctionResponseTypes", []), (
        f"{function}: report partial batch failures instead of failing the whole batch"
    )


# ------------------------------------------------------------------------------------------ stages


ENVIRONMENT_LITERALS = {
    "stage name": re.compile(r"\b(dev|staging|prod|production|test)\b", re.IGNORECASE),
    "account id": re.compile(r"\b\d{12}\b"),
    "region": re.compile(r"\b(us|eu|ap|sa|ca|me|af|il|mx|cn)-[a-z]+-\d\b"),
    "e-mail address": re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+"),
    # AWS service endpoints (*.amazonaws.com) are the same in every stage; any other host is not.
    "host name": re.compile(
        r"\b(localhost|127\.0\.0\.1|(?!amazonaws\.com)[\w-]+\.(com|net|org|io|example|local))\b"
    ),
}
# Keys whose strings are prose for humans, or names of things in the template, not configuration.
SKIPPED_KEYS = frozenset({"Description", "Comment", "Ref", "Fn::GetAtt", "Condition", "DependsOn"})
SUB_VARIABLE = re.compile(r"\$\{[^}]*\}")


def _literal_strings(node: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in SKIPPED_KEYS:
                continue
            yield from _literal_strings(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _literal_strings(value, f"{path}[{index}]")
    elif isinstance(node, str):
        yield path, SUB_VARIABLE.sub("", node)  # ${Stage}, ${AWS::Region}: parameters, not literals


def test_no_environment_specific_literals() -> None:
    tpl = template()
    findings = []
    for section in ("Globals", "Conditions", "Resources", "Outputs"):
        for path, text in _literal_strings(tpl.get(section, {}), section):
            if text.startswith("arn:aws:iam::aws:policy/"):  # AWS managed policies: the same everywhere
                continue
            findings += [
                f"{path}: {kind} in {text!r}" for kind, p in ENVIRONMENT_LITERALS.items() if p.search(text)
            ]
    assert findings == [], f"per-stage values belong in stacks/samconfig.toml parameters: {findings}"


@pytest.mark.parametrize("stage", sorted(stage_parameters()))
def test_every_stage_sets_every_parameter_without_default(stage: str) -> None:
    declared = template()["Parameters"]
    values = stage_parameters()[stage]
    missing = sorted(name for name, spec in declared.items() if "Default" not in spec and name not in values)
    unknown = sorted(set(values) - set(declared))
    assert missing == [], f"{stage}: no value for {missing}"
    assert unknown == [], f"{stage}: parameter_overrides names undeclared parameters {unknown}"
    for name, value in values.items():
        spec = declared[name]
        if "AllowedValues" in spec:
            assert value in spec["AllowedValues"], f"{stage}: {name}={value!r} not in {spec['AllowedValues']}"
        if spec.get("Type") == "Number":
            number = float(value)
            assert float(spec.get("MinValue", number)) <= number <= float(spec.get("MaxValue", number)), name
    assert values.get("Stage") == stage, f"{stage}: the Stage parameter must name its own stage"


# ------------------------------------------------------------------------------------------ CloudFront


def test_origin_request_policies_do_not_whitelist_authorization() -> None:
    """CloudFront rejects (HTTP 400) an origin request policy whose header whitelist names Authorization;
    cfn-lint does not know it. Forward it through the cache key or an all-viewer-headers policy."""
    for name, policy in resources_of(template(), "AWS::CloudFront::OriginRequestPolicy").items():
        headers = policy["Properties"]["OriginRequestPolicyConfig"]["HeadersConfig"].get("Headers", [])
        assert "authorization" not in [str(h).lower() for h in headers], name
