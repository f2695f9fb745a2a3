"""Warm per-frame cost of the ``$default`` handler's domain path, on one core, without AWS.

The central system (``voltway.ocpp.CentralSystem``) is built as in tests/unit/test_ocpp_central_system.py,
on in-memory adapters, so the figures are the code's own (unpack, validate, dispatch, idempotency, audit,
reply) with no emulator in the way. Then the validation step alone is compared with the ``ocpp``
package's own jsonschema validation of the same payloads: its sync validator (``get_validator``) and its
public, async ``validate_payload`` (which hops to a thread pool).

    .venv/bin/python bench/bench_handler.py [--seconds 1.5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import logging
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if str(SHARED := Path(__file__).resolve().parents[1] / "shared") not in sys.path:
    sys.path.insert(0, str(SHARED))

from voltway.chargers.memory import InMemoryChargerRepository, InMemoryConnectionRegistry
from voltway.chargers.passwords import hash_password
from voltway.ocpp import schemas
from voltway.ocpp.central_system import CentralSystem
from voltway.ocpp.core import CorePolicy, CoreProfile
from voltway.ocpp.dispatch import Dispatcher
from voltway.ocpp.memory import (
    InMemoryChargerConnections,
    InMemoryIdempotencyStore,
    InMemoryMessageAudit,
)

CONN = "conn-bench="
CP = "CP-BENCH"
TENANT = "t1"
TS = "2026-01-02T03:04:05.678Z"


def _meter_values(samples: int) -> dict[str, Any]:
    return {
        "connectorId": 1,
        "transactionId": 1,
        "meterValue": [
            {
                "timestamp": TS,
                "sampledValue": [
                    {
                        "value": str(1_000_000 + i * 50),
                        "measurand": "Energy.Active.Import.Register",
                        "unit": "Wh",
                    },
                    {"value": "11000", "measurand": "Power.Active.Import", "unit": "W"},
                ],
            }
            for i in range(samples)
        ],
    }


PAYLOADS: dict[str, dict[str, Any]] = {
    "Heartbeat": {},
    "StatusNotification": {"connectorId": 1, "errorCode": "NoError", "status": "Available", "timestamp": TS},
    "MeterValues": _meter_values(10),
    "StartTransaction": {"connectorId": 1, "idTag": "TAG1", "meterStart": 1000, "timestamp": TS},
}


def build_system() -> tuple[CentralSystem, str]:
    """The central system on in-memory adapters, with the transaction profile if it exists yet."""
    chargers = InMemoryChargerRepository()
    connections = InMemoryConnectionRegistry()
    dispatcher = Dispatcher()
    CoreProfile(chargers, CorePolicy("pending", 300)).register(dispatcher)
    profile = "core only (StartTransaction/MeterValues not implemented)"
    try:
        from voltway.idtags.memory import InMemoryIdTagRepository
        from voltway.idtags.model import IdTag, IdTagStatus
        from voltway.idtags.service import IdTagService
        from voltway.ocpp.transactions import TransactionProfile
        from voltway.transactions.memory import InMemoryMeterValueStore, InMemoryTransactionRepository
        from voltway.transactions.service import TransactionService

        id_tags = IdTagService(InMemoryIdTagRepository())
        id_tags.put(IdTag(TENANT, "TAG1", IdTagStatus("Accepted")))
        service = TransactionService(InMemoryTransactionRepository(), InMemoryMeterValueStore(), id_tags)
        TransactionProfile(id_tags, service).register(dispatcher)
        profile = "core + transactions"
    except (ImportError, TypeError) as e:  # another helper may still be building the transaction path
        profile += f" [{e}]"
    system = CentralSystem(
        chargers=chargers,
        connections=connections,
        dispatcher=dispatcher,
        idempotency=InMemoryIdempotencyStore(),
        audit=InMemoryMessageAudit(),
        sender=InMemoryChargerConnections(),
    )
    now = datetime.now(UTC)
    chargers.save_registration(
        CP, TENANT, password_hash=hash_password("pw-12345678"), security_profile=1, enabled=True, now=now
    )
    connections.register(CONN, CP, now)
    system.receive(
        CONN, json.dumps([2, "boot", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"}])
    )
    return system, profile


@dataclass
class Figure:
    name: str
    per_second: float
    micros: float
    label: str = ""


def timed(fn: Callable[[int], Any], seconds: float) -> tuple[float, float]:
    """Run ``fn(i)`` for about ``seconds`` (3 rounds, median); returns (calls/s, µs per call)."""
    rates = []
    counter = itertools.count()
    for _ in range(3):
        n = 0
        started = time.perf_counter()
        deadline = started + seconds / 3
        while True:
            for _ in range(50):
                fn(next(counter))
            n += 50
            now = time.perf_counter()
            if now >= deadline:
                break
        rates.append(n / (now - started))
    rate = statistics.median(rates)
    return rate, 1e6 / rate


def outcome_label(reply: str | None) -> str:
    if not reply:
        return "no reply"
    message = json.loads(reply)
    if message[0] == 3:
        return "CALLRESULT"
    return f"CALLERROR {message[2]}"


def bench_frames(system: CentralSystem, seconds: float) -> list[Figure]:
    figures = []
    for action, payload in PAYLOADS.items():
        body = json.dumps(payload)
        prefix = f'[2,"{action[:2]}-'

        def frame(i: int, prefix: str = prefix, action: str = action, body: str = body) -> Any:
            return system.receive(CONN, f'{prefix}{i}","{action}",{body}]')

        label = outcome_label(frame(-1).reply)
        if action == "StartTransaction":
            label += " (same connector and idTag: answered as a retried start)"
        rate, micros = timed(frame, seconds)
        figures.append(Figure(action, rate, micros, label))
    return figures


def bench_validation(seconds: float) -> list[tuple[str, float, float, float]]:
    """(action, voltway µs, ocpp sync validator µs, ocpp async validate_payload µs)."""
    from ocpp.messages import Call, get_validator, validate_payload

    loop = asyncio.new_event_loop()
    rows = []
    for action, payload in PAYLOADS.items():
        ours = schemas.validator_for(action)
        theirs = get_validator(2, action, "1.6")
        call = Call(unique_id="1", action=action, payload=payload)
        assert ours is not None

        def voltway_validate(_: int, action: str = action, payload: dict[str, Any] = payload) -> None:
            schemas.validate(action, payload)

        def ocpp_validate(_: int, validator: Any = theirs, payload: dict[str, Any] = payload) -> None:
            validator.validate(payload)

        def ocpp_public(_: int, call: Any = call) -> None:
            loop.run_until_complete(validate_payload(call, "1.6"))

        _, ours_us = timed(voltway_validate, seconds / 3)
        _, theirs_us = timed(ocpp_validate, seconds / 3)
        _, async_us = timed(ocpp_public, seconds / 3)
        rows.append((action, ours_us, theirs_us, async_us))
    loop.close()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=1.5, help="measuring time per figure")
    args = parser.parse_args(argv)
    logging.getLogger("voltway").setLevel(logging.WARNING)  # the Powertools logger: one line per start
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        system, profile = build_system()
    print(f"$default domain path, warm, one core, in-memory adapters ({profile})")
    print(f"  {'frame':<20}{'frames/s':>10}{'µs/frame':>10}  outcome")
    # Powertools flushes EMF metrics to stdout (CloudWatch Logs on Lambda): still paid, not printed.
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        figures = bench_frames(system, args.seconds)
    for f in figures:
        print(f"  {f.name:<20}{f.per_second:>10.0f}{f.micros:>10.1f}  {f.label}")
    print("validation only (µs/payload): voltway (fastjsonschema) vs the ocpp package (jsonschema)")
    print(f"  {'payload':<20}{'voltway':>9}{'ocpp sync':>11}{'ratio':>7}{'ocpp async':>12}{'ratio':>7}")
    for action, ours, theirs, asynced in bench_validation(args.seconds):
        ratios = f"{theirs:>11.1f}{theirs / ours:>6.0f}x{asynced:>12.1f}{asynced / ours:>6.0f}x"
        print(f"  {action:<20}{ours:>9.1f}{ratios}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
