"""Cold start of each function in template.yaml, as the local runtime starts it.

For every function: 5 fresh interpreters with the environment the runtime gives a worker (resolved template
variables, Lambda's own variables, fake credentials; no network is needed to import), measuring
- ``import``: the handler module's import, timed inside the process (Lambda's init phase minus the
  interpreter start), and
- ``process``: spawn -> handler imported -> exit, wall time (what a cold invocation waits for locally);
medians reported. Then ``python -X importtime`` of the ``$default`` function (functions/ocpp_message)
summarised by top-level package (self time), the biggest offenders first.

    .venv/bin/python bench/bench_cold_start.py [--runs 5] [--function OcppMessageFunction]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

if str(SHARED := Path(__file__).resolve().parents[1] / "shared") not in sys.path:
    sys.path.insert(0, str(SHARED))

from voltway.local.lambdas import function_environment
from voltway.local.template import FunctionSpec, load_template

DEFAULT_FUNCTION = "OcppMessageFunction"  # the WebSocket $default route
_PROBE = (
    "import importlib, time\n"
    "t = time.perf_counter()\n"
    "importlib.import_module({module!r})\n"
    "print(time.perf_counter() - t)\n"
)
_IMPORTTIME = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def _module(spec: FunctionSpec) -> str:
    return spec.handler.rpartition(".")[0]


def measure(spec: FunctionSpec, env: dict[str, str], runs: int) -> tuple[float, float]:
    """Median (import seconds, process seconds) over ``runs`` fresh interpreters."""
    imports, processes = [], []
    code = _PROBE.format(module=_module(spec))
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", code],
            cwd=spec.code_uri,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        processes.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise RuntimeError(f"{spec.logical_id}: import failed:\n{done.stderr[-2000:]}")
        imports.append(float(done.stdout.strip().splitlines()[-1]))
    return statistics.median(imports), statistics.median(processes)


def import_offenders(spec: FunctionSpec, env: dict[str, str], top: int) -> list[tuple[str, float]]:
    """Self import time (ms) by top-level package for the handler's module, biggest first."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {_module(spec)}"],
        cwd=spec.code_uri,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    by_package: dict[str, float] = defaultdict(float)
    for line in done.stderr.splitlines():
        match = _IMPORTTIME.match(line)
        if match:
            by_package[match.group(4).split(".")[0]] += int(match.group(1)) / 1000
    return sorted(by_package.items(), key=lambda item: -item[1])[:top]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per function (median)")
    parser.add_argument("--function", default=DEFAULT_FUNCTION, help="function for the -X importtime summary")
    parser.add_argument("--top", type=int, default=12, help="offenders to list")
    args = parser.parse_args(argv)
    template = load_template()
    print(
        f"cold start per function (median of {args.runs} fresh processes, the runtime's worker environment)"
    )
    print(f"  {'function':<26}{'handler':<36}{'import ms':>10}{'process ms':>11}")
    envs = {}
    for logical_id, spec in template.functions.items():
        env = function_environment(spec, "http://127.0.0.1:1")  # nothing is called while importing
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # as deployed: compiled .pyc files are shipped
        envs[logical_id] = env
        handler = f"{spec.code_uri.name}/{spec.handler}"
        try:
            imported, process = measure(spec, env, args.runs)
        except RuntimeError as e:
            print(f"  {logical_id:<26}{handler:<36}  FAILED: {str(e).splitlines()[-1]}")
            continue
        print(f"  {logical_id:<26}{handler:<36}{imported * 1000:>10.0f}{process * 1000:>11.0f}")
    spec = template.functions[args.function]
    total = 0.0
    offenders = import_offenders(spec, envs[args.function], args.top)
    print(f"-X importtime of {spec.code_uri.name}/{_module(spec)} ({args.function}): self time by package")
    print("  (self time includes module-level work such as building clients; -X importtime inflates it)")
    for package, ms in offenders:
        total += ms
        print(f"  {package:<30}{ms:>8.1f} ms")
    print(f"  {'(top ' + str(len(offenders)) + ')':<30}{total:>8.1f} ms")
    return 0


if __name__ == "__main__":
    os.environ.pop("AWS_ENDPOINT_URL", None)
    raise SystemExit(main())
