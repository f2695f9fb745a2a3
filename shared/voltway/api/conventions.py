"""One Chalice middleware applies the API's conventions to every route, including routes that other
modules add later: a fresh log correlation per request, signed cursors in and out, and the one error
shape for Chalice's own errors (405, 415, ...), which otherwise answer ``{"Code", "Message"}``.

CORS is deliberately *not* handled here: API Gateway's ``CorsConfiguration`` in template.yaml answers
preflights and adds the headers, and a Chalice route with ``cors=`` would add a second, conflicting set.
``tests/unit/test_openapi.py`` checks that no route sets it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Self

from botocore.exceptions import ClientError
from chalice.app import MultiDict, Request, Response
from pydantic import SecretStr, model_validator

from voltway.adapters.aws import client
from voltway.adapters.http import error_response
from voltway.api.pagination import CursorRejected, CursorSigner
from voltway.config import AwsSettings
from voltway.identity import Principal
from voltway.identity.errors import Unauthenticated
from voltway.observability import begin

_CHALICE_CODES = {
    405: "method_not_allowed",
    415: "unsupported_media_type",
    400: "invalid_request",
    404: "not_found",
    500: "internal_error",
}


class ConventionSettings(AwsSettings):
    """The cursor key comes from Secrets Manager (``CURSOR_SIGNING_KEY_SECRET_ARN``: the template's
    generated secret; locally the emulator's, provisioned with a fixed local value) or, for tests and
    tools without AWS, directly (``CURSOR_SIGNING_KEY``). Exactly one of them."""

    cursor_signing_key: SecretStr | None = None
    cursor_signing_key_secret_arn: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.cursor_signing_key is None) == (self.cursor_signing_key_secret_arn is None):
            raise ValueError("set exactly one of CURSOR_SIGNING_KEY_SECRET_ARN and CURSOR_SIGNING_KEY")
        return self


def signing_key(settings: ConventionSettings) -> bytes:
    if settings.cursor_signing_key is not None:
        return settings.cursor_signing_key.get_secret_value().encode()
    secrets = client("secretsmanager", region=settings.aws_region, endpoint_url=settings.aws_endpoint_url)
    try:
        value = secrets.get_secret_value(SecretId=settings.cursor_signing_key_secret_arn)["SecretString"]
    except ClientError as e:
        raise RuntimeError("cannot read the cursor signing key secret") from e
    return str(value).encode()


@functools.cache
def default_signer() -> CursorSigner:
    """Once per process (the first request after a cold start reads the secret; later ones reuse it)."""
    return CursorSigner(signing_key(ConventionSettings.from_env()))


def cursor_scope(request: Request) -> str:
    """The caller's tenant and the route: a cursor is valid only where it was issued."""
    context = request.context or {}
    authorizer = context.get("authorizer") or {}
    claims = authorizer.get("claims") if isinstance(authorizer, dict) else None
    try:
        tenant = Principal.from_claims(claims).tenant_id
    except Unauthenticated:
        tenant = ""
    return f"{tenant}\n{context.get('resourcePath', '')}"


def _with_cursor(request: Request, raw: str) -> None:
    params = request.query_params or MultiDict({})
    values = {k: params.getlist(k) for k in params}
    values["cursor"] = [raw]
    request.query_params = MultiDict(values)


def conventions_middleware(
    signer: Callable[[], CursorSigner] = default_signer,
) -> Callable[[Request, Callable[[Request], Response]], Response]:
    def middleware(request: Request, get_response: Callable[[Request], Response]) -> Response:
        begin()  # this request's log lines carry only its own correlation ids
        scope = cursor_scope(request)
        params = request.query_params
        token = params.get("cursor") if params is not None else None
        if token:
            try:
                _with_cursor(request, signer().verify(token, scope))
            except CursorRejected as e:
                return error_response(400, "invalid_cursor", str(e), {"field": "cursor"})
        response = get_response(request)
        body: Any = response.body
        if isinstance(body, dict):
            if 200 <= response.status_code < 300 and isinstance(body.get("next_cursor"), str):
                response.body = {**body, "next_cursor": signer().sign(body["next_cursor"], scope)}
            elif set(body) == {"Code", "Message"}:
                code = _CHALICE_CODES.get(response.status_code, "error")
                shaped = error_response(response.status_code, code, str(body["Message"]))
                shaped.headers = {**response.headers, **shaped.headers}
                return shaped
        return response

    return middleware
