"""The local Lambda service: every function runs in its own worker subprocesses.

Why subprocesses: like Lambda, each function gets an isolated environment (its own environment
variables, its own module globals and composition root) and a real cold start; a handler that hangs can
be killed at its Timeout without taking the runtime down. A pool per function grows on demand up to a
concurrency cap and reuses warm workers.
"""

from __future__ import annotations

import contextlib
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
# Lambda's init phase has its own 10 s limit, separate from the function Timeout. A loaded laptop imports
# far slower than a Lambda sandbox (10 chargers booting on 2 cores took >10 s), so locally it is 30 s.
DEFAULT_INIT_TIMEOUT = 30.0
STOP_GRACE = 1.0  # seconds a busy environment gets at stop before it is killed
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
    """The invocation ran past the function's Timeout (or the init phase past the init limit)."""


class ServiceStopped(RuntimeError):
    """The Lambda service is stopping: the invocation was abandoned before it reached a worker."""


class Worker:
    """One execution environment (a ``voltway.local.worker`` process) of one function.

    The process imports the handler first (the init phase) and reports ``{"ready": ...}``; only then
    does it take invocations, so an invocation's Timeout never includes the import.
    """

    def __init__(self, spec: FunctionSpec, env: dict[str, str]) -> None:
        self.spec = spec
        self.invocations = 0
        self.init_ms = 0.0
        self.process = subprocess.Popen(
            [sys.executable, "-m", "voltway.local.worker"],
            cwd=spec.code_uri,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert self.process.stdout is not None
        self._out = self.process.stdout.fileno()
        self._buffer = b""
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._out, selectors.EVENT_READ)
        self._stderr_thread = threading.Thread(
            target=_forward_logs, args=(spec.logical_id, self.process.stderr), daemon=True
        )
        self._stderr_thread.start()

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def wait_ready(self, timeout_s: float) -> dict[str, Any] | None:
        """Wait for the init phase (the handler's import); ``None`` when ready, else the init error.

        Raises :class:`WorkerTimedOut` after ``timeout_s`` and :class:`WorkerDied` if the process exits.
        """
        started = time.perf_counter()
        answer: dict[str, Any] = json.loads(self._read_line(time.monotonic() + timeout_s))
        self.init_ms = (time.perf_counter() - started) * 1000
        if answer.get("ready"):
            return None
        return answer.get("error") or {"errorType": "Runtime.Unknown", "errorMessage": "init failed"}

    def invoke(self, event: Any, request_id: str, timeout_s: float) -> dict[str, Any]:
        self.invocations += 1
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
            stdin.write(json.dumps(request, separators=(",", ":")).encode() + b"\n")
            stdin.flush()
        except (BrokenPipeError, OSError, ValueError) as e:  # ValueError: pipe closed by a concurrent stop
            raise WorkerDied(str(e)) from e
        answer: dict[str, Any] = json.loads(self._read_line(deadline))
        return answer

    def _read_line(self, deadline: float) -> bytes:
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            try:
                if remaining <= 0 or not self._selector.select(remaining):
                    raise WorkerTimedOut()
                chunk = os.read(self._out, 1 << 20)
            except (OSError, ValueError) as e:  # the pipe was closed by a concurrent kill
                raise WorkerDied(str(e)) from e
            if not chunk:
                raise WorkerDied("worker closed its output")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL is not refused
            logger.warning("worker %s did not die", self.process.pid)

    def close_input(self) -> None:
        """Close stdin: an idle worker's loop ends and the process exits on its own."""
        with contextlib.suppress(OSError, ValueError):
            if self.process.stdin is not None:
                self.process.stdin.close()

    def stop(self, grace: float = 2.0) -> None:
        """Close stdin (the worker's loop ends) and wait ``grace`` seconds; kill if it does not go."""
        self.close_input()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=grace)
        self.kill()


def _forward_logs(function: str, stream: IO[bytes] | None) -> None:
    if stream is None:
        return
    for raw in iter(stream.readline, b""):
        line = raw.decode("utf-8", "replace").rstrip()
        if line:
            function_logger.info("[%s] %s", function, line)
    stream.close()


@dataclass
class _InitTicket:
    """What became of an environment an invocation started (``error`` set if its init failed)."""

    error: dict[str, Any] | None = None
    done: bool = False


