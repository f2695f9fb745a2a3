"""A plausible electricity meter for one connector: monotonic energy, power that ramps and tapers.

Energy is integrated from the simulated power over real elapsed time, so the register and the timestamps of
the meter values agree (a 10 s sample at 11 kW adds ~30.6 Wh). Units: energy in Wh, power in W, current in
A, voltage in V, temperature in Celsius, state of charge in percent.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ocpp.v16 import datatypes
from ocpp.v16.enums import Location, Measurand, Phase, ReadingContext, UnitOfMeasure

DEFAULT_MEASURANDS: tuple[Measurand, ...] = (
    Measurand.energy_active_import_register,
    Measurand.power_active_import,
)
SUPPORTED_MEASURANDS: tuple[Measurand, ...] = (
    Measurand.energy_active_import_register,
    Measurand.power_active_import,
    Measurand.current_import,
    Measurand.voltage,
    Measurand.current_offered,
    Measurand.power_offered,
    Measurand.soc,
    Measurand.temperature,
)
NOMINAL_VOLTAGE_V = 230.0
PHASES = (Phase.l1, Phase.l2, Phase.l3)
VOLTAGE_PHASES = (Phase.l1_n, Phase.l2_n, Phase.l3_n)


def utc_now_iso() -> str:
    """Now, as OCPP wants timestamps: UTC, millisecond precision, ``Z`` suffix."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_measurands(text: str) -> tuple[Measurand, ...]:
    """Comma-separated measurand names (as in ``MeterValuesSampledData``); unknown names raise ValueError."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    measurands = tuple(Measurand(name) for name in names)
    unsupported = [m for m in measurands if m not in SUPPORTED_MEASURANDS]
    if unsupported:
        raise ValueError(f"measurand(s) not simulated: {', '.join(unsupported)}")
    return measurands


@dataclass
class ConnectorMeter:
    """The energy register and the live power of one connector.

    ``max_power_w`` is what the connector can deliver; each session draws an EV-specific share of it.
    The register never decreases, across sessions too.
    """

    max_power_w: float
    phases: int = 3
    rng: random.Random = field(default_factory=random.Random)
    register_wh: float = 0.0
    power_w: float = 0.0
    soc_percent: float = 0.0
    _ev_limit_w: float = 0.0
    _battery_wh: float = 60_000.0
    _samples_in_session: int = 0

    def __post_init__(self) -> None:
        if self.register_wh == 0.0:
            # A meter that has seen some use: between 100 kWh and 5 MWh.
            self.register_wh = float(self.rng.randint(100_000, 5_000_000))

    @property
    def register_int_wh(self) -> int:
        return int(self.register_wh)

    def start_session(self) -> int:
        """Plug in a new EV; return the meter start (Wh)."""
        self._ev_limit_w = self.max_power_w * self.rng.uniform(0.6, 1.0)
        self._battery_wh = self.rng.choice((40_000.0, 60_000.0, 77_000.0, 100_000.0))
        self.soc_percent = self.rng.uniform(10.0, 50.0)
        self._samples_in_session = 0
        self.power_w = 0.0
        return self.register_int_wh

    def advance(self, elapsed_s: float) -> None:
        """Deliver energy for ``elapsed_s`` seconds at the current power, then pick the next power level."""
        if elapsed_s > 0:
            delivered = self.power_w * elapsed_s / 3600.0
            self.register_wh += delivered
            self.soc_percent = min(100.0, self.soc_percent + 100.0 * delivered / self._battery_wh)
        self._samples_in_session += 1
        # Ramp up over the first samples, taper above 80 % SoC, a little noise throughout.
        ramp = min(1.0, 0.4 + 0.3 * self._samples_in_session)
        taper = 1.0 if self.soc_percent < 80.0 else max(0.1, (100.0 - self.soc_percent) / 20.0)
        noise = self.rng.uniform(0.97, 1.0)
        self.power_w = min(self.max_power_w, self._ev_limit_w * ramp * taper * noise)

    def stop_session(self) -> int:
        """Unplug; return the meter stop (Wh)."""
        self.power_w = 0.0
        return self.register_int_wh

    def sampled_values(
        self,
        measurands: tuple[Measurand, ...],
        context: ReadingContext = ReadingContext.sample_periodic,
        per_phase: bool = False,
    ) -> list[datatypes.SampledValue]:
        """The current readings as OCPP sampled values (values are decimal strings)."""
        values: list[datatypes.SampledValue] = []

        def add(measurand: Measurand, value: float, unit: UnitOfMeasure, phase: Phase | None = None) -> None:
            text = str(int(value)) if unit == UnitOfMeasure.wh else f"{value:.1f}"
            location = Location.ev if measurand == Measurand.soc else Location.outlet
            values.append(
                datatypes.SampledValue(
                    value=text,
                    context=context,
                    measurand=measurand,
                    phase=phase,
                    location=location,
                    unit=unit,
                )
            )

        phases = max(1, self.phases)
        voltage = NOMINAL_VOLTAGE_V * self.rng.uniform(0.99, 1.01)
        current = self.power_w / (phases * voltage)
        offered_current = self.max_power_w / (phases * NOMINAL_VOLTAGE_V)
        for measurand in measurands:
            if measurand == Measurand.energy_active_import_register:
                add(measurand, self.register_wh, UnitOfMeasure.wh)
            elif measurand == Measurand.power_active_import:
                add(measurand, self.power_w, UnitOfMeasure.w)
            elif measurand == Measurand.power_offered:
                add(measurand, self.max_power_w, UnitOfMeasure.w)
            elif measurand == Measurand.current_import:
                if per_phase:
                    for phase in PHASES[:phases]:
                        add(measurand, current * self.rng.uniform(0.98, 1.02), UnitOfMeasure.a, phase)
                else:
                    add(measurand, current, UnitOfMeasure.a)
            elif measurand == Measurand.current_offered:
                add(measurand, offered_current, UnitOfMeasure.a)
            elif measurand == Measurand.voltage:
                if per_phase:
                    for phase in VOLTAGE_PHASES[:phases]:
                        add(measurand, voltage * self.rng.uniform(0.995, 1.005), UnitOfMeasure.v, phase)
                else:
                    add(measurand, voltage, UnitOfMeasure.v)
            elif measurand == Measurand.soc:
                add(measurand, self.soc_percent, UnitOfMeasure.percent)
            elif measurand == Measurand.temperature:
                add(measurand, 25.0 + 15.0 * self.power_w / self.max_power_w, UnitOfMeasure.celsius)
        return values

    def meter_value(
        self,
        measurands: tuple[Measurand, ...],
        context: ReadingContext = ReadingContext.sample_periodic,
        per_phase: bool = False,
    ) -> datatypes.MeterValue:
        return datatypes.MeterValue(
            timestamp=utc_now_iso(), sampled_value=self.sampled_values(measurands, context, per_phase)
        )
