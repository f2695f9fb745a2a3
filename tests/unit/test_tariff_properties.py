"""Property-based tests (hypothesis) of the tariff engine over random tariffs and sessions.

Sessions start around the 2024 spring DST change in Europe/Amsterdam and use whole minutes and whole Wh;
where a property only holds without step_size rounding (monotonicity, splitting), every step_size is 1 so
the whole units never round.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voltway.tariffs import ChargingPeriod, PricingPolicy, SessionPrice, Tariff, price_session

TZ = "Europe/Amsterdam"
BASE = datetime(2024, 3, 29, 18, tzinfo=UTC)
EXACT = PricingPolicy(decimals=12)
PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

prices = st.sampled_from(["0", "0.05", "0.25", "0.30", "1.00", "2.40", "5"])
vats = st.sampled_from([None, 0, 9, 21])
clock = st.sampled_from(["00:00", "06:30", "09:00", "17:00", "20:00", "22:00"])
days = st.lists(
    st.sampled_from(["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]),
    min_size=1,
    max_size=3,
    unique=True,
)


@st.composite
def restrictions(draw: st.DrawFn, *, with_max: bool, with_accumulated_min: bool) -> dict[str, Any] | None:
    r: dict[str, Any] = {}
    if draw(st.booleans()):
        r["start_time"] = draw(clock)
    if draw(st.booleans()):
        r["end_time"] = draw(clock)
    if draw(st.booleans()):
        r["day_of_week"] = draw(days)
    if draw(st.booleans()):
        r["min_power"] = draw(st.sampled_from([7, 11, 22]))
    if draw(st.booleans()):
        r["min_current"] = draw(st.sampled_from([16, 32]))
    if with_accumulated_min and draw(st.booleans()):
        r["min_kwh"] = draw(st.sampled_from([5, 10, 20]))
    if with_accumulated_min and draw(st.booleans()):
        r["min_duration"] = draw(st.sampled_from([600, 1800, 3600]))
    if with_max:
        if draw(st.booleans()):
            r["max_kwh"] = draw(st.sampled_from([5, 10, 20]))
        if draw(st.booleans()):
            r["max_power"] = draw(st.sampled_from([7, 11, 22]))
        if draw(st.booleans()):
            r["max_duration"] = draw(st.sampled_from([600, 1800, 3600]))
    return r or None


@st.composite
def tariffs(
    draw: st.DrawFn,
    *,
    unit_steps: bool = False,
    with_max: bool = True,
    with_accumulated_min: bool = True,
    bounds: bool = True,
) -> Tariff:
    elements = []
    for _ in range(draw(st.integers(1, 4))):
        kinds = draw(
            st.lists(st.sampled_from(["ENERGY", "TIME", "PARKING_TIME", "FLAT"]), min_size=1, max_size=3)
        )
        components = []
        for kind in kinds:
            step = 1
            if not unit_steps and kind != "FLAT":
                step = draw(st.sampled_from([1, 100, 500] if kind == "ENERGY" else [1, 60, 300, 900]))
            component: dict[str, Any] = {"type": kind, "price": draw(prices), "step_size": step}
            vat = draw(vats)
            if vat is not None:
                component["vat"] = vat
            components.append(component)
        element: dict[str, Any] = {"price_components": components}
        r = draw(restrictions(with_max=with_max, with_accumulated_min=with_accumulated_min))
        if r is not None:
            element["restrictions"] = r
        elements.append(element)
    data: dict[str, Any] = {
        "country_code": "NL",
        "party_id": "VWY",
        "id": "P",
        "currency": "EUR",
        "elements": elements,
    }
    if bounds and draw(st.booleans()):
        low = draw(st.integers(0, 10))
        data["min_price"] = {"excl_vat": low, **({"incl_vat": low + 1} if draw(st.booleans()) else {})}
    if bounds and draw(st.booleans()):
        high = draw(st.integers(12, 40))
        data["max_price"] = {"excl_vat": high, **({"incl_vat": high + 2} if draw(st.booleans()) else {})}
    return Tariff.model_validate(data)


# A session: list of (kind, minutes, Wh, kW); kind "charge" or "park".
Spec = list[tuple[str, int, int, int]]


@st.composite
def sessions(draw: st.DrawFn) -> tuple[datetime, Spec]:
    start = BASE + timedelta(minutes=draw(st.integers(0, 3 * 24 * 60)))
    spec: Spec = []
    for _ in range(draw(st.integers(1, 5))):
        if draw(st.integers(0, 3)) == 0:
            spec.append(("park", draw(st.integers(1, 240)), 0, 0))
        else:
            spec.append(
                ("charge", draw(st.integers(1, 240)), draw(st.integers(0, 40_000)), draw(st.integers(3, 50)))
            )
    return start, spec


def build(start: datetime, spec: Spec) -> tuple[list[ChargingPeriod], datetime]:
    periods = []
    at = start
    for kind, mins, wh, kw in spec:
        hours = Decimal(mins) / 60
        dims: list[dict[str, Any]]
        if kind == "park":
            dims = [{"type": "PARKING_TIME", "volume": hours}]
        else:
            dims = [
                {"type": "TIME", "volume": hours},
                {"type": "ENERGY", "volume": Decimal(wh) / 1000},
                {"type": "MIN_POWER", "volume": kw},
                {"type": "MAX_POWER", "volume": kw},
                {"type": "MIN_CURRENT", "volume": kw * 4},
                {"type": "MAX_CURRENT", "volume": kw * 4},
            ]
        periods.append(ChargingPeriod.model_validate({"start_date_time": at, "dimensions": dims}))
        at += timedelta(minutes=mins)
    return periods, at


def priced(tariff: Tariff, start: datetime, spec: Spec, policy: PricingPolicy = EXACT) -> SessionPrice:
    periods, end = build(start, spec)
    return price_session(tariff, periods, timezone=TZ, end=end, policy=policy)


def prices_of(result: SessionPrice) -> list[Decimal]:
    out = []
    for p in (
        result.total_cost,
        result.total_energy_cost,
        result.total_time_cost,
        result.total_parking_cost,
        result.total_fixed_cost,
        result.total_reservation_cost,
    ):
        out.append(p.excl_vat)
        if p.incl_vat is not None:
            out.append(p.incl_vat)
    return out


@PROPS
@given(tariffs(), sessions())
def test_totals_are_never_negative(tariff: Tariff, session: tuple[datetime, Spec]) -> None:
    result = priced(tariff, *session, policy=PricingPolicy())
    assert all(v >= 0 for v in prices_of(result))


@PROPS
@given(tariffs(), sessions())
def test_min_and_max_price_bound_the_total(tariff: Tariff, session: tuple[datetime, Spec]) -> None:
    total = priced(tariff, *session).total_cost
    low, high = tariff.min_price, tariff.max_price
    if low is not None:
        assert total.excl_vat >= low.excl_vat
        if low.incl_vat is not None and total.incl_vat is not None:
            assert total.incl_vat >= low.incl_vat
    if high is not None:
        assert total.excl_vat <= high.excl_vat
        if high.incl_vat is not None and total.incl_vat is not None:
            assert total.incl_vat <= high.incl_vat


@PROPS
@given(
    tariffs(unit_steps=True, with_max=False, with_accumulated_min=False, bounds=False),
    sessions(),
    st.data(),
)
def test_more_energy_never_costs_less(
    tariff: Tariff, session: tuple[datetime, Spec], data: st.DataObject
) -> None:
    start, spec = session
    charges = [i for i, p in enumerate(spec) if p[0] == "charge"]
    if not charges:
        return
    i = data.draw(st.sampled_from(charges))
    more = list(spec)
    kind, mins, wh, kw = more[i]
    more[i] = (kind, mins, wh + data.draw(st.integers(1, 20_000)), kw)
    assert priced(tariff, start, more).total_cost.excl_vat >= priced(tariff, start, spec).total_cost.excl_vat


@PROPS
@given(tariffs(unit_steps=True, with_max=False, bounds=False), sessions(), st.data())
def test_more_time_never_costs_less(
    tariff: Tariff, session: tuple[datetime, Spec], data: st.DataObject
) -> None:
    start, spec = session
    extra = data.draw(st.integers(1, 300))
    kind = data.draw(st.sampled_from(["park", "charge"]))
    longer = [*spec, (kind, extra, 0, data.draw(st.integers(3, 50)))]
    before, after = priced(tariff, start, spec), priced(tariff, start, longer)
    assert after.total_cost.excl_vat >= before.total_cost.excl_vat
    if before.total_cost.incl_vat is not None and after.total_cost.incl_vat is not None:
        assert after.total_cost.incl_vat >= before.total_cost.incl_vat


@PROPS
@given(tariffs(unit_steps=True), sessions(), st.data())
def test_splitting_a_period_changes_nothing(
    tariff: Tariff, session: tuple[datetime, Spec], data: st.DataObject
) -> None:
    """A CPO may add in-between charging periods (mod_cdrs): cutting one in two, with its volumes shared
    pro rata, prices the same when no step_size rounding is involved."""
    start, spec = session
    i = data.draw(st.integers(0, len(spec) - 1))
    mins = spec[i][1]
    if mins < 2:
        return
    cut_s = data.draw(st.integers(1, mins * 60 - 1))
    whole_periods, end = build(start, spec)
    target = whole_periods[i]
    fraction = Decimal(cut_s) / (mins * 60)
    first_dims, second_dims = [], []
    for d in target.dimensions:
        shared = d.type.value in ("TIME", "PARKING_TIME", "ENERGY")
        first = d.volume * fraction if shared else d.volume
        first_dims.append({"type": d.type, "volume": first})
        second_dims.append({"type": d.type, "volume": d.volume - first if shared else d.volume})
    cut_at = target.start_date_time + timedelta(seconds=cut_s)
    split = [
        *whole_periods[:i],
        ChargingPeriod.model_validate({"start_date_time": target.start_date_time, "dimensions": first_dims}),
        ChargingPeriod.model_validate({"start_date_time": cut_at, "dimensions": second_dims}),
        *whole_periods[i + 1 :],
    ]
    whole = price_session(tariff, whole_periods, timezone=TZ, end=end, policy=EXACT)
    parts = price_session(tariff, split, timezone=TZ, end=end, policy=EXACT)
    tolerance = Decimal("1e-9")
    for a, b in zip(prices_of(whole), prices_of(parts), strict=True):
        assert abs(a - b) <= tolerance, (whole, parts)
