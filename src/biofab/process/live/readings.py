"""Live readings and the one validator every source's readings pass.

A :class:`Reading` is one value of one variable at one time, as a source delivers it:
``time_h`` (hours from inoculation), ``variable`` (a twin name such as ``OUR`` or a
standard signal name such as ``biomass``, see :data:`biofab.process.scenario.SIGNAL_MAP`),
``value``, ``unit`` (as written by the source) and ``source`` (where it came from, e.g.
``opc.tcp://host:4840 ns=2;s=OUR``).

:class:`ReadingValidator` turns a reading into a :class:`CheckedReading` in the twin's
name and unit, or raises :class:`ReadingError` (one line: variable, time, what was
expected and what was found). The checks, in order:

1. the time is a finite number >= 0 h;
2. the variable is known to the twin (a state, output or logged input with a standard
   signal);
3. the value is a finite number;
4. the unit is given, known to :mod:`biofab.process.units` and convertible to the twin's
   unit (molar <-> mass concentrations through the signal's molar mass);
5. after conversion the value is physically possible: concentrations, volume and flows
   are not negative (:data:`~biofab.process.batchdata.SIGNALS`), the volume lies in
   ``(0, volume_max]`` L, the temperature in [-5, 100] degC and the pH in [0, 14];
   ``ranges`` overrides or adds bounds per twin variable.

Time order is not checked here: it is a property of a stream, not of one reading (see
:mod:`biofab.process.live.ordering`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from biofab.core.errors import InputError
from biofab.process import units as _units

__all__ = [
    "STATUSES",
    "CheckedReading",
    "Reading",
    "ReadingError",
    "ReadingValidator",
]

STATUSES = ("accepted", "late", "rejected")
"""What happens to a reading: fed to the estimator, stored but too late to feed, refused."""


class ReadingError(InputError):
    """A reading that cannot be used: unknown variable, bad unit, impossible value."""


@dataclass(frozen=True)
class Reading:
    """One value as a source delivers it (units as the source writes them)."""

    time_h: float
    variable: str
    value: float
    unit: str
    source: str = ""

    def label(self) -> str:
        """``OUR at t=1.25 h`` (for messages)."""
        return f"{self.variable} at t={_number(self.time_h)} h"


@dataclass(frozen=True)
class CheckedReading:
    """A valid reading in the twin's name (``variable``) and unit (``unit``)."""

    reading: Reading
    variable: str
    value: float
    unit: str

    @property
    def time_h(self) -> float:
        return float(self.reading.time_h)


_CONCENTRATIONS = ("biomass", "substrate", "product", "acetate", "lactate", "ethanol",
                   "glutamine", "ammonia")  # fmt: skip
# Physical bounds that hold for any fermentation, per standard signal (signal unit).
_SIGNAL_RANGES: dict[str, tuple[float, float]] = {
    "temperature": (-5.0, 100.0),  # liquid culture
    "pH": (0.0, 14.0),
    "DO": (-10.0, 1000.0),  # probe drift dips below 0; pure O2 sparging goes above 100 %
    # a litre of broth weighs about a kilogram: nothing in it reaches 1000 g/L (a biomass
    # of 1e150 g/L was accepted, stored as such and drawn in the report)
    **dict.fromkeys(_CONCENTRATIONS, (0.0, 1000.0)),
    # an order above the highest oxygen transfer of a stirred tank (~200 mmol/L/h); an
    # OUR of 1e12 sent the filter's state to infinity and stopped the twin
    "OUR": (-2000.0, 2000.0),
    "CER": (-2000.0, 2000.0),
}


