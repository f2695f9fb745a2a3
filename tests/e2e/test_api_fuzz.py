"""Schema-driven fuzz of the HTTP API from its own OpenAPI document (schemathesis), through the local
runtime on the real template.yaml: every documented operation, as an operator and as a driver, must
never answer 5xx. Bounded: MAX_EXAMPLES per operation and role (~170 requests per role, ~10-20 s each).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.core.result import Ok

from voltway.local.runtime import LocalRuntime, RuntimeSettings

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

TENANT = "e2e-fuzz"
MAX_EXAMPLES = 8
# Operations that wait on a charger's answer (?wait) or start slow work could hold a request for
# seconds; a short timeout keeps the fuzz bounded and still catches 5xx answers.
REQUEST_TIMEOUT = 30


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    state_dir: Path = tmp_path_factory.mktemp("voltway-api-fuzz")
    with LocalRuntime(RuntimeSettings.for_tests(None, state_dir)) as running:
        yield running


def token(runtime: LocalRuntime, role: str) -> str:
    return str(
        runtime.issuer.mint(
            issuer=runtime.jwt_issuer,
            audience=runtime.jwt_audience,
            subject=f"fuzz-{role}",
            tenant=TENANT,
            roles=[role],
            ttl_seconds=900,
        )
    )


@pytest.mark.parametrize("role", ["operator", "driver"])
def test_no_operation_answers_5xx(runtime: LocalRuntime, role: str) -> None:
    schema = schemathesis.openapi.from_url(f"{runtime.http_url}/v1/openapi.json", timeout=30)
    headers = {"Authorization": f"Bearer {token(runtime, role)}"}
    failures: list[str] = []
    calls = 0
    started = time.monotonic()
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"the document has an invalid operation: {result}"
        operation = result.ok()

        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def run(case: Any) -> None:
            nonlocal calls
            calls += 1
            response = case.call(base_url=runtime.http_url, headers=headers, timeout=REQUEST_TIMEOUT)
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} {case.query or ''} -> {response.status_code}: "
                    f"{response.text[:200]}"
                )

        run()
    elapsed = time.monotonic() - started
    print(f"fuzz as {role}: {calls} requests in {elapsed:.1f} s")
    assert calls > 0
    assert failures == [], "\n".join(failures)
