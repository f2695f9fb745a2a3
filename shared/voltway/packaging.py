"""``voltway package``: build the Lambda layers into ``build/`` (no Docker, no Python 3.12 needed).

Two layers, the ``ContentUri`` of ``DependenciesLayer`` and ``SharedLayer`` in template.yaml:

- ``build/layers/dependencies/python/``: the runtime dependencies of ``[project].dependencies`` in
  pyproject.toml, installed by pip as manylinux aarch64 wheels for CPython 3.12 (``--platform``
  ``--implementation cp --python-version 3.12 --only-binary=:all:``), honouring constraints.txt. A package
  without such a wheel fails the build: the functions run on arm64 (docs/decisions/lambda-architecture.md).
- ``build/layers/shared/python/voltway/``: the project's library without the dev-only parts (local
  runtime, simulator, CLI, this packager, ``*command.py`` modules).

Both are compiled to ``.pyc`` when the packager itself runs on CPython 3.12 (bytecode is version-specific),
with unchecked-hash invalidation so Lambda uses them although zipping changes the sources' mtimes. Each
layer is rebuilt only when a hash of its inputs changes. Function code stays in ``functions/<name>/``
(the template's ``CodeUri``); the packager checks that each folder holds only its own code.
"""

from __future__ import annotations

import argparse
import compileall
import fnmatch
import hashlib
import json
import py_compile
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

# Bump when the recipe below changes in a way that must invalidate cached builds.
RECIPE_VERSION = "1"

LAMBDA_PYTHON = "3.12"
# Lambda's python3.12 runtime is Amazon Linux 2023 (glibc 2.34): any manylinux tag up to 2_34 runs there.
PLATFORM_TAGS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64", "manylinux_2_34_aarch64")
ELF_MACHINE_AARCH64 = 183

# Distributions installed without their requirements, and why.
NO_DEPS: dict[str, str] = {
    "chalice": (
        "the function imports only chalice.app (standard library); chalice's requirements (click, inquirer, "
        "pip, setuptools, wheel, pyyaml) serve its deployment CLI"
    ),
}
# Distributions the Lambda runtime already provides that we leave out. Empty on purpose: boto3/botocore are
# pinned in the layer (docs/deploy.md says why).
PROVIDED_BY_RUNTIME: dict[str, str] = {}

# The library's dev-only parts: never shipped.
DEV_ONLY_PACKAGES = ("local", "simulator")
# CLI front ends (`command.py`, `*_command.py`) and the local stack's identity/state helpers never run in
# Lambda. (Not `*commands.py`: voltway.ocpp's command domain ships.)
DEV_ONLY_MODULE_PATTERNS = (
    "cli.py",
    "packaging.py",
    "command.py",
    "*_command.py",
    "statedir.py",
    "local_issuer.py",
)
# Bloat stripped from installed distributions: directories anywhere below a top-level package, files by name.
STRIP_DIRS = frozenset({"__pycache__", "tests", "test"})
STRIP_FILE_PATTERNS = ("*.pyi", "*.pyc")
# dist-info files nothing reads at run time (importlib.metadata needs METADATA, entry_points.txt at most).
STRIP_DIST_INFO_FILES = frozenset({"RECORD", "INSTALLER", "REQUESTED", "direct_url.json", "WHEEL"})

Log = Callable[[str], None]


@dataclass(frozen=True)
class LayerReport:
    name: str
    path: str
    unzipped_bytes: int
    zipped_bytes: int
    rebuilt: bool


@dataclass(frozen=True)
class FunctionReport:
    name: str
    code_uri: str
    unzipped_bytes: int
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PackageReport:
    layers: list[LayerReport]
    functions: list[FunctionReport]
    bytecode: bool
    # distribution name (normalised) -> top-level import names, as installed in the dependency layer
    top_level: dict[str, list[str]]
    problems: list[str]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)


class PackagingError(Exception):
    """The layers cannot be built (a missing wheel, a failed pip run, a foreign architecture)."""


# ------------------------------------------------------------------------------------------ inputs


