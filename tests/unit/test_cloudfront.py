"""The charger endpoint's CloudFront pieces, tested for real.

The viewer-request function (ChargerIdRewriteFunction) is extracted from template.yaml and run under node
with CloudFront-shaped events (the cloudfront-js-2.0 event structure: ``request.uri`` as the viewer sent
it, percent-encoding kept; ``request.querystring`` as ``{name: {value}}``). CloudFront forwards query values
the function writes verbatim, so the function must write a correctly percent-encoded value; API Gateway
decodes it once into ``queryStringParameters.chargePointId``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode.decode import decode_str

ROOT = Path(__file__).resolve().parents[2]
NODE = shutil.which("node")
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST_HEADER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
CLOUDFRONT_FUNCTION_MAX_BYTES = 10 * 1024

# Runs every event through the function in a fresh V8 context (no require, no process: like CloudFront).
RUNNER = r"""
const vm = require('vm');
const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const context = vm.createContext({});
vm.runInContext(input.code, context, { filename: 'ChargerIdRewriteFunction.js' });
const results = input.events.map((event) => {
  try {
    return { ok: context.handler(JSON.parse(JSON.stringify(event))) };
  } catch (e) {
    return { error: String(e) };
  }
});
process.stdout.write(JSON.stringify(results));
"""


def load_template() -> dict[str, Any]:
    template, errors = decode_str((ROOT / "template.yaml").read_text())
    assert not errors and template is not None
    return json.loads(json.dumps(template))  # type: ignore[no-any-return]


def rewrite_function() -> dict[str, Any]:
    resource = load_template()["Resources"]["ChargerIdRewriteFunction"]
    assert resource["Type"] == "AWS::CloudFront::Function"
    return resource["Properties"]  # type: ignore[no-any-return]


def viewer_request(uri: str, querystring: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "version": "1.0",
        "context": {"eventType": "viewer-request", "distributionId": "EDFDVBD6EXAMPLE", "requestId": "r-1"},
        "viewer": {"ip": "198.51.100.7"},
        "request": {
            "method": "GET",
            "uri": uri,
            "querystring": querystring or {},
            "headers": {
                "host": {"value": "d111111abcdef8.cloudfront.net"},
                "upgrade": {"value": "websocket"},
                "connection": {"value": "Upgrade"},
                "sec-websocket-key": {"value": "dGhlIHNhbXBsZSBub25jZQ=="},
                "sec-websocket-version": {"value": "13"},
                "sec-websocket-protocol": {"value": "ocpp1.6"},
                "authorization": {"value": "Basic Q1AwMDE6c2VjcmV0"},
            },
            "cookies": {},
        },
    }


CASES: dict[str, dict[str, Any]] = {
    "plain": viewer_request("/ocpp/CP001"),
    "trailing-slash": viewer_request("/ocpp/CP001/"),
    "nested": viewer_request("/ocpp/site-7/CP001"),
    "encoded-space": viewer_request("/ocpp/CP%20001"),
    "encoded-unicode": viewer_request("/ocpp/%C3%A9CP"),
    "reserved-in-query": viewer_request("/ocpp/A&B=C+D"),
    "encoded-slash": viewer_request("/ocpp/CP%2F001"),
    "malformed-encoding": viewer_request("/ocpp/CP%E0%A4%A"),
    "existing-query": viewer_request("/ocpp/CP001", {"tenant": {"value": "acme"}}),
    "spoofed-id-in-query": viewer_request("/ocpp/CP001", {"chargePointId": {"value": "CP999"}}),
    "root": viewer_request("/"),
    "ocpp-without-id": viewer_request("/ocpp/"),
    "other-path": viewer_request("/admin/CP001"),
    "ocpp-prefix-lookalike": viewer_request("/ocppx/CP001"),
}


@pytest.fixture(scope="module")
def results() -> dict[str, dict[str, Any]]:
    if NODE is None:
        pytest.skip("node is not installed: the CloudFront function cannot be executed here")
    payload = json.dumps({"code": rewrite_function()["FunctionCode"], "events": list(CASES.values())})
    completed = subprocess.run(
        [NODE, "-e", RUNNER], input=payload, capture_output=True, text=True, timeout=30, check=True
    )
    return dict(zip(CASES, json.loads(completed.stdout), strict=True))


def forwarded(result: dict[str, Any]) -> dict[str, Any]:
    assert "ok" in result, result
    request = result["ok"]
    assert "statusCode" not in request, f"expected the request to be forwarded, got {request}"
    return request  # type: ignore[no-any-return]


def charger_id_seen_by_api_gateway(request: dict[str, Any]) -> str:
    """API Gateway percent-decodes the query value CloudFront forwards verbatim."""
    value = request["querystring"]["chargePointId"]["value"]
    # What CloudFront sends must be a valid query component: nothing that splits or ends a parameter.
    assert value.isascii() and not set(value) & set(" &=#+?"), f"unencoded query value {value!r}"
    return urllib.parse.unquote(value)


@pytest.mark.parametrize(
    ("case", "charger_id"),
    [
        ("plain", "CP001"),
        ("trailing-slash", "CP001"),
        ("nested", "CP001"),
        ("encoded-space", "CP 001"),
        ("encoded-unicode", "éCP"),
        ("reserved-in-query", "A&B=C+D"),
        ("encoded-slash", "CP/001"),
    ],
)
def test_charger_id_moves_from_path_to_query(results: dict[str, Any], case: str, charger_id: str) -> None:
    request = forwarded(results[case])
    assert request["uri"] == "/"
    assert charger_id_seen_by_api_gateway(request) == charger_id
    assert request["headers"]["authorization"] == {"value": "Basic Q1AwMDE6c2VjcmV0"}
    assert request["headers"]["sec-websocket-protocol"] == {"value": "ocpp1.6"}


def test_existing_query_string_is_kept(results: dict[str, Any]) -> None:
    request = forwarded(results["existing-query"])
    assert request["querystring"]["tenant"] == {"value": "acme"}
    assert charger_id_seen_by_api_gateway(request) == "CP001"


def test_path_wins_over_a_charger_id_in_the_query(results: dict[str, Any]) -> None:
    assert charger_id_seen_by_api_gateway(forwarded(results["spoofed-id-in-query"])) == "CP001"


@pytest.mark.parametrize("case", ["root", "ocpp-without-id", "other-path", "ocpp-prefix-lookalike"])
def test_non_charger_paths_get_404(results: dict[str, Any], case: str) -> None:
    assert results[case] == {"ok": {"statusCode": 404, "statusDescription": "Not Found"}}


def test_malformed_percent_encoding_gets_400(results: dict[str, Any]) -> None:
    assert results["malformed-encoding"] == {"ok": {"statusCode": 400, "statusDescription": "Bad Request"}}


def test_function_fits_cloudfront_limits() -> None:
    props = rewrite_function()
    assert props["FunctionConfig"]["Runtime"] == "cloudfront-js-2.0"
    assert len(props["FunctionCode"].encode()) <= CLOUDFRONT_FUNCTION_MAX_BYTES
    assert props["AutoPublish"] is True


def test_distribution_forwards_the_handshake_uncached() -> None:
    """WebSocket through CloudFront needs Sec-WebSocket-Key/-Version forwarded; $connect needs Authorization
    and the query string; API Gateway needs its own Host. Managed AllViewerExceptHostHeader does all three
    (a custom policy may not whitelist Authorization), and CachingDisabled keeps every handshake at the
    origin."""
    distribution = load_template()["Resources"]["ChargersDistribution"]["Properties"]["DistributionConfig"]
    behaviour = distribution["DefaultCacheBehavior"]
    assert behaviour["CachePolicyId"] == CACHING_DISABLED
    assert behaviour["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST_HEADER
    assert behaviour["ViewerProtocolPolicy"] == "https-only"
    associations = behaviour["FunctionAssociations"]
    assert associations == [
        {
            "EventType": "viewer-request",
            "FunctionARN": {"Fn::GetAtt": ["ChargerIdRewriteFunction", "FunctionMetadata.FunctionARN"]},
        }
    ]
    (origin,) = distribution["Origins"]
    assert origin["Id"] == behaviour["TargetOriginId"]
    assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    assert origin["OriginPath"] == {"Fn::Sub": "/${Stage}"}
