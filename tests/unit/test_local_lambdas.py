"""The local Lambda service: subprocess workers, warm reuse, timeouts, errors, isolation."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from voltway.local.lambdas import LambdaService
from voltway.local.template import load_template

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "runtime" / "template.yaml"


@pytest.fixture(scope="module")
def service() -> Iterator[LambdaService]:
    svc = LambdaService(load_template(FIXTURE), "http://127.0.0.1:1", max_concurrency=2)
    yield svc
    svc.close()


def test_invocation_gets_event_and_lambda_context(service: LambdaService) -> None:
    first = service.invoke("HttpFunction", {"hello": "world"})
    second = service.invoke("HttpFunction", {"hello": "again"})
    assert first.ok and second.ok
    body = json.loads(first.payload["body"])
    assert body["event"] == {"hello": "world"}
    assert first.payload["headers"]["X-Function"] == "voltway-local-HttpFunction"
    assert 0 < body["remaining_ms"] <= 20000  # the function's Timeout
    assert first.cold_start and not second.cold_start  # the warm worker is reused
    assert first.request_id != second.request_id


def test_unhandled_exception_is_a_lambda_error(service: LambdaService) -> None:
    result = service.invoke("BoomFunction", {})
    assert not result.ok and result.error is not None
    assert result.error["errorType"] == "ValueError"
    assert result.error["errorMessage"] == "boom from the fixture"
    assert any("in boom" in frame for frame in result.error["stackTrace"])
    assert service.invoke("BoomFunction", {}).cold_start is False  # an error does not kill the worker


def test_timeout_kills_the_worker(service: LambdaService) -> None:
    result = service.invoke("SlowFunction", {})
    assert result.error == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": "Task timed out after 1.00 seconds",
    }
    assert 1000 <= result.duration_ms < 3000
    assert service.pool("SlowFunction").worker_count == 0


def test_pool_grows_up_to_the_concurrency_cap(service: LambdaService) -> None:
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=4) as executor:
        results = list(executor.map(lambda _: service.invoke("SlowFunction", {}), range(3)))
    elapsed = time.monotonic() - started
    assert all(r.error and r.error["errorType"] == "Sandbox.Timedout" for r in results)
    # 3 invocations of a 1 s timeout, cap 2: two ran in parallel, the third waited for a slot.
    assert 2.0 <= elapsed < 4.5


def test_unknown_function(service: LambdaService) -> None:
    with pytest.raises(KeyError):
        service.invoke("NoSuchFunction", {})
