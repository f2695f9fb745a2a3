"""One Lambda execution environment: ``python -m voltway.local.worker`` (started by the local Lambda service).

The handler ``<module>.<attr>`` named by ``_HANDLER`` is imported once (the init phase, reported as the
first protocol line ``{"ready": true}`` or ``{"ready": false, "error": ...}``); then each line
on stdin is one invocation ``{"request_id", "deadline_ms", "event"}`` and each line written to the
protocol pipe is its answer ``{"ok": true, "result": ...}`` or ``{"ok": false, "error": {errorType,
errorMessage, stackTrace}}``. Function output (``print``, logging) goes to stderr, which the runtime
forwards to its log; the protocol uses a private duplicate of the original stdout so a stray ``print``
cannot corrupt it.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any, TextIO

from voltway.local.template import ACCOUNT_ID, REGION


class LambdaContext:
    """The context object Lambda passes to a Python handler (the attributes handlers and Powertools use)."""

    def __init__(self, request_id: str, deadline_ms: int) -> None:
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.function_name}"
        self.aws_request_id = request_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def error_payload(exc: BaseException, error_type: str | None = None) -> dict[str, Any]:
    """An exception in the shape Lambda reports it (``errorType``, ``errorMessage``, ``stackTrace``)."""
    return {
        "errorType": error_type or type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_list(traceback.extract_tb(exc.__traceback__)),
    }


def load_handler(spec: str) -> Callable[[Any, LambdaContext], Any]:
    module_name, _, attribute = spec.rpartition(".")
    if not module_name:
        raise ValueError(f"Bad handler '{spec}': expected <module>.<function>")
    module = importlib.import_module(module_name)
    handler = getattr(module, attribute)
    if not callable(handler):
        raise TypeError(f"handler {spec} is not callable")
    return handler  # type: ignore[no-any-return]


def _invoke(handler: Callable[[Any, LambdaContext], Any], request: dict[str, Any]) -> str:
    """Run one invocation; returns the answer line (without the newline)."""
    context = LambdaContext(str(request["request_id"]), int(request["deadline_ms"]))
    try:
        result = handler(request["event"], context)
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        return _encode({"ok": False, "error": error_payload(exc)})
    try:
        # Encoded once: what is not JSON-serialisable is Lambda's Runtime.MarshalError.
        encoded = json.dumps(result, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        return _encode({"ok": False, "error": error_payload(exc, "Runtime.MarshalError")})
    return '{"ok":true,"result":' + encoded + "}"


def _encode(answer: dict[str, Any]) -> str:
    return json.dumps(answer, separators=(",", ":"))


def serve(handler_spec: str, requests: TextIO, answers: TextIO) -> None:
    """The init phase (import the handler, then report ``{"ready": ...}``), then one answer per request."""
    handler: Callable[[Any, LambdaContext], Any] | None = None
    init_error: dict[str, Any] | None = None
    try:
        handler = load_handler(handler_spec)
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        init_error = error_payload(exc, "Runtime.ImportModuleError")
    ready = {"ready": True} if init_error is None else {"ready": False, "error": init_error}
    answers.write(_encode(ready) + "\n")
    answers.flush()
    for line in requests:
        if not line.strip():
            continue
        if handler is None:  # not reached from the Lambda service (it discards a failed init)
            answer = _encode({"ok": False, "error": init_error})
        else:
            answer = _invoke(handler, json.loads(line))
        answers.write(answer + "\n")
        answers.flush()
        sys.stderr.flush()


def main() -> None:
    # Keep the protocol on a private copy of stdout; point fd 1 at stderr so prints end up in the logs.
    # Ctrl-C in a terminal reaches the whole process group: the runtime decides when workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    serve(os.environ["_HANDLER"], sys.stdin, protocol)


if __name__ == "__main__":
    main()