def find_root(start: Path | None = None) -> Path:
    """The repository root: the nearest folder above ``start`` holding template.yaml and pyproject.toml."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "template.yaml").is_file() and (folder / "pyproject.toml").is_file():
            return folder
    return Path(__file__).resolve().parents[2]


def normalise(name: str) -> str:
    """PEP 503 name: ``Aws_Lambda.Powertools`` → ``aws-lambda-powertools``."""
    return "-".join(part for part in name.lower().replace("_", "-").replace(".", "-").split("-") if part)


def requirement_name(requirement: str) -> str:
    for stop in "[<>=!~;@ ":
        requirement = requirement.split(stop, 1)[0]
    return normalise(requirement)


def runtime_requirements(root: Path) -> list[str]:
    """``[project].dependencies`` minus what the Lambda runtime provides (see PROVIDED_BY_RUNTIME)."""
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    return [str(r) for r in project["dependencies"] if requirement_name(str(r)) not in PROVIDED_BY_RUNTIME]


def requirements_text(requirements: Iterable[str]) -> str:
    lines = [
        "# Generated by `voltway package` from pyproject.toml [project].dependencies: do not edit.",
        "# Installed for CPython 3.12 on manylinux aarch64 with -c constraints.txt.",
        *requirements,
    ]
    return "\n".join(lines) + "\n"


class _TemplateLoader(yaml.SafeLoader):
    """YAML loader that keeps CloudFormation short-form tags (``!Ref X`` → ``{"Ref": "X"}``)."""


def _construct_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_TemplateLoader.add_multi_constructor("!", _construct_tag)


def load_template(root: Path) -> dict[str, Any]:
    loaded = yaml.load((root / "template.yaml").read_text(), Loader=_TemplateLoader)
    assert isinstance(loaded, dict)
    return loaded


def function_code_uris(template: dict[str, Any]) -> dict[str, str]:
    default = template.get("Globals", {}).get("Function", {}).get("CodeUri")
    uris = {}
    for name, resource in template.get("Resources", {}).items():
        if resource.get("Type") == "AWS::Serverless::Function":
            uri = resource.get("Properties", {}).get("CodeUri", default)
            if isinstance(uri, str):
                uris[name] = uri
    return uris


# ------------------------------------------------------------------------------------------ helpers


def _hash(parts: Iterable[bytes]) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def _files(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            yield path


def tree_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def zipped_size(folder: Path) -> int:
    """Size of ``folder`` zipped the way ``sam package`` zips a layer (deflate)."""
    with tempfile.TemporaryFile() as handle:
        with zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    archive.write(path, path.relative_to(folder).as_posix())
        return handle.tell()


def can_compile_for_lambda() -> bool:
    """Bytecode is specific to the interpreter version: only a CPython 3.12 packager may write it."""
    return (
        sys.implementation.name == "cpython"
        and f"{sys.version_info[0]}.{sys.version_info[1]}" == LAMBDA_PYTHON
    )


def compile_bytecode(folder: Path) -> None:
    # Unchecked-hash .pyc are used whatever the sources' mtimes (zipping and extraction change them, and
    # /opt is read-only, so a stale timestamp .pyc would be recompiled in memory on every cold start).
    ok = compileall.compile_dir(
        str(folder),
        quiet=2,
        workers=1,
        invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
    )
    if not ok:
        raise PackagingError(f"bytecode compilation failed under {folder}")


def elf_machine(path: Path) -> int | None:
    """The ELF ``e_machine`` of a shared object, or None when it is not a little-endian ELF file."""
    with path.open("rb") as handle:
        header = handle.read(20)
    if len(header) < 20 or header[:4] != b"\x7fELF" or header[5] != 1:
        return None
    return int.from_bytes(header[18:20], "little")


def foreign_extensions(folder: Path) -> list[str]:
    """Compiled extensions that are not aarch64 ELF, or are tagged for another CPython."""
    problems = []
    for path in sorted(folder.rglob("*.so*")):
        relative = path.relative_to(folder).as_posix()
        if elf_machine(path) != ELF_MACHINE_AARCH64:
            problems.append(f"{relative}: not an aarch64 ELF shared object")
        name = path.name
        if ".cpython-" in name and ".cpython-312-aarch64-linux-gnu." not in name:
            problems.append(f"{relative}: built for another interpreter")
    return problems


def _strip(site: Path) -> None:
    for path in sorted(site.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if not path.exists():
            continue
        relative = path.relative_to(site)
        if path.is_dir():
            # tests/ inside a package (never a top-level package of that name), and pip's console scripts
            nested_tests = path.name in STRIP_DIRS and len(relative.parts) > 1
            if nested_tests or path.name == "__pycache__" or relative.as_posix() == "bin":
                shutil.rmtree(path)
        elif any(fnmatch.fnmatch(path.name, p) for p in STRIP_FILE_PATTERNS) or (
            path.parent.name.endswith(".dist-info") and path.name in STRIP_DIST_INFO_FILES
        ):
            path.unlink()


def top_level_names(site: Path) -> dict[str, list[str]]:
    """distribution → top-level import names, from each dist-info's RECORD (read before it is stripped)."""
    mapping: dict[str, list[str]] = {}
    for dist_info in sorted(site.glob("*.dist-info")):
        name = normalise(dist_info.name.removesuffix(".dist-info").rsplit("-", 1)[0])
        record = dist_info / "RECORD"
        names: set[str] = set()
        if record.is_file():
            for line in record.read_text().splitlines():
                first = line.split(",", 1)[0].split("/", 1)
                top = first[0]
                if top.endswith((".dist-info", ".data")) or top in {"..", "bin", "__pycache__"}:
                    continue
                if len(first) == 1:  # a top-level module file: six.py, _cffi_backend.cpython-312-….so
                    if not top.endswith((".py", ".so")):
                        continue
                    top = top.split(".", 1)[0]
                names.add(top)
        mapping[name] = sorted(names)
    return mapping


