"""What the integration tests share: the real handlers loaded as Lambda would load them, and moto
(in-process) with every resource created from template.yaml and the functions' environments set."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import pytest
from moto import mock_aws

from voltway.local.resources import Provisioned, provision_template

REPO = Path(__file__).resolve().parents[2]
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_REGION": "eu-west-1",
}


def load_handler(function: str) -> ModuleType:
    """``functions/<function>/app.py`` as a fresh module: its composition root runs as at a cold start."""
    spec = importlib.util.spec_from_file_location(f"fn_{function}", REPO / "functions" / function / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def clear_composition_roots() -> None:
    """Forget every cached composition root (``cached_*`` in voltway's roots modules), so each test builds
    them against its own moto and environment — including roots added later."""
    for name, module in list(sys.modules.items()):
        if name.startswith("voltway.") and name.rsplit(".", 1)[-1].startswith("roots"):
            for attribute, value in vars(module).items():
                if attribute.startswith("cached_") and hasattr(value, "cache_clear"):
                    value.cache_clear()


@contextmanager
def moto_stack(
    monkeypatch: pytest.MonkeyPatch, functions: Iterable[str], **overrides: str
) -> Iterator[tuple[Provisioned, dict[str, str]]]:
    """moto with template.yaml's resources; the environment of ``functions`` (plus ``overrides``) set."""
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    for key, value in FAKE_AWS.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        provisioned = provision_template(None, REPO / "template.yaml")
        env: dict[str, str] = {}
        for function in functions:
            env.update(provisioned.function_environment(function))
        env.update(overrides)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        clear_composition_roots()
        try:
            yield provisioned, env
        finally:
            clear_composition_roots()
