"""The local Lambda service: every function runs in its own worker subprocesses.

Why subprocesses: like Lambda, each function gets an isolated environment (its own environment
variables, its own module globals and composition root) and a real cold start; a handler that hangs can
be killed at its Timeout without taking the runtime down. A pool per function grows on demand up to a
concurrency cap and reuses warm workers.
"""

from __future__ import annotations

import json
import logging
import os
import selectors
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from voltway.local.template import REGION, FunctionSpec, Template

logger = logging.getLogger(__name__)
function_logger = logging.getLogger("voltway.local.functions")

DEFAULT_CONCURRENCY = 4
SHARED_DIR = Path(__file__).resolve().parents[2]  # <repo>/shared: the "shared layer"


@dataclass(frozen=True)
class InvocationResult:
    """The outcome of one invocation: a payload, or a Lambda-shaped error."""

    function: str
    request_id: str
    payload: Any
    error: dict[str, Any] | None
    duration_ms: float
    cold_start: bool

    @property
    def ok(self) -> bool:
        return self.error is None


class WorkerDied(RuntimeError):
    """The worker process exited or closed its protocol pipe."""


class WorkerTimedOut(RuntimeError):
    """The invocation ran past the function's Timeout."""


class Worker:
    """One warm execution environment (a ``voltway.local.worker`` process) of one function."""

    def __init__(self, spec: FunctionSpec, env: dict[str, str]) -> None:
        self.spec = spec
        self.process = subprocess.Popen(
            [sys.executable, "-m", "voltway.local.worker"],
            cwd=spec.code_uri,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self._buffer = b""
        self._stderr_thread = threading.Thread(
            target=_forward_logs, args=(spec.logical_id, self.process.stderr), daemon=True
        )
        self._stderr_thread.start()

    def invoke(self, event: Any, request_id: str, timeout_s: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        request = {
            "request_id": request_id,
            "deadline_ms": int((time.time() + timeout_s) * 1000),
            "event": event,
        }
        stdin = self.process.stdin
        if stdin is None or self.process.poll() is not None:
            raise WorkerDied("worker exited")
        try:
            stdin.write(json.dumps(request).encode() + b"\n")
            stdin.flush()
        except (BrokenPipeError, OSError) as e:
            raise WorkerDied(str(e)) from e
        answer: dict[str, Any] = json.loads(self._read_line(deadline))
        return answer

    def _read_line(self, deadline: float) -> bytes:
        stdout = self.process.stdout
        assert stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(stdout, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not selector.select(remaining):
                    raise WorkerTimedOut()
                chunk = os.read(stdout.fileno(), 65536)
                if not chunk:
                    raise WorkerDied("worker closed its output")
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=5)
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()

    def stop(self) -> None:
        """Close stdin (the worker's loop ends) and wait briefly; kill if it does not go."""
        try:
            if self.process.stdin is not None:
                self.process.stdin.close()
            self.process.wait(timeout=2)
        except (subprocess.TimeoutExpired, OSError):
            pass
        self.kill()


def _forward_logs(function: str, stream: IO[bytes] | None) -> None:
    if stream is None:
        return
    for raw in iter(stream.readline, b""):
        line = raw.decode("utf-8", "replace").rstrip()
        if line:
            function_logger.info("[%s] %s", function, line)
    stream.close()


class FunctionPool:
    """Warm workers of one function; at most ``max_concurrency`` invocations run at once (others wait)."""

    def __init__(self, spec: FunctionSpec, env: dict[str, str], max_concurrency: int) -> None:
        self.spec = spec
        self._env = env
        self._slots = threading.BoundedSemaphore(max_concurrency)
        self._idle: list[Worker] = []
        self._all: set[Worker] = set()
        self._lock = threading.Lock()
        self._closed = False

    def invoke(self, event: Any) -> InvocationResult:
        request_id = str(uuid.uuid4())
        with self._slots:
            worker, cold = self._acquire()
            started = time.perf_counter()
            try:
                answer = worker.invoke(event, request_id, float(self.spec.timeout))
            except WorkerTimedOut:
                self._discard(worker)
                error = {
                    "errorType": "Sandbox.Timedout",
                    "errorMessage": f"Task timed out after {self.spec.timeout:.2f} seconds",
                }
                return self._result(request_id, None, error, started, cold)
            except WorkerDied as e:
                self._discard(worker)
                error = {"errorType": "Runtime.ExitError", "errorMessage": f"Runtime exited: {e}"}
                return self._result(request_id, None, error, started, cold)
            self._release(worker)
        if answer.get("ok"):
            return self._result(request_id, answer.get("result"), None, started, cold)
        return self._result(request_id, None, answer.get("error") or {}, started, cold)

    def _result(
        self, request_id: str, payload: Any, error: dict[str, Any] | None, started: float, cold: bool
    ) -> InvocationResult:
        duration = (time.perf_counter() - started) * 1000
        if error is not None:
            logger.warning(
                "%s %s: %s: %s",
                self.spec.logical_id,
                request_id,
                error.get("errorType"),
                error.get("errorMessage"),
            )
        return InvocationResult(self.spec.logical_id, request_id, payload, error, duration, cold)

    def _acquire(self) -> tuple[Worker, bool]:
        with self._lock:
            if self._closed:
                raise RuntimeError(f"{self.spec.logical_id}: the Lambda service is stopped")
            while self._idle:
                worker = self._idle.pop()
                if worker.process.poll() is None:
                    return worker, False
                self._all.discard(worker)
            worker = Worker(self.spec, self._env)
            self._all.add(worker)
            return worker, True

    def _release(self, worker: Worker) -> None:
        with self._lock:
            if self._closed:
                worker.stop()
            else:
                self._idle.append(worker)

    def _discard(self, worker: Worker) -> None:
        worker.kill()
        with self._lock:
            self._all.discard(worker)

    @property
    def worker_count(self) -> int:
        with self._lock:
            return len(self._all)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, busy = list(self._idle), [w for w in self._all if w not in self._idle]
            self._all, self._idle = set(), []
        for worker in idle:
            worker.stop()
        for worker in busy:
            worker.kill()


def function_environment(
    spec: FunctionSpec, aws_endpoint_url: str | None, *, fake_credentials: bool = True
) -> dict[str, str]:
    """The environment a worker of ``spec`` starts with: the template's variables + Lambda's own."""
    env = dict(spec.environment)
    env.update(
        {
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_LAMBDA_FUNCTION_NAME": spec.function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(spec.timeout),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.function_name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "local",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
            # Powertools (like the AWS SDK) treats AWS_SAM_LOCAL as "local emulation": no X-Ray daemon.
            "AWS_SAM_LOCAL": "true",
            "LAMBDA_TASK_ROOT": str(spec.code_uri),
            "_HANDLER": spec.handler,
            "PYTHONPATH": os.pathsep.join([str(spec.code_uri), str(SHARED_DIR)]),
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "TZ": "UTC",
            "LANG": "en_US.UTF-8",
        }
    )
    if aws_endpoint_url:
        env["AWS_ENDPOINT_URL"] = aws_endpoint_url
    if fake_credentials:
        env.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"})
    else:
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
            if name in os.environ:
                env[name] = os.environ[name]
    return env


class LambdaService:
    """Invokes the template's functions by logical id; thread-safe."""

    def __init__(
        self,
        template: Template,
        aws_endpoint_url: str | None,
        *,
        max_concurrency: int = DEFAULT_CONCURRENCY,
        fake_credentials: bool = True,
    ) -> None:
        self.template = template
        self._pools = {
            logical_id: FunctionPool(
                spec,
                function_environment(spec, aws_endpoint_url, fake_credentials=fake_credentials),
                max_concurrency,
            )
            for logical_id, spec in template.functions.items()
        }

    def invoke(self, function: str, event: Any) -> InvocationResult:
        """Invoke ``function`` (logical id) synchronously, as API Gateway and event sources do."""
        try:
            pool = self._pools[function]
        except KeyError:
            raise KeyError(f"no function {function!r} in {self.template.path}") from None
        return pool.invoke(event)

    def pool(self, function: str) -> FunctionPool:
        return self._pools[function]

    def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
