"""`voltway package` builds layers Lambda can run: complete, lean, arm64/cp312, within Lambda's limits.

The packager runs once for the module (it needs PyPI, or a warm pip cache; a second run with unchanged
inputs is a cache hit). This machine is x86_64, so the aarch64 extensions in the layer cannot be loaded
here: the import smoke test loads pure-Python modules from the layers and substitutes the interpreter's own
build of the same (constraints-pinned) extension modules.
"""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys
import time
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from voltway import packaging

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024
LAYER_ZIPPED_LIMIT = 50 * 1024 * 1024
# Never in a layer, whatever pulls them in (top-level import names).
DEV_ONLY_TOP_LEVEL = {
    "moto",
    "pytest",
    "_pytest",
    "hypothesis",
    "mypy",
    "ruff",
    "cfnlint",
    "samtranslator",
    "websockets",
    "localstack_client",
    "yaml",
    "pip",
    "setuptools",
    "wheel",
    "click",
    "inquirer",
    "flask",
    "werkzeug",
    "docker",
    "responses",
}


@pytest.fixture(scope="module")
def report() -> packaging.PackageReport:
    return packaging.build(ROOT)


@pytest.fixture(scope="module")
def dependencies_site(report: packaging.PackageReport) -> Path:
    return ROOT / "build" / "layers" / "dependencies" / "python"


@pytest.fixture(scope="module")
def shared_site(report: packaging.PackageReport) -> Path:
    return ROOT / "build" / "layers" / "shared" / "python"


def function_dirs() -> dict[str, Path]:
    uris = packaging.function_code_uris(packaging.load_template(ROOT))
    return {name: ROOT / uri for name, uri in sorted(uris.items())}


# ------------------------------------------------------------------------------------------ imports


def _guarded_by_import_error(node: ast.Try) -> bool:
    for handler in node.handlers:
        names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        if any(isinstance(n, ast.Name) and n.id in {"ImportError", "ModuleNotFoundError"} for n in names):
            return True
    return False


def absolute_imports(source: str) -> Iterator[str]:
    """Dotted module names a module imports, leaving out TYPE_CHECKING blocks and optional imports."""

    def walk(nodes: list[ast.stmt]) -> Iterator[str]:
        for node in nodes:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                yield from walk(node.orelse)
                continue
            if isinstance(node, ast.Try) and _guarded_by_import_error(node):
                continue
            if isinstance(node, ast.Import):
                yield from (alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                yield node.module
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.stmt):
                    yield from walk([child])

    yield from walk(ast.parse(source).body)


def _exists_in(site: Path, dotted: str) -> bool:
    parts = dotted.split(".")
    base = site.joinpath(*parts)
    if base.is_dir() or base.with_suffix(".py").is_file():
        return True
    return any(base.parent.glob(parts[-1] + ".*.so")) or (base.parent / (parts[-1] + ".so")).is_file()


def unresolved_imports(sources: dict[str, Path], search: list[Path]) -> list[str]:
    problems = []
    for label, path in sources.items():
        for dotted in absolute_imports(path.read_text()):
            top = dotted.split(".")[0]
            if top in sys.stdlib_module_names or top == "__future__":
                continue
            # voltway: the exact module must ship (a shipped module importing voltway.local is a bug);
            # third-party: the top-level package must be in a layer.
            wanted = dotted if top == "voltway" else top
            if not any(_exists_in(site, wanted) for site in search):
                problems.append(f"{label}: import {dotted}")
    return problems


def test_function_imports_resolve_in_the_layers(dependencies_site: Path, shared_site: Path) -> None:
    problems = []
    for name, folder in function_dirs().items():
        sources = {f"{name}/{p.name}": p for p in sorted(folder.glob("*.py"))}
        problems += unresolved_imports(sources, [folder, shared_site, dependencies_site])
    assert problems == []


def test_shared_library_imports_resolve_in_the_layers(dependencies_site: Path, shared_site: Path) -> None:
    sources = {p.relative_to(shared_site).as_posix(): p for p in sorted(shared_site.rglob("*.py"))}
    assert "voltway/__init__.py" in sources
    assert unresolved_imports(sources, [shared_site, dependencies_site]) == []


