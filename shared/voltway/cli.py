"""The ``voltway`` command line: one entry point, one module per subcommand.

Each subcommand module exposes ``add_arguments(parser)`` and ``run(args) -> int``; it is imported only when
its subcommand runs, so ``voltway token`` does not pay for the local runtime's imports.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# subcommand -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "local": ("voltway.local.command", "run the platform locally from template.yaml (no AWS, no Docker)"),
    "simulate": ("voltway.simulator.command", "run simulated OCPP 1.6J chargers against an endpoint"),
    "token": ("voltway.identity.command", "print a JWT for the local stack"),
    "charger": ("voltway.chargers.command", "manage chargers through the operator API"),
    "price": ("voltway.tariffs.command", "price a CDR or charging periods with an OCPI 2.2.1 tariff"),
    "seed": (
        "voltway.archive.command",
        "fill the local stack with synthetic sessions and CDRs (archive + chargers)",
    ),
    "export": (
        "voltway.exports.command",
        "request a finance export through the API and wait for its download URL",
    ),
    "package": ("voltway.packaging", "build the Lambda layers and function artifacts into build/"),
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="voltway", description=__doc__.splitlines()[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # Build only the chosen subcommand's parser: importing all of them would slow every call.
    args_list = list(sys.argv[1:] if argv is None else argv)
    chosen = next((a for a in args_list if not a.startswith("-")), None)
    for name, (module_name, help_text) in COMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            module = importlib.import_module(module_name)
            module.add_arguments(sub_parser)
            sub_parser.set_defaults(run=module.run)
    args = parser.parse_args(args_list)
    return int(args.run(args))


if __name__ == "__main__":
    raise SystemExit(main())
