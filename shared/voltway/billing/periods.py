"""OCPI charging periods from a finished transaction and its meter samples.

The register (Energy.Active.Import.Register, Wh) says how much energy flowed; Power.Active.Import (W) and
Current.Import (A, summed over phases as OCPI's MAX/MIN_CURRENT are) say when and how fast. Between two
register readings the energy is spread over the sub-intervals in proportion to the sampled power (evenly
when no power was sampled), so energy lands where power was drawn. A sample holds from its time until the
next sample of the same measurand.

Parking (OCPI 2.2.1 bugfix): the vehicle is not requesting power = the interval carries no energy and the
sampled power, if any, is below ``parking_below_w``. A new period starts wherever charging/parking flips or
the power or current crosses a threshold some tariff restriction tests (min/max_power, min/max_current):
the tariff engine itself cuts at clock times, dates, durations and kWh thresholds.

Robustness: samples outside the session are ignored, a register lower than an earlier reading is held at
the earlier value, readings above meterStop are held at meterStop; each case is flagged. Volumes are
never negative.
"""

from __future__ import annotations

import bisect
import itertools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from voltway.tariffs import CdrDimension, CdrDimensionType, ChargingPeriod, Tariff
from voltway.transactions.model import MeterSample, Transaction

REGISTER = "Energy.Active.Import.Register"
POWER = "Power.Active.Import"
CURRENT = "Current.Import"
DEFAULT_PARKING_BELOW_W = Decimal(100)

_US_PER_H = Decimal(3_600_000_000)
_KWH = Decimal("0.000001")  # 1 mWh
_HOURS = Decimal("1E-12")  # 3.6 ns: far below the engine's microsecond normalisation
_ZERO = Decimal(0)
_D = CdrDimensionType


class PeriodAnomaly:
    SAMPLE_OUTSIDE_SESSION = "sample_outside_session"
    REGISTER_WENT_BACKWARDS = "register_went_backwards"
    REGISTER_ABOVE_METER_STOP = "register_above_meter_stop"
    METER_STOP_BELOW_START = "meter_stop_below_meter_start"
    STOP_BEFORE_START = "stop_before_start"
    NO_REGISTER_SAMPLES = "no_register_samples"


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Power (kW) and current (A) values at which some tariff element's restriction flips."""

    power_kw: tuple[Decimal, ...] = ()
    current_a: tuple[Decimal, ...] = ()

    @classmethod
    def of(cls, tariff: Tariff | None) -> Thresholds:
        if tariff is None:
            return cls()
        power: set[Decimal] = set()
        current: set[Decimal] = set()
        for element in tariff.elements:
            r = element.restrictions
            if r is None:
                continue
            power.update(v for v in (r.min_power, r.max_power) if v is not None)
            current.update(v for v in (r.min_current, r.max_current) if v is not None)
        return cls(tuple(sorted(power)), tuple(sorted(current)))

    def band(self, power_kw: Decimal | None, current_a: Decimal | None) -> tuple[int, int]:
        p = -1 if power_kw is None else bisect.bisect_right(self.power_kw, power_kw)
        c = -1 if current_a is None else bisect.bisect_right(self.current_a, current_a)
        return p, c


@dataclass(frozen=True, slots=True)
class BuiltPeriods:
    periods: tuple[ChargingPeriod, ...]
    start: datetime
    end: datetime
    energy_wh: int
    anomalies: frozenset[str]


