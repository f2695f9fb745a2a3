"""Load a SAM template and resolve it for the local runtime.

``load_template(path)`` parses YAML with CloudFormation short tags, reads the parameter values of a
``stacks/samconfig.toml`` config-env (``local`` by default, falling back to template Defaults), evaluates
Conditions, resolves intrinsics with *local* physical ids, and exposes typed views of what the runtime
serves: functions, WebSocket routes, HTTP API routes, SQS event sources and schedules.

Local physical ids follow the working agreement: ``voltway-local-<LogicalId>`` (bucket names lower-cased),
region ``eu-west-1``, account ``123456789012``.
"""

from __future__ import annotations

import hashlib
import re
import shlex
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REGION = "eu-west-1"
ACCOUNT_ID = "123456789012"
PARTITION = "aws"
URL_SUFFIX = "amazonaws.com"
STACK_NAME = "voltway-local"
NAME_PREFIX = "voltway-local-"

DEFAULT_EMULATOR_URL = "http://127.0.0.1:5000"
DEFAULT_MANAGEMENT_URL = "http://127.0.0.1:9001"
DEFAULT_HTTP_URL = "http://127.0.0.1:8000"
DEFAULT_WS_URL = "ws://127.0.0.1:9000"

FUNCTION_TYPES = frozenset({"AWS::Serverless::Function", "AWS::Lambda::Function"})


class TemplateError(ValueError):
    """The template cannot be understood by the local runtime (bad intrinsic, dangling reference...)."""


# --------------------------------------------------------------------------- YAML with short tags


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns ``!Ref x`` into ``{"Ref": x}`` and ``!Sub s`` into ``{"Fn::Sub": s}``."""


def _construct_short_tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "Condition":
        return {"Condition": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        logical_id, _, attribute = value.partition(".")
        value = [logical_id, attribute]
    return {f"Fn::{tag_suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_short_tag)


def parse_yaml(text: str) -> dict[str, Any]:
    """Parse CloudFormation YAML into its long (JSON) form."""
    document = yaml.load(text, Loader=_CfnLoader)  # a SafeLoader subclass
    if not isinstance(document, dict):
        raise TemplateError("a template must be a mapping")
    return document


# --------------------------------------------------------------------------- parameters


def read_parameter_overrides(samconfig: Path, config_env: str = "local") -> dict[str, str]:
    """``parameter_overrides`` of ``[<config_env>.deploy.parameters]`` as a dict (empty if absent)."""
    if not samconfig.is_file():
        return {}
    with samconfig.open("rb") as fh:
        config = tomllib.load(fh)
    raw = config.get(config_env, {}).get("deploy", {}).get("parameters", {}).get("parameter_overrides", "")
    items = raw if isinstance(raw, list) else shlex.split(str(raw))
    overrides: dict[str, str] = {}
    for item in items:
        name, sep, value = str(item).partition("=")
        if sep:
            overrides[name.strip()] = value
    return overrides


def _parameter_values(template: Mapping[str, Any], overrides: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, spec in (template.get("Parameters") or {}).items():
        if name in overrides:
            raw: Any = overrides[name]
        elif "Default" in spec:
            raw = spec["Default"]
        else:
            raise TemplateError(f"parameter {name} has no value for the local stack and no Default")
        if spec.get("Type") == "CommaDelimitedList":
            values[name] = [] if raw in ("", None) else [p.strip() for p in str(raw).split(",")]
        elif isinstance(raw, list):
            values[name] = [str(v) for v in raw]
        else:
            values[name] = str(raw)
    return values


# --------------------------------------------------------------------------- endpoints


@dataclass(frozen=True)
class LocalEndpoints:
    """Where the local stack's services listen; intrinsics such as a WebSocket ApiEndpoint resolve here."""

    emulator_url: str | None = DEFAULT_EMULATOR_URL
    management_url: str = DEFAULT_MANAGEMENT_URL
    http_url: str = DEFAULT_HTTP_URL
    ws_url: str = DEFAULT_WS_URL


def local_api_id(logical_id: str) -> str:
    """A stable 10-character API id (lower-case alphanumerics, like API Gateway's) for a logical id."""
    return hashlib.sha1(logical_id.encode()).hexdigest()[:10]


# --------------------------------------------------------------------------- the resolver


class _NoValue:
    """Marker for ``AWS::NoValue``: the enclosing key or list item disappears."""


