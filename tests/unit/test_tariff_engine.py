"""Tariff engine semantics beyond the spec's worked examples: time zones and DST, windows across midnight,
weekday/date restrictions, kWh/duration/power thresholds inside a period, FLAT, VAT and rounding policies,
input errors, and the ``voltway price`` command."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from voltway.tariffs import (
    AbsentVat,
    ChargingPeriod,
    PricingPolicy,
    RoundingScope,
    SessionInputError,
    SessionPrice,
    Tariff,
    UnknownTimeZoneError,
    command,
    compile_tariff,
    price_session,
)

SPECS = Path(__file__).resolve().parents[2].parent / "shared" / "specs" / "ocpi-2.2.1" / "examples"


def tariff(*elements: dict[str, Any], **extra: Any) -> Tariff:
    return Tariff.model_validate(
        {
            "country_code": "NL",
            "party_id": "VWY",
            "id": "T1",
            "currency": "EUR",
            "elements": list(elements),
            **extra,
        }
    )


def el(*components: dict[str, Any], **restrictions: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"price_components": list(components)}
    if restrictions:
        out["restrictions"] = restrictions
    return out


def pc(kind: str, price: str, step: int = 1, vat: float | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": kind, "price": price, "step_size": step}
    if vat is not None:
        out["vat"] = vat
    return out


def period(start: str, **dims: Any) -> ChargingPeriod:
    return ChargingPeriod.model_validate(
        {"start_date_time": start, "dimensions": [{"type": k, "volume": v} for k, v in dims.items()]}
    )


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def excl(result: SessionPrice) -> Decimal:
    return result.total_cost.excl_vat


NIGHT_TIME = tariff(el(pc("TIME", "2"), start_time="22:00", end_time="06:00"), el(pc("TIME", "1")))


# ------------------------------------------------------------------------------------ clock and calendar


def test_window_across_midnight() -> None:
    result = price_session(
        NIGHT_TIME, [period("2024-01-08T21:00:00Z", TIME=2)], end=at("2024-01-08T23:00:00Z")
    )
    assert excl(result) == Decimal(3)  # 21-22 at 1, 22-23 at 2
    morning = price_session(
        NIGHT_TIME, [period("2024-01-09T05:00:00Z", TIME=2)], end=at("2024-01-09T07:00:00Z")
    )
    assert excl(morning) == Decimal(3)


def test_clock_restrictions_are_local_time() -> None:
    periods = [period("2024-01-08T20:00:00Z", TIME=2)]  # 21:00-23:00 in Amsterdam (CET, +1)
    utc = price_session(NIGHT_TIME, periods, end=at("2024-01-08T22:00:00Z"))
    local = price_session(NIGHT_TIME, periods, timezone="Europe/Amsterdam", end=at("2024-01-08T22:00:00Z"))
    assert (excl(utc), excl(local)) == (Decimal(2), Decimal(3))


def test_end_time_midnight_means_end_of_day() -> None:
    t = tariff(el(pc("TIME", "3"), start_time="20:00", end_time="00:00"), el(pc("TIME", "1")))
    result = price_session(t, [period("2024-01-08T23:00:00Z", TIME=2)], end=at("2024-01-09T01:00:00Z"))
    assert excl(result) == Decimal(4)


def test_dst_spring_forward_gap() -> None:
    # 2024-03-31 in Amsterdam: 02:00 CET jumps to 03:00 CEST. 02:30-05:00 never starts at 02:30: it is
    # active from the transition (01:00Z = 03:00 local).
    t = tariff(el(pc("TIME", "2"), start_time="02:30", end_time="05:00"), el(pc("TIME", "1")))
    result = price_session(
        t,
        [period("2024-03-31T00:00:00Z", TIME=2)],
        timezone="Europe/Amsterdam",
        end=at("2024-03-31T02:00:00Z"),
    )
    assert excl(result) == Decimal(3)  # 01:00-02:00 CET at 1, 03:00-04:00 CEST at 2


def test_dst_fall_back_repeats_the_local_hour() -> None:
    # 2024-10-27: 03:00 CEST goes back to 02:00 CET, so 02:00-03:00 local happens twice (2 real hours).
    t = tariff(el(pc("TIME", "2"), start_time="02:00", end_time="03:00"), el(pc("TIME", "1")))
    result = price_session(
        t,
        [period("2024-10-27T00:00:00Z", TIME=2)],
        timezone="Europe/Amsterdam",
        end=at("2024-10-27T02:00:00Z"),
    )
    assert excl(result) == Decimal(4)


def test_day_of_week_flips_at_local_midnight() -> None:
    t = tariff(el(pc("TIME", "0"), day_of_week=["SUNDAY"]), el(pc("TIME", "1")))
    # Saturday 23:00 -> Sunday 01:00 local (Amsterdam, +1)
    result = price_session(
        t,
        [period("2024-01-13T22:00:00Z", TIME=2)],
        timezone="Europe/Amsterdam",
        end=at("2024-01-14T00:00:00Z"),
    )
    assert excl(result) == Decimal(1)


def test_dates_start_inclusive_end_exclusive() -> None:
    t = tariff(el(pc("TIME", "5"), start_date="2024-01-09", end_date="2024-01-10"), el(pc("TIME", "1")))
    result = price_session(t, [period("2024-01-08T23:00:00Z", TIME=26)], end=at("2024-01-10T01:00:00Z"))
    assert excl(result) == Decimal(1 + 5 * 24 + 1)


# --------------------------------------------------------------------------------- accumulated thresholds


def test_kwh_threshold_inside_one_period() -> None:
    t = tariff(el(pc("ENERGY", "0.10"), max_kwh=10), el(pc("ENERGY", "0.30")))
    result = price_session(t, [period("2024-01-08T10:00:00Z", ENERGY=15, TIME=1)])
    assert excl(result) == Decimal("2.5")  # 10 kWh at 0.10 + 5 at 0.30


def test_min_kwh_counts_energy_of_earlier_periods() -> None:
    t = tariff(el(pc("ENERGY", "0.10"), min_kwh=10), el(pc("ENERGY", "0.30")))
    result = price_session(
        t,
        [period("2024-01-08T10:00:00Z", ENERGY=8, TIME=1), period("2024-01-08T11:00:00Z", ENERGY=4, TIME=1)],
    )
    assert excl(result) == Decimal("3.2")  # 10 at 0.30, 2 at 0.10


def test_min_duration_splits_time() -> None:
    t = tariff(el(pc("TIME", "6"), min_duration=3600), el(pc("TIME", "1")))
    result = price_session(t, [period("2024-01-08T10:00:00Z", TIME=2)])
    assert excl(result) == Decimal(7)


def test_power_restriction_uses_max_reading_for_max_power() -> None:
    t = tariff(el(pc("ENERGY", "0.20"), max_power=16), el(pc("ENERGY", "0.50")))
    low = price_session(t, [period("2024-01-08T10:00:00Z", ENERGY=10, TIME=1, MIN_POWER=5, MAX_POWER=12)])
    spiky = price_session(t, [period("2024-01-08T10:00:00Z", ENERGY=10, TIME=1, MIN_POWER=5, MAX_POWER=16)])
    unknown = price_session(t, [period("2024-01-08T10:00:00Z", ENERGY=10, TIME=1)])
    assert (excl(low), excl(spiky), excl(unknown)) == (Decimal(2), Decimal(5), Decimal(5))


# ------------------------------------------------------------------------------------------------ FLAT


def test_flat_once_per_session_from_first_matching_moment() -> None:
    t = tariff(el(pc("FLAT", "1")), el(pc("FLAT", "9"), start_time="12:00"), el(pc("ENERGY", "0")))
    periods = [period(f"2024-01-08T1{h}:00:00Z", ENERGY=1, TIME=1) for h in range(4)]
    assert excl(price_session(t, periods)) == Decimal(1)
    late = tariff(el(pc("FLAT", "9"), start_time="12:00"), el(pc("ENERGY", "0")))
    assert excl(price_session(late, periods)) == Decimal(9)  # matches from 12:00 on, billed once


# ------------------------------------------------------------------------------------- VAT and rounding


def test_absent_vat_policies() -> None:
    t = tariff(el(pc("ENERGY", "0.25"), pc("FLAT", "1", vat=21)))
    periods = [period("2024-01-08T10:00:00Z", ENERGY=10, TIME=1)]
    default = price_session(t, periods)
    assert default.total_cost.incl_vat == Decimal("3.71")  # 2.50 + 1.21
    unknown = price_session(t, periods, policy=PricingPolicy(absent_vat=AbsentVat.UNKNOWN))
    assert unknown.total_cost.incl_vat is None
    assert unknown.total_energy_cost.incl_vat is None
    assert unknown.total_fixed_cost.incl_vat == Decimal("1.21")


def test_zero_vat_is_not_absent_vat() -> None:
    t = tariff(el(pc("ENERGY", "0.25", vat=0)))
    result = price_session(
        t,
        [period("2024-01-08T10:00:00Z", ENERGY=10, TIME=1)],
        policy=PricingPolicy(absent_vat=AbsentVat.UNKNOWN),
    )
    assert result.total_cost.incl_vat == Decimal("2.5")


def test_min_price_without_incl_vat_leaves_incl_unknown() -> None:
    t = tariff(el(pc("ENERGY", "0.25", vat=10)), min_price={"excl_vat": 1})
    result = price_session(t, [period("2024-01-08T10:00:00Z", ENERGY=1, TIME=1)])
    assert result.total_cost.excl_vat == Decimal(1)
    assert result.total_cost.incl_vat is None
    assert result.min_price_applied


def test_rounding_scopes_on_the_complex_tariff() -> None:
    t4 = Tariff.model_validate_json((SPECS / "tariff_4_complex.json").read_text())
    periods = [
        period("2024-01-08T09:30:00Z", TIME=Decimal(165) / 60, MAX_CURRENT=16),
        period("2024-01-08T12:15:00Z", PARKING_TIME=Decimal(42) / 60),
    ]
    end = at("2024-01-08T12:57:00Z")
    totals = price_session(t4, periods, end=end, policy=PricingPolicy(decimals=2))
    parts = price_session(
        t4, periods, end=end, policy=PricingPolicy(decimals=2, scope=RoundingScope.COMPONENT)
    )
    assert totals.total_cost.incl_vat == Decimal("10.30")  # 2.875 + 3.30 + 4.125, rounded once
    assert parts.total_cost.incl_vat == Decimal("10.31")  # 2.88 + 3.30 + 4.13
    even = price_session(t4, periods, end=end, policy=PricingPolicy(decimals=2, rounding="ROUND_HALF_EVEN"))
    assert even.total_fixed_cost.incl_vat == Decimal("2.88")
    assert even.total_parking_cost.incl_vat == Decimal("4.12")


# ------------------------------------------------------------------------------------------ input shape


def test_periods_without_time_dimensions_use_wall_clock() -> None:
    t = tariff(el(pc("TIME", "1"), pc("PARKING_TIME", "4")))
    periods = [period("2024-01-08T10:00:00Z", ENERGY=10), period("2024-01-08T11:00:00Z", ENERGY=0)]
    result = price_session(t, periods, end=at("2024-01-08T11:30:00Z"))
    assert excl(result) == Decimal(3)
    assert (result.total_time, result.total_parking_time) == (Decimal("1.5"), Decimal("0.5"))


def test_without_end_the_last_period_lasts_its_time_dimensions() -> None:
    t = tariff(el(pc("TIME", "1"), pc("PARKING_TIME", "4")))
    result = price_session(t, [period("2024-01-08T10:00:00Z", TIME="0.5", PARKING_TIME="0.25")])
    assert excl(result) == Decimal("1.5")


def test_reservation_expiry_can_be_stated() -> None:
    t = Tariff.model_validate_json((SPECS / "tariff_17_reservation_with_expire_fee.json").read_text())
    periods = [period("2024-01-08T10:00:00Z", RESERVATION_TIME=1)]
    assert excl(price_session(t, periods)) == Decimal(6)  # inferred expired: 4.00 fee + 2.00
    assert excl(price_session(t, periods, reservation_expired=False)) == Decimal(2)


def test_compiled_tariff_gives_the_same_result() -> None:
    periods = [period("2024-01-08T21:00:00Z", TIME=2)]
    assert price_session(compile_tariff(NIGHT_TIME), periods) == price_session(NIGHT_TIME, periods)


@pytest.mark.parametrize(
    ("periods", "end"),
    [
        ([period("2024-01-08T11:00:00Z", TIME=1), period("2024-01-08T10:00:00Z", TIME=1)], None),
        ([period("2024-01-08T11:00:00Z", TIME=1)], at("2024-01-08T10:00:00Z")),
        ([period("2024-01-08T11:00:00Z", ENERGY=-1, TIME=1)], None),
        ([], None),
    ],
)
def test_unpriceable_sessions_raise_a_typed_error(
    periods: list[ChargingPeriod], end: datetime | None
) -> None:
    with pytest.raises(SessionInputError):
        price_session(NIGHT_TIME, periods, end=end)


def test_unknown_time_zone() -> None:
    with pytest.raises(UnknownTimeZoneError):
        price_session(NIGHT_TIME, [period("2024-01-08T11:00:00Z", TIME=1)], timezone="Mars/Olympus")


@pytest.mark.parametrize(
    "bad",
    [
        el(pc("ENERGY", "1"), reservation="RESERVATION"),  # reservation elements price FLAT and TIME only
        el(pc("TIME", "1"), start_time="24:00"),
        el(pc("TIME", "-1")),
        el(pc("TIME", "1"), start_date="2024-13-01"),
    ],
)
def test_invalid_tariffs_are_rejected(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        tariff(bad)


# --------------------------------------------------------------------------------------------------- CLI


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    return command.run(parser.parse_args(list(argv)))


def test_cli_prices_the_spec_cdr(capsys: pytest.CaptureFixture[str]) -> None:
    cdr = SPECS / "cdr_example.json"
    tariff_file = SPECS / "tariff_put_example.json"  # same tariff as the CDR's (TIME 2.00/h, 5-min steps)
    assert run_cli("--tariff", str(tariff_file), "--cdr", str(cdr)) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["total_cost"] == {"excl_vat": 4, "incl_vat": 4.4}
    assert out["total_time"] == 1.973


def test_cli_accepts_a_list_of_periods_and_a_time_zone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "t.json").write_text(NIGHT_TIME.model_dump_json())
    periods = [{"start_date_time": "2024-01-08T20:00:00Z", "dimensions": [{"type": "TIME", "volume": 2}]}]
    (tmp_path / "p.json").write_text(json.dumps(periods))
    args = ("--tariff", str(tmp_path / "t.json"), "--cdr", str(tmp_path / "p.json"))
    assert run_cli(*args) == 0
    assert json.loads(capsys.readouterr().out)["total_cost"]["excl_vat"] == 2
    assert run_cli(*args, "--timezone", "Europe/Amsterdam", "--breakdown") == 0
    out = json.loads(capsys.readouterr().out)
    assert out["total_cost"]["excl_vat"] == 3
    assert [line["price"] for line in out["lines"]] == [1, 2]


def test_cli_reports_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "t.json").write_text("{}")
    assert run_cli("--tariff", str(tmp_path / "t.json"), "--cdr", str(tmp_path / "t.json")) == 2
    assert "voltway price" in capsys.readouterr().err


def test_cli_uses_the_cdr_time_zone_when_given(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "t.json").write_text(NIGHT_TIME.model_dump_json())
    cdr = {
        "end_date_time": (datetime(2024, 1, 8, 22, tzinfo=UTC)).isoformat(),
        "cdr_location": {"time_zone": "Europe/Amsterdam"},
        "charging_periods": [
            {"start_date_time": "2024-01-08T20:00:00Z", "dimensions": [{"type": "TIME", "volume": 2}]}
        ],
    }
    (tmp_path / "c.json").write_text(json.dumps(cdr))
    assert run_cli("--tariff", str(tmp_path / "t.json"), "--cdr", str(tmp_path / "c.json")) == 0
    assert json.loads(capsys.readouterr().out)["total_cost"]["excl_vat"] == 3


def test_coincident_cut_points_keep_every_quantity() -> None:
    # 17:00 is both a clock boundary and the 1-hour duration threshold of a session starting at 16:00.
    t = tariff(
        el(pc("ENERGY", "0.10"), end_time="17:00"),
        el(pc("ENERGY", "0.20"), max_duration=3600),
        el(pc("ENERGY", "0.40")),
    )
    result = price_session(t, [period("2024-01-08T16:00:00Z", ENERGY=20, TIME=2)])
    assert excl(result) == Decimal(5)  # 10 kWh at 0.10, 10 at 0.40
    assert result.total_energy == Decimal(20)


def test_reservation_and_charging_in_one_period() -> None:
    t = Tariff.model_validate_json((SPECS / "tariff_15_reservation_5_euro_per_hour.json").read_text())
    result = price_session(t, [period("2024-01-08T10:00:00Z", RESERVATION_TIME="0.25", TIME=1, ENERGY=20)])
    assert excl(result) == Decimal("6.75")
    assert result.total_time == Decimal(1)


def test_many_periods_price_like_one() -> None:
    t4 = Tariff.model_validate_json((SPECS / "tariff_4_complex.json").read_text())
    one = [period("2024-01-13T13:30:00Z", TIME=Decimal(114) / 60, MIN_CURRENT=43)]
    many = [
        period(
            f"2024-01-13T{13 + (30 + m) // 60}:{(30 + m) % 60:02d}:00Z", TIME=Decimal(19) / 60, MIN_CURRENT=43
        )
        for m in range(0, 114, 19)
    ]
    park = [period("2024-01-13T15:24:00Z", PARKING_TIME=Decimal(71) / 60)]
    end = at("2024-01-13T16:35:00Z")
    assert (
        price_session(t4, one + park, end=end).total_cost
        == price_session(t4, many + park, end=end).total_cost
    )