# ------------------------------------------------------------------------------------------ layers


def _pip(args: list[str], log: Log) -> None:
    command = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--quiet", *args]
    log("  $ pip install " + " ".join(args))
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise PackagingError(f"pip failed ({completed.returncode}):\n{completed.stderr.strip()}")


def build_dependencies(root: Path, target: Path, *, bytecode: bool, log: Log) -> dict[str, list[str]]:
    """Install the runtime dependencies for Lambda into ``target/python``; returns the top-level map."""
    requirements = runtime_requirements(root)
    recipe = root / "layers" / "dependencies" / "requirements.txt"
    text = requirements_text(r for r in requirements if requirement_name(r) not in NO_DEPS)
    if not recipe.is_file() or recipe.read_text() != text:
        recipe.parent.mkdir(parents=True, exist_ok=True)
        recipe.write_text(text)
    platform_args = [arg for tag in PLATFORM_TAGS for arg in ("--platform", tag)]
    common = [
        *platform_args,
        "--implementation",
        "cp",
        "--python-version",
        LAMBDA_PYTHON,
        "--only-binary=:all:",
        "--no-compile",  # pip would compile for *this* interpreter; we compile for 3.12 below, or not at all
        "-c",
        str(root / "constraints.txt"),
    ]
    staging = Path(tempfile.mkdtemp(prefix="dependencies-", dir=target.parent))
    try:
        site = staging / "python"
        _pip([*common, "--target", str(site), "-r", str(recipe)], log)
        no_deps = [r for r in requirements if requirement_name(r) in NO_DEPS]
        if no_deps:
            _pip([*common, "--no-deps", "--target", str(site), *no_deps], log)
        top_level = top_level_names(site)
        _strip(site)
        problems = foreign_extensions(site)
        if problems:
            raise PackagingError("dependency layer is not aarch64/cp312:\n  " + "\n  ".join(problems))
        if bytecode:
            compile_bytecode(site)
        (staging / "top_level.json").write_text(json.dumps(top_level, indent=1, sort_keys=True))
        _replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return top_level


def shipped_library_files(root: Path) -> list[Path]:
    """The library's files that go to Lambda, relative to shared/ (``voltway/...``)."""
    package = root / "shared" / "voltway"
    shipped = []
    for path in _files(package):
        relative = path.relative_to(package)
        if relative.parts[0] in DEV_ONLY_PACKAGES or path.suffix == ".pyc":
            continue
        if any(fnmatch.fnmatch(path.name, p) for p in DEV_ONLY_MODULE_PATTERNS) and path.suffix == ".py":
            continue
        shipped.append(path.relative_to(package.parent))
    return shipped