NO_VALUE = _NoValue()
_NAME_PROPERTIES = (
    "TableName",
    "QueueName",
    "BucketName",
    "TopicName",
    "FunctionName",
    "FifoQueue",
    "ProtocolType",
)
_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


class Resolver:
    """Evaluates intrinsic functions against local physical ids."""

    def __init__(
        self,
        resources: Mapping[str, Mapping[str, Any]],
        parameters: Mapping[str, Any],
        endpoints: LocalEndpoints,
        conditions: Mapping[str, Any] | None = None,
    ) -> None:
        self._resources = resources
        self._parameters = parameters
        self._endpoints = endpoints
        self._condition_defs = conditions or {}
        self._condition_values: dict[str, bool] = {}

    # -- conditions
    def condition(self, name: str) -> bool:
        if name not in self._condition_values:
            if name not in self._condition_defs:
                raise TemplateError(f"unknown condition {name}")
            self._condition_values[name] = bool(self.resolve(self._condition_defs[name]))
        return self._condition_values[name]

    # -- intrinsics
    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self.resolve(v) for v in value]
            return [v for v in items if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            handler = _INTRINSICS.get(key)
            if handler is not None:
                return handler(self, arg)
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not NO_VALUE}

    def ref(self, name: str) -> Any:
        pseudo = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": PARTITION,
            "AWS::URLSuffix": URL_SUFFIX,
            "AWS::StackName": STACK_NAME,
            "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{STACK_NAME}/local",
            "AWS::NoValue": NO_VALUE,
        }
        if name in pseudo:
            return pseudo[name]
        if name in self._parameters:
            return self._parameters[name]
        resource = self._resource(name)
        return physical_ref(name, resource, self._endpoints, self._resolved_props(resource))

    def get_att(self, logical_id: str, attribute: str) -> Any:
        resource = self._resource(logical_id)
        return physical_attribute(
            logical_id, resource, attribute, self._endpoints, self._resolved_props(resource)
        )

    def _resource(self, logical_id: str) -> Mapping[str, Any]:
        try:
            return self._resources[logical_id]
        except KeyError:
            raise TemplateError(f"reference to unknown resource or parameter {logical_id!r}") from None

    def _resolved_props(self, resource: Mapping[str, Any]) -> dict[str, Any]:
        # Only the name-bearing properties matter for physical ids; resolving just those avoids cycles.
        props = resource.get("Properties") or {}
        return {k: self.resolve(props[k]) for k in _NAME_PROPERTIES if k in props}

    def sub(self, arg: Any) -> str:
        if isinstance(arg, list):
            text, variables = arg[0], self.resolve(arg[1] if len(arg) > 1 else {})
        else:
            text, variables = arg, {}

        def replace(match: re.Match[str]) -> str:
            expression = match.group(1)
            if expression.startswith("!"):
                return "${" + expression[1:] + "}"
            if expression in variables:
                return _as_text(variables[expression])
            if "." in expression and not expression.startswith("AWS::"):
                logical_id, _, attribute = expression.partition(".")
                return _as_text(self.get_att(logical_id, attribute))
            return _as_text(self.ref(expression))

        return _SUB_VARIABLE.sub(replace, str(text))