IMPORT_PROBE = r"""
import glob, importlib, importlib.abc, importlib.machinery, json, os, sys
layer_paths, native_site, modules = json.loads(sys.argv[1])

class NativeExtensions(importlib.abc.MetaPathFinder):
    # The layer's aarch64 extensions cannot load on this machine: take this interpreter's build of the
    # same module, found under the same dotted name in the dev environment.
    def find_spec(self, name, path=None, target=None):
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        aarch64 = [p for p in (path or layer_paths) if _has_aarch64(p, name.rpartition('.')[2])]
        if spec is not None and not isinstance(spec.loader, importlib.machinery.ExtensionFileLoader):
            return None
        if spec is None and not aarch64:
            return None
        parent = name.rpartition('.')[0]
        native = [native_site] if not parent else [p.replace(layer, native_site) for p in path
                                                   for layer in layer_paths if p.startswith(layer)]
        return importlib.machinery.PathFinder.find_spec(name, native)

def _has_aarch64(folder, leaf):
    patterns = (leaf + '.*aarch64*.so', leaf + '.abi3.so')
    return any(glob.glob(os.path.join(folder, pattern)) for pattern in patterns)

sys.path[:] = [p for p in sys.path if 'site-packages' not in p] + layer_paths
sys.meta_path.insert(0, NativeExtensions())
outcomes = {}
for name in modules:
    try:
        importlib.import_module(name)
    except ImportError as error:
        outcomes[name] = "ImportError: " + repr(error)
    except Exception as error:
        outcomes[name] = "at import: " + repr(error)
    else:
        outcomes[name] = "ok"
print(json.dumps(outcomes))
"""


