"""The local Lambda service: subprocess workers, warm reuse, timeouts, errors, isolation."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from voltway.local.lambdas import InvocationResult, LambdaService, ServiceStopped
from voltway.local.runtime import prewarm_order
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
    pool = service.pool("SlowFunction")
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=4) as executor:
        futures = [executor.submit(service.invoke, "SlowFunction", {}) for _ in range(3)]
        most = 0
        while not all(f.done() for f in futures):
            most = max(most, pool.worker_count)
            time.sleep(0.01)
        results = [f.result() for f in futures]
    elapsed = time.monotonic() - started
    assert all(r.error and r.error["errorType"] == "Sandbox.Timedout" for r in results)
    # 3 invocations of a 1 s timeout, cap 2: never more than two environments; the third waited.
    assert most == 2
    assert 2.0 <= elapsed < 15


def test_unknown_function(service: LambdaService) -> None:
    with pytest.raises(KeyError):
        service.invoke("NoSuchFunction", {})


# --------------------------------------------------------------------------- init phase, scale-up, stop


@pytest.fixture()
def fresh() -> Iterator[LambdaService]:
    svc = LambdaService(load_template(FIXTURE), "http://127.0.0.1:1", max_concurrency=4)
    yield svc
    svc.close(grace=0.2)


def test_init_phase_is_not_counted_against_the_timeout(fresh: LambdaService) -> None:
    result = fresh.invoke("SlowInitFunction", {})  # import takes 1.5 s, Timeout is 1 s
    assert result.ok, result.error
    assert result.cold_start
    assert result.payload["init_seconds"] >= 1.5
    assert result.duration_ms < 1000  # the invocation alone
    assert 0 < result.payload["remaining_ms"] <= 1000


def test_init_has_its_own_limit() -> None:
    svc = LambdaService(load_template(FIXTURE), "http://127.0.0.1:1", init_timeout=0.5)
    try:
        result = svc.invoke("SlowInitFunction", {})
        assert result.error is not None and result.error["errorType"] == "Sandbox.Timedout"
        assert "Init phase timed out after 0.50 seconds" in result.error["errorMessage"]
        assert svc.pool("SlowInitFunction").worker_count == 0  # a failed init is not kept
    finally:
        svc.close(grace=0.2)


def test_a_cold_burst_does_not_start_an_interpreter_per_invocation(fresh: LambdaService) -> None:
    with ThreadPoolExecutor(max_workers=6) as executor:
        results = list(executor.map(lambda _: fresh.invoke("SlowInitFunction", {}), range(6)))
    assert all(r.ok for r in results), [r.error for r in results]
    # One environment initialised and served all six (a second one may be initialising by now).
    assert len({r.payload["pid"] for r in results}) == 1
    assert sum(r.cold_start for r in results) == 1
    assert fresh.pool("SlowInitFunction").worker_count <= 2


def test_prewarm_starts_an_environment_in_the_background(fresh: LambdaService) -> None:
    fresh.prewarm(["SlowInitFunction"])
    pool = fresh.pool("SlowInitFunction")
    deadline = time.monotonic() + 20
    while pool.idle_count == 0:
        assert time.monotonic() < deadline, "prewarm did not finish"
        time.sleep(0.05)
    started = time.monotonic()
    result = fresh.invoke("SlowInitFunction", {})
    assert result.ok and time.monotonic() - started < 1.0  # no import on the request path
    assert pool.worker_count == 1


def test_close_abandons_in_flight_and_queued_invocations() -> None:
    svc = LambdaService(load_template(FIXTURE), "http://127.0.0.1:1", max_concurrency=1)
    slow_event = {"body": "sleep:60", "requestContext": {"routeKey": "$default", "connectionId": "x"}}
    outcomes: list[object] = []

    def call() -> None:
        try:
            outcomes.append(svc.invoke("EchoFunction", slow_event))
        except ServiceStopped as e:
            outcomes.append(e)

    threads = [threading.Thread(target=call) for _ in range(3)]
    for thread in threads:
        thread.start()
    pool = svc.pool("EchoFunction")
    deadline = time.monotonic() + 20
    while pool.busy_count == 0:  # the environment is ready and inside the sleep
        assert time.monotonic() < deadline
        time.sleep(0.1)
    started = time.monotonic()
    svc.close(grace=0.5)
    for thread in threads:
        thread.join(timeout=5)
    assert time.monotonic() - started < 3
    assert not any(t.is_alive() for t in threads)
    results = [o for o in outcomes if isinstance(o, InvocationResult)]
    stopped = [o for o in outcomes if isinstance(o, ServiceStopped)]
    assert len(results) == 1 and len(stopped) == 2
    assert results[0].error is not None and results[0].error["errorType"] == "Runtime.Stopped"
    with pytest.raises(ServiceStopped):
        svc.invoke("EchoFunction", slow_event)


def test_prewarm_order_puts_the_charger_routes_first() -> None:
    order = prewarm_order(load_template(FIXTURE))
    assert order[:4] == ["ConnectFunction", "EchoFunction", "DisconnectFunction", "HttpFunction"]
    assert sorted(order) == sorted(load_template(FIXTURE).functions)
