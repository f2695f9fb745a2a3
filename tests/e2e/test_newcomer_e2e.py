"""What a newcomer does, end to end: the real template.yaml on the local runtime with its demo seed, then
the command-line tools against it as separate processes (`voltway token`, `voltway charger add`,
`voltway simulate`), exactly as the README tells."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from voltway.local import seed as demo_seed
from voltway.local.runtime import LocalRuntime, RuntimeSettings

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRuntime]:
    state_dir: Path = tmp_path_factory.mktemp("voltway-newcomer")
    with LocalRuntime(RuntimeSettings.for_tests(None, state_dir, seed=True)) as runtime:
        yield runtime


def voltway(stack: LocalRuntime, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VOLTWAY_STATE_DIR": str(stack.state_dir)}
    env.pop("AWS_ENDPOINT_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "voltway.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def get(stack: LocalRuntime, path: str, token: str) -> requests.Response:
    return requests.get(f"{stack.http_url}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=30)


def token_for(stack: LocalRuntime, *args: str) -> str:
    result = voltway(stack, "token", *args)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_seeded_chargers_are_visible_with_a_token_from_the_cli(stack: LocalRuntime) -> None:
    operator = token_for(stack, "--role", "operator", "--tenant", "demo")
    response = get(stack, "/v1/chargers", operator)
    assert response.status_code == 200, response.text
    ids = {c["charge_point_id"] for c in response.json()["items"]}
    assert set(demo_seed.DEMO_CHARGERS) <= ids
    # Another tenant sees none of them; a driver may not list chargers; no token at all is 401.
    other = token_for(stack, "--role", "operator", "--tenant", "elsewhere")
    assert not set(demo_seed.DEMO_CHARGERS) & {
        c["charge_point_id"] for c in get(stack, "/v1/chargers", other).json()["items"]
    }
    assert (
        get(stack, "/v1/chargers", token_for(stack, "--role", "driver", "--tenant", "demo")).status_code
        == 403
    )
    assert requests.get(f"{stack.http_url}/v1/chargers", timeout=30).status_code == 401
    tags = {
        tag: get(stack, f"/v1/id-tags/{tag}", operator).json()["status"] for tag in demo_seed.DEMO_ID_TAGS
    }
    assert tags == demo_seed.DEMO_ID_TAGS


def test_seeding_again_changes_nothing(stack: LocalRuntime) -> None:
    first = json.loads((stack.state_dir / demo_seed.DEMO_FILE).read_text())
    again = demo_seed.seed(stack)
    assert again.passwords == first["passwords"]
    assert (stack.state_dir / demo_seed.DEMO_FILE).stat().st_mode & 0o777 == 0o600


def test_charger_add_registers_through_the_api(stack: LocalRuntime) -> None:
    result = voltway(stack, "charger", "add", "CLI-CP1", "--password", "cli-secret-pw", "--tenant", "demo")
    assert result.returncode == 0, result.stderr
    body: dict[str, Any] = json.loads(result.stdout)
    assert body["charge_point_id"] == "CLI-CP1" and "password" not in json.dumps(body)
    operator = token_for(stack, "--role", "operator", "--tenant", "demo")
    assert get(stack, "/v1/chargers/CLI-CP1", operator).status_code == 200
    bad = voltway(stack, "charger", "add", "CLI-CP2", "--password", "short")
    assert bad.returncode == 1 and "HTTP 400" in bad.stderr


def test_simulated_chargers_boot_and_every_call_is_answered(stack: LocalRuntime) -> None:
    result = voltway(
        stack,
        "simulate",
        "--register",
        "--tenant",
        "demo",
        "--chargers",
        "3",
        "--sessions",
        "1",
        "--meter-samples",
        "2",
        "--sample-interval",
        "0.2",
        "--no-progress",
        "--json",
    )
    summary: dict[str, Any] = json.loads(result.stdout)
    assert summary["chargers"]["connected"] == 3, (summary["chargers"], result.stderr[-2000:])
    assert summary["chargers"]["refused"] == 0
    assert summary["calls"]["unanswered"] == 0
    assert summary["sessions"]["completed"] == 3, summary["sessions"]
    assert result.returncode == 0, result.stderr
    operator = token_for(stack, "--role", "operator", "--tenant", "demo")
    charger = get(stack, "/v1/chargers/SIM0001", operator).json()
    assert charger["registration_status"] == "Accepted"
    assert charger["boot"]["vendor"]
    assert {c["connector_id"] for c in charger["connectors"]} >= {0, 1}
    # the seeded tenant default tariff prices the session: its CDR is issued by the queue worker
    deadline = time.monotonic() + 60
    while not (cdrs := get(stack, "/v1/chargers/SIM0001/cdrs", operator).json()["items"]):
        assert time.monotonic() < deadline, "no CDR for the simulated session within 60 s"
        time.sleep(0.5)
    assert cdrs[0]["tariffs"][0]["id"] == demo_seed.DEMO_TARIFF["id"]
    assert float(cdrs[0]["total_cost"]["excl_vat"]) > 0
