"""Two local runtimes, each started once per test session: the real template.yaml (``shared_runtime``, for
the product modules), and the fixture template (tests/fixtures/runtime, ``runtime``).

Free ports, a private state dir, short limits (frame limit 1 KB, idle timeout 8 s) and schedules firing
every second keep the mechanisms observable within seconds.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from voltway.local.runtime import LocalRuntime, RuntimeSettings

FIXTURE_TEMPLATE = Path(__file__).resolve().parents[1] / "fixtures" / "runtime" / "template.yaml"
REAL_TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
FRAME_LIMIT = 1024
IDLE_TIMEOUT = 8.0


SHARED = "shared_runtime"


class _Shared:
    """The one real-template runtime of the modules that request ``shared_runtime``."""

    runtime: LocalRuntime | None = None

    @classmethod
    def stop(cls) -> None:
        runtime, cls.runtime = cls.runtime, None
        if runtime is not None:
            runtime.stop()


@pytest.fixture(scope="session")
def shared_runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    """The real template.yaml on one local runtime, shared by the e2e modules that need no special
    settings: started once, its functions warm after the first module (a start and the cold starts cost a
    module ~5-9 s). Each module keeps its own tenant and charger ids.

    Every local runtime in this process serves from moto's process-wide backends under the same resource
    names, so no other runtime and no in-process moto may run beside it (its queue pollers would take
    their messages: seen with the exports module's plan task). Hence its modules run first in the e2e
    tier, it stops right after the last of them (the hooks below), and pyproject's ``testpaths`` run the
    e2e tier after the in-process tiers."""
    settings = RuntimeSettings.for_tests(REAL_TEMPLATE, tmp_path_factory.mktemp("voltway-shared"))
    _Shared.runtime = LocalRuntime(settings)
    _Shared.runtime.start()
    try:
        yield _Shared.runtime
    finally:
        _Shared.stop()


def _uses_shared(item: pytest.Item) -> bool:
    return SHARED in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The shared runtime's tests first among this directory's (stable otherwise)."""
    here = Path(__file__).parent
    in_here = [i for i in items if here in i.path.parents]
    if not in_here:
        return
    first = items.index(in_here[0])
    ordered = sorted(in_here, key=lambda i: not _uses_shared(i))
    rest = [i for i in items[first:] if here not in i.path.parents]
    items[first:] = ordered + rest


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """After the last test on the shared runtime (and its modules' own teardown), stop it."""
    if _Shared.runtime is not None and (nextitem is None or not _uses_shared(nextitem)):
        _Shared.stop()


@pytest.fixture(scope="session")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    settings = RuntimeSettings.for_tests(
        FIXTURE_TEMPLATE,
        tmp_path_factory.mktemp("voltway-state"),
        frame_limit=FRAME_LIMIT,
        idle_timeout=IDLE_TIMEOUT,
        schedule_interval=1.0,
    )
    with LocalRuntime(settings) as rt:
        yield rt


def aws_client(runtime: LocalRuntime, service: str, **kwargs: Any) -> Any:
    return boto3.client(
        service,
        endpoint_url=kwargs.pop("endpoint_url", runtime.aws_endpoint_url),
        region_name="eu-west-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        **kwargs,
    )


class Probes:
    """Reads what the fixture functions reported to ProbeQueue; keeps every probe seen."""

    def __init__(self, runtime: LocalRuntime) -> None:
        assert runtime.provisioned is not None
        self._sqs = aws_client(runtime, "sqs")
        self._url = runtime.provisioned.queues["ProbeQueue"]
        self.seen: list[dict[str, Any]] = []

    def wait_for(
        self, kind: str, predicate: Callable[[Any], bool] = lambda _: True, timeout: float = 15
    ) -> list[Any]:
        """All probes of ``kind`` matching ``predicate``, once there is at least one."""
        deadline = time.monotonic() + timeout
        while True:
            found = [p["payload"] for p in self.seen if p["kind"] == kind and predicate(p["payload"])]
            if found:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"no {kind} probe within {timeout} s")
            self._drain()

    def _drain(self) -> None:
        messages = self._sqs.receive_message(QueueUrl=self._url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in messages.get("Messages", []):
            self.seen.append(json.loads(message["Body"]))
            self._sqs.delete_message(QueueUrl=self._url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture(scope="session")
def probes(runtime: LocalRuntime) -> Probes:
    return Probes(runtime)


@pytest.fixture(scope="session")
def aws(runtime: LocalRuntime) -> Callable[..., Any]:
    """``aws("sqs")``: a boto3 client on the runtime's AWS endpoint (``endpoint_url=`` to override)."""
    return lambda service, **kwargs: aws_client(runtime, service, **kwargs)


@pytest.fixture(scope="session")
def frame_limit() -> int:
    return FRAME_LIMIT
