"""``voltway simulate``: run N simulated OCPP 1.6J chargers x M sessions and print what happened.

Exit status: 0 when every charger connected and finished and every CALL was answered (CALLERRORs count as
answers), 1 otherwise, 2 for bad arguments or a missing local stack.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import secrets
import sys
from pathlib import Path

from pydantic import ValidationError

from voltway.simulator.charger import ChargerSettings, session_id_tag
from voltway.simulator.meter import DEFAULT_MEASURANDS, parse_measurands
from voltway.simulator.registration import operator_token, register_chargers
from voltway.simulator.report import ProgressBar, format_summary
from voltway.simulator.runner import SimulationConfig, run_simulation
from voltway.statedir import LocalInfo, read_local_info

DEFAULT_URL = "ws://127.0.0.1:9000/ocpp"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    target = parser.add_argument_group("target")
    target.add_argument(
        "--url",
        default=None,
        help="OCPP-J endpoint; the charger id is appended (or replaces {chargePointId}). Default: "
        f"charger_ws_url from the running local stack's local.json, else {DEFAULT_URL}",
    )
    target.add_argument("--chargers", type=_positive_int, default=1, metavar="N", help="chargers (default 1)")
    target.add_argument(
        "--sessions", type=_non_negative_int, default=1, metavar="M", help="sessions per charger"
    )
    target.add_argument("--prefix", default="SIM", help="charger id prefix: SIM → SIM0001… (default SIM)")
    target.add_argument("--password", default=None, help="HTTP Basic password for every charger")
    target.add_argument(
        "--passwords-file",
        type=Path,
        default=None,
        help='per-charger passwords: a JSON object {"SIM0001": "pw", …} or lines "SIM0001 pw"',
    )
    target.add_argument(
        "--register",
        action="store_true",
        help="register the chargers first through the operator API (PUT /v1/chargers/{id}); "
        "without a password, random ones are generated",
    )
    target.add_argument("--tenant", default="demo", help="tenant of the operator token for --register")

    charger = parser.add_argument_group("charger behaviour")
    charger.add_argument("--connectors", type=_positive_int, default=2, help="connectors per charger (2)")
    charger.add_argument(
        "--max-power", type=float, default=11_000.0, metavar="W", help="per connector (11000)"
    )
    charger.add_argument("--phases", type=int, choices=(1, 3), default=3)
    charger.add_argument(
        "--meter-samples", type=_non_negative_int, default=3, help="MeterValues per session (3)"
    )
    charger.add_argument(
        "--sample-interval", type=_positive_float, default=10.0, metavar="S", help="seconds (10)"
    )
    charger.add_argument(
        "--measurands",
        type=parse_measurands,
        default=DEFAULT_MEASURANDS,
        help="comma-separated, e.g. Energy.Active.Import.Register,Power.Active.Import,Current.Import,"
        "Voltage,SoC,Temperature,Power.Offered,Current.Offered",
    )
    charger.add_argument("--per-phase", action="store_true", help="Current.Import/Voltage per phase")
    charger.add_argument(
        "--transaction-data", action="store_true", help="send transactionData in StopTransaction"
    )
    charger.add_argument(
        "--heartbeat-interval",
        type=_positive_float,
        default=None,
        metavar="S",
        help="heartbeat faster than the interval the central system returns",
    )
    charger.add_argument("--id-tag", default=None, help="idTag for sessions (default TAG-<charger id>)")

    run = parser.add_argument_group("run")
    run.add_argument("--concurrency", type=_non_negative_int, default=0, help="chargers at once (0 = all)")
    run.add_argument(
        "--duration", type=_non_negative_float, default=0.0, metavar="S", help="stay connected at least S s"
    )
    run.add_argument(
        "--timeout", type=_positive_float, default=300.0, metavar="S", help="abort the run after S s"
    )
    run.add_argument(
        "--response-timeout", type=_positive_float, default=30.0, metavar="S", help="per CALL (30)"
    )
    run.add_argument(
        "--connect-timeout", type=_positive_float, default=10.0, metavar="S", help="per handshake (10)"
    )
    run.add_argument(
        "--connect-attempts",
        type=_positive_int,
        default=4,
        metavar="N",
        help="handshakes tried per charger, with a doubling back-off, before it counts as unreachable (4)",
    )
    run.add_argument("--json", action="store_true", help="print the summary as JSON")
    run.add_argument("--no-progress", action="store_true", help="no progress output on stderr")
    run.add_argument("-v", "--verbose", action="store_true", help="log every frame (the ocpp package's log)")


def run(args: argparse.Namespace) -> int:
    # The ocpp package warns once per CALLERROR; the summary counts them instead of flooding the terminal.
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr)
    if not args.verbose:
        logging.getLogger("ocpp").setLevel(logging.ERROR)
    try:
        config = build_config(args)
    except (OSError, ValueError) as e:
        print(f"voltway simulate: {e}", file=sys.stderr)
        return 2
    if args.register:
        problem = _register(args, config)
        if problem:
            print(f"voltway simulate: {problem}", file=sys.stderr)
            return 1
    elif config.default_password is None and not config.passwords:
        print("voltway simulate: no --password: connecting without HTTP Basic auth", file=sys.stderr)

    progress = None if args.no_progress else ProgressBar(sys.stderr)
    stats = asyncio.run(run_simulation(config, on_tick=progress))
    if progress is not None:
        progress.close(stats)
    summary = stats.summary()
    if args.json:
        print(json.dumps({"url": config.url, **summary}, indent=2))
    else:
        print(format_summary(summary, config.url))
    return 0 if stats.ok() else 1


def build_config(args: argparse.Namespace) -> SimulationConfig:
    """The run's configuration from parsed arguments; ValueError/OSError on bad input."""
    passwords = read_passwords_file(args.passwords_file) if args.passwords_file else {}
    config = SimulationConfig(
        url=args.url or default_url(),
        chargers=args.chargers,
        prefix=args.prefix,
        passwords=passwords,
        default_password=args.password,
        concurrency=args.concurrency,
        duration_s=args.duration,
        timeout_s=args.timeout,
        connect_timeout_s=args.connect_timeout,
        connect_attempts=args.connect_attempts,
        charger=ChargerSettings(
            connectors=args.connectors,
            max_power_w=args.max_power,
            phases=args.phases,
            sessions=args.sessions,
            meter_samples=args.meter_samples,
            sample_interval_s=args.sample_interval,
            measurands=args.measurands,
            per_phase=args.per_phase,
            transaction_data=args.transaction_data,
            heartbeat_interval_s=args.heartbeat_interval,
            id_tag=args.id_tag,
            response_timeout_s=args.response_timeout,
        ),
    )
    if not config.url.startswith(("ws://", "wss://")):
        raise ValueError(f"--url must be a ws:// or wss:// URL, not {config.url!r}")
    if args.register and config.default_password is None:
        # Fresh random passwords (24 characters: within the 16-40 the security whitepaper asks for).
        generated = {cid: secrets.token_urlsafe(18) for cid in config.charger_ids() if cid not in passwords}
        config = SimulationConfig(**{**config.__dict__, "passwords": {**generated, **passwords}})
    return config


