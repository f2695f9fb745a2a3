"""Charging periods from meter samples: energy from the register, parking, thresholds, bad samples."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from voltway.billing.periods import PeriodAnomaly, Thresholds, build_periods
from voltway.idtags.model import IdTagStatus
from voltway.tariffs import CdrDimensionType, ChargingPeriod, Tariff
from voltway.transactions.model import MeterSample, SampledValue, Transaction

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
D = CdrDimensionType


def tx(minutes: int, meter_start: int, meter_stop: int) -> Transaction:
    return Transaction(
        transaction_id=1,
        tenant_id="t",
        charge_point_id="CP1",
        connector_id=1,
        id_tag="TAG",
        id_tag_status=IdTagStatus.ACCEPTED,
        meter_start=meter_start,
        started_at=T0,
        stopped_at=T0 + timedelta(minutes=minutes),
        meter_stop=meter_stop,
    )


def reg(minute: int, wh: float, unit: str | None = None) -> MeterSample:
    return MeterSample(T0 + timedelta(minutes=minute), SampledValue(str(wh), unit=unit))


def power(minute: int, w: float, phase: str | None = None) -> MeterSample:
    return MeterSample(
        T0 + timedelta(minutes=minute),
        SampledValue(str(w), measurand="Power.Active.Import", unit="W", phase=phase),
    )


def dims(period: ChargingPeriod) -> dict[D, Decimal]:
    return {d.type: d.volume for d in period.dimensions}


def test_energy_from_the_register_and_one_charging_period() -> None:
    built = build_periods(tx(60, 1000, 12000), [reg(30, 6500), power(0, 11000), power(30, 11000)])
    assert len(built.periods) == 1
    d = dims(built.periods[0])
    assert d[D.ENERGY] == Decimal("11")
    assert d[D.TIME] == Decimal(1)
    assert d[D.MAX_POWER] == Decimal(11)
    assert built.energy_wh == 11000
    assert not built.anomalies


def test_parking_when_no_energy_flows_and_power_is_below_the_threshold() -> None:
    samples = [power(0, 7400), reg(30, 3700), power(30, 0), reg(45, 3700)]
    built = build_periods(tx(60, 0, 3700), samples)
    assert [p.start_date_time for p in built.periods] == [T0, T0 + timedelta(minutes=30)]
    charging, parking = (dims(p) for p in built.periods)
    assert charging[D.ENERGY] == Decimal("3.7") and charging[D.TIME] == Decimal("0.5")
    assert parking == {D.PARKING_TIME: Decimal("0.5")}


def test_energy_follows_power_between_sparse_register_readings() -> None:
    # One register step over an hour, but power stopped after 20 minutes: energy lands in those 20.
    built = build_periods(tx(60, 0, 2000), [power(0, 6000), power(20, 0)])
    assert dims(built.periods[0])[D.ENERGY] == Decimal(2)
    assert D.PARKING_TIME in dims(built.periods[1])
    assert built.anomalies == {PeriodAnomaly.NO_REGISTER_SAMPLES}


def test_periods_split_where_power_crosses_a_tariff_threshold() -> None:
    tariff = Tariff.model_validate(
        {
            "country_code": "NL",
            "party_id": "VWY",
            "id": "T",
            "currency": "EUR",
            "elements": [
                {
                    "price_components": [{"type": "ENERGY", "price": 0.5, "step_size": 1}],
                    "restrictions": {"min_power": 16},
                },
                {"price_components": [{"type": "ENERGY", "price": 0.3, "step_size": 1}]},
            ],
        }
    )
    samples = [power(0, 22000), reg(20, 7333), power(20, 11000), reg(40, 11000)]
    built = build_periods(tx(40, 0, 11000), samples, Thresholds.of(tariff))
    assert len(built.periods) == 2
    assert dims(built.periods[0])[D.MIN_POWER] == Decimal(22)
    assert dims(built.periods[1])[D.MAX_POWER] == Decimal(11)
    # Without the threshold the two charging intervals are one period.
    assert len(build_periods(tx(40, 0, 11000), samples).periods) == 1


def test_backwards_and_out_of_session_samples_are_flagged_never_negative() -> None:
    samples = [reg(10, 5000), reg(20, 3000), reg(30, 6000), reg(-5, 10), reg(90, 99999)]
    built = build_periods(tx(60, 1000, 8000), samples)
    assert PeriodAnomaly.REGISTER_WENT_BACKWARDS in built.anomalies
    assert PeriodAnomaly.SAMPLE_OUTSIDE_SESSION in built.anomalies
    energies = [dims(p).get(D.ENERGY, Decimal(0)) for p in built.periods]
    assert all(e >= 0 for e in energies)
    assert sum(energies) == Decimal(7)


def test_meter_stop_below_start_gives_zero_energy_and_a_flag() -> None:
    built = build_periods(tx(30, 5000, 4000), [reg(10, 5200)])
    assert built.energy_wh == 0
    assert {PeriodAnomaly.METER_STOP_BELOW_START, PeriodAnomaly.REGISTER_ABOVE_METER_STOP} <= built.anomalies
    assert all(dims(p).get(D.ENERGY, Decimal(0)) == 0 for p in built.periods)


def test_kwh_units_and_phase_power_sum() -> None:
    samples = [
        reg(30, 1.5, unit="kWh"),
        power(0, 1000, "L1-N"),
        power(0, 1000, "L2-N"),
        power(0, 1000, "L3-N"),
    ]
    built = build_periods(tx(60, 0, 3000), samples)
    d = dims(built.periods[0])
    assert d[D.ENERGY] == Decimal(3)
    assert d[D.MAX_POWER] == Decimal(3)


def test_zero_length_session_still_has_one_period() -> None:
    built = build_periods(tx(0, 100, 100), [])
    assert len(built.periods) == 1


@settings(max_examples=150, deadline=None)
@given(
    readings=st.lists(
        st.tuples(st.integers(-10, 70), st.integers(0, 30000), st.integers(0, 22000)), max_size=12
    ),
    meter_stop=st.integers(0, 30000),
)
def test_any_samples_give_non_negative_volumes_that_add_up(
    readings: list[tuple[int, int, int]], meter_stop: int
) -> None:
    samples = [s for minute, wh, w in readings for s in (reg(minute, wh), power(minute, w))]
    built = build_periods(tx(60, 1000, meter_stop), samples)
    total_kwh = sum((dims(p).get(D.ENERGY, Decimal(0)) for p in built.periods), Decimal(0))
    assert total_kwh == Decimal(max(0, meter_stop - 1000)) / 1000
    hours = Decimal(0)
    for p in built.periods:
        d = dims(p)
        assert all(v >= 0 for v in d.values())
        hours += d.get(D.TIME, Decimal(0)) + d.get(D.PARKING_TIME, Decimal(0))
    assert hours == 1
    starts = [p.start_date_time for p in built.periods]
    assert starts == sorted(starts)
