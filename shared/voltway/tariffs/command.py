"""``voltway price``: price a CDR (or a bare list of charging periods) with an OCPI 2.2.1 tariff.

    voltway price --tariff TARIFF.json --cdr CDR.json [--timezone Europe/Amsterdam]

Prints the OCPI totals as JSON numbers. The tariff always comes from ``--tariff`` (a CDR's embedded
``tariffs`` are ignored). Restrictions on clock time, weekday and date are evaluated in ``--timezone``,
else in the CDR's time zone when it carries one, else in UTC.
"""

from __future__ import annotations

import argparse
import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any, get_args

from pydantic import TypeAdapter, ValidationError

from voltway.tariffs.engine import SessionPrice, price_session
from voltway.tariffs.errors import TariffError
from voltway.tariffs.models import Cdr, ChargingPeriod, Tariff
from voltway.tariffs.policy import AbsentVat, PricingPolicy, RoundingMode, RoundingScope

_PERIODS = TypeAdapter(list[ChargingPeriod])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tariff", required=True, type=Path, help="OCPI 2.2.1 Tariff JSON file")
    parser.add_argument(
        "--cdr", required=True, type=Path, help="OCPI 2.2.1 CDR JSON file, or a JSON list of charging periods"
    )
    parser.add_argument("--timezone", help="IANA time zone of the location (default: the CDR's, else UTC)")
    defaults = PricingPolicy()
    parser.add_argument("--decimals", type=int, default=defaults.decimals, help="decimals of money figures")
    parser.add_argument("--rounding", choices=get_args(RoundingMode), default=defaults.rounding)
    parser.add_argument("--scope", choices=[s.value for s in RoundingScope], default=defaults.scope.value)
    parser.add_argument(
        "--absent-vat", choices=[v.value for v in AbsentVat], default=defaults.absent_vat.value
    )
    parser.add_argument("--breakdown", action="store_true", help="also print the priced lines")


def _number(value: Decimal) -> float | int:
    # Money has at most 12 decimals here: the float's shortest repr prints the same digits.
    return int(value) if value == value.to_integral_value() else float(value)


def _json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return _number(value)
    if isinstance(value, dict):
        return {k: _json(v) for k, v in value.items()}
    return value


def render(result: SessionPrice, *, breakdown: bool = False) -> dict[str, Any]:
    """The JSON document ``voltway price`` prints."""
    out: dict[str, Any] = {"currency": result.currency, **_json(result.totals())}
    out["min_price_applied"] = result.min_price_applied
    out["max_price_applied"] = result.max_price_applied
    if breakdown:
        out["lines"] = [
            {
                "category": line.category.value,
                "dimension": line.dimension.value,
                "element_index": line.element_index,
                "price": _number(line.price),
                "vat": None if line.vat is None else _number(line.vat),
                "step_size": line.step_size,
                "quantity": _number(line.quantity),
                "cost": _json({"excl_vat": line.cost.excl_vat, "incl_vat": line.cost.incl_vat}),
            }
            for line in result.lines
        ]
    return out


def run(args: argparse.Namespace) -> int:
    try:
        tariff = Tariff.model_validate_json(Path(args.tariff).read_text())
        raw = json.loads(Path(args.cdr).read_text())
        if isinstance(raw, list):
            periods = _PERIODS.validate_python(raw)
            end = None
            zone = args.timezone or "UTC"
        else:
            cdr = Cdr.model_validate(raw)
            periods, end = cdr.charging_periods, cdr.end_date_time
            zone = args.timezone or cdr.time_zone or "UTC"
        policy = PricingPolicy(
            decimals=args.decimals,
            rounding=args.rounding,
            scope=RoundingScope(args.scope),
            absent_vat=AbsentVat(args.absent_vat),
        )
        result = price_session(tariff, periods, timezone=zone, end=end, policy=policy)
    except (OSError, json.JSONDecodeError, ValidationError, TariffError) as e:
        print(f"voltway price: {e}", file=sys.stderr)
        return 2
    print(json.dumps(render(result, breakdown=args.breakdown), indent=2))
    return 0
