"""Run every benchmark in this folder in turn: ``python -m bench [name ...]``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    here = Path(__file__).parent
    names = argv or sorted(p.stem for p in here.glob("bench_*.py"))
    failed = 0
    for name in names:
        module = name if name.startswith("bench_") else f"bench_{name}"
        print(f"== {module}", flush=True)
        failed |= subprocess.call([sys.executable, str(here / f"{module}.py")]) != 0
    return int(failed)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
