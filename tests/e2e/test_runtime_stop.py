"""``voltway local`` stops within seconds on SIGTERM, even with invocations in flight and queued."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from websockets.sync.client import connect
from websockets.typing import Subprotocol

pytestmark = pytest.mark.e2e

VOLTWAY = Path(sys.executable).parent / "voltway"
FIXTURE_TEMPLATE = Path(__file__).resolve().parents[1] / "fixtures" / "runtime" / "template.yaml"


def _children(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _start_stack(state_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    env = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"}
    ports = ["--http-port", "0", "--ws-port", "0", "--management-port", "0", "--emulator-port", "0"]
    command = [str(VOLTWAY), "local", "--template", str(FIXTURE_TEMPLATE), "--state-dir", str(state_dir)]
    process = subprocess.Popen(
        [*command, "--no-seed", *ports], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    info = state_dir / "local.json"
    deadline = time.monotonic() + 90
    while not info.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            log = process.stderr.read().decode() if process.stderr else ""
            raise AssertionError(f"voltway local did not start: {log}")
        time.sleep(0.2)
    return process, str(json.loads(info.read_text())["charger_ws_url"])


def test_sigterm_with_invocations_in_flight_exits_within_seconds(tmp_path: Path) -> None:
    process, ws_url = _start_stack(tmp_path)
    try:
        with connect(f"{ws_url}/CP-STOP", subprotocols=[Subprotocol("ocpp1.6")], open_timeout=60) as ws:
            # Cap 4 per function: four 60 s invocations in flight (cold starting at first), four queued.
            for _ in range(8):
                ws.send("sleep:60")
            time.sleep(3)
            workers = _children(process.pid)
            assert workers, "no worker processes"
            started = time.monotonic()
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=15)
        elapsed = time.monotonic() - started
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    stderr = process.stderr.read().decode() if process.stderr else ""
    assert elapsed < 8, f"stop took {elapsed:.1f} s\n{stderr[-3000:]}"
    assert process.returncode == 0, stderr[-3000:]
    assert "stopping..." in stderr and "stopped" in stderr
    assert not [pid for pid in workers if _alive(pid)], "worker processes outlived the runtime"