class _InitFailed(Exception):
    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error.get("errorMessage"))
        self.error = error


class FunctionPool:
    """Execution environments of one function: at most ``max_concurrency`` of them, reused warm.

    Invocations wait (they are not throttled) when every environment is busy and the cap is reached.
    Scale-up is one init at a time, in the background: while an environment is initialising, further
    invocations queue and take whichever environment is free first (a warm one usually finishes long
    before a new import does). Lambda would start them all in parallel on separate machines; on a 2-core
    laptop N imports at once take N times as long each.
    """

    def __init__(
        self,
        spec: FunctionSpec,
        env: dict[str, str],
        max_concurrency: int,
        *,
        init_timeout: float = DEFAULT_INIT_TIMEOUT,
    ) -> None:
        self.spec = spec
        self._env = env
        self._cap = max(1, max_concurrency)
        self._init_timeout = init_timeout
        self._cond = threading.Condition()
        self._idle: list[Worker] = []
        self._all: set[Worker] = set()
        self._initialising = 0
        self._closed = False

    @property
    def concurrency_cap(self) -> int:
        """The most environments (so concurrent invocations) this function gets locally."""
        return self._cap

    # ------------------------------------------------------------------ invoke
    def invoke(self, event: Any) -> InvocationResult:
        """Run one invocation; raises :class:`ServiceStopped` if the service stops before it starts."""
        request_id = str(uuid.uuid4())
        try:
            worker = self._acquire()
        except _InitFailed as failed:
            return self._result(request_id, None, failed.error, time.perf_counter(), True)
        # Cold: the first invocation of an environment (its init ran before, outside the Timeout).
        cold = worker.invocations == 0
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
            if self._closed:
                error = {"errorType": "Runtime.Stopped", "errorMessage": "the local Lambda service stopped"}
            else:
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
        if error is not None and not self._closed:
            logger.warning(
                "%s %s: %s: %s",
                self.spec.logical_id,
                request_id,
                error.get("errorType"),
                error.get("errorMessage"),
            )
        return InvocationResult(self.spec.logical_id, request_id, payload, error, duration, cold)

    def _acquire(self) -> Worker:
        """A warm environment; starts one in the background when none is idle or initialising."""
        ticket: _InitTicket | None = None
        with self._cond:
            while True:
                if self._closed:
                    raise ServiceStopped(f"{self.spec.logical_id}: the Lambda service is stopped")
                while self._idle:
                    worker = self._idle.pop()
                    if worker.alive:
                        return worker
                    self._all.discard(worker)
                if ticket is not None and ticket.error is not None:
                    # The environment this invocation started failed its init: report it, as Lambda does.
                    raise _InitFailed(ticket.error)
                if self._initialising == 0 and len(self._all) < self._cap:
                    ticket = self._start_init_locked()
                self._cond.wait()

    def _start_init_locked(self) -> _InitTicket:
        """Start one environment on a thread; whichever invocation is waiting first gets it."""
        ticket = _InitTicket()
        self._initialising += 1
        thread = threading.Thread(
            target=self._initialise, args=(ticket,), name=f"init-{self.spec.logical_id}", daemon=True
        )
        thread.start()
        return ticket

    def _initialise(self, ticket: _InitTicket) -> None:
        worker: Worker | None = None
        error: dict[str, Any] | None
        try:
            worker = Worker(self.spec, self._env)
            with self._cond:
                self._all.add(worker)
            error = None if self._closed else worker.wait_ready(self._init_timeout)
        except WorkerTimedOut:
            error = {
                "errorType": "Sandbox.Timedout",
                "errorMessage": f"Init phase timed out after {self._init_timeout:.2f} seconds (local init"
                " limit: RuntimeSettings.init_timeout / --init-timeout)",
            }
        except (WorkerDied, OSError) as e:
            error = {"errorType": "Runtime.ExitError", "errorMessage": f"Runtime exited during init: {e}"}
        if error is not None or self._closed:
            # Like Lambda, a failed init is not kept: the next invocation starts a fresh environment.
            if worker is not None:
                worker.kill()
        elif worker is not None:
            logger.debug("%s: environment ready in %.0f ms", self.spec.logical_id, worker.init_ms)
        with self._cond:
            self._initialising -= 1
            if worker is not None and (error is not None or self._closed):
                self._all.discard(worker)
            elif worker is not None:
                self._idle.append(worker)
            ticket.error, ticket.done = error, True
            if error is not None:
                logger.warning(
                    "%s: init failed: %s: %s",
                    self.spec.logical_id,
                    error.get("errorType"),
                    error.get("errorMessage"),
                )
            self._cond.notify_all()

    def _release(self, worker: Worker) -> None:
        with self._cond:
            if not self._closed:
                self._idle.append(worker)
                self._cond.notify()
                return
        worker.stop(grace=0.2)

    def _discard(self, worker: Worker) -> None:
        worker.kill()
        with self._cond:
            self._all.discard(worker)
            self._cond.notify_all()

    # ------------------------------------------------------------------ prewarm / close
    def prewarm(self, *, wait: bool = False) -> None:
        """Start one environment in the background (no-op if one exists or is initialising);
        with ``wait``, return once its init is over."""
        with self._cond:
            if self._closed or self._all or self._initialising:
                return
            ticket = self._start_init_locked()
            while wait and not ticket.done and not self._closed:
                self._cond.wait()

    @property
    def worker_count(self) -> int:
        with self._cond:
            return len(self._all)

    @property
    def busy_count(self) -> int:
        """Environments inside an invocation (not idle, not initialising)."""
        with self._cond:
            return max(0, len(self._all) - len(self._idle) - self._initialising)

    @property
    def idle_count(self) -> int:
        with self._cond:
            return len(self._idle)

    def begin_close(self) -> list[Worker]:
        """Refuse new invocations, wake the waiting ones (they raise :class:`ServiceStopped`) and let
        idle environments exit; returns every environment still running (busy or initialising)."""
        with self._cond:
            self._closed = True
            idle, everything = list(self._idle), list(self._all)
            self._idle = []
            self._cond.notify_all()
        for worker in idle:
            worker.close_input()
        return everything

    def close(self, grace: float = STOP_GRACE) -> None:
        _close_workers(self.begin_close(), grace)