def build_shared(root: Path, target: Path, *, bytecode: bool) -> None:
    staging = Path(tempfile.mkdtemp(prefix="shared-", dir=target.parent))
    try:
        for relative in shipped_library_files(root):
            destination = staging / "python" / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / "shared" / relative, destination)
        if bytecode:
            compile_bytecode(staging / "python")
        _replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _replace(staging: Path, target: Path) -> None:
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)


def _dependencies_key(root: Path, bytecode: bool) -> str:
    return _hash(
        [
            RECIPE_VERSION.encode(),
            json.dumps(runtime_requirements(root)).encode(),
            (root / "constraints.txt").read_bytes(),
            json.dumps([PLATFORM_TAGS, LAMBDA_PYTHON, sorted(NO_DEPS), sorted(PROVIDED_BY_RUNTIME)]).encode(),
            str(bytecode).encode(),
        ]
    )


def _shared_key(root: Path, bytecode: bool) -> str:
    parts = [RECIPE_VERSION.encode(), str(bytecode).encode()]
    for relative in shipped_library_files(root):
        parts += [relative.as_posix().encode(), (root / "shared" / relative).read_bytes()]
    return _hash(parts)


# ------------------------------------------------------------------------------------------ functions


def check_function(root: Path, name: str, code_uri: str, layer_top_level: set[str]) -> FunctionReport:
    """A function folder holds its handler and its own modules only: no vendored packages, no copy of
    the shared library, no tests (SAM zips the folder as it is)."""
    folder = root / code_uri
    if not folder.is_dir():
        return FunctionReport(name, code_uri, 0, [f"{name}: CodeUri {code_uri} does not exist"])
    problems = []
    for path in sorted(folder.iterdir()):
        if path.name == "__pycache__":
            continue
        if path.is_dir():
            if path.name.endswith((".dist-info", ".egg-info")) or path.name in layer_top_level | {"voltway"}:
                problems.append(f"{name}: {path.name}/ belongs in a layer, not in {code_uri}")
            elif path.name in {"tests", "test"}:
                problems.append(f"{name}: tests belong under tests/, not in {code_uri}")
        elif path.name.startswith("test_") or path.name.endswith("_test.py"):
            problems.append(f"{name}: {path.name} is a test; tests belong under tests/")
        elif path.name == "requirements.txt":
            problems.append(f"{name}: dependencies come from the layer (pyproject.toml), not {path.name}")
    size = sum(p.stat().st_size for p in _files(folder))
    return FunctionReport(name, code_uri, size, problems)


# ------------------------------------------------------------------------------------------ build


def build(
    root: Path,
    build_dir: Path | None = None,
    *,
    force: bool = False,
    bytecode: bool | None = None,
    log: Log | None = None,
) -> PackageReport:
    """Build both layers (each only when its inputs changed) and check the function folders."""
    say: Log = log or (lambda _line: None)
    build_dir = build_dir or root / "build"
    layers_dir = build_dir / "layers"
    cache_dir = build_dir / ".cache"
    layers_dir.mkdir(parents=True, exist_ok=True)
    cache_dir.mkdir(parents=True, exist_ok=True)
    compile_pyc = can_compile_for_lambda() if bytecode is None else bytecode
    if compile_pyc and not can_compile_for_lambda():
        raise PackagingError(f"cannot compile bytecode for python{LAMBDA_PYTHON} on {sys.version.split()[0]}")
    previous = _previous_report(build_dir)

    layers: list[LayerReport] = []
    top_level: dict[str, list[str]] = {}
    builders: list[tuple[str, str, Callable[[Path], None]]] = [
        (
            "dependencies",
            _dependencies_key(root, compile_pyc),
            lambda target: top_level.update(build_dependencies(root, target, bytecode=compile_pyc, log=say)),
        ),
        (
            "shared",
            _shared_key(root, compile_pyc),
            lambda target: build_shared(root, target, bytecode=compile_pyc),
        ),
    ]
    for name, key, builder in builders:
        target = layers_dir / name
        stamp = cache_dir / f"{name}.sha256"
        cached = (
            not force
            and target.is_dir()
            and stamp.is_file()
            and stamp.read_text() == key
            and name in previous.get("layers", {})
        )
        if cached:
            say(f"layer {name}: inputs unchanged, kept {target.relative_to(root)}")
            zipped = int(previous["layers"][name]["zipped_bytes"])
        else:
            say(f"layer {name}: building {target.relative_to(root)}")
            stamp.unlink(missing_ok=True)
            builder(target)
            stamp.write_text(key)
            zipped = zipped_size(target)
        layers.append(LayerReport(name, str(target.relative_to(root)), tree_size(target), zipped, not cached))

    if not top_level:
        top_level = json.loads((layers_dir / "dependencies" / "top_level.json").read_text())
    layer_names = {n for names in top_level.values() for n in names}

    template = load_template(root)
    problems = _layer_uri_problems(template, root, layers_dir)
    functions = [
        check_function(root, n, uri, layer_names) for n, uri in sorted(function_code_uris(template).items())
    ]
    for function in functions:
        problems += function.problems
    report = PackageReport(layers, functions, compile_pyc, top_level, problems)
    (build_dir / "package-report.json").write_text(report.to_json())
    return report


