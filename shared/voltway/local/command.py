"""``voltway local``: run the whole platform from template.yaml (no AWS account, no Docker)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from voltway.local.lambdas import DEFAULT_CONCURRENCY, DEFAULT_INIT_TIMEOUT
from voltway.local.runtime import LocalRuntime, RuntimeSettings
from voltway.local.websocket_gateway import DEFAULT_FRAME_LIMIT, DEFAULT_IDLE_TIMEOUT

LOG_FORMAT = "%(asctime)s %(message)s"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--template", type=Path, default=None, help="SAM template (default: template.yaml)")
    parser.add_argument("--http-port", type=int, default=8000, help="HTTP API port (default 8000)")
    parser.add_argument("--ws-port", type=int, default=9000, help="charger WebSocket port (default 9000)")
    parser.add_argument(
        "--management-port", type=int, default=9001, help="@connections management API port (default 9001)"
    )
    parser.add_argument(
        "--emulator-port", type=int, default=5000, help="embedded moto server port (default 5000)"
    )
    parser.add_argument(
        "--frame-limit", type=int, default=DEFAULT_FRAME_LIMIT, help="WebSocket frame limit in bytes"
    )
    parser.add_argument(
        "--idle-timeout", type=float, default=DEFAULT_IDLE_TIMEOUT, help="WebSocket idle timeout in seconds"
    )
    parser.add_argument(
        "--state-dir", type=Path, default=None, help="default: $VOLTWAY_STATE_DIR or .voltway/"
    )
    parser.add_argument(
        "--schedule-scale",
        type=float,
        default=1.0,
        help="multiply rate() intervals (1/60: minutes->s)",
    )
    parser.add_argument(
        "--max-concurrency",
        type=int,
        default=DEFAULT_CONCURRENCY,
        help=f"execution environments per function (default {DEFAULT_CONCURRENCY})",
    )
    parser.add_argument(
        "--init-timeout",
        type=float,
        default=DEFAULT_INIT_TIMEOUT,
        help="init phase (handler import) limit in seconds, separate from Timeout"
        f" (default {DEFAULT_INIT_TIMEOUT:g}; Lambda: 10)",
    )
    parser.add_argument(
        "--no-prewarm", action="store_true", help="do not start one environment per function at startup"
    )
    parser.add_argument("--no-seed", action="store_true", help="do not run voltway.local.seed")
    parser.add_argument("--verbose", "-v", action="store_true", help="debug logging")


STOP_DEADLINE = 20.0  # seconds; stop() is bounded well below this, the watchdog is the last resort


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _force_exit(signum: int, frame: FrameType | None) -> None:
    print("voltway local: second signal, exiting now", file=sys.stderr, flush=True)
    os._exit(130)


def _stopping() -> bool:
    """From the first Ctrl-C/SIGTERM on: a second one exits at once; a stop that hangs is cut short."""
    signal.signal(signal.SIGINT, _force_exit)
    signal.signal(signal.SIGTERM, _force_exit)

    def watchdog() -> None:
        print(f"voltway local: stop took over {STOP_DEADLINE:g} s, exiting", file=sys.stderr, flush=True)
        os._exit(1)

    timer = threading.Timer(STOP_DEADLINE, watchdog)
    timer.daemon = True
    timer.start()
    return True


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format=LOG_FORMAT)
    for noisy in ("botocore", "boto3", "urllib3", "websockets", "werkzeug"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    settings = RuntimeSettings(
        template_path=args.template,
        state_dir=args.state_dir,
        http_port=args.http_port,
        ws_port=args.ws_port,
        management_port=args.management_port,
        emulator_port=args.emulator_port,
        frame_limit=args.frame_limit,
        idle_timeout=args.idle_timeout,
        schedule_scale=args.schedule_scale,
        max_concurrency=args.max_concurrency,
        init_timeout=args.init_timeout,
        prewarm=not args.no_prewarm,
        seed=not args.no_seed,
    )
    signal.signal(signal.SIGTERM, _raise_interrupt)
    runtime = LocalRuntime(settings)
    stopping = False
    try:
        runtime.start()
        print(runtime.banner(), flush=True)
        threading.Event().wait()
    except KeyboardInterrupt:
        stopping = _stopping()
        print("\nstopping... (Ctrl-C again to exit at once)", file=sys.stderr, flush=True)
    except OSError as e:
        stopping = _stopping()
        print(f"voltway local: {e} (is another stack running? see --*-port)", file=sys.stderr)
        return 1
    finally:
        if not stopping:
            _stopping()
        runtime.stop()
    print("stopped", file=sys.stderr, flush=True)
    return 0
