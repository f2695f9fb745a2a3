"""The OpenAPI 3.1 document of the HTTP API, generated from the Chalice routes and the pydantic models.

Every route in ``app.routes`` appears: routes decorated with ``documented(Operation(...))`` carry their
models, roles and auth; others are described from their path alone (a generic JSON object), so a new
route is never missing from the document. Route authors: decorate with ``documented`` right above
``mapped``; ``tests/unit/test_openapi.py`` checks the document, the Chalice routes and the template's
ApiFunction events against each other.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from voltway.identity import Role

F = TypeVar("F", bound=Callable[..., Any])
_PARAM = re.compile(r"\{([A-Za-z0-9_]+)\}")
REF = "#/components/schemas/{model}"
ATTRIBUTE = "__openapi__"


@dataclass(frozen=True, slots=True)
class Operation:
    summary: str
    tag: str = "default"
    request: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    roles: tuple[Role, ...] = ()
    public: bool = False
    status: int = 200
    idempotency_key: bool = False  # POSTs that start things: see voltway.api.idempotency
    path_patterns: Mapping[str, str] = field(default_factory=dict)


def documented(operation: Operation) -> Callable[[F], F]:
    def mark(view: F) -> F:
        setattr(view, ATTRIBUTE, operation)
        return view

    return mark


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorBody(BaseModel):
    """The one error shape of every route."""

    error: ErrorDetail


_ERRORS = {
    "400": "invalid request (validation_error, invalid_request, invalid_cursor)",
    "401": "no valid token",
    "403": "the token lacks a role for this operation",
    "404": "not found (or another tenant's)",
    "409": "conflict",
}


def _strip_null(schema: dict[str, Any]) -> dict[str, Any]:
    """Query parameters are never JSON null: describe only the non-null alternative."""
    options = schema.get("anyOf")
    if isinstance(options, list):
        rest = [o for o in options if o != {"type": "null"}]
        if len(rest) == 1:
            merged = {k: v for k, v in schema.items() if k != "anyOf"}
            merged.update(rest[0])
            if merged.get("default", 0) is None:
                merged.pop("default")
            return merged
    return schema


def _routes(routes: Mapping[str, Mapping[str, Any]]) -> Iterable[tuple[str, str, Any]]:
    for path in sorted(routes):
        for method in sorted(routes[path]):
            yield path, method, routes[path][method]


def operation_of(entry: Any, known: Mapping[tuple[str, str], Operation]) -> Operation | None:
    found = getattr(entry.view_function, ATTRIBUTE, None)
    if isinstance(found, Operation):
        return found
    return known.get((entry.method, entry.uri_pattern))


def build_document(
    routes: Mapping[str, Mapping[str, Any]],
    *,
    known: Mapping[tuple[str, str], Operation] | None = None,
    title: str = "Voltway API",
    version: str = "1",
) -> dict[str, Any]:
    """``routes`` is a Chalice app's ``app.routes``; ``known`` documents routes not decorated."""
    known = known or {}
    ops = {(p, m): operation_of(e, known) for p, m, e in _routes(routes)}
    wanted: list[tuple[type[BaseModel], Any]] = [(ErrorBody, "serialization")]
    for op in ops.values():
        if op is None:
            continue
        for model, mode in (
            (op.request, "validation"),
            (op.query, "validation"),
            (op.response, "serialization"),
        ):
            if model is not None and (model, mode) not in wanted:
                wanted.append((model, mode))
    refs, defs = models_json_schema(wanted, ref_template=REF)
    components: dict[str, Any] = dict(defs.get("$defs", {}))

    def ref(model: type[BaseModel], mode: str) -> dict[str, Any]:
        return dict(refs[(model, mode)])  # type: ignore[index]

    paths: dict[str, Any] = {}
    for (path, method), op in ops.items():
        path_names = _PARAM.findall(path)
        parameters: list[dict[str, Any]] = []
        for name in path_names:
            schema: dict[str, Any] = {"type": "string", "minLength": 1}
            if op is not None and name in op.path_patterns:
                schema["pattern"] = op.path_patterns[name]
            parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
        operation: dict[str, Any] = {
            "operationId": f"{method.lower()}_{re.sub(r'[^A-Za-z0-9]+', '_', path).strip('_')}",
            "summary": op.summary if op else f"{method} {path}",
            "tags": [op.tag if op else "undocumented"],
        }
        if op is not None and op.query is not None:
            model_schema = components[ref(op.query, "validation")["$ref"].rsplit("/", 1)[1]]
            required = set(model_schema.get("required", []))
            for name, prop in model_schema.get("properties", {}).items():
                parameters.append(
                    {"name": name, "in": "query", "required": name in required, "schema": _strip_null(prop)}
                )
        if op is not None and op.idempotency_key:
            parameters.append(
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": True,
                    "schema": {"type": "string", "minLength": 8, "maxLength": 128},
                }
            )
        if parameters:
            operation["parameters"] = parameters
        if op is not None and op.request is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": ref(op.request, "validation")}},
            }
        ok_schema = ref(op.response, "serialization") if op and op.response else {"type": "object"}
        responses: dict[str, Any] = {
            str(op.status if op else 200): {
                "description": "success",
                "content": {"application/json": {"schema": ok_schema}},
            }
        }
        error_ref = ref(ErrorBody, "serialization")
        for status, description in _ERRORS.items():
            if op is not None and op.public and status in ("401", "403"):
                continue
            responses[status] = {
                "description": description,
                "content": {"application/json": {"schema": error_ref}},
            }
        operation["responses"] = responses
        if op is not None and op.public:
            operation["security"] = []
        elif op is not None and op.roles:
            operation["x-roles"] = sorted(r.value for r in op.roles)
        paths.setdefault(path, {})[method.lower()] = operation

    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": "Errors: {error: {code, message, details}}. Lists: ?limit=&cursor= with an "
            "opaque next_cursor. Times: ISO-8601 UTC. Auth: Bearer JWT (Cognito ID token).",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
        "security": [{"bearerAuth": []}],
    }


def public_routes(
    routes: Mapping[str, Mapping[str, Any]], known: Mapping[tuple[str, str], Operation]
) -> set[tuple[str, str]]:
    """(METHOD, path) of routes documented as needing no token."""
    result = set()
    for path, method, entry in _routes(routes):
        op = operation_of(entry, known)
        if op is not None and op.public:
            result.add((method, path))
    return result