def probe_imports(
    search: list[Path], modules: list[str], cwd: Path, extra_env: dict[str, str]
) -> dict[str, str]:
    """Import ``modules`` in a fresh interpreter whose sys.path is ``search`` plus the standard library."""
    native_site = next(p for p in sys.path if p.endswith("site-packages"))
    argument = json.dumps([[str(p) for p in search], native_site, modules])
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "PYTHONDONTWRITEBYTECODE": "1",
        **extra_env,
    }
    completed = subprocess.run(
        [sys.executable, "-I", "-S", "-c", IMPORT_PROBE, argument],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def function_environment(name: str) -> dict[str, str]:
    """The function's environment variable names from the template, with stand-in values."""
    template = packaging.load_template(ROOT)
    variables = dict(
        template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    )
    own = template["Resources"][name].get("Properties", {}).get("Environment", {}).get("Variables", {})
    variables.update(own)
    stand_ins = {"SENDER_EMAIL": "no-reply@example.com", "LOG_LEVEL": "INFO", "STAGE": "dev"}
    return {
        key: value if isinstance(value, str) else stand_ins.get(key, "300")
        for key, value in variables.items()
    }


@pytest.mark.parametrize("name", sorted(function_dirs()))
def test_handler_module_imports_from_the_layers_alone(
    name: str, dependencies_site: Path, shared_site: Path
) -> None:
    """Only the function folder, the two layers and the standard library are on sys.path, as on Lambda:
    catches what the ast check cannot (a dependency's own missing requirement, a --no-deps too far)."""
    folder = function_dirs()[name]
    outcome = probe_imports(
        [folder, shared_site, dependencies_site], ["app"], folder, function_environment(name)
    )
    assert not outcome["app"].startswith("ImportError"), f"{name}: {outcome['app']}"


def test_every_shipped_library_module_imports_from_the_layers(
    dependencies_site: Path, shared_site: Path, tmp_path: Path
) -> None:
    """Lazily imported modules too: each shipped voltway module is imported with the layers alone."""
    modules = sorted(
        ".".join(p.relative_to(shared_site).with_suffix("").parts).removesuffix(".__init__")
        for p in shared_site.rglob("*.py")
    )
    outcomes = probe_imports([shared_site, dependencies_site], modules, tmp_path, {})
    failed = {m: o for m, o in outcomes.items() if o.startswith("ImportError")}
    assert failed == {}


# ------------------------------------------------------------------------------------------ content


def test_nothing_dev_only_in_the_layers(dependencies_site: Path, shared_site: Path) -> None:
    shipped_top_level = {p.name.split(".")[0] for p in dependencies_site.iterdir()}
    assert sorted(shipped_top_level & DEV_ONLY_TOP_LEVEL) == []
    # Every dev-only distribution that is not also a runtime requirement stays out.
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = {packaging.requirement_name(r) for r in pyproject["dependencies"]}
    leaked = []
    for requirement in pyproject["optional-dependencies"]["dev"]:
        dist = packaging.requirement_name(requirement)
        if dist in runtime:
            continue
        try:
            files = importlib.metadata.files(dist) or []
        except importlib.metadata.PackageNotFoundError:
            continue
        tops = {f.parts[0].split(".")[0] for f in files if not f.parts[0].endswith(".dist-info")}
        leaked += [f"{dist}: {t}" for t in tops & shipped_top_level if t not in {"..", "__pycache__", "bin"}]
    assert leaked == []
    voltway = shared_site / "voltway"
    for dev_only in ("local", "simulator", "cli.py", "packaging.py"):
        assert not (voltway / dev_only).exists(), dev_only
    # CLI front ends and the local stack's helpers stay out; the OCPP command domain (commands*.py) ships.
    cli_modules = [
        p.name for p in voltway.rglob("*.py") if p.name == "command.py" or p.name.endswith("_command.py")
    ]
    assert cli_modules == []
    assert not list(voltway.rglob("local_issuer.py")) and not list(voltway.rglob("statedir.py"))
    assert (voltway / "adapters" / "dynamo_commands.py").exists()
    assert [p.name for p in shared_site.iterdir()] == ["voltway"]


def test_dependency_layer_is_lean(dependencies_site: Path) -> None:
    bloat = [
        p.relative_to(dependencies_site).as_posix()
        for p in dependencies_site.rglob("*")
        if (p.is_dir() and p.name in {"tests", "test"} and p.parent != dependencies_site)
        or p.name in {"RECORD", "INSTALLER"}
        or p.suffix == ".pyi"
    ]
    assert bloat == []
    assert not (dependencies_site / "bin").exists()


def test_dependency_layer_extensions_are_aarch64_cp312(dependencies_site: Path) -> None:
    extensions = sorted(dependencies_site.rglob("*.so"))
    assert any(p.name.startswith("_pydantic_core.") for p in extensions), "expected pydantic-core's extension"
    for path in extensions:
        assert packaging.elf_machine(path) == packaging.ELF_MACHINE_AARCH64, path.name
        assert ".abi3." in path.name or ".cpython-312-aarch64-linux-gnu." in path.name, path.name


def test_bytecode_is_for_python_312_and_survives_zipping(
    report: packaging.PackageReport, shared_site: Path
) -> None:
    pyc = sorted((shared_site / "voltway" / "__pycache__").glob("__init__.*.pyc"))
    if not report.bytecode:
        assert pyc == [], "no .pyc may ship when the packager does not run on CPython 3.12"
        pytest.skip(f"packager runs on {sys.version.split()[0]}: no bytecode shipped")
    assert [p.name for p in pyc] == ["__init__.cpython-312.pyc"]
    header = pyc[0].read_bytes()[:8]
    assert header[:4] == importlib.util.MAGIC_NUMBER
    assert int.from_bytes(header[4:8], "little") == 0b01  # hash-based, source not checked


# ------------------------------------------------------------------------------------------ limits


def _zip_size(folder: Path, destination: Path) -> int:
    with zipfile.ZipFile(destination, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    return destination.stat().st_size


def test_sizes_fit_lambda_limits(report: packaging.PackageReport, tmp_path: Path) -> None:
    layers = {layer.name: ROOT / layer.path for layer in report.layers}
    assert set(layers) == {"dependencies", "shared"}
    for name, folder in layers.items():
        zipped = _zip_size(folder, tmp_path / f"{name}.zip")
        assert zipped < LAYER_ZIPPED_LIMIT, f"layer {name}: {zipped} bytes zipped"
    layers_unzipped = sum(packaging.tree_size(folder) for folder in layers.values())
    for name, folder in function_dirs().items():
        total = layers_unzipped + packaging.tree_size(folder)
        assert total < LAMBDA_UNZIPPED_LIMIT, f"{name}: {total} bytes unzipped with its layers"


def test_function_folders_hold_only_their_own_code(report: packaging.PackageReport) -> None:
    assert report.problems == []


def test_unchanged_inputs_are_a_cache_hit(report: packaging.PackageReport) -> None:
    # Back to back, so that a file edited meanwhile (by a parallel session) cannot make it a miss.
    packaging.build(ROOT)
    started = time.monotonic()
    again = packaging.build(ROOT)
    assert [layer.rebuilt for layer in again.layers] == [False, False]
    assert time.monotonic() - started < 5
    assert [layer.unzipped_bytes for layer in again.layers] == [
        packaging.tree_size(ROOT / layer.path) for layer in again.layers
    ]