def _previous_report(build_dir: Path) -> dict[str, Any]:
    path = build_dir / "package-report.json"
    try:
        data = json.loads(path.read_text())
        return {"layers": {layer["name"]: layer for layer in data["layers"]}}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _layer_uri_problems(template: dict[str, Any], root: Path, layers_dir: Path) -> list[str]:
    expected = {"DependenciesLayer": layers_dir / "dependencies", "SharedLayer": layers_dir / "shared"}
    problems = []
    for logical_id, folder in expected.items():
        uri = template.get("Resources", {}).get(logical_id, {}).get("Properties", {}).get("ContentUri")
        if not isinstance(uri, str) or (root / uri).resolve() != folder.resolve():
            problems.append(f"{logical_id}: ContentUri {uri!r} is not {folder.relative_to(root)}/")
    return problems


# ------------------------------------------------------------------------------------------ command


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:7.1f} MB" if size >= 100_000 else f"{size / 1_000:7.1f} kB"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", type=Path, default=None, help="repository root (default: found from cwd)")
    parser.add_argument("--build-dir", type=Path, default=None, help="output folder (default: <root>/build)")
    parser.add_argument("--force", action="store_true", help="rebuild even when the inputs are unchanged")
    parser.add_argument(
        "--no-bytecode",
        dest="bytecode",
        action="store_false",
        default=None,
        help="do not ship .pyc (default: compile when this interpreter is CPython 3.12)",
    )


def run(args: argparse.Namespace) -> int:
    def out(line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    root = args.root.resolve() if args.root else find_root()
    try:
        report = build(root, args.build_dir, force=args.force, bytecode=args.bytecode, log=out)
    except PackagingError as error:
        sys.stderr.write(f"voltway package: {error}\n")
        return 1
    if not report.bytecode:
        running = sys.version.split()[0]
        out(f"note: no .pyc shipped (the packager runs on {running}, Lambda on python{LAMBDA_PYTHON})")
    out("")
    out(f"{'artifact':<34}{'unzipped':>12}{'zipped':>12}")
    for layer in report.layers:
        state = "built" if layer.rebuilt else "cached"
        sizes = f"{_megabytes(layer.unzipped_bytes):>12}{_megabytes(layer.zipped_bytes):>12}"
        out(f"{'layer ' + layer.name:<34}{sizes}  {state}")
    layers_total = sum(layer.unzipped_bytes for layer in report.layers)
    for function in report.functions:
        out(f"{'function ' + function.name:<34}{_megabytes(function.unzipped_bytes):>12}")
    largest = max((f.unzipped_bytes for f in report.functions), default=0)
    out(
        f"largest function + layers: {_megabytes(largest + layers_total).strip()} of Lambda's 250 MB unzipped"
    )
    for problem in report.problems:
        out(f"problem: {problem}")
    return 1 if report.problems else 0


if __name__ == "__main__":  # pragma: no cover
    parser = argparse.ArgumentParser(prog="voltway package")
    add_arguments(parser)
    raise SystemExit(run(parser.parse_args()))
