"""The OCPI 2.2.1 tariff engine: price a charging session (a list of CDR charging periods) with a Tariff.

Semantics (docs/tariffs.md explains every choice where the spec is silent or ambiguous):

* Per dimension (ENERGY, TIME, PARKING_TIME, FLAT) the first Tariff Element, in tariff order, that has a
  Price Component for that dimension and whose restrictions all match *at that moment* prices it. The
  session is cut wherever a restriction can flip (a local clock time, local midnight, a DST transition, a
  duration threshold, a kWh threshold), and each piece is evaluated on its own.
* FLAT is billed once per session, from the first matching element at the first moment any FLAT matches;
  a reservation has its own FLAT (from reservation elements).
* ``step_size`` is applied once per session: ENERGY on the total billed energy, with the step size of the
  last billed ENERGY component; TIME and PARKING_TIME combined: only the dimension of the *last* billed
  time-based piece is rounded, with that component's step size, and the extra is priced at that last
  piece's price (mod_cdrs "step_size", mod_tariffs tariff_14 examples). Reservation time is rounded
  on its own with the step size of the last reservation TIME component.
* min_price / max_price bound the total (excl. and incl. VAT independently, as the spec's notes say).

Units: energy in kWh, time in hours on the outside; inside, instants are integer microseconds since the
epoch (UTC), time quantities are Decimal seconds. All money arithmetic is Decimal; the policy rounds.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, Context, Decimal, localcontext
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from voltway.tariffs.errors import SessionInputError, UnknownTimeZoneError
from voltway.tariffs.models import (
    Cdr,
    CdrDimensionType,
    ChargingPeriod,
    Price,
    ReservationRestrictionType,
    Tariff,
    TariffDimensionType,
)
from voltway.tariffs.policy import DEFAULT_POLICY, AbsentVat, PricingPolicy, RoundingScope

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_ZERO = Decimal(0)
_ONE = Decimal(1)
_HUNDRED = Decimal(100)
_S_PER_H = Decimal(3600)
_WH_PER_KWH = Decimal(1000)
_US_PER_S = Decimal(1_000_000)
_DAY_US = 86_400_000_000
_ONE_DAY = timedelta(days=1)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
# Quantities are normalised to micro-units (µWh, µs) before a step_size ceiling, so that the last digits
# of Decimal division noise (from cutting a period at a restriction boundary) never cost a whole step.
_MICRO_UNIT = Decimal("0.000001")
# 34 significant digits (IEEE decimal128): ample for money, and splits stay exact to far below a µ-unit.
_CONTEXT = Context(prec=34, rounding=ROUND_HALF_EVEN)

_ENERGY = TariffDimensionType.ENERGY
_FLAT = TariffDimensionType.FLAT
_TIME = TariffDimensionType.TIME
_PARKING = TariffDimensionType.PARKING_TIME


class Phase(StrEnum):
    RESERVATION = "RESERVATION"
    CHARGING = "CHARGING"
    PARKING = "PARKING"


class CostCategory(StrEnum):
    """Where an amount is reported in the OCPI CDR totals."""

    ENERGY = "energy"
    TIME = "time"
    PARKING = "parking"
    FIXED = "fixed"
    RESERVATION = "reservation"


_CATEGORIES = tuple(CostCategory)


# ---------------------------------------------------------------------------------------------- compile


@dataclass(frozen=True, slots=True)
class _Component:
    element: int
    dimension: TariffDimensionType
    price: Decimal
    vat: Decimal | None
    step_size: int


@dataclass(frozen=True, slots=True)
class _Element:
    index: int
    components: dict[TariffDimensionType, _Component]
    reservation: ReservationRestrictionType | None
    unrestricted: bool
    window: tuple[int, int] | None  # [start, end) in µs since local midnight; start > end wraps midnight
    days: frozenset[int] | None
    start_date: date | None
    end_date: date | None
    min_kwh: Decimal | None
    max_kwh: Decimal | None
    min_current: Decimal | None
    max_current: Decimal | None
    min_power: Decimal | None
    max_power: Decimal | None
    min_duration_us: int | None
    max_duration_us: int | None


def _clock_us(value: str) -> int:
    hours, minutes = value.split(":")
    return (int(hours) * 60 + int(minutes)) * 60_000_000


@dataclass(frozen=True, slots=True)
class CompiledTariff:
    """A Tariff prepared for pricing many sessions (build once with :func:`compile_tariff`)."""

    tariff: Tariff
    elements: tuple[_Element, ...]
    charging: dict[TariffDimensionType, tuple[_Element, ...]]
    reservation: dict[TariffDimensionType, tuple[_Element, ...]]
    reservation_expired: dict[TariffDimensionType, tuple[_Element, ...]]
    clock_points_us: tuple[int, ...]  # local clock times where some restriction can flip
    needs_clock: bool
    duration_points_us: tuple[int, ...]
    kwh_points: tuple[Decimal, ...]


def compile_tariff(tariff: Tariff) -> CompiledTariff:
    """Turn the OCPI model into the lookup structures the engine uses (pure, cheap, reusable)."""
    elements: list[_Element] = []
    clock_points: set[int] = set()
    needs_clock = False
    durations: set[int] = set()
    kwhs: set[Decimal] = set()
    for index, element in enumerate(tariff.elements):
        components: dict[TariffDimensionType, _Component] = {}
        for pc in element.price_components:
            # Only one component per dimension can be active: within an element the first one counts.
            components.setdefault(pc.type, _Component(index, pc.type, pc.price, pc.vat, pc.step_size))
        r = element.restrictions
        if r is None:
            elements.append(_Element(index, components, None, True, *([None] * 12)))
            continue
        window: tuple[int, int] | None = None
        if r.start_time is not None or r.end_time is not None:
            start = _clock_us(r.start_time) if r.start_time is not None else 0
            end = _clock_us(r.end_time) if r.end_time is not None else _DAY_US
            if end == 0:
                end = _DAY_US  # "To stop at end of the day use: 00:00"
            if start != end and not (start == 0 and end == _DAY_US):
                window = (start, end)
                clock_points.update({start % _DAY_US, end % _DAY_US})
        days = frozenset(d.iso_index for d in r.day_of_week) if r.day_of_week else None
        start_date = date.fromisoformat(r.start_date) if r.start_date else None
        end_date = date.fromisoformat(r.end_date) if r.end_date else None
        if days is not None or start_date is not None or end_date is not None:
            clock_points.add(0)
        needs_clock = needs_clock or window is not None or bool(clock_points)
        for d_s in (r.min_duration, r.max_duration):
            if d_s is not None:
                durations.add(d_s * 1_000_000)
        for k in (r.min_kwh, r.max_kwh):
            if k is not None:
                kwhs.add(k)
        unrestricted = (
            window is None
            and days is None
            and start_date is None
            and end_date is None
            and all(
                v is None
                for v in (
                    r.min_kwh,
                    r.max_kwh,
                    r.min_current,
                    r.max_current,
                    r.min_power,
                    r.max_power,
                    r.min_duration,
                    r.max_duration,
                )
            )
        )
        elements.append(
            _Element(
                index=index,
                components=components,
                reservation=r.reservation,
                unrestricted=unrestricted,
                window=window,
                days=days,
                start_date=start_date,
                end_date=end_date,
                min_kwh=r.min_kwh,
                max_kwh=r.max_kwh,
                min_current=r.min_current,
                max_current=r.max_current,
                min_power=r.min_power,
                max_power=r.max_power,
                min_duration_us=None if r.min_duration is None else r.min_duration * 1_000_000,
                max_duration_us=None if r.max_duration is None else r.max_duration * 1_000_000,
            )
        )
    session = [e for e in elements if e.reservation is None]
    charging = {dim: tuple(e for e in session if dim in e.components) for dim in TariffDimensionType}
    reserve = tuple(e for e in elements if e.reservation is ReservationRestrictionType.RESERVATION)
    expires = tuple(e for e in elements if e.reservation is ReservationRestrictionType.RESERVATION_EXPIRES)
    return CompiledTariff(
        tariff=tariff,
        elements=tuple(elements),
        charging=charging,
        reservation={dim: tuple(e for e in reserve if dim in e.components) for dim in (_TIME, _FLAT)},
        # mod_tariffs ReservationRestrictionType note: for an expired reservation the RESERVATION_EXPIRES
        # element prices the time even when a RESERVATION element comes first; RESERVATION elements still
        # price what the EXPIRES ones lack (tariff_17: expiry fee + reserved time).
        reservation_expired={
            dim: tuple(e for e in expires + reserve if dim in e.components) for dim in (_TIME, _FLAT)
        },
        clock_points_us=tuple(sorted(clock_points)),
        needs_clock=needs_clock,
        duration_points_us=tuple(sorted(durations)),
        kwh_points=tuple(sorted(kwhs)),
    )


# ----------------------------------------------------------------------------------------------- result


@dataclass(frozen=True, slots=True)
class PricedLine:
    """One priced component of the session, after step_size: ``quantity`` in kWh (ENERGY), seconds
    (TIME, PARKING_TIME, reservation TIME) or 1 (FLAT), to 6 decimals; amounts rounded by the policy."""

    category: CostCategory
    dimension: TariffDimensionType
    element_index: int
    price: Decimal
    vat: Decimal | None
    step_size: int
    quantity: Decimal
    cost: Price


@dataclass(frozen=True, slots=True)
class SessionPrice:
    """OCPI CDR totals. Costs in the tariff currency; total_energy in kWh; times in hours."""

    currency: str
    total_cost: Price
    total_energy_cost: Price
    total_time_cost: Price
    total_parking_cost: Price
    total_fixed_cost: Price
    total_reservation_cost: Price
    total_energy: Decimal
    total_time: Decimal
    total_parking_time: Decimal
    total_reservation_time: Decimal
    min_price_applied: bool
    max_price_applied: bool
    reservation_expired: bool
    lines: tuple[PricedLine, ...]

    def totals(self) -> dict[str, object]:
        """The OCPI fields as plain values (Decimal / None), in CDR field order."""
        out: dict[str, object] = {}
        for name in (
            "total_cost",
            "total_fixed_cost",
            "total_energy",
            "total_energy_cost",
            "total_time",
            "total_time_cost",
            "total_parking_time",
            "total_parking_cost",
            "total_reservation_cost",
        ):
            value = getattr(self, name)
            out[name] = (
                {"excl_vat": value.excl_vat, "incl_vat": value.incl_vat}
                if isinstance(value, Price)
                else value
            )
        return out


# ----------------------------------------------------------------------------------------------- engine


@dataclass(slots=True)
class _Slice:
    phase: Phase
    t0: int
    t1: int
    seconds: Decimal  # TIME / PARKING_TIME / RESERVATION_TIME volume of this slice
    energy: Decimal  # kWh (charging slices only)
    e0: Decimal = _ZERO  # session energy before this slice
    current_low: Decimal | None = None
    current_high: Decimal | None = None
    power_low: Decimal | None = None
    power_high: Decimal | None = None


def _to_us(value: datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    # timestamp() of a whole second is an exact float; the microseconds are added as an int.
    return int(value.replace(microsecond=0).timestamp()) * 1_000_000 + value.microsecond


def _resolve_zone(timezone: str | tzinfo) -> tzinfo:
    if isinstance(timezone, tzinfo):
        return timezone
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise UnknownTimeZoneError(f"unknown time zone {timezone!r}") from e


def _first(a: Decimal | None, b: Decimal | None, c: Decimal | None) -> Decimal | None:
    if a is not None:
        return a
    return b if b is not None else c


@dataclass(slots=True)
class _Readings:
    energy: Decimal = _ZERO
    time_h: Decimal = _ZERO
    parking_h: Decimal = _ZERO
    reservation_h: Decimal = _ZERO
    has_energy: bool = False
    has_time: bool = False
    min_current: Decimal | None = None
    max_current: Decimal | None = None
    current: Decimal | None = None
    min_power: Decimal | None = None
    max_power: Decimal | None = None
    power: Decimal | None = None


_D = CdrDimensionType


def _read(period: ChargingPeriod, index: int) -> _Readings:
    """Sum the volumes of one period; several readings of a minimum/maximum keep the extreme one."""
    r = _Readings()
    for dim in period.dimensions:
        t, v = dim.type, dim.volume
        if t is _D.ENERGY:
            r.energy += v
            r.has_energy = True
        elif t is _D.TIME:
            r.time_h += v
            r.has_time = True
        elif t is _D.PARKING_TIME:
            r.parking_h += v
            r.has_time = True
        elif t is _D.RESERVATION_TIME:
            r.reservation_h += v
            r.has_time = True
        elif t is _D.MIN_CURRENT:
            r.min_current = v if r.min_current is None else min(r.min_current, v)
        elif t is _D.MAX_CURRENT:
            r.max_current = v if r.max_current is None else max(r.max_current, v)
        elif t is _D.MIN_POWER:
            r.min_power = v if r.min_power is None else min(r.min_power, v)
        elif t is _D.MAX_POWER:
            r.max_power = v if r.max_power is None else max(r.max_power, v)
        elif t is _D.CURRENT:
            r.current = v
        elif t is _D.POWER:
            r.power = v
    if min(r.energy, r.time_h, r.parking_h, r.reservation_h) < 0:
        raise SessionInputError(f"negative volumes in charging period {index} cannot be priced")
    return r


def _build_slices(periods: Sequence[ChargingPeriod], end_us: int | None) -> list[_Slice]:
    starts = [_to_us(p.start_date_time) for p in periods]
    for a, b in itertools.pairwise(starts):
        if b < a:
            raise SessionInputError("charging periods must be in chronological order")
    slices: list[_Slice] = []
    for i, period in enumerate(periods):
        r = _read(period, i)
        s = starts[i]
        if i + 1 < len(periods):
            e = starts[i + 1]
        elif end_us is not None:
            e = end_us
        else:
            e = s + int((r.time_h + r.parking_h + r.reservation_h) * _S_PER_H * _US_PER_S)
        if e < s:
            raise SessionInputError("the session ends before its last charging period starts")
        wall = e - s
        energy = r.energy
        res = r.reservation_h * _S_PER_H
        chg = r.time_h * _S_PER_H
        park = r.parking_h * _S_PER_H
        if not r.has_time:
            # No time dimension: the period's wall-clock length is charging time, or parking time when the
            # period explicitly transferred no energy (docs/tariffs.md).
            seconds = Decimal(wall) / _US_PER_S
            if r.has_energy and energy == 0:
                park = seconds
            else:
                chg = seconds
        cur_low = _first(r.min_current, r.current, r.max_current)
        cur_high = _first(r.max_current, r.current, r.min_current)
        power_low = _first(r.min_power, r.power, r.max_power)
        power_high = _first(r.max_power, r.power, r.min_power)

        readings = (cur_low, cur_high, power_low, power_high)

        def add(
            phase: Phase,
            t0: int,
            t1: int,
            seconds: Decimal,
            kwh: Decimal,
            *,
            readings: tuple[Decimal | None, ...] = readings,
        ) -> None:
            # Not charging: nothing is drawn, so an unknown current/power reads as 0 there.
            idle = _ZERO if phase is not Phase.CHARGING else None
            low_a, high_a, low_kw, high_kw = (idle if v is None else v for v in readings)
            slices.append(_Slice(phase, t0, t1, seconds, kwh, _ZERO, low_a, high_a, low_kw, high_kw))

        total = res + chg + park
        if total <= 0:
            add(Phase.CHARGING, s, e, _ZERO, energy)
            continue
        # Lay the period out as reservation, then charging, then parking, scaled onto its wall-clock span.
        b1 = s + int(wall * res / total)
        b2 = s + int(wall * (res + chg) / total)
        if res > 0:
            add(Phase.RESERVATION, s, b1, res, _ZERO)
        if chg > 0 or energy != 0:
            add(Phase.CHARGING, b1, b2, chg, energy)
        if park > 0:
            add(Phase.PARKING, b2, e, park, _ZERO)
    cumulative = _ZERO
    for sl in slices:
        sl.e0 = cumulative
        cumulative += sl.energy
    return slices


def _offset_us(tz: tzinfo, instant_us: int) -> int:
    offset = (_EPOCH + timedelta(microseconds=instant_us)).astimezone(tz).utcoffset()
    return 0 if offset is None else offset // _US


def _clock_cuts(ct: CompiledTariff, tz: tzinfo, lo: int, hi: int) -> list[int]:
    """Instants in (lo, hi) where a clock-, weekday- or date-based restriction may flip."""
    cuts: set[int] = set()
    first_day = (_EPOCH + timedelta(microseconds=lo)).astimezone(tz).date() - timedelta(days=1)
    last_day = (_EPOCH + timedelta(microseconds=hi)).astimezone(tz).date() + timedelta(days=1)
    day = first_day
    next_offset = datetime.combine(day, time(), tzinfo=tz).utcoffset()
    while day <= last_day:
        midnight = datetime.combine(day, time())
        offset, next_offset = next_offset, datetime.combine(day + _ONE_DAY, time(), tzinfo=tz).utcoffset()
        if offset == next_offset and offset is not None:
            # No offset change this day: local clock times map to UTC by integer arithmetic.
            base = (day.toordinal() - _EPOCH_ORDINAL) * _DAY_US - offset // _US
            for point in ct.clock_points_us:
                u = base + point
                if lo < u < hi:
                    cuts.add(u)
        else:
            for point in ct.clock_points_us:
                naive = midnight + timedelta(microseconds=point)
                for fold in (0, 1):
                    u = (naive.replace(tzinfo=tz, fold=fold) - _EPOCH) // _US
                    if lo < u < hi:
                        cuts.add(u)
        day += _ONE_DAY
    # UTC offset transitions (DST): inside a spring-forward gap a local clock time never occurs, so the
    # restriction flips at the transition itself. Sample every 6 h and bisect to the second.
    step = 6 * 3600 * 1_000_000
    samples = [*range(lo, hi, step), hi]
    for a, b in itertools.pairwise(samples):
        oa = _offset_us(tz, a)
        if oa == _offset_us(tz, b):
            continue
        left, right = a, b  # offset(left) == oa != offset(right)
        while right - left > 1_000_000:
            mid = left + (right - left) // 2
            if _offset_us(tz, mid) == oa:
                left = mid
            else:
                right = mid
        if lo < right < hi:
            cuts.add(right)
    return sorted(cuts)


@dataclass(slots=True)
class _Moment:
    clock_us: int
    weekday: int
    day: date
    kwh: Decimal
    duration_us: int
    current_low: Decimal | None
    current_high: Decimal | None
    power_low: Decimal | None
    power_high: Decimal | None


def _matches(el: _Element, m: _Moment) -> bool:
    if el.unrestricted:
        return True
    if el.window is not None:
        start, end = el.window
        x = m.clock_us
        if start < end:
            if not start <= x < end:
                return False
        elif not (x >= start or x < end):
            return False
    if el.days is not None and m.weekday not in el.days:
        return False
    if el.start_date is not None and m.day < el.start_date:
        return False
    if el.end_date is not None and m.day >= el.end_date:
        return False
    if el.min_kwh is not None and m.kwh < el.min_kwh:
        return False
    if el.max_kwh is not None and m.kwh >= el.max_kwh:
        return False
    if el.min_duration_us is not None and m.duration_us < el.min_duration_us:
        return False
    if el.max_duration_us is not None and m.duration_us >= el.max_duration_us:
        return False
    if el.min_current is not None and (m.current_low is None or m.current_low < el.min_current):
        return False
    if el.max_current is not None and (m.current_high is None or m.current_high >= el.max_current):
        return False
    if el.min_power is not None and (m.power_low is None or m.power_low < el.min_power):
        return False
    return not (el.max_power is not None and (m.power_high is None or m.power_high >= el.max_power))


def _pick(candidates: tuple[_Element, ...], dim: TariffDimensionType, m: _Moment) -> _Component | None:
    for el in candidates:
        if _matches(el, m):
            return el.components[dim]
    return None


def _step_extra(total: Decimal, step: int, unit: Decimal) -> Decimal:
    """What must be added to ``total`` (in billing units, ``unit`` per step unit) to reach a whole step."""
    if step <= 0:
        return _ZERO
    in_units = (total * unit).quantize(_MICRO_UNIT)
    steps = (in_units / step).to_integral_value(rounding=ROUND_CEILING)
    return steps * step / unit - total


def price_session(
    tariff: Tariff | CompiledTariff,
    periods: Sequence[ChargingPeriod],
    *,
    timezone: str | tzinfo = "UTC",
    end: datetime | None = None,
    policy: PricingPolicy = DEFAULT_POLICY,
    reservation_expired: bool | None = None,
) -> SessionPrice:
    """Price one session with one tariff, exactly as OCPI 2.2.1 defines it.

    ``periods`` are the CDR's charging periods in chronological order; ``timezone`` is the Location's IANA
    time zone (restrictions on clock time, weekday and date are local); ``end`` is the session end (CDR
    ``end_date_time``), else the last period lasts as long as its time dimensions say.
    ``reservation_expired`` defaults to "the session has reservation time and nothing else".
    Raises :class:`SessionInputError` for periods that cannot be priced.
    """
    ct = tariff if isinstance(tariff, CompiledTariff) else compile_tariff(tariff)
    if not periods:
        raise SessionInputError("a session needs at least one charging period")
    tz = _resolve_zone(timezone)
    with localcontext(_CONTEXT):
        slices = _build_slices(periods, None if end is None else _to_us(end))
        return _price(ct, slices, tz, policy, reservation_expired)


def price_cdr(
    tariff: Tariff | CompiledTariff,
    cdr: Cdr,
    *,
    timezone: str | tzinfo | None = None,
    policy: PricingPolicy = DEFAULT_POLICY,
) -> SessionPrice:
    """Price a CDR's charging periods with ``tariff``: time zone = ``timezone``, else the CDR's, else UTC."""
    zone: str | tzinfo = timezone or cdr.time_zone or "UTC"
    return price_session(tariff, cdr.charging_periods, timezone=zone, end=cdr.end_date_time, policy=policy)


def _price(
    ct: CompiledTariff,
    slices: list[_Slice],
    tz: tzinfo,
    policy: PricingPolicy,
    reservation_expired: bool | None,
) -> SessionPrice:
    non_reservation = [s for s in slices if s.phase is not Phase.RESERVATION]
    has_reservation = len(non_reservation) != len(slices)
    expired = reservation_expired
    if expired is None:
        expired = has_reservation and not non_reservation
    reservation_elements = ct.reservation_expired if expired else ct.reservation
    reservation_start = slices[0].t0
    session_start = non_reservation[0].t0 if non_reservation else reservation_start
    lo, hi = slices[0].t0, max(s.t1 for s in slices)
    clock_cuts = _clock_cuts(ct, tz, lo, hi) if ct.needs_clock and hi > lo else []

    # chronological (category, component, quantity): quantity in kWh, seconds or 1 (FLAT)
    billed: list[tuple[CostCategory, _Component, Decimal]] = []
    session_flat: _Component | None = None
    reservation_flat: _Component | None = None

    for sl in slices:
        phase_start = reservation_start if sl.phase is Phase.RESERVATION else session_start
        span = sl.t1 - sl.t0
        cuts: dict[Decimal, Decimal | None] = {}  # fraction of the slice -> exact session kWh at the cut
        if span > 0:
            for u in clock_cuts:
                if sl.t0 < u < sl.t1:
                    cuts.setdefault(Decimal(u - sl.t0) / span, None)
            for d in ct.duration_points_us:
                u = phase_start + d
                if sl.t0 < u < sl.t1:
                    cuts.setdefault(Decimal(u - sl.t0) / span, None)
            if sl.energy > 0:
                for k in ct.kwh_points:
                    if sl.e0 < k < sl.e0 + sl.energy:
                        cuts[(k - sl.e0) / sl.energy] = k
        inner = sorted((f, k) for f, k in cuts.items() if _ZERO < f < _ONE)
        bounds = [(_ZERO, sl.e0), *inner, (_ONE, sl.e0 + sl.energy)]
        seconds_left, energy_left = sl.seconds, sl.energy
        for j in range(len(bounds) - 1):
            f0, f1 = bounds[j][0], bounds[j + 1][0]
            last = j == len(bounds) - 2
            seconds = seconds_left if last else sl.seconds * (f1 - f0)
            energy = energy_left if last else sl.energy * (f1 - f0)
            seconds_left -= seconds
            energy_left -= energy
            mid_us = sl.t0 + int(span * (f0 + f1) / 2)
            cut_kwh = bounds[j][1]
            e_a = cut_kwh if cut_kwh is not None else sl.e0 + sl.energy * f0
            kwh_mid = e_a + energy / 2
            if ct.needs_clock:
                local = (_EPOCH + timedelta(microseconds=mid_us)).astimezone(tz)
                clock = ((local.hour * 60 + local.minute) * 60 + local.second) * 1_000_000 + local.microsecond
                weekday, day = local.weekday(), local.date()
            else:
                clock, weekday, day = 0, 0, date.min
            m = _Moment(
                clock,
                weekday,
                day,
                kwh_mid,
                mid_us - phase_start,
                sl.current_low,
                sl.current_high,
                sl.power_low,
                sl.power_high,
            )
            if sl.phase is Phase.RESERVATION:
                comp = _pick(reservation_elements[_TIME], _TIME, m)
                if comp is not None and seconds > 0:
                    billed.append((CostCategory.RESERVATION, comp, seconds))
                if reservation_flat is None:
                    reservation_flat = _pick(reservation_elements[_FLAT], _FLAT, m)
                continue
            if session_flat is None:
                session_flat = _pick(ct.charging[_FLAT], _FLAT, m)
            if sl.phase is Phase.CHARGING:
                if energy > 0:
                    comp = _pick(ct.charging[_ENERGY], _ENERGY, m)
                    if comp is not None:
                        billed.append((CostCategory.ENERGY, comp, energy))
                if seconds > 0:
                    comp = _pick(ct.charging[_TIME], _TIME, m)
                    if comp is not None:
                        billed.append((CostCategory.TIME, comp, seconds))
            elif seconds > 0:
                comp = _pick(ct.charging[_PARKING], _PARKING, m)
                if comp is not None:
                    billed.append((CostCategory.PARKING, comp, seconds))

    quantities: dict[tuple[CostCategory, _Component], Decimal] = {}
    for cat, comp, q in billed:
        key = (cat, comp)
        quantities[key] = quantities.get(key, _ZERO) + q
    _apply_step_sizes(billed, quantities)
    if session_flat is not None:
        quantities[(CostCategory.FIXED, session_flat)] = _ONE
    if reservation_flat is not None:
        quantities[(CostCategory.RESERVATION, reservation_flat)] = _ONE

    return _totals(ct, slices, quantities, policy, expired)


def _apply_step_sizes(
    billed: list[tuple[CostCategory, _Component, Decimal]],
    quantities: dict[tuple[CostCategory, _Component], Decimal],
) -> None:
    def last_of(cats: tuple[CostCategory, ...]) -> tuple[CostCategory, _Component] | None:
        for cat, comp, _q in reversed(billed):
            if cat in cats:
                return cat, comp
        return None

    def round_up(cat: CostCategory, comp: _Component, unit: Decimal) -> None:
        total = sum((q for c, _comp, q in billed if c is cat), _ZERO)
        extra = _step_extra(total, comp.step_size, unit)
        if extra:
            quantities[(cat, comp)] += extra

    # ENERGY: once per session, step size (Wh) of the last billed ENERGY component.
    found = last_of((CostCategory.ENERGY,))
    if found is not None:
        round_up(*found, _WH_PER_KWH)
    # TIME and PARKING_TIME combined: only the dimension of the last billed time-based piece is rounded.
    found = last_of((CostCategory.TIME, CostCategory.PARKING))
    if found is not None:
        round_up(*found, _ONE)
    found = last_of((CostCategory.RESERVATION,))
    if found is not None:
        round_up(*found, _ONE)


def _totals(
    ct: CompiledTariff,
    slices: list[_Slice],
    quantities: dict[tuple[CostCategory, _Component], Decimal],
    policy: PricingPolicy,
    expired: bool,
) -> SessionPrice:
    excl: dict[CostCategory, Decimal] = dict.fromkeys(_CATEGORIES, _ZERO)
    incl: dict[CostCategory, Decimal | None] = dict.fromkeys(_CATEGORIES, _ZERO)
    lines: list[PricedLine] = []
    for (cat, comp), q in quantities.items():
        units = q / _S_PER_H if comp.dimension in (_TIME, _PARKING) else q
        amount_excl = units * comp.price
        amount_incl: Decimal | None
        if comp.vat is not None:
            amount_incl = amount_excl * (_ONE + comp.vat / _HUNDRED)
        elif policy.absent_vat is AbsentVat.NOT_APPLICABLE:
            amount_incl = amount_excl
        else:
            amount_incl = None
        excl[cat] += amount_excl
        prev = incl[cat]
        incl[cat] = None if prev is None or amount_incl is None else prev + amount_incl
        lines.append(
            PricedLine(
                category=cat,
                dimension=comp.dimension,
                element_index=comp.element,
                price=comp.price,
                vat=comp.vat,
                step_size=comp.step_size,
                quantity=q.quantize(_MICRO_UNIT),
                cost=Price(
                    excl_vat=policy.money(amount_excl),
                    incl_vat=None if amount_incl is None else policy.money(amount_incl),
                ),
            )
        )

    def rounded(cat: CostCategory) -> Price:
        inc = incl[cat]
        return Price(excl_vat=policy.money(excl[cat]), incl_vat=None if inc is None else policy.money(inc))

    categories = {cat: rounded(cat) for cat in _CATEGORIES}
    if policy.scope is RoundingScope.COMPONENT:
        total_excl = sum((p.excl_vat for p in categories.values()), _ZERO)
        incls = [p.incl_vat for p in categories.values()]
        total_incl = _sum_or_none(incls)
    else:
        total_excl = sum(excl.values(), _ZERO)
        total_incl = _sum_or_none(list(incl.values()))
    total_excl, total_incl, min_applied, max_applied = _bound(ct.tariff, total_excl, total_incl)

    def hours(kind: Phase) -> Decimal:
        return sum((s.seconds for s in slices if s.phase is kind), _ZERO) / _S_PER_H

    charging_h, parking_h = hours(Phase.CHARGING), hours(Phase.PARKING)
    return SessionPrice(
        currency=ct.tariff.currency,
        total_cost=Price(
            excl_vat=policy.money(total_excl),
            incl_vat=None if total_incl is None else policy.money(total_incl),
        ),
        total_energy_cost=categories[CostCategory.ENERGY],
        total_time_cost=categories[CostCategory.TIME],
        total_parking_cost=categories[CostCategory.PARKING],
        total_fixed_cost=categories[CostCategory.FIXED],
        total_reservation_cost=categories[CostCategory.RESERVATION],
        total_energy=policy.quantity(sum((s.energy for s in slices), _ZERO)),
        total_time=policy.quantity(charging_h + parking_h),
        total_parking_time=policy.quantity(parking_h),
        total_reservation_time=policy.quantity(hours(Phase.RESERVATION)),
        min_price_applied=min_applied,
        max_price_applied=max_applied,
        reservation_expired=expired,
        lines=tuple(lines),
    )


def _sum_or_none(values: list[Decimal | None]) -> Decimal | None:
    total = _ZERO
    for v in values:
        if v is None:
            return None
        total += v
    return total


def _bound(tariff: Tariff, excl: Decimal, incl: Decimal | None) -> tuple[Decimal, Decimal | None, bool, bool]:
    """min_price / max_price: excl. and incl. VAT bounds apply independently (mod_tariffs notes). When
    the excl. bound moves the total and the bound states no incl. VAT, the incl. VAT total is unknown."""
    min_applied = max_applied = False
    low, high = tariff.min_price, tariff.max_price
    if low is not None:
        if excl < low.excl_vat:
            excl, min_applied = low.excl_vat, True
            if low.incl_vat is None:
                incl = None
        if low.incl_vat is not None and incl is not None and incl < low.incl_vat:
            incl, min_applied = low.incl_vat, True
    if high is not None:
        if excl > high.excl_vat:
            excl, max_applied = high.excl_vat, True
            if high.incl_vat is None:
                incl = None
        if high.incl_vat is not None and incl is not None and incl > high.incl_vat:
            incl, max_applied = high.incl_vat, True
    return excl, incl, min_applied, max_applied