@dataclass(slots=True)
class _Interval:
    t0: datetime
    t1: datetime
    energy_wh: Decimal
    power_w: Decimal | None  # sampled (held) power, None when not sampled
    current_a: Decimal | None
    parking: bool = False

    @property
    def seconds(self) -> Decimal:
        return Decimal((self.t1 - self.t0) // timedelta(microseconds=1)) / Decimal(1_000_000)


def _scale(sample: MeterSample) -> Decimal | None:
    v = sample.sampled
    number = v.number()
    if number is None or v.location not in (None, "Outlet"):
        return None
    value = Decimal(str(number))
    return value * 1000 if (v.unit or "").startswith("k") else value


def _series(samples: Iterable[MeterSample], measurand: str) -> dict[datetime, Decimal]:
    """Per timestamp: the total (phase-less) value, else the sum over the phases (L1, L2, L3...)."""
    totals: dict[datetime, Decimal] = {}
    phases: dict[datetime, dict[str, Decimal]] = defaultdict(dict)
    for s in samples:
        if s.sampled.effective_measurand != measurand:
            continue
        value = _scale(s)
        if value is None:
            continue
        if s.sampled.phase is None:
            totals[s.timestamp] = value
        else:
            # Per line (L1, L1-N): OCPI sums over phases; neutral and line-to-line readings are no part
            # of that sum.
            line, _, other = s.sampled.phase.partition("-")
            if line.startswith("L") and other in ("", "N"):
                phases[s.timestamp][line] = value
    for at, per_phase in phases.items():
        totals.setdefault(at, sum(per_phase.values(), _ZERO))
    return totals


def _held(series: dict[datetime, Decimal], times: list[datetime], at: datetime) -> Decimal | None:
    i = bisect.bisect_right(times, at) - 1
    return None if i < 0 else series[times[i]]


def build_periods(
    transaction: Transaction,
    samples: Sequence[MeterSample],
    thresholds: Thresholds = Thresholds(),
    *,
    parking_below_w: Decimal = DEFAULT_PARKING_BELOW_W,
) -> BuiltPeriods:
    """The OCPI charging periods of a stopped ``transaction`` (see the module docstring)."""
    if transaction.stopped_at is None or transaction.meter_stop is None:
        raise ValueError("a CDR needs a stopped transaction")
    anomalies: set[str] = set()
    start, end = transaction.started_at, transaction.stopped_at
    if end < start:
        anomalies.add(PeriodAnomaly.STOP_BEFORE_START)
        end = start
    first_wh = transaction.meter_start
    last_wh = transaction.meter_stop
    if last_wh < first_wh:
        anomalies.add(PeriodAnomaly.METER_STOP_BELOW_START)
        last_wh = first_wh

    inside: list[MeterSample] = []
    for s in samples:
        if start <= s.timestamp <= end:
            inside.append(s)
        else:
            anomalies.add(PeriodAnomaly.SAMPLE_OUTSIDE_SESSION)

    # Register points, monotonic and within [meterStart, meterStop].
    raw_register = _series(inside, REGISTER)
    points: list[tuple[datetime, Decimal]] = [(start, Decimal(first_wh))]
    high = Decimal(first_wh)
    for at in sorted(raw_register):
        wh = raw_register[at]
        if wh < high:
            anomalies.add(PeriodAnomaly.REGISTER_WENT_BACKWARDS)
            wh = high
        if wh > last_wh:
            anomalies.add(PeriodAnomaly.REGISTER_ABOVE_METER_STOP)
            wh = Decimal(last_wh)
        high = wh
        if at == start:
            continue
        if at == end:
            break
        points.append((at, wh))
    points.append((end, Decimal(last_wh)))
    if not raw_register and last_wh > first_wh:
        anomalies.add(PeriodAnomaly.NO_REGISTER_SAMPLES)

    power = _series(inside, POWER)
    current = _series(inside, CURRENT)
    power_times, current_times = sorted(power), sorted(current)
    cuts = sorted({start, end, *(t for t, _ in points), *power_times, *current_times})

    intervals: list[_Interval] = []
    for (r0, wh0), (r1, wh1) in itertools.pairwise(points):
        inner = [t for t in cuts if r0 <= t <= r1]
        segment = [
            _Interval(a, b, _ZERO, _held(power, power_times, a), _held(current, current_times, a))
            for a, b in itertools.pairwise(inner)
            if b > a
        ]
        _spread(segment, wh1 - wh0, parking_below_w)
        intervals.extend(segment)

    periods = _merge(intervals, thresholds) if intervals else []
    if not periods:  # a zero-length session still needs one period (OCPI: 1 or more)
        periods = [
            ChargingPeriod(
                start_date_time=start,
                dimensions=[
                    CdrDimension(type=_D.ENERGY, volume=(Decimal(last_wh - first_wh) / 1000).quantize(_KWH)),
                    CdrDimension(type=_D.TIME, volume=_ZERO),
                ],
            )
        ]
    return BuiltPeriods(tuple(periods), start, end, last_wh - first_wh, frozenset(anomalies))


def _spread(segment: list[_Interval], energy_wh: Decimal, parking_below_w: Decimal) -> None:
    """Distribute one register step over its sub-intervals and mark the parked ones."""
    if not segment:
        return
    known = [i.power_w for i in segment if i.power_w is not None and i.power_w >= parking_below_w]
    fill = sum(known, _ZERO) / len(known) if known else Decimal(1)

    def weight(i: _Interval) -> Decimal:
        if i.power_w is None:
            return i.seconds * fill
        return i.seconds * i.power_w if i.power_w >= parking_below_w else _ZERO

    weights = [weight(i) for i in segment]
    total = sum(weights, _ZERO)
    if total == 0 and energy_wh > 0:  # energy flowed although every sample read ~0: spread by time
        weights = [i.seconds for i in segment]
        total = sum(weights, _ZERO)
    for i, w in zip(segment, weights, strict=True):
        i.energy_wh = energy_wh * w / total if total > 0 else _ZERO
        requesting = i.power_w is not None and i.power_w >= parking_below_w
        i.parking = i.energy_wh == 0 and not requesting


def _kw(interval: _Interval) -> Decimal | None:
    if interval.power_w is not None:
        return interval.power_w / 1000
    seconds = interval.seconds
    if seconds == 0:
        return None
    return (interval.energy_wh * 36 / 10 / seconds).quantize(_KWH)  # Wh/s * 3.6 = kW


def _merge(intervals: list[_Interval], thresholds: Thresholds) -> list[ChargingPeriod]:
    groups: list[list[_Interval]] = []
    keys: list[tuple[bool, int, int]] = []
    for i in intervals:
        key = (True, -1, -1) if i.parking else (False, *thresholds.band(_kw(i), i.current_a))
        if keys and keys[-1] == key:
            groups[-1].append(i)
        else:
            groups.append([i])
            keys.append(key)

    origin = intervals[0].t0
    periods: list[ChargingPeriod] = []
    energy_so_far = _ZERO
    kwh_before = _ZERO
    for group in groups:
        t0, t1 = group[0].t0, group[-1].t1
        hours = _hours(origin, t1) - _hours(origin, t0)
        energy_so_far += sum((i.energy_wh for i in group), _ZERO)
        kwh_after = (energy_so_far / 1000).quantize(_KWH, rounding=ROUND_HALF_EVEN)
        kwh = kwh_after - kwh_before
        kwh_before = kwh_after
        if group[0].parking:
            dims = [CdrDimension(type=_D.PARKING_TIME, volume=hours)]
        else:
            dims = [CdrDimension(type=_D.ENERGY, volume=kwh), CdrDimension(type=_D.TIME, volume=hours)]
            powers = [p for p in (_kw(i) for i in group) if p is not None]
            if powers:
                dims.append(CdrDimension(type=_D.MAX_POWER, volume=max(powers)))
                dims.append(CdrDimension(type=_D.MIN_POWER, volume=min(powers)))
            currents = [i.current_a for i in group if i.current_a is not None]
            if currents:
                dims.append(CdrDimension(type=_D.MAX_CURRENT, volume=max(currents)))
                dims.append(CdrDimension(type=_D.MIN_CURRENT, volume=min(currents)))
        periods.append(ChargingPeriod(start_date_time=t0, dimensions=dims))
    return periods


def _hours(origin: datetime, at: datetime) -> Decimal:
    return (Decimal((at - origin) // timedelta(microseconds=1)) / _US_PER_H).quantize(_HOURS)
