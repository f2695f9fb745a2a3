"""Golden tests: every OCPI 2.2.1 tariff example with a worked session in mod_tariffs / mod_cdrs, priced
from the spec's own JSON files (read by path from ../shared/specs), with the errata of
../shared/specs/README.md applied (tariff_4 Saturday = 12.375 / 13.975, tariff_14 example 3 = 0.73).

Sessions are built from the text: its times are the Location's local times, so sessions run in
Europe/Amsterdam on real dates of the right weekday (and the same cases are also checked in UTC).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from voltway.tariffs import (
    Cdr,
    ChargingPeriod,
    PricingPolicy,
    SessionPrice,
    Tariff,
    TariffDimensionType,
    price_cdr,
    price_session,
)

SPECS = Path(__file__).resolve().parents[2].parent / "shared" / "specs" / "ocpi-2.2.1"
EXAMPLES = SPECS / "examples"
AMS = ZoneInfo("Europe/Amsterdam")
CENTS = PricingPolicy(decimals=2)

pytestmark = pytest.mark.skipif(not EXAMPLES.is_dir(), reason="OCPI spec examples not checked out")


def spec_tariff(name: str) -> Tariff:
    return Tariff.model_validate_json((EXAMPLES / f"{name}.json").read_text())


def minutes(n: float | int) -> Decimal:
    """Hours as an exact-as-possible Decimal (OCPI time volumes are hours)."""
    return Decimal(str(n)) / 60


@dataclass
class Session:
    """A session in local wall-clock terms: consecutive phases, each (kind, minutes, extra dims)."""

    start: datetime  # local, naive
    phases: list[tuple[str, float, dict[str, Any]]]
    tz: ZoneInfo = field(default=AMS)

    def periods(self) -> tuple[list[ChargingPeriod], datetime]:
        at = self.start.replace(tzinfo=self.tz)
        out: list[ChargingPeriod] = []
        for kind, mins, extra in self.phases:
            dims: list[dict[str, Any]] = []
            if kind == "charge":
                dims.append({"type": "TIME", "volume": minutes(mins)})
            elif kind == "park":
                dims.append({"type": "PARKING_TIME", "volume": minutes(mins)})
            elif kind == "reserve":
                dims.append({"type": "RESERVATION_TIME", "volume": minutes(mins)})
            dims += [{"type": k, "volume": v} for k, v in extra.items()]
            out.append(ChargingPeriod.model_validate({"start_date_time": at, "dimensions": dims}))
            at = at + timedelta(minutes=mins)
        return out, at


def price(tariff: Tariff, session: Session, policy: PricingPolicy | None = None, **kw: Any) -> SessionPrice:
    periods, end = session.periods()
    return price_session(
        tariff, periods, timezone=session.tz, end=end, policy=policy or PricingPolicy(), **kw
    )


def assert_total(result: SessionPrice, excl: str, incl: str | None) -> None:
    assert result.total_cost.excl_vat == Decimal(excl), result
    assert result.total_cost.incl_vat == (None if incl is None else Decimal(incl)), result


MONDAY = datetime(2024, 1, 8)
SATURDAY = datetime(2024, 1, 13)


# ------------------------------------------------------------------------------- simple energy tariffs


def test_every_spec_tariff_example_parses_as_published() -> None:
    names = sorted(p.name for p in EXAMPLES.glob("tariff*.json"))
    assert len(names) >= 19
    for name in names:
        Tariff.model_validate_json((EXAMPLES / name).read_text())


def charge_kwh(kwh: str, *, then_park_minutes: int = 0, hours: int = 2) -> Session:
    phases: list[tuple[str, float, dict[str, Any]]] = [("charge", hours * 60, {"ENERGY": kwh})]
    if then_park_minutes:
        phases.append(("park", then_park_minutes, {}))
    return Session(MONDAY.replace(hour=10), phases)


def test_tariff_8_simple_025_per_kwh() -> None:
    assert_total(price(spec_tariff("tariff_8_simple_025kwh"), charge_kwh("20")), "5.00", "5.50")


def test_tariff_9_start_fee() -> None:
    result = price(spec_tariff("tariff_9_025kwh_start"), charge_kwh("20"))
    assert_total(result, "5.50", "6.10")
    assert result.total_fixed_cost.excl_vat == Decimal("0.50")
    assert result.total_energy_cost.incl_vat == Decimal("5.50")


def test_tariff_12_min_price() -> None:
    tariff = spec_tariff("tariff_12_025kwh_min_price")
    assert_total(price(tariff, charge_kwh("20")), "5.00", "5.50")
    low = price(tariff, charge_kwh("1.5"))
    assert_total(low, "0.50", "0.55")
    assert low.min_price_applied
    assert low.total_energy_cost.excl_vat == Decimal("0.375")  # categories stay as consumed


def test_tariff_10_parking_billed_per_15_minutes() -> None:
    result = price(spec_tariff("tariff_10_025kwh_parking_start"), charge_kwh("20", then_park_minutes=40))
    assert_total(result, "7.00", "7.90")
    assert result.total_parking_cost.excl_vat == Decimal("1.50")  # 45 minutes


def test_tariff_6_max_price() -> None:
    tariff = spec_tariff("tariff_6_025kwh_start_max_price")
    capped = price(tariff, charge_kwh("50"))
    assert_total(capped, "10.00", "11.00")
    assert capped.max_price_applied
    assert_total(price(tariff, charge_kwh("30")), "8.00", "8.85")


def test_tariff_3_energy_step_100_wh() -> None:
    tariff = spec_tariff("tariff_3_alt_url")
    result = price(tariff, charge_kwh("20.45"), CENTS)
    assert result.total_fixed_cost.excl_vat == Decimal("0.50")
    assert result.total_fixed_cost.incl_vat == Decimal("0.60")
    assert result.total_energy_cost.excl_vat == Decimal("5.13")
    assert result.total_energy_cost.incl_vat == Decimal("5.64")
    assert_total(result, "5.63", "6.24")
    exact = price(tariff, charge_kwh("20.45"))
    assert_total(exact, "5.625", "6.2375")  # 20.5 kWh billed
    assert exact.total_energy == Decimal("20.45")


# --------------------------------------------------------------------------------- time-based tariffs


def test_tariff_1_two_euro_per_hour() -> None:
    result = price(
        spec_tariff("tariff_1_simple_2hour"), Session(MONDAY.replace(hour=10), [("charge", 150, {})])
    )
    assert_total(result, "5.00", "5.50")


def test_tariff_put_example_and_tariff_1_not_billed_for_parking() -> None:
    session = Session(MONDAY.replace(hour=10), [("charge", 150, {}), ("park", 60, {})])
    assert_total(price(spec_tariff("tariff_1_simple_2hour"), session), "5.00", "5.50")
    assert_total(price(spec_tariff("tariff_put_example"), session), "5.00", "5.50")


def test_tariff_2_ad_hoc_alt_text() -> None:
    session = Session(MONDAY.replace(hour=10), [("charge", 150, {})])
    tariff = spec_tariff("tariff_2_alt_text")
    assert_total(price(tariff, session, CENTS), "4.75", "5.00")
    assert_total(price(tariff, session), "4.75", "4.997")


def test_tariff_13_time_and_parking() -> None:
    session = Session(MONDAY.replace(hour=10), [("charge", 150, {}), ("park", 42, {})])
    result = price(spec_tariff("tariff_13_simple_3hour_5parking"), session)
    assert_total(result, "11.25", "12.75")
    assert result.total_parking_cost.excl_vat == Decimal("3.75")  # 45 minutes


def test_tariff_11_time_billed_per_5_minutes() -> None:
    # No worked numbers in the text: 0.40 flat + 61 min -> 65 min at 1.90/h.
    session = Session(MONDAY.replace(hour=10), [("charge", 61, {})])
    result = price(spec_tariff("tariff_11_not_possible_alt_text"), session)
    assert result.total_time_cost.excl_vat == (Decimal("1.90") * 65 / 60).quantize(Decimal("0.0001"))


def test_tariff_5_free_of_charge() -> None:
    result = price(spec_tariff("tariff_5_free_of_charge"), charge_kwh("35", then_park_minutes=30))
    assert_total(result, "0", "0")


# ------------------------------------------------------------------------------------ complex tariff


@pytest.mark.parametrize("tz", [AMS, ZoneInfo("UTC")])
def test_tariff_4_complex_monday(tz: ZoneInfo) -> None:
    session = Session(
        MONDAY.replace(hour=9, minute=30), [("charge", 165, {"MAX_CURRENT": 16}), ("park", 42, {})], tz
    )
    result = price(spec_tariff("tariff_4_complex"), session)
    assert_total(result, "9.00", "10.30")
    assert (result.total_fixed_cost.excl_vat, result.total_fixed_cost.incl_vat) == (
        Decimal("2.5"),
        Decimal("2.875"),
    )
    assert (result.total_time_cost.excl_vat, result.total_time_cost.incl_vat) == (
        Decimal("2.75"),
        Decimal("3.30"),
    )
    assert result.total_parking_cost.excl_vat == Decimal("3.75")
    assert result.total_parking_cost.incl_vat == Decimal("4.125")


@pytest.mark.parametrize("tz", [AMS, ZoneInfo("UTC")])
def test_tariff_4_complex_saturday_with_erratum(tz: ZoneInfo) -> None:
    session = Session(
        SATURDAY.replace(hour=13, minute=30), [("charge", 114, {"MIN_CURRENT": 43}), ("park", 71, {})], tz
    )
    result = price(spec_tariff("tariff_4_complex"), session)
    # The printed 12.28 / 13.861 is wrong (114 min x 1.25/h = 2.375): README errata.
    assert_total(result, "12.375", "13.975")
    assert result.total_time_cost.excl_vat == Decimal("2.375")
    assert result.total_parking_cost.excl_vat == Decimal("7.50")  # 75 minutes
    assert result.total_parking_cost.incl_vat == Decimal("8.25")


# ------------------------------------------------------------------------------------- step_size rules

T14_CASES: list[tuple[list[tuple[str, float, dict[str, Any]]], tuple[int, int], str]] = [
    # 16:55 charge 10 min, park 2 min: charging 5 min @1.20 + 5 min @2.40, parking 2 -> 15 min @1.00
    ([("charge", 10, {}), ("park", 2, {})], (16, 55), "0.55"),
    # 16:35 charge 35 min: total 35 -> 45 min, 25 min @1.20 + 20 min @2.40
    ([("charge", 35, {})], (16, 35), "1.30"),
    # 19:40 charge 12 min, park 20 min (8 billable before 20:00 -> 15 min @1.00): erratum 0.73
    ([("charge", 12, {}), ("park", 20, {})], (19, 40), "0.73"),
]


@pytest.mark.parametrize(("phases", "at", "expected"), T14_CASES)
@pytest.mark.parametrize("tz", [AMS, ZoneInfo("UTC")])
def test_tariff_14_step_size_examples(
    phases: list[tuple[str, float, dict[str, Any]]], at: tuple[int, int], expected: str, tz: ZoneInfo
) -> None:
    session = Session(MONDAY.replace(hour=at[0], minute=at[1]), phases, tz)
    result = price(spec_tariff("tariff_14_step_size"), session)
    # tariff_14 has no VAT at all: 'no VAT applicable', incl. VAT = excl. VAT (docs/tariffs.md).
    assert_total(result, expected, expected)


def test_tariff_14_example_2_breakdown() -> None:
    session = Session(MONDAY.replace(hour=16, minute=35), [("charge", 35, {})])
    result = price(spec_tariff("tariff_14_step_size"), session)
    by_price = {line.price: line for line in result.lines}
    assert by_price[Decimal("1.20")].cost.excl_vat == Decimal("0.50")
    assert by_price[Decimal("1.20")].quantity == Decimal(25 * 60)
    assert by_price[Decimal("2.40")].cost.excl_vat == Decimal("0.80")


def test_tariff_14_example_3_breakdown() -> None:
    session = Session(MONDAY.replace(hour=19, minute=40), [("charge", 12, {}), ("park", 20, {})])
    result = price(spec_tariff("tariff_14_step_size"), session)
    assert result.total_time_cost.excl_vat == Decimal("0.48")
    assert result.total_parking_cost.excl_vat == Decimal("0.25")
    assert result.total_parking_time == Decimal("0.3333")  # all 20 minutes parked, 8 of them billable


def handmade(*elements: dict[str, Any]) -> Tariff:
    return Tariff.model_validate(
        {"country_code": "NL", "party_id": "VWY", "id": "t", "currency": "EUR", "elements": list(elements)}
    )


def comp(kind: str, price: str, step: int = 1, vat: float | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": kind, "price": price, "step_size": step}
    if vat is not None:
        out["vat"] = vat
    return out


@pytest.mark.parametrize(("step", "expected"), [(1, "0.029"), (25, "0.03125"), (500, "0.125")])
def test_price_component_note_energy_step_sizes(step: int, expected: str) -> None:
    # PriceComponent note: 115.2 Wh at 0.25/kWh -> 116 Wh (0.029), 125 Wh (0.031...), 500 Wh (0.125).
    tariff = handmade({"price_components": [comp("ENERGY", "0.25", step)]})
    result = price(tariff, Session(MONDAY, [("charge", 10, {"ENERGY": "0.1152"})]), PricingPolicy(decimals=6))
    assert result.total_cost.excl_vat == Decimal(expected)


def test_cdr_text_time_then_parking_both_5_minute_steps() -> None:
    # mod_cdrs step_size: 21 min charging + 7 min parking -> charging 21 min (not 25), parking 10 min.
    tariff = handmade({"price_components": [comp("TIME", "1.00", 300), comp("PARKING_TIME", "2.00", 300)]})
    result = price(tariff, Session(MONDAY, [("charge", 21, {}), ("park", 7, {})]))
    seconds = {line.dimension: line.quantity for line in result.lines}
    assert seconds[TariffDimensionType.TIME] == 21 * 60
    assert seconds[TariffDimensionType.PARKING_TIME] == 10 * 60


def test_cdr_text_energy_step_over_the_total_not_the_last_period() -> None:
    # 0.20/kWh before 17:00, 0.27 after, both 500 Wh steps: 4.3 + 1.1 kWh -> 5.5 total, 1.2 kWh after 17:00.
    tariff = handmade(
        {"price_components": [comp("ENERGY", "0.20", 500)], "restrictions": {"end_time": "17:00"}},
        {"price_components": [comp("ENERGY", "0.27", 500)], "restrictions": {"start_time": "17:00"}},
    )
    session = Session(
        MONDAY.replace(hour=16), [("charge", 60, {"ENERGY": "4.3"}), ("charge", 30, {"ENERGY": "1.1"})]
    )
    result = price(tariff, session)
    assert result.total_cost.excl_vat == Decimal("0.86") + Decimal("1.2") * Decimal("0.27")


def test_cdr_text_time_step_over_the_total() -> None:
    # 5/h before 17:00, 7/h after, 10-minute steps: 6 + 22 min = 28 -> 30 min, 24 of them after 17:00.
    tariff = handmade(
        {"price_components": [comp("TIME", "5", 600)], "restrictions": {"end_time": "17:00"}},
        {"price_components": [comp("TIME", "7", 600)], "restrictions": {"start_time": "17:00"}},
    )
    result = price(tariff, Session(MONDAY.replace(hour=16, minute=54), [("charge", 28, {})]))
    assert result.total_cost.excl_vat == Decimal("3.30")


def test_cdr_text_parking_rounded_charging_not() -> None:
    # 1/h charging, 2/h parking, 10-minute steps: 21 min charging + 16 min parking -> 21 + 20 minutes.
    tariff = handmade({"price_components": [comp("TIME", "1", 600), comp("PARKING_TIME", "2", 600)]})
    result = price(tariff, Session(MONDAY, [("charge", 21, {}), ("park", 16, {})]))
    assert result.total_time_cost.excl_vat == Decimal("0.35")
    assert result.total_parking_cost.excl_vat == Decimal("0.6667")


# ----------------------------------------------------------------------------------- restriction examples


def test_max_power_restriction_example() -> None:
    tariff = spec_tariff("tariffrestriction_example_max_power")
    session = Session(
        MONDAY.replace(hour=8),
        [
            ("charge", 10, {"ENERGY": "1", "MIN_POWER": 6, "MAX_POWER": 6}),
            ("charge", 50, {"ENERGY": "40", "MIN_POWER": 48, "MAX_POWER": 48}),
            ("charge", 8, {"ENERGY": "0.5", "MIN_POWER": 4, "MAX_POWER": 4}),
        ],
    )
    result = price(tariff, session)
    assert_total(result, "20.30", "24.36")


def test_max_duration_restriction_example() -> None:
    tariff = spec_tariff("tariffrestriction_example_max_duration")
    session = Session(
        MONDAY.replace(hour=8), [("charge", 30, {"ENERGY": "5"}), ("charge", 10, {"ENERGY": "1.2"})]
    )
    assert_total(price(tariff, session), "0.30", "0.36")


def test_max_duration_splits_a_period_that_crosses_the_threshold() -> None:
    # One 40-minute period with 6 kWh drawn evenly: 4.5 kWh free, 1.5 kWh at 0.25.
    tariff = spec_tariff("tariffrestriction_example_max_duration")
    session = Session(MONDAY.replace(hour=8), [("charge", 40, {"ENERGY": "6"})])
    assert price(tariff, session).total_cost.excl_vat == Decimal("0.375")


# --------------------------------------------------------------------------------------- reservations


def reserve_then_charge(reserve_minutes: int) -> Session:
    return Session(
        MONDAY.replace(hour=9), [("reserve", reserve_minutes, {}), ("charge", 120, {"ENERGY": "20"})]
    )


def test_tariff_15_reservation() -> None:
    result = price(spec_tariff("tariff_15_reservation_5_euro_per_hour"), reserve_then_charge(15))
    assert_total(result, "6.75", "7.60")
    assert result.total_reservation_cost.excl_vat == Decimal("1.25")
    assert result.total_reservation_cost.incl_vat == Decimal("1.50")


def test_tariff_16_reservation_fee_and_5_minute_steps() -> None:
    result = price(spec_tariff("tariff_16_reservation_2_euro_fee_5_euro_per_hour"), reserve_then_charge(13))
    assert_total(result, "8.75", "10.00")
    assert result.total_reservation_cost.excl_vat == Decimal("3.25")  # 2.00 fee + 15 min
    assert result.total_fixed_cost.excl_vat == Decimal("0.50")


def test_tariff_17_reservation_used_and_expired() -> None:
    tariff = spec_tariff("tariff_17_reservation_with_expire_fee")
    used = price(tariff, reserve_then_charge(22))
    assert_total(used, "6.50", "7.30")
    assert not used.reservation_expired
    expired = price(tariff, Session(MONDAY.replace(hour=9), [("reserve", 60, {})]))
    assert expired.reservation_expired
    assert_total(expired, "6.00", "7.20")


def test_tariff_18_reservation_expire_time_price() -> None:
    tariff = spec_tariff("tariff_18_reservation_with_expire_time")
    assert_total(price(tariff, reserve_then_charge(22)), "7.00", "7.90")
    assert_total(price(tariff, Session(MONDAY.replace(hour=9), [("reserve", 90, {})])), "9.00", "10.80")


# ------------------------------------------------------------------------------------------ CDR example


def test_cdr_example_priced_with_its_own_tariff() -> None:
    cdr = Cdr.model_validate_json((EXAMPLES / "cdr_example.json").read_text())
    result = price_cdr(cdr.tariffs[0], cdr)
    raw = json.loads((EXAMPLES / "cdr_example.json").read_text())
    assert result.total_cost.excl_vat == Decimal(str(raw["total_cost"]["excl_vat"]))
    assert result.total_cost.incl_vat == Decimal(str(raw["total_cost"]["incl_vat"]))
    assert result.total_time_cost.excl_vat == Decimal(str(raw["total_time_cost"]["excl_vat"]))
    assert result.total_time == Decimal(str(raw["total_time"]))