class ReadingValidator:
    """Check readings against a twin's variables, units and physical ranges.

    Parameters
    ----------
    model:
        Twin kind: ``ecoli`` or ``cho`` (its names and units come from
        :data:`~biofab.process.scenario.SIGNAL_MAP`).
    volume_max:
        Largest believable broth volume, L (default: no upper bound).
    time_max:
        Latest believable reading time, h after inoculation (default: no upper bound). A
        reading stamped far ahead (a clock slip, milliseconds read as hours) would close
        every estimator step up to it, make every later reading late, and run the twin's
        recipe far past its range.
    ranges:
        Extra or overriding ``(low, high)`` bounds per twin variable, in the twin's unit.
    """

    def __init__(
        self,
        model: str,
        *,
        volume_max: float | None = None,
        time_max: float | None = None,
        ranges: Mapping[str, tuple[float, float]] | None = None,
    ) -> None:
        from biofab.process.batchdata import SIGNALS
        from biofab.process.scenario import SIGNAL_MAP

        if model not in SIGNAL_MAP:
            raise InputError("unknown model", expected=" | ".join(SIGNAL_MAP), found=model)
        if volume_max is not None and not (math.isfinite(volume_max) and volume_max > 0):
            raise InputError("volume_max must be positive", expected="> 0 L", found=volume_max)
        if time_max is not None and not (math.isfinite(time_max) and time_max > 0):
            raise InputError("time_max must be positive", expected="> 0 h", found=time_max)
        self.model = model
        self.volume_max = volume_max
        self.time_max = time_max
        self.ranges = dict(ranges or {})
        table = SIGNAL_MAP[model]
        # twin name or standard signal name -> (twin name, twin unit, standard signal)
        self._names: dict[str, tuple[str, str, str]] = {}
        for name, (signal, unit) in table.items():
            self._names[name] = (name, unit, signal)
            self._names.setdefault(signal, (name, unit, signal))
        self._signals = SIGNALS
        self._bounds = {
            name: self._default_bounds(name, signal) for name, (signal, _) in table.items()
        }
        for name, (low, high) in self.ranges.items():
            if name not in table:
                raise InputError(
                    "range for an unknown variable", expected=", ".join(table), found=name
                )
            self._bounds[name] = (float(low), float(high))

    @property
    def variables(self) -> dict[str, str]:
        """Twin variable -> twin unit."""
        return {name: unit for name, unit, _ in self._names.values()}

    def _default_bounds(self, name: str, signal: str) -> tuple[float, float]:
        from biofab.process.scenario import SIGNAL_MAP

        low, high = _SIGNAL_RANGES.get(signal, (-math.inf, math.inf))
        if self._signals[signal].nonnegative:
            low = max(low, 0.0)
        unit = SIGNAL_MAP[self.model][name][1]
        standard = self._signals[signal].unit
        if unit != standard and signal in _SIGNAL_RANGES:
            converted = _units.convert(
                [low, high], standard, unit, molar_mass=self._signals[signal].molar_mass
            )
            low, high = float(converted[0]), float(converted[1])
        if signal == "volume":
            low, high = 0.0, self.volume_max if self.volume_max is not None else math.inf
        return low, high

    def check_unit(self, variable: str, unit: str) -> str:
        """The twin's name of ``variable`` if its readings in ``unit`` can be used (a known
        variable, a unit convertible to the twin's), else :class:`ReadingError`: for a
        source that declares its units before any reading (an OPC UA node map), so that a
        wrong one is refused at the start instead of rejecting every reading."""
        known = self._names.get(str(variable))
        if known is None:
            raise ReadingError(
                f"{variable}: unknown variable",
                column="variable",
                expected=", ".join(sorted(self._names)),
                found=variable,
            )
        name, twin_unit, signal = known
        self._to_unit(1.0, str(unit).strip(), twin_unit, signal, str(variable))
        return name

    def check(self, reading: Reading) -> CheckedReading:
        """The reading in the twin's name and unit, or :class:`ReadingError`."""
        t = _float(reading.time_h)
        if t is None or not math.isfinite(t) or t < 0:
            raise ReadingError(
                f"reading of {reading.variable}: bad time",
                column="time_h",
                expected="a finite number of hours >= 0",
                found=reading.time_h,
            )
        if self.time_max is not None and t > self.time_max:
            raise ReadingError(
                f"{reading.label()}: time beyond the run's horizon",
                column="time_h",
                expected=f"<= {self.time_max:g} h after inoculation",
                found=reading.time_h,
            )
        known = self._names.get(str(reading.variable))
        if known is None:
            raise ReadingError(
                f"{reading.label()}: unknown variable",
                column="variable",
                expected=", ".join(sorted(self._names)),
                found=reading.variable,
            )
        name, unit, signal = known
        value = _float(reading.value)
        if value is None or not math.isfinite(value):
            raise ReadingError(
                f"{reading.label()}: value is not a finite number",
                column="value",
                expected="a finite number",
                found=reading.value,
            )
        converted = self._convert(reading, value, unit, signal)
        low, high = self._bounds[name]
        if not low <= converted <= high:
            if signal == "volume":
                what = f"0 < value <= {_number(high)} {unit}"
            else:
                what = f"{_number(low)} <= value <= {_number(high)} {unit}"
            impossible = "negative" if converted < 0 and low >= 0 else "outside its range"
            raise ReadingError(
                f"{reading.label()}: physically impossible value ({impossible})",
                column="value",
                expected=what,
                found=f"{_number(value)} {reading.unit}",
            )
        if signal == "volume" and converted <= 0:
            raise ReadingError(
                f"{reading.label()}: physically impossible value (volume must be positive)",
                column="value",
                expected=f"0 < value <= {_number(high)} {unit}",
                found=f"{_number(value)} {reading.unit}",
            )
        return CheckedReading(reading, name, converted, unit)

    def _convert(self, reading: Reading, value: float, unit: str, signal: str) -> float:
        written = str(reading.unit or "").strip()
        if not written:
            raise ReadingError(
                f"{reading.label()}: unit missing",
                column="unit",
                expected=f"a unit convertible to {unit}",
                found=reading.unit,
            )
        return self._to_unit(value, written, unit, signal, reading.label())

    def _to_unit(self, value: float, written: str, unit: str, signal: str, label: str) -> float:
        """``value`` in ``written`` units as ``unit`` (molar units through the signal's
        molar mass), or a :class:`ReadingError` naming ``label``."""
        try:
            molar_mass = self._signals[signal].molar_mass
            return float(_units.convert(value, written, unit, molar_mass=molar_mass))
        except _units.UnitError as err:
            raise ReadingError(
                f"{label}: {err.message}",
                column="unit",
                expected=f"a unit convertible to {unit}",
                found=written,
            ) from None


def _float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _number(value: Any) -> str:
    number = _float(value)
    return f"{number:g}" if number is not None else repr(value)
