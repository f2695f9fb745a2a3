"""Our OCPP 1.6 action list equals the ocpp package's, and the charger functions import neither
``ocpp.v16`` nor jsonschema at a cold start (voltway.ocpp.actions says why)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from ocpp.v16.enums import Action as PackageAction

from voltway.ocpp.actions import Action
from voltway.ocpp.schemas import validator_for

REPO = Path(__file__).resolve().parents[2]


def test_the_actions_are_the_packages() -> None:
    assert {a.name: a.value for a in Action} == {a.name: a.value for a in PackageAction}


def test_schemas_are_read_from_the_installed_wheel() -> None:
    validator_for("HeartbeatResponse")({"currentTime": "2026-01-01T00:00:00Z"})


@pytest.mark.parametrize("function", ["ocpp_connect", "ocpp_message", "ocpp_disconnect"])
def test_charger_functions_do_not_import_jsonschema(function: str) -> None:
    probe = (
        "import sys, app; "
        "print(sorted(m for m in ('ocpp.v16', 'jsonschema', 'voltway.exports.aws') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPO / "functions" / function,
        env={"PYTHONPATH": str(REPO / "shared"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert done.stdout.strip() == "[]"