def default_url() -> str:
    """The running local stack's charger endpoint, else the fixed local default."""
    info = _local_info()
    return info.charger_ws_url if info else DEFAULT_URL


def _local_info() -> LocalInfo | None:
    try:
        return read_local_info()
    except (FileNotFoundError, ValidationError):
        return None


def read_passwords_file(path: Path) -> dict[str, str]:
    """``{"id": "pw"}`` JSON, or one ``id pw`` / ``id:pw`` / ``id,pw`` per line (``#`` comments)."""
    text = path.read_text()
    if text.lstrip().startswith("{"):
        data = json.loads(text)
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise ValueError(f"{path}: expected a JSON object of charger id → password")
        return {str(k): v for k, v in data.items()}
    passwords: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        for separator in (":", ",", None):
            parts = line.split(separator, 1)
            if len(parts) == 2 and parts[0].strip() and parts[1].strip():
                passwords[parts[0].strip()] = parts[1].strip()
                break
        else:
            raise ValueError(f"{path}:{number}: expected 'charger_id password'")
    return passwords


def _register(args: argparse.Namespace, config: SimulationConfig) -> str | None:
    """Register every charger; a problem description, or None when all were registered."""
    info = _local_info()
    if info is None:
        return "--register needs the running local stack (local.json not found: `make local`)"
    token = operator_token(info, args.tenant)
    wanted = {cid: pw for cid in config.charger_ids() if (pw := config.password_for(cid))}
    tags = {cid: session_id_tag(cid, args.id_tag) for cid in wanted}
    failures = register_chargers(info.http_api_url, token, wanted, tags)
    if not failures:
        if not args.no_progress:
            print(f"registered {len(wanted)} chargers at {info.http_api_url}", file=sys.stderr)
        return None
    shown = "; ".join(f"{cid}: {reason}" for cid, reason in list(failures.items())[:5])
    return f"registering {len(failures)} of {len(wanted)} chargers failed: {shown}"


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value