def _as_text(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def _fn_get_att(r: Resolver, arg: Any) -> Any:
    if isinstance(arg, str):
        arg = arg.split(".", 1)
    logical_id, attribute = r.resolve(arg[0]), r.resolve(arg[1])
    return r.get_att(str(logical_id), str(attribute))


def _fn_join(r: Resolver, arg: Any) -> str:
    delimiter, items = arg
    return str(delimiter).join(_as_text(v) for v in r.resolve(items))


def _fn_select(r: Resolver, arg: Any) -> Any:
    index, items = r.resolve(arg[0]), r.resolve(arg[1])
    return items[int(index)]


def _fn_split(r: Resolver, arg: Any) -> list[str]:
    delimiter, text = arg
    return str(r.resolve(text)).split(str(delimiter))


def _fn_if(r: Resolver, arg: Any) -> Any:
    name, when_true, when_false = arg
    return r.resolve(when_true if r.condition(name) else when_false)


def _fn_equals(r: Resolver, arg: Any) -> bool:
    left, right = (r.resolve(v) for v in arg)
    return _as_text(left) == _as_text(right)


def _fn_base64(r: Resolver, arg: Any) -> str:
    import base64

    return base64.b64encode(str(r.resolve(arg)).encode()).decode()


_INTRINSICS: dict[str, Any] = {
    "Ref": lambda r, arg: r.ref(str(r.resolve(arg))),
    "Fn::GetAtt": _fn_get_att,
    "Fn::Sub": lambda r, arg: r.sub(arg),
    "Fn::Join": _fn_join,
    "Fn::Select": _fn_select,
    "Fn::Split": _fn_split,
    "Fn::If": _fn_if,
    "Fn::Equals": _fn_equals,
    "Fn::Not": lambda r, arg: not r.resolve(arg[0]),
    "Fn::And": lambda r, arg: all(r.resolve(v) for v in arg),
    "Fn::Or": lambda r, arg: any(r.resolve(v) for v in arg),
    "Condition": lambda r, arg: r.condition(str(arg)),
    "Fn::Base64": _fn_base64,
    "Fn::GetAZs": lambda r, arg: [f"{REGION}a", f"{REGION}b", f"{REGION}c"],
    "Fn::ImportValue": lambda r, arg: str(r.resolve(arg)),
}


# --------------------------------------------------------------------------- local physical ids


def default_name(logical_id: str) -> str:
    return f"{NAME_PREFIX}{logical_id}"


def queue_name(logical_id: str, props: Mapping[str, Any]) -> str:
    if "QueueName" in props:
        return str(props["QueueName"])
    name = default_name(logical_id)
    return f"{name}.fifo" if str(props.get("FifoQueue", "")).lower() == "true" else name


def queue_url(name: str, endpoints: LocalEndpoints) -> str:
    base = endpoints.emulator_url or f"https://sqs.{REGION}.{URL_SUFFIX}"
    return f"{base.rstrip('/')}/{ACCOUNT_ID}/{name}"


def _arn(service: str, resource: str) -> str:
    return f"arn:{PARTITION}:{service}:{REGION}:{ACCOUNT_ID}:{resource}"


def physical_ref(
    logical_id: str, resource: Mapping[str, Any], endpoints: LocalEndpoints, props: Mapping[str, Any]
) -> str:
    """What ``Ref`` returns for a resource in the local stack."""
    kind = resource.get("Type", "")
    if kind == "AWS::DynamoDB::Table":
        return str(props.get("TableName", default_name(logical_id)))
    if kind == "AWS::SQS::Queue":
        return queue_url(queue_name(logical_id, props), endpoints)
    if kind == "AWS::S3::Bucket":
        return str(props.get("BucketName", default_name(logical_id))).lower()
    if kind == "AWS::SNS::Topic":
        return _arn("sns", str(props.get("TopicName", default_name(logical_id))))
    if kind in FUNCTION_TYPES:
        return str(props.get("FunctionName", default_name(logical_id)))
    if kind in ("AWS::ApiGatewayV2::Api", "AWS::Serverless::HttpApi", "AWS::Serverless::Api"):
        return local_api_id(logical_id)
    if kind in ("AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion"):
        return _arn("lambda", f"layer:{default_name(logical_id)}:1")
    return default_name(logical_id)


def physical_attribute(
    logical_id: str,
    resource: Mapping[str, Any],
    attribute: str,
    endpoints: LocalEndpoints,
    props: Mapping[str, Any],
) -> Any:
    """What ``Fn::GetAtt`` returns for a resource in the local stack."""
    kind = resource.get("Type", "")
    ref = physical_ref(logical_id, resource, endpoints, props)
    if kind == "AWS::DynamoDB::Table":
        table_arn = _arn("dynamodb", f"table/{ref}")
        return {"Arn": table_arn, "StreamArn": f"{table_arn}/stream/local"}.get(attribute, ref)
    if kind == "AWS::SQS::Queue":
        name = queue_name(logical_id, props)
        return {"Arn": _arn("sqs", name), "QueueName": name, "QueueUrl": ref}.get(attribute, name)
    if kind == "AWS::S3::Bucket":
        return {
            "Arn": f"arn:{PARTITION}:s3:::{ref}",
            "DomainName": f"{ref}.s3.{URL_SUFFIX}",
            "RegionalDomainName": f"{ref}.s3.{REGION}.{URL_SUFFIX}",
        }.get(attribute, ref)
    if kind == "AWS::SNS::Topic":
        return {"TopicArn": ref, "TopicName": ref.rsplit(":", 1)[-1]}.get(attribute, ref)
    if kind in FUNCTION_TYPES:
        return _arn("lambda", f"function:{ref}") if attribute == "Arn" else ref
    if kind == "AWS::ApiGatewayV2::Api" and attribute == "ApiEndpoint":
        websocket = str(props.get("ProtocolType", "")).upper() == "WEBSOCKET"
        return endpoints.management_url if websocket else endpoints.http_url
    if kind == "AWS::Cognito::UserPool":
        return {
            "Arn": _arn("cognito-idp", f"userpool/{ref}"),
            "ProviderName": f"cognito-idp.{REGION}.{URL_SUFFIX}/{ref}",
            "ProviderURL": f"https://cognito-idp.{REGION}.{URL_SUFFIX}/{ref}",
        }.get(attribute, ref)
    if kind == "AWS::CloudFront::Distribution" and attribute == "DomainName":
        return endpoints.ws_url.split("://", 1)[-1]
    if attribute == "Arn" or attribute.endswith("ARN") or attribute.endswith("Arn"):
        return _arn(kind.split("::")[1].lower() if "::" in kind else "local", ref)
    return ref


# --------------------------------------------------------------------------- typed views


@dataclass(frozen=True)
class FunctionSpec:
    """One Lambda function as the local Lambda service runs it."""

    logical_id: str
    function_name: str
    code_uri: Path
    handler: str
    environment: dict[str, str]
    timeout: int
    memory_size: int
    runtime: str
    events: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def arn(self) -> str:
        return _arn("lambda", f"function:{self.function_name}")


@dataclass(frozen=True)
class WebSocketApiSpec:
    """A WebSocket API: its stage and which function serves each route key."""

    logical_id: str
    api_id: str
    stage: str
    routes: dict[str, str]  # route key -> function logical id
    route_selection_expression: str = "$request.body.action"


@dataclass(frozen=True)
class JwtAuthorizerSpec:
    name: str
    issuer: str
    audience: tuple[str, ...]
    identity_source: str = "$request.header.Authorization"


@dataclass(frozen=True)
class CorsSpec:
    allow_origins: tuple[str, ...] = ()
    allow_headers: tuple[str, ...] = ()
    allow_methods: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age: int | None = None
    allow_credentials: bool = False


@dataclass(frozen=True)
class HttpApiSpec:
    logical_id: str
    api_id: str
    stage: str
    cors: CorsSpec | None
    authorizers: dict[str, JwtAuthorizerSpec]
    default_authorizer: str | None


@dataclass(frozen=True)
class HttpRouteSpec:
    """One ``HttpApi`` event of a function: a route of an HTTP API."""

    function: str  # logical id
    event_name: str
    api: str  # HttpApi logical id
    path: str
    method: str  # upper case, or ANY
    payload_format_version: str
    authorizer: JwtAuthorizerSpec | None
    authorization_scopes: tuple[str, ...] = ()

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class SqsEventSourceSpec:
    function: str
    event_name: str
    queue: str  # logical id of the queue
    queue_arn: str
    batch_size: int
    function_response_types: tuple[str, ...]
    maximum_batching_window_seconds: int
    enabled: bool = True

    @property
    def reports_batch_item_failures(self) -> bool:
        return "ReportBatchItemFailures" in self.function_response_types


@dataclass(frozen=True)
class ScheduleSpec:
    function: str
    event_name: str
    expression: str  # rate(...) or cron(...)
    input: str | None
    enabled: bool
    kind: str  # Schedule (EventBridge rule) or ScheduleV2 (EventBridge Scheduler)


@dataclass(frozen=True)
class ResourceSpec:
    logical_id: str
    type: str
    properties: dict[str, Any]
    physical_id: str


# --------------------------------------------------------------------------- the template


def referenced_logical_ids(value: Any) -> Iterator[str]:
    """Logical ids a raw (unresolved) expression refers to through Ref, GetAtt or ${...} in Sub."""
    if isinstance(value, list):
        for item in value:
            yield from referenced_logical_ids(item)
    elif isinstance(value, dict):
        for key, arg in value.items():
            if key == "Ref" and isinstance(arg, str):
                yield arg
            elif key == "Fn::GetAtt":
                yield (arg.split(".", 1)[0] if isinstance(arg, str) else str(arg[0]))
            elif key == "Fn::Sub":
                text = arg[0] if isinstance(arg, list) else arg
                for expression in _SUB_VARIABLE.findall(str(text)):
                    if not expression.startswith("!"):
                        yield expression.split(".", 1)[0]
                if isinstance(arg, list) and len(arg) > 1:
                    yield from referenced_logical_ids(arg[1])
            else:
                yield from referenced_logical_ids(arg)


class Template:
    """A SAM template resolved for the local stack. Build it with :func:`load_template`."""

    def __init__(
        self,
        path: Path,
        document: dict[str, Any],
        parameters: dict[str, Any],
        endpoints: LocalEndpoints,
    ) -> None:
        self.path = path
        self.root = path.parent
        self.document = document
        self.parameters = parameters
        self.endpoints = endpoints
        all_resources: dict[str, dict[str, Any]] = document.get("Resources") or {}
        self.resolver = Resolver(all_resources, parameters, endpoints, document.get("Conditions") or {})
        self.raw_resources = {
            lid: res
            for lid, res in all_resources.items()
            if "Condition" not in res or self.resolver.condition(str(res["Condition"]))
        }
        self._globals: dict[str, Any] = document.get("Globals") or {}
        self.functions = self._functions()
        self.http_apis = self._http_apis()
        self.http_routes = self._http_routes()
        self.websocket_apis = self._websocket_apis()
        self.sqs_event_sources = self._sqs_event_sources()
        self.schedules = self._schedules()

    # -- generic access
    def resolve(self, value: Any) -> Any:
        return self.resolver.resolve(value)

    def resources_of_type(self, resource_type: str) -> list[ResourceSpec]:
        specs = []
        for logical_id, resource in self.raw_resources.items():
            if resource.get("Type") == resource_type:
                specs.append(
                    ResourceSpec(
                        logical_id=logical_id,
                        type=resource_type,
                        properties=self.resolve(resource.get("Properties") or {}),
                        physical_id=str(self.resolver.ref(logical_id)),
                    )
                )
        return specs

    def logical_ids_of_type(self, *types: str) -> list[str]:
        return [lid for lid, res in self.raw_resources.items() if res.get("Type") in types]

    @property
    def stage(self) -> str:
        return str(self.parameters.get("Stage", "local"))

    @property
    def websocket_api(self) -> WebSocketApiSpec | None:
        return next(iter(self.websocket_apis.values()), None)

    # -- functions
    def _functions(self) -> dict[str, FunctionSpec]:
        globals_fn = self._globals.get("Function") or {}
        functions: dict[str, FunctionSpec] = {}
        for logical_id in self.logical_ids_of_type(*FUNCTION_TYPES):
            raw = self.raw_resources[logical_id]
            props: dict[str, Any] = raw.get("Properties") or {}
            merged = {**globals_fn, **props}
            environment = {
                **((globals_fn.get("Environment") or {}).get("Variables") or {}),
                **((props.get("Environment") or {}).get("Variables") or {}),
            }
            resolved_env = self.resolve(environment)
            code_uri = str(self.resolve(merged.get("CodeUri", ".")))
            functions[logical_id] = FunctionSpec(
                logical_id=logical_id,
                function_name=str(self.resolver.ref(logical_id)),
                code_uri=(self.root / code_uri).resolve(),
                handler=str(self.resolve(merged.get("Handler", "app.handler"))),
                environment={k: _as_text(v) for k, v in resolved_env.items()},
                timeout=int(self.resolve(merged.get("Timeout", 3))),
                memory_size=int(self.resolve(merged.get("MemorySize", 128))),
                runtime=str(self.resolve(merged.get("Runtime", "python3.12"))),
                events=dict(props.get("Events") or {}),
            )
        return functions

    # -- WebSocket APIs
    def _websocket_apis(self) -> dict[str, WebSocketApiSpec]:
        apis: dict[str, WebSocketApiSpec] = {}
        for api_id in self.logical_ids_of_type("AWS::ApiGatewayV2::Api"):
            props = self.raw_resources[api_id].get("Properties") or {}
            if str(props.get("ProtocolType", "")).upper() != "WEBSOCKET":
                continue
            apis[api_id] = WebSocketApiSpec(
                logical_id=api_id,
                api_id=local_api_id(api_id),
                stage=self._websocket_stage(api_id),
                routes=self._websocket_routes(api_id),
                route_selection_expression=str(props.get("RouteSelectionExpression", "")),
            )
        return apis

    def _belongs_to(self, props: Mapping[str, Any], api_logical_id: str) -> bool:
        return api_logical_id in set(referenced_logical_ids(props.get("ApiId")))

    def _websocket_stage(self, api_logical_id: str) -> str:
        for stage_id in self.logical_ids_of_type("AWS::ApiGatewayV2::Stage"):
            props = self.raw_resources[stage_id].get("Properties") or {}
            if self._belongs_to(props, api_logical_id):
                return str(self.resolve(props.get("StageName", self.stage)))
        return self.stage

    def _websocket_routes(self, api_logical_id: str) -> dict[str, str]:
        routes: dict[str, str] = {}
        for route_id in self.logical_ids_of_type("AWS::ApiGatewayV2::Route"):
            props = self.raw_resources[route_id].get("Properties") or {}
            if not self._belongs_to(props, api_logical_id):
                continue
            function = self._route_function(props.get("Target"))
            if function is None:
                raise TemplateError(f"route {route_id} does not target a Lambda integration")
            routes[str(self.resolve(props["RouteKey"]))] = function
        return routes

    def _route_function(self, target: Any) -> str | None:
        for integration_id in referenced_logical_ids(target):
            integration = self.raw_resources.get(integration_id, {})
            if integration.get("Type") != "AWS::ApiGatewayV2::Integration":
                continue
            uri = (integration.get("Properties") or {}).get("IntegrationUri")
            for candidate in referenced_logical_ids(uri):
                if candidate in self.functions:
                    return candidate
        return None

    # -- HTTP APIs
    def _http_apis(self) -> dict[str, HttpApiSpec]:
        apis: dict[str, HttpApiSpec] = {}
        for api_id in self.logical_ids_of_type("AWS::Serverless::HttpApi"):
            props = self.resolve(self.raw_resources[api_id].get("Properties") or {})
            apis[api_id] = self._http_api_spec(api_id, props)
        uses_implicit = any(
            ev.get("Type") == "HttpApi" and "ApiId" not in (ev.get("Properties") or {})
            for fn in self.functions.values()
            for ev in fn.events.values()
        )
        if uses_implicit and "ServerlessHttpApi" not in apis:
            globals_api = self.resolve(self._globals.get("HttpApi") or {})
            apis["ServerlessHttpApi"] = self._http_api_spec("ServerlessHttpApi", globals_api)
        return apis

    def _http_api_spec(self, logical_id: str, props: Mapping[str, Any]) -> HttpApiSpec:
        auth = props.get("Auth") or {}
        authorizers = {
            name: JwtAuthorizerSpec(
                name=name,
                issuer=str(cfg["JwtConfiguration"].get("issuer", "")),
                audience=tuple(str(a) for a in _as_list(cfg["JwtConfiguration"].get("audience", []))),
                identity_source=str(cfg.get("IdentitySource", "$request.header.Authorization")),
            )
            for name, cfg in (auth.get("Authorizers") or {}).items()
            if "JwtConfiguration" in cfg
        }
        return HttpApiSpec(
            logical_id=logical_id,
            api_id=local_api_id(logical_id),
            stage=str(props.get("StageName", "$default")),
            cors=_cors(props.get("CorsConfiguration")),
            authorizers=authorizers,
            default_authorizer=auth.get("DefaultAuthorizer"),
        )

    def _http_routes(self) -> list[HttpRouteSpec]:
        routes: list[HttpRouteSpec] = []
        for fn in self.functions.values():
            for event_name, event in fn.events.items():
                if event.get("Type") != "HttpApi":
                    continue
                raw_props = event.get("Properties") or {}
                api_ids = list(referenced_logical_ids(raw_props.get("ApiId")))
                api = self.http_apis[api_ids[0] if api_ids else "ServerlessHttpApi"]
                props = self.resolve(raw_props)
                auth = props.get("Auth") or {}
                authorizer_name = auth.get("Authorizer", api.default_authorizer)
                authorizer = None
                if authorizer_name and authorizer_name != "NONE":
                    if authorizer_name not in api.authorizers:
                        message = f"{fn.logical_id}.{event_name}: unknown authorizer {authorizer_name}"
                        raise TemplateError(message)
                    authorizer = api.authorizers[authorizer_name]
                routes.append(
                    HttpRouteSpec(
                        function=fn.logical_id,
                        event_name=event_name,
                        api=api.logical_id,
                        path=str(props.get("Path", "$default")),
                        method=str(props.get("Method", "ANY")).upper(),
                        payload_format_version=str(props.get("PayloadFormatVersion", "2.0")),
                        authorizer=authorizer,
                        authorization_scopes=tuple(auth.get("AuthorizationScopes") or ()),
                    )
                )
        return routes

    # -- event sources
    def _sqs_event_sources(self) -> list[SqsEventSourceSpec]:
        sources: list[SqsEventSourceSpec] = []
        for fn in self.functions.values():
            for event_name, event in fn.events.items():
                if event.get("Type") != "SQS":
                    continue
                raw_props = event.get("Properties") or {}
                queues = [
                    q
                    for q in referenced_logical_ids(raw_props.get("Queue"))
                    if self.raw_resources.get(q, {}).get("Type") == "AWS::SQS::Queue"
                ]
                if not queues:
                    raise TemplateError(f"{fn.logical_id}.{event_name}: Queue must reference a queue")
                props = self.resolve(raw_props)
                sources.append(
                    SqsEventSourceSpec(
                        function=fn.logical_id,
                        event_name=event_name,
                        queue=queues[0],
                        queue_arn=str(props["Queue"]),
                        batch_size=int(props.get("BatchSize", 10)),
                        function_response_types=tuple(props.get("FunctionResponseTypes") or ()),
                        maximum_batching_window_seconds=int(props.get("MaximumBatchingWindowInSeconds", 0)),
                        enabled=str(props.get("Enabled", True)).lower() != "false",
                    )
                )
        return sources

    def _schedules(self) -> list[ScheduleSpec]:
        schedules: list[ScheduleSpec] = []
        for fn in self.functions.values():
            for event_name, event in fn.events.items():
                kind = event.get("Type")
                if kind not in ("Schedule", "ScheduleV2"):
                    continue
                props = self.resolve(event.get("Properties") or {})
                expression = props.get("Schedule") if kind == "Schedule" else props.get("ScheduleExpression")
                enabled = str(props.get("Enabled", True)).lower() != "false" and (
                    str(props.get("State", "ENABLED")).upper() != "DISABLED"
                )
                schedules.append(
                    ScheduleSpec(
                        function=fn.logical_id,
                        event_name=event_name,
                        expression=str(expression),
                        input=props.get("Input"),
                        enabled=enabled,
                        kind=str(kind),
                    )
                )
        return schedules


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _cors(config: Any) -> CorsSpec | None:
    if not config:
        return None
    if config is True or str(config).lower() == "true":
        return CorsSpec(allow_origins=("*",), allow_headers=("*",), allow_methods=("*",))
    if not isinstance(config, dict):
        return CorsSpec(allow_origins=(str(config).strip("'"),))
    max_age = config.get("MaxAge")
    return CorsSpec(
        allow_origins=tuple(str(v) for v in _as_list(config.get("AllowOrigins", []))),
        allow_headers=tuple(str(v) for v in _as_list(config.get("AllowHeaders", []))),
        allow_methods=tuple(str(v).upper() for v in _as_list(config.get("AllowMethods", []))),
        expose_headers=tuple(str(v) for v in _as_list(config.get("ExposeHeaders", []))),
        max_age=int(max_age) if max_age is not None else None,
        allow_credentials=str(config.get("AllowCredentials", False)).lower() == "true",
    )


def default_template_path() -> Path:
    """The repository's ``template.yaml`` (this file lives in ``<repo>/shared/voltway/local/``)."""
    return Path(__file__).resolve().parents[3] / "template.yaml"


def load_template(
    path: Path | None = None,
    *,
    config_env: str = "local",
    samconfig: Path | None = None,
    endpoints: LocalEndpoints | None = None,
    parameter_overrides: Mapping[str, str] | None = None,
) -> Template:
    """Load and resolve a SAM template for the local stack.

    Parameters come from ``[<config_env>.deploy.parameters] parameter_overrides`` of ``samconfig``
    (default ``<template dir>/stacks/samconfig.toml``), then ``parameter_overrides``, then Defaults.
    """
    template_path = (path or default_template_path()).resolve()
    document = parse_yaml(template_path.read_text(encoding="utf-8"))
    config_path = samconfig or template_path.parent / "stacks" / "samconfig.toml"
    overrides = {**read_parameter_overrides(config_path, config_env), **(parameter_overrides or {})}
    parameters = _parameter_values(document, overrides)
    return Template(template_path, document, parameters, endpoints or LocalEndpoints())