def _close_workers(workers: list[Worker], grace: float) -> None:
    """Give ``workers`` ``grace`` seconds to exit (idle ones do at once), then kill the rest."""
    deadline = time.monotonic() + grace
    for worker in workers:
        with contextlib.suppress(subprocess.TimeoutExpired):
            worker.process.wait(timeout=max(0.0, deadline - time.monotonic()))
    for worker in workers:
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
        init_timeout: float = DEFAULT_INIT_TIMEOUT,
        fake_credentials: bool = True,
    ) -> None:
        self.template = template
        self._pools = {
            logical_id: FunctionPool(
                spec,
                function_environment(spec, aws_endpoint_url, fake_credentials=fake_credentials),
                max_concurrency,
                init_timeout=init_timeout,
            )
            for logical_id, spec in template.functions.items()
        }

    def invoke(self, function: str, event: Any) -> InvocationResult:
        """Invoke ``function`` (logical id) synchronously, as API Gateway and event sources do.

        Raises :class:`ServiceStopped` (a ``RuntimeError``) once :meth:`close` has begun.
        """
        try:
            pool = self._pools[function]
        except KeyError:
            raise KeyError(f"no function {function!r} in {self.template.path}") from None
        return pool.invoke(event)

    def pool(self, function: str) -> FunctionPool:
        return self._pools[function]

    def prewarm(self, functions: list[str] | None = None) -> threading.Thread:
        """Start one environment of each function (or of ``functions``, in that order) in the background,
        one init at a time so they do not slow each other down (invocations do not wait for this)."""
        names = functions if functions is not None else list(self._pools)

        def run() -> None:
            started = time.perf_counter()
            for name in names:
                self._pools[name].prewarm(wait=True)
            logger.info("prewarmed %d functions in %.1f s", len(names), time.perf_counter() - started)

        thread = threading.Thread(target=run, name="prewarm", daemon=True)
        thread.start()
        return thread

    def close(self, grace: float = STOP_GRACE) -> None:
        """Stop within about ``grace`` seconds: waiting invocations raise :class:`ServiceStopped`,
        idle environments exit, busy ones get ``grace`` to finish and are then killed (their
        invocations end with ``Runtime.Stopped``)."""
        workers = [w for pool in self._pools.values() for w in pool.begin_close()]
        _close_workers(workers, grace)
