"""Fermentation batch data: one fed-batch run as online signals plus sparse offline samples.

A :class:`BatchData` holds one run (``batch_id``) with

* ``online`` — a DataFrame indexed by ``time_h`` (hours from inoculation, strictly
  increasing) with one column per online signal (DO, pH, off-gas, feed, volume, ...).
  NaN means "no reading at this time" (signals logged on different clocks, or gaps
  a mapping allowed); interpolation uses each signal's own readings.
* ``offline`` — a DataFrame indexed by ``time_h`` with one column per sampled signal
  (biomass, substrate, product, by-products); NaN means "not sampled". Rows with no
  sample at all are dropped.
* ``units`` — signal -> unit; always the standard unit of :data:`SIGNALS` (loaders
  and :meth:`BatchData.from_frames` convert to it).
* ``metadata`` — free-form facts about the run (strain, scale, induction time, ...).

Signal names and their standard units are fixed in :data:`SIGNALS`, so a model can
rely on ``batch["biomass"]`` being g/L and ``batch["feed_rate"]`` L/h. Every
concentration is g/L (mM inputs convert with the signal's molar mass).

Files: :func:`read_batches` reads a LONG CSV (``batch, time, variable, value[, unit]
[, kind]``) or a WIDE CSV (``batch, time``, one column per signal) and an optional
column-mapping YAML (see :class:`ColumnMapping`). Reading rules:

* time is numeric in h, min, s or d, or ISO 8601 clock times (unit ``datetime``,
  counted from the batch's ``inoculation`` metadata or its first row);
* time must be strictly increasing within a batch (per signal in long files):
  a repeated time is "duplicated", a smaller one "unsorted"; both are errors;
* LONG: a missing (empty/NaN) value is an error — an unmeasured point is simply
  absent from a long file;
* WIDE: an empty offline cell means "not sampled"; an empty online cell is an error
  unless the mapping lists the signal in ``allow_gaps`` (or sets it to ``true``).
  A row with no online value at all is an offline-only sample row and is fine;
* negative values of a non-negative signal (concentrations, volume, feed, ...),
  unknown units, units that cannot become the signal's standard unit, a mapped
  column missing from the file, an unknown signal name and an empty file are errors.

Every problem raises :class:`~biofab.core.errors.InputError` naming file, row (data
rows count from 1), column, what was expected and what was found.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import yaml

from biofab.core.atomic import atomic_path
from biofab.core.errors import InputError
from biofab.process import units as _units
from biofab.process.units import UnitError

Kind = Literal["online", "offline"]
TIME = "time_h"


@dataclass(frozen=True)
class Signal:
    """A standard signal: its unit, whether it is usually online, and its physical limits.

    ``molar_mass`` (g/mol) lets mM inputs become g/L; ``nonnegative`` signals reject
    values below 0 (DO, OUR and CER may dip below 0 from probe drift and noise).
    """

    name: str
    unit: str
    kind: Kind
    description: str
    nonnegative: bool = True
    molar_mass: float | None = None


def _registry() -> dict[str, Signal]:
    signals = [
        Signal("DO", "%", "online", "dissolved oxygen, % of air saturation", nonnegative=False),
        Signal("pH", "pH", "online", "culture pH"),
        Signal("temperature", "degC", "online", "culture temperature", nonnegative=False),
        Signal("offgas_O2", "%", "online", "O2 in the off-gas, vol %"),
        Signal("offgas_CO2", "%", "online", "CO2 in the off-gas, vol %"),
        # Molar masses of O2 and CO2 let g/L/h readings become mmol/L/h.
        Signal(
            "OUR", "mmol/L/h", "online", "oxygen uptake rate", nonnegative=False, molar_mass=31.998
        ),
        Signal(
            "CER", "mmol/L/h", "online", "CO2 evolution rate", nonnegative=False, molar_mass=44.009
        ),
        Signal("base_mass", "g", "online", "cumulative base added, by mass"),
        Signal("base_volume", "L", "online", "cumulative base added, by volume"),
        Signal("feed_rate", "L/h", "online", "feed pump rate"),
        Signal("feed_cumulative", "L", "online", "cumulative feed volume"),
        Signal("volume", "L", "online", "broth volume"),
        Signal("stirrer", "rpm", "online", "stirrer speed"),
        Signal("air_flow", "L/h", "online", "inlet gas flow"),
        Signal("biomass", "g/L", "offline", "biomass, dry cell weight"),
        Signal("OD600", "AU", "offline", "optical density at 600 nm"),
        # The main carbon source; glucose's molar mass for mM inputs.
        Signal("substrate", "g/L", "offline", "main substrate (glucose)", molar_mass=180.156),
        Signal("product", "g/L", "offline", "product titer"),
        # Acids as the free acid, as HPLC methods usually report them.
        Signal("acetate", "g/L", "offline", "acetate (as acetic acid)", molar_mass=60.052),
        Signal("lactate", "g/L", "offline", "lactate (as lactic acid)", molar_mass=90.078),
        Signal("ethanol", "g/L", "offline", "ethanol", molar_mass=46.069),
        Signal("glutamine", "g/L", "offline", "glutamine", molar_mass=146.146),
        Signal("ammonia", "g/L", "offline", "ammonia (as NH3)", molar_mass=17.031),
        Signal("viable_cells", "1e6 cells/mL", "offline", "viable cell density"),
        Signal("viability", "%", "offline", "viable fraction of cells"),
    ]
    return {s.name: s for s in signals}


SIGNALS: dict[str, Signal] = _registry()
"""The standard signals, by name. Units are the ones every :class:`BatchData` holds."""


def _unknown_signal(name: str, **where: Any) -> InputError:
    close = difflib.get_close_matches(name, list(SIGNALS), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return InputError(
        f"unknown signal '{name}'{hint}",
        expected="one of " + ", ".join(SIGNALS),
        found=name,
        **where,
    )


def _fmt(x: float) -> str:
    return f"{x:g}"


# ---------------------------------------------------------------------------------------
# BatchData


@dataclass(eq=False)
class BatchData:
    """One fed-batch run: online signals, sparse offline samples, units and metadata.

    Build it with :meth:`from_frames` (converts units, checks values) or from files
    with :func:`read_batches`. Frames are indexed by ``time_h`` (h from inoculation);
    values are in the standard units of :data:`SIGNALS`. Methods never modify the
    object; they return new ones.
    """

    batch_id: str
    online: pd.DataFrame
    offline: pd.DataFrame
    units: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.batch_id = str(self.batch_id)
        self.online = _normalise(self.online, self.batch_id, "online")
        offline = _normalise(self.offline, self.batch_id, "offline")
        self.offline = offline.loc[offline.notna().any(axis=1)] if offline.shape[1] else offline
        both = set(self.online.columns) & set(self.offline.columns)
        if both:
            name = sorted(both)[0]
            raise InputError(
                f"batch '{self.batch_id}': signal '{name}' is both online and offline",
                column=name,
                expected="each signal in one of the two frames",
            )
        units = {}
        for name in [*self.online.columns, *self.offline.columns]:
            std = SIGNALS[name].unit
            given = self.units.get(name, std)
            if _units.canonical(given) != std:
                raise InputError(
                    f"batch '{self.batch_id}': unit mismatch for '{name}' "
                    "(BatchData holds standard units; BatchData.from_frames converts)",
                    column=name,
                    expected=std,
                    found=given,
                )
            units[name] = std
        self.units = units
        self.metadata = dict(self.metadata)

    # -- construction -------------------------------------------------------------------

    @classmethod
    def from_frames(
        cls,
        batch_id: str,
        online: pd.DataFrame | None = None,
        offline: pd.DataFrame | None = None,
        *,
        units: Mapping[str, str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        time: str = TIME,
        time_unit: str = "h",
        allow_gaps: bool = False,
    ) -> BatchData:
        """Build a batch from DataFrames in any supported units.

        ``online`` / ``offline``: one column per standard signal; time is the column
        named ``time`` when present, else the index (``time_unit``, default h).
        ``units`` gives the unit of each column that is not in its standard unit
        (converted here, e.g. ``{"biomass": "mg/L", "feed_rate": "mL/h"}``).
        Offline NaN means "not sampled"; online NaN is an error unless
        ``allow_gaps`` (e.g. signals logged on different clocks). Simulated noisy
        data must be clipped at 0 for non-negative signals: a negative
        concentration is an error.

        >>> t = np.linspace(0, 10, 11)
        >>> b = BatchData.from_frames("sim1", pd.DataFrame({"volume": 1 + 0.05 * t}, index=t),
        ...                           pd.DataFrame({"biomass": [0.1, 5.0]}, index=[0, 10]))
        """
        given = dict(units or {})
        frames = []
        for kind, frame in (("online", online), ("offline", offline)):
            if frame is None:
                frames.append(pd.DataFrame(index=pd.Index([], dtype=float, name=TIME)))
                continue
            frame = frame.copy()
            if time in frame.columns:
                frame = frame.set_index(time)
            try:
                idx = _units.convert(frame.index.to_numpy(dtype=float), time_unit, "h")
            except (TypeError, ValueError) as err:
                raise InputError(
                    f"batch '{batch_id}': {kind} time is not numeric",
                    column=time,
                    expected="hours from inoculation",
                    found=str(err),
                ) from None
            frame.index = pd.Index(idx, name=TIME)
            for col in frame.columns:
                name = str(col)
                if name not in SIGNALS:
                    raise _unknown_signal(name, column=name)
                values = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)
                bad = np.flatnonzero(frame[col].notna().to_numpy() & np.isnan(values))
                if bad.size:
                    raise InputError(
                        f"batch '{batch_id}': {kind} value is not a number",
                        row=int(bad[0]) + 1,
                        column=name,
                        found=frame[col].iloc[bad[0]],
                    )
                if kind == "online" and not allow_gaps and np.isnan(values).any():
                    i = int(np.flatnonzero(np.isnan(values))[0])
                    raise InputError(
                        f"batch '{batch_id}': NaN online reading of '{name}' "
                        f"at {_fmt(idx[i])} h (pass allow_gaps=True if gaps are expected)",
                        row=i + 1,
                        column=name,
                        expected="a number",
                        found="NaN",
                    )
                sig = SIGNALS[name]
                unit = given.get(name, sig.unit)
                try:
                    values = _units.convert(values, unit, sig.unit, molar_mass=sig.molar_mass)
                except UnitError as err:
                    raise InputError(
                        f"batch '{batch_id}': unit of '{name}': {err.message}",
                        column=name,
                        expected=f"a unit convertible to {sig.unit}",
                        found=unit,
                    ) from None
                frame[col] = values
            frame.columns = [str(c) for c in frame.columns]
            frames.append(frame)
        return cls(str(batch_id), frames[0], frames[1], {}, dict(metadata or {}))

    # -- views --------------------------------------------------------------------------

    @property
    def online_signals(self) -> list[str]:
        """Names of the online signals, in column order."""
        return [str(c) for c in self.online.columns]

    @property
    def offline_signals(self) -> list[str]:
        """Names of the offline (sampled) signals, in column order."""
        return [str(c) for c in self.offline.columns]

    @property
    def signals(self) -> list[str]:
        """All signal names: online first, then offline."""
        return self.online_signals + self.offline_signals

    @property
    def times(self) -> npt.NDArray[np.float64]:
        """Online time points, h; shape ``(n_online,)``."""
        return self.online.index.to_numpy(dtype=float)

    @property
    def t_start(self) -> float:
        """Earliest time of any reading, h (NaN for an empty batch)."""
        return float(np.nanmin(self._all_times())) if self._all_times().size else math.nan

    @property
    def t_end(self) -> float:
        """Latest time of any reading, h (NaN for an empty batch)."""
        return float(np.nanmax(self._all_times())) if self._all_times().size else math.nan

    def kind(self, signal: str) -> Kind:
        """``"online"`` or ``"offline"`` for a signal of this batch."""
        if signal in self.online.columns:
            return "online"
        if signal in self.offline.columns:
            return "offline"
        raise KeyError(signal)

    def __getitem__(self, signal: str) -> pd.Series:
        """The readings of one signal (NaN dropped), indexed by ``time_h``."""
        frame = self.online if signal in self.online.columns else self.offline
        if signal not in frame.columns:
            raise KeyError(f"batch '{self.batch_id}' has no signal '{signal}'")
        return frame[signal].dropna()

    def __contains__(self, signal: object) -> bool:
        return signal in self.online.columns or signal in self.offline.columns

    def _all_times(self) -> npt.NDArray[np.float64]:
        return np.concatenate([self.times, self.offline.index.to_numpy(dtype=float)])

    # -- transformations ----------------------------------------------------------------

    def at(self, times: npt.ArrayLike) -> pd.DataFrame:
        """Online signals linearly interpolated at ``times`` (h), in the given order.

        Each signal uses its own readings; outside a signal's first-last reading the
        value is NaN (no extrapolation). Returns a DataFrame of shape
        ``(len(times), n_online)`` indexed by ``time_h``.
        """
        t = np.atleast_1d(np.asarray(times, dtype=float))
        if t.ndim != 1 or not np.isfinite(t).all():
            raise InputError(
                f"batch '{self.batch_id}': interpolation times must be finite numbers",
                expected="a 1-D array of hours",
                found=str(t),
            )
        data = {name: _interp(self.online[name], t) for name in self.online_signals}
        return pd.DataFrame(data, index=pd.Index(t, name=TIME), columns=self.online_signals)

    def resample(
        self, dt_h: float, *, start: float | None = None, stop: float | None = None
    ) -> BatchData:
        """A copy with online signals interpolated onto ``start, start + dt_h, ... <= stop``.

        ``start`` / ``stop`` default to the first and last online time. Offline samples
        are kept as they are (sparse) within ``[start, stop]``.
        """
        if not dt_h > 0 or not math.isfinite(dt_h):
            raise InputError("resample step must be positive", expected="dt_h > 0 h", found=dt_h)
        if self.online.empty:
            raise InputError(
                f"batch '{self.batch_id}' has no online readings to resample",
                expected="at least one online time point",
            )
        t0 = float(self.times[0]) if start is None else float(start)
        t1 = float(self.times[-1]) if stop is None else float(stop)
        if t1 < t0:
            raise InputError("resample window is empty", expected=f"stop >= {t0}", found=t1)
        n = math.floor((t1 - t0) / dt_h + 1e-9) + 1
        # Rounding keeps grids of different batches identical despite float noise.
        grid = np.round(t0 + dt_h * np.arange(n), 9)
        offline = self.offline.loc[(self.offline.index >= t0) & (self.offline.index <= t1)]
        return self._replace(online=self.at(grid), offline=offline)

    def slice(self, t0: float, t1: float) -> BatchData:
        """A copy restricted to readings with ``t0 <= time_h <= t1`` (both frames)."""
        on = self.online.loc[(self.online.index >= t0) & (self.online.index <= t1)]
        off = self.offline.loc[(self.offline.index >= t0) & (self.offline.index <= t1)]
        return self._replace(online=on, offline=off)

    def align(self, other: BatchData, dt_h: float | None = None) -> tuple[BatchData, BatchData]:
        """Both batches resampled onto one common grid over their overlapping online span.

        ``dt_h`` defaults to the coarser of the two median online steps. Offline
        samples are kept (sparse) within the common window. Use it to compare a
        simulation with a measured run point by point, or two runs with each other.
        """
        if self.online.empty or other.online.empty:
            raise InputError(
                "align needs online readings in both batches",
                expected="two batches with online signals",
                found=f"'{self.batch_id}', '{other.batch_id}'",
            )
        t0 = max(self.times[0], other.times[0])
        t1 = min(self.times[-1], other.times[-1])
        if t1 < t0:
            raise InputError(
                f"batches '{self.batch_id}' and '{other.batch_id}' do not overlap in time",
                expected="a common time window",
                found=f"[{_fmt(self.times[0])}, {_fmt(self.times[-1])}] h and "
                f"[{_fmt(other.times[0])}, {_fmt(other.times[-1])}] h",
            )
        if dt_h is None:
            steps = [np.median(np.diff(b.times)) for b in (self, other) if b.times.size > 1]
            dt_h = float(max(steps)) if steps else 1.0
        return (
            self.resample(dt_h, start=t0, stop=t1),
            other.resample(dt_h, start=t0, stop=t1),
        )

    def to_long(self) -> pd.DataFrame:
        """One row per reading: ``batch, time_h, variable, value, unit, kind``.

        Online rows first, then offline; within each, by signal then time. NaN
        readings (gaps, not-sampled) are left out.
        """
        parts = []
        for kind, frame in (("online", self.online), ("offline", self.offline)):
            for name in frame.columns:
                s = frame[name].dropna()
                parts.append(
                    pd.DataFrame(
                        {
                            "batch": self.batch_id,
                            TIME: s.index.to_numpy(dtype=float),
                            "variable": str(name),
                            "value": s.to_numpy(dtype=float),
                            "unit": self.units[str(name)],
                            "kind": kind,
                        }
                    )
                )
        columns = ["batch", TIME, "variable", "value", "unit", "kind"]
        if not parts:
            return pd.DataFrame(columns=columns)
        return pd.concat(parts, ignore_index=True)[columns]

    def to_wide(self) -> pd.DataFrame:
        """One row per time point (online and offline times merged), ``batch, time_h``
        then one column per signal; empty where a signal has no reading."""
        index = self.online.index.union(self.offline.index)
        frame = pd.concat([self.online.reindex(index), self.offline.reindex(index)], axis=1)
        frame.index.name = TIME
        frame = frame.reset_index()
        frame.insert(0, "batch", self.batch_id)
        return frame

    def to_csv(self, path: str | Path, format: Literal["long", "wide"] = "long") -> Path:
        """Write this batch as a CSV (see :func:`write_batches`); returns the path."""
        return write_batches([self], path, format=format)

    def _replace(self, **changes: Any) -> BatchData:
        # dataclasses.replace re-runs __post_init__, so every copy is checked again.
        return dataclasses.replace(self, **changes)

    def __repr__(self) -> str:
        def listing(frame: pd.DataFrame) -> str:
            return ", ".join(f"{c} [{self.units[str(c)]}]" for c in frame.columns) or "-"

        span = f"{_fmt(self.t_start)}-{_fmt(self.t_end)} h" if self._all_times().size else "empty"
        meta = ", ".join(f"{k}={v!r}" for k, v in list(self.metadata.items())[:4])
        return (
            f"BatchData('{self.batch_id}', {span}, "
            f"online: {len(self.online)} points x {self.online.shape[1]} ({listing(self.online)}), "
            f"offline: {len(self.offline)} samples x {self.offline.shape[1]} "
            f"({listing(self.offline)})" + (f", metadata: {meta})" if meta else ")")
        )


def _normalise(frame: pd.DataFrame, batch_id: str, kind: str) -> pd.DataFrame:
    """Float index ``time_h`` (finite, strictly increasing), known float columns."""
    if not isinstance(frame, pd.DataFrame):
        raise InputError(
            f"batch '{batch_id}': {kind} data must be a DataFrame",
            found=type(frame).__name__,
        )
    out = frame.copy()
    out.columns = [str(c) for c in out.columns]
    for name in out.columns:
        if name not in SIGNALS:
            raise _unknown_signal(name, column=name)
    try:
        out.index = pd.Index(out.index.to_numpy(dtype=float), name=TIME)
        out = out.astype(float)
    except (TypeError, ValueError) as err:
        raise InputError(
            f"batch '{batch_id}': {kind} data must be numeric", found=str(err)
        ) from None
    t = out.index.to_numpy()
    if not np.isfinite(t).all():
        i = int(np.flatnonzero(~np.isfinite(t))[0])
        raise InputError(
            f"batch '{batch_id}': {kind} time is missing",
            row=i + 1,
            column=TIME,
            expected="a finite time in h",
            found=t[i],
        )
    step = np.diff(t)
    if (step <= 0).any():
        i = int(np.flatnonzero(step <= 0)[0]) + 1
        what = "duplicated" if step[i - 1] == 0 else "unsorted"
        raise InputError(
            f"batch '{batch_id}': {what} {kind} timestamp {_fmt(t[i])} h",
            row=i + 1,
            column=TIME,
            expected=f"time > {_fmt(t[i - 1])} h",
            found=float(t[i]),
        )
    values = out.to_numpy()
    if np.isinf(values).any():
        i, j = (int(k[0]) for k in np.nonzero(np.isinf(values)))
        raise InputError(
            f"batch '{batch_id}': infinite {kind} reading of '{out.columns[j]}' at {_fmt(t[i])} h",
            row=i + 1,
            column=out.columns[j],
            expected="a finite number",
            found=float(values[i, j]),
        )
    for j, name in enumerate(out.columns):
        if SIGNALS[name].nonnegative:
            neg = np.flatnonzero(values[:, j] < 0)
            if neg.size:
                i = int(neg[0])
                raise InputError(
                    f"batch '{batch_id}': negative {name} at {_fmt(t[i])} h",
                    row=i + 1,
                    column=name,
                    expected=f">= 0 {SIGNALS[name].unit}",
                    found=float(values[i, j]),
                )
    return out


def _interp(series: pd.Series, t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    ok = series.notna().to_numpy()
    x = series.index.to_numpy(dtype=float)[ok]
    y = series.to_numpy(dtype=float)[ok]
    if x.size == 0:
        return np.full(t.shape, np.nan)
    return np.interp(t, x, y, left=np.nan, right=np.nan)


# ---------------------------------------------------------------------------------------
# Column mapping


@dataclass(frozen=True)
class ColumnSpec:
    """How one file column (wide) or variable name (long) becomes a standard signal."""

    source: str
    signal: str
    unit: str
    kind: Kind
    molar_mass: float | None = None
    explicit_unit: bool = False  # the mapping named the unit (checked against unit columns)
    volume: float | None = None  # L: whole-vessel rates (mol/h) -> volumetric (mmol/L/h)
    density: float | None = None  # kg/L: feeds weighed on a balance (g/h) -> L/h


_MAPPING_KEYS = {
    "format",
    "batch",
    "time",
    "variable",
    "value",
    "unit",
    "kind",
    "columns",
    "allow_gaps",
    "metadata",
}
_SPEC_KEYS = {"signal", "unit", "kind", "molar_mass", "volume", "density"}


@dataclass
class ColumnMapping:
    """Which file column is which standard signal, in which unit, online or offline.

    YAML form (every key optional except ``columns``)::

        format: wide            # or long; detected from the header when absent
        batch: Run              # column with the batch id; absent -> one batch, the file stem
        time: {column: Time, unit: min}   # or just `time: Time` (then in h); unit
                                          # `datetime`: ISO 8601 clock times, hours counted
                                          # from metadata `inoculation` or the first row
        variable: Var           # long only: column of variable names (default `variable`)
        value: Val              # long only: column of values (default `value`)
        unit: Unit              # long only: optional column of per-row units
        columns:                # wide: file column -> signal; long: variable name -> signal
          DO_pct: DO            # short form: standard unit, the signal's usual kind
          X: {signal: biomass, unit: mg/L, kind: offline}
          Glc: {signal: substrate, unit: mM, molar_mass: 180.156}
        allow_gaps: [pH]        # wide only: online signals whose empty cells are gaps (or true)
        metadata:
          "*": {strain: BL21(DE3)}        # every batch
          B1: {induction_h: 12.0}

    Columns of the file that the mapping does not name are ignored (listed in each
    batch's ``metadata["ignored_columns"]``).
    """

    columns: dict[str, ColumnSpec]
    format: Literal["long", "wide"] | None = None
    batch: str | None = None
    time: str | None = None
    time_unit: str = "h"
    variable: str = "variable"
    value: str = "value"
    unit: str | None = None
    kind: str | None = None
    allow_gaps: bool | frozenset[str] = False
    metadata: dict[str, dict[str, Any]] = field(default_factory=dict)
    source: str | None = None

    @classmethod
    def from_yaml(cls, path: str | Path) -> ColumnMapping:
        """Read and check a mapping YAML file."""
        p = Path(path)
        if not p.is_file():
            raise InputError("mapping file not found", file=str(p))
        try:
            data = yaml.safe_load(p.read_text())
        except yaml.YAMLError as err:
            raise InputError(
                f"mapping is not valid YAML: {str(err).splitlines()[0]}", file=str(p)
            ) from None
        return cls.from_dict(data, source=str(p))

    @classmethod
    def from_dict(cls, data: Any, *, source: str | None = None) -> ColumnMapping:
        """Check a mapping given as a dict (the YAML's content)."""
        if not isinstance(data, dict):
            raise InputError(
                "mapping must be a YAML mapping", file=source, found=type(data).__name__
            )
        extra = sorted(set(map(str, data)) - _MAPPING_KEYS)
        if extra:
            raise InputError(
                f"unknown mapping key '{extra[0]}'",
                file=source,
                column=extra[0],
                expected="one of " + ", ".join(sorted(_MAPPING_KEYS)),
            )
        fmt = data.get("format")
        if fmt not in (None, "long", "wide"):
            raise InputError(
                "unknown format", file=source, column="format", expected="long or wide", found=fmt
            )
        time_raw: Any = data.get("time")
        time, time_unit = time_raw, "h"
        if isinstance(time_raw, dict):
            time, time_unit = time_raw.get("column"), str(time_raw.get("unit", "h"))
        given_unit = time_unit
        time_unit = _time_unit(time_unit)
        if time_unit == "?":
            raise InputError(
                "time unit is not a unit of time",
                file=source,
                column="time",
                expected="h, min, s, d or datetime",
                found=given_unit,
            )
        columns_raw = data.get("columns")
        if not isinstance(columns_raw, dict) or not columns_raw:
            raise InputError(
                "mapping needs a non-empty 'columns' section",
                file=source,
                column="columns",
                expected="file column -> signal",
                found=columns_raw,
            )
        specs = {str(k): _spec(str(k), v, source) for k, v in columns_raw.items()}
        seen: dict[str, str] = {}
        for spec in specs.values():
            if spec.signal in seen:
                raise InputError(
                    f"signal '{spec.signal}' is mapped twice",
                    file=source,
                    column=spec.source,
                    expected="one file column per signal",
                    found=f"'{seen[spec.signal]}' and '{spec.source}'",
                )
            seen[spec.signal] = spec.source
        gaps_raw = data.get("allow_gaps", False)
        gaps: bool | frozenset[str]
        if isinstance(gaps_raw, bool):
            gaps = gaps_raw
        elif isinstance(gaps_raw, list):
            gaps = frozenset(map(str, gaps_raw))
            for name in gaps:
                if name not in SIGNALS:
                    raise _unknown_signal(name, file=source, column="allow_gaps")
        else:
            raise InputError(
                "allow_gaps must be true/false or a list of signals",
                file=source,
                column="allow_gaps",
                found=gaps_raw,
            )
        meta_raw = data.get("metadata") or {}
        if not isinstance(meta_raw, dict) or not all(
            isinstance(v, dict) for v in meta_raw.values()
        ):
            raise InputError(
                "metadata must map batch ids (or '*') to dicts",
                file=source,
                column="metadata",
                found=meta_raw,
            )
        return cls(
            columns=specs,
            format=fmt,
            batch=None if data.get("batch") is None else str(data["batch"]),
            time=None if time is None else str(time),
            time_unit=time_unit,
            variable=str(data.get("variable", "variable")),
            value=str(data.get("value", "value")),
            unit=None if data.get("unit") is None else str(data["unit"]),
            kind=None if data.get("kind") is None else str(data["kind"]),
            allow_gaps=gaps,
            metadata={str(k): dict(v) for k, v in meta_raw.items()},
            source=source,
        )

    def gaps_allowed(self, signal: str) -> bool:
        """Whether empty online cells of ``signal`` are gaps rather than errors (wide)."""
        return self.allow_gaps is True or (
            isinstance(self.allow_gaps, frozenset) and signal in self.allow_gaps
        )


def _spec(column: str, raw: Any, source: str | None) -> ColumnSpec:
    if isinstance(raw, str):
        raw = {"signal": raw}
    if not isinstance(raw, dict) or "signal" not in raw:
        raise InputError(
            "mapping entry needs a signal",
            file=source,
            column=column,
            expected="a signal name or {signal: ..., unit: ..., kind: ...}",
            found=raw,
        )
    extra = sorted(set(map(str, raw)) - _SPEC_KEYS)
    if extra:
        raise InputError(
            f"unknown key '{extra[0]}' in mapping entry",
            file=source,
            column=column,
            expected="signal, unit, kind, molar_mass, volume, density",
        )
    name = str(raw["signal"])
    if name not in SIGNALS:
        raise _unknown_signal(name, file=source, column=column)
    sig = SIGNALS[name]
    kind = raw.get("kind", sig.kind)
    if kind not in ("online", "offline"):
        raise InputError(
            "unknown kind", file=source, column=column, expected="online or offline", found=kind
        )
    molar_mass = raw.get("molar_mass", sig.molar_mass)
    if molar_mass is not None and not (
        isinstance(molar_mass, int | float) and float(molar_mass) > 0
    ):
        raise InputError(
            "molar_mass must be a positive number (g/mol)",
            file=source,
            column=column,
            found=molar_mass,
        )
    extras: dict[str, float | None] = {}
    for key, what in (("volume", "broth volume (L)"), ("density", "feed density (kg/L)")):
        value = raw.get(key)
        if value is not None and not (
            isinstance(value, int | float) and math.isfinite(value) and value > 0
        ):
            raise InputError(
                f"{key} must be a positive number",
                file=source,
                column=column,
                expected=what,
                found=value,
            )
        extras[key] = None if value is None else float(value)
    unit = str(raw.get("unit", sig.unit))
    _check_unit(unit, sig, molar_mass, file=source, column=column, **extras)
    mass = None if molar_mass is None else float(molar_mass)
    return ColumnSpec(column, name, _units.canonical(unit), kind, mass, "unit" in raw, **extras)


def _check_unit(
    unit: str,
    sig: Signal,
    molar_mass: float | None,
    *,
    file: str | None,
    volume: float | None = None,
    density: float | None = None,
    **where: Any,
) -> None:
    try:
        ok = _units.convertible(
            unit, sig.unit, molar_mass=molar_mass, volume=volume, density=density
        )
    except UnitError:
        raise InputError(
            f"unknown unit '{unit}' for signal '{sig.name}'",
            file=file,
            expected=f"a unit convertible to {sig.unit}",
            found=unit,
            **where,
        ) from None
    if not ok:
        hints = {
            "molar_conc": " (give molar_mass)",
            "mass_rate": " (give molar_mass)",
            "amount_rate": " (give the broth volume, L, as volume)",
            "mass_flow": " (give the feed density, kg/L, as density)",
        }
        hint = hints.get(_units.dimension(unit), "")
        raise InputError(
            f"unit mismatch for signal '{sig.name}'{hint}",
            file=file,
            expected=f"a unit convertible to {sig.unit}",
            found=unit,
            **where,
        )


# ---------------------------------------------------------------------------------------
# Reading

_HEADER_UNIT = re.compile(r"^\s*(?P<name>.*?)\s*\[(?P<unit>[^\]]*)\]\s*$")
_NA = {"", "na", "nan", "n/a", "null", "none", "-nan"}


def _split_header(header: str) -> tuple[str, str | None]:
    """``"biomass [mg/L]"`` -> ``("biomass", "mg/L")``; no brackets -> ``(header, None)``."""
    m = _HEADER_UNIT.match(header)
    return (m["name"], m["unit"].strip()) if m else (header.strip(), None)


def read_batches(
    path: str | Path,
    mapping: ColumnMapping | Mapping[str, Any] | str | Path | None = None,
) -> list[BatchData]:
    """Read every batch of a LONG or WIDE CSV, in order of first appearance.

    ``mapping``: a :class:`ColumnMapping`, its dict, or a YAML path. Without one,
    columns (wide) or variable names (long) must be standard signal names, optionally
    with a unit in brackets (``"biomass [mg/L]"``); a long file may carry ``unit``
    and ``kind`` columns (what :func:`write_batches` writes). Time is ``time_h`` or
    ``time`` (``"time [min]"`` converts). Units are converted to the standard ones.
    See the module docstring for the rules; every problem raises ``InputError``.
    """
    p = Path(path)
    label = str(p)
    if isinstance(mapping, ColumnMapping):
        cmap: ColumnMapping | None = mapping
    elif isinstance(mapping, str | Path):
        cmap = ColumnMapping.from_yaml(mapping)
    elif mapping is not None:
        cmap = ColumnMapping.from_dict(dict(mapping))
    else:
        cmap = None
    raw = _read_raw(p)
    header = list(raw.columns)
    fmt = cmap.format if cmap and cmap.format else None
    if fmt is None:
        var, val = (cmap.variable, cmap.value) if cmap else ("variable", "value")
        fmt = "long" if var in header and val in header else "wide"
    time_col, time_unit = _time_column(header, cmap, label)
    batch_col = cmap.batch if cmap and cmap.batch else ("batch" if "batch" in header else None)
    if batch_col is not None and batch_col not in header:
        raise _missing_column(batch_col, header, label, "the batch column")
    if batch_col is None:
        batch_ids = np.full(len(raw), p.stem, dtype=object)
    else:
        batch_ids = _stripped(raw[batch_col])
        empty = np.flatnonzero(batch_ids == "")
        if empty.size:
            raise InputError(
                "missing batch id",
                file=label,
                row=int(empty[0]) + 1,
                column=batch_col,
                expected="a batch name",
                found="",
            )
    if time_unit == "datetime":
        times = _clock_hours(raw[time_col], batch_ids, cmap, label, time_col)
        time_unit = "h"
    else:
        times = _numbers(raw[time_col], label, time_col)
    missing = np.flatnonzero(np.isnan(times))
    if missing.size:
        raise InputError(
            "missing time",
            file=label,
            row=int(missing[0]) + 1,
            column=time_col,
            expected=f"a time in {time_unit}",
            found="",
        )
    times_h = _units.convert(times, time_unit, "h")
    reader = _read_long if fmt == "long" else _read_wide
    return reader(raw, label, cmap, batch_ids, time_col, times, times_h)


def _time_unit(unit: str) -> str:
    """Canonical time unit, ``"datetime"`` for clock times, ``"?"`` when not a time."""
    if unit.strip().lower() == "datetime":
        return "datetime"
    try:
        canon = _units.canonical(unit)
    except UnitError:
        return "?"
    return canon if _units.dimension(canon) == "time" else "?"


def _clock_hours(
    column: pd.Series,
    batch_ids: npt.NDArray[Any],
    cmap: ColumnMapping | None,
    label: str,
    name: str,
) -> npt.NDArray[np.float64]:
    """ISO 8601 clock times -> hours from inoculation.

    Inoculation is the batch's ``inoculation`` metadata (ISO 8601) when the mapping
    gives one, else the batch's first row. Only ISO 8601 is accepted: "03/04" read
    as the wrong day-month order would shift a whole batch silently.
    """
    text = column.str.strip()
    is_na = text.str.lower().isin(_NA).to_numpy()
    stamps = pd.to_datetime(text.where(~is_na, None), errors="coerce", format="ISO8601")
    bad = np.flatnonzero(stamps.isna().to_numpy() & ~is_na)
    if bad.size:
        raise InputError(
            "not an ISO 8601 date-time",
            file=label,
            row=int(bad[0]) + 1,
            column=name,
            expected="e.g. 2024-05-01T08:30:00",
            found=text.iloc[bad[0]],
        )
    hours = np.full(len(column), np.nan)
    meta = cmap.metadata if cmap else {}
    for b in dict.fromkeys(batch_ids.tolist()):
        mask = batch_ids == b
        given = {**meta.get("*", {}), **meta.get(str(b), {})}.get("inoculation")
        origin = pd.Timestamp(str(given)) if given is not None else stamps[mask].dropna().min()
        hours[mask] = ((stamps[mask] - origin) / pd.Timedelta(hours=1)).to_numpy(dtype=float)
    return hours


def _read_raw(p: Path) -> pd.DataFrame:
    label = str(p)
    if not p.is_file():
        raise InputError("data file not found", file=label)
    if not p.read_text(errors="replace").strip():
        raise InputError("empty file", file=label, expected="a CSV header and data rows")
    try:
        raw = pd.read_csv(p, dtype=str, keep_default_na=False, na_filter=False)
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise InputError(f"not a readable CSV: {str(err).splitlines()[0]}", file=label) from None
    raw.columns = [str(c).strip() for c in raw.columns]
    if raw.empty:
        raise InputError("no data rows", file=label, expected="a header and at least one row")
    return raw


def _stripped(column: pd.Series) -> npt.NDArray[Any]:
    """Text cells without surrounding spaces, as an object array (strips each distinct
    value once: id and name columns repeat a few values many times)."""
    codes, uniques = pd.factorize(column)
    clean = np.array([str(u).strip() for u in uniques], dtype=object)
    return clean[codes] if len(clean) else np.array([], dtype=object)


def _missing_column(column: str, header: Sequence[str], label: str, what: str) -> InputError:
    return InputError(
        f"mapped column missing from the file ({what})",
        file=label,
        column=column,
        expected=f"a column '{column}'",
        found=", ".join(header),
    )


def _time_column(header: list[str], cmap: ColumnMapping | None, label: str) -> tuple[str, str]:
    if cmap is not None and cmap.time is not None:
        if cmap.time not in header:
            raise _missing_column(cmap.time, header, label, "the time column")
        return cmap.time, cmap.time_unit
    for col in header:
        name, unit = _split_header(col)
        if name in (TIME, "time"):
            unit = unit or ("h" if name == TIME else (cmap.time_unit if cmap else "h"))
            canon = _time_unit(unit)
            if canon == "?":
                raise InputError(
                    "time unit is not a unit of time",
                    file=label,
                    column=col,
                    expected="h, min, s, d or datetime",
                    found=unit,
                )
            return col, canon
    raise InputError(
        "no time column",
        file=label,
        expected="a column 'time_h' or 'time' (or name it in the mapping)",
        found=", ".join(header),
    )


def _numbers(column: pd.Series, label: str, name: str) -> npt.NDArray[np.float64]:
    """Parse a text column: NA tokens -> NaN, anything else non-numeric is an error."""
    # Fast path first; only cells that did not parse are looked at as text.
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
    suspect = np.flatnonzero(np.isnan(values))
    text = column.iloc[suspect].str.strip()
    is_na = text.str.lower().isin(_NA).to_numpy()
    fixed = pd.to_numeric(text.where(~is_na, None), errors="coerce").to_numpy(dtype=float)
    values[suspect] = fixed
    bad = suspect[np.isnan(fixed) & ~is_na]
    if bad.size:
        raise InputError(
            "not a number",
            file=label,
            row=int(bad[0]) + 1,
            column=name,
            expected="a number",
            found=column.iloc[bad[0]].strip(),
        )
    inf = np.flatnonzero(np.isinf(values))
    if inf.size:
        raise InputError(
            "infinite value",
            file=label,
            row=int(inf[0]) + 1,
            column=name,
            expected="a finite number",
            found=column.iloc[inf[0]].strip(),
        )
    return values


def _check_order(
    groups: npt.NDArray[Any],
    times: npt.NDArray[np.float64],
    times_h: npt.NDArray[np.float64],
    label: str,
    column: str,
    where: Callable[[int], str],
    rows: npt.NDArray[np.intp],
) -> None:
    """Times must strictly increase, in file order, within each group (batch or batch+signal).

    ``rows`` are the file's data-row positions (0-based) of the given elements.
    """
    order = pd.DataFrame({"g": groups, "t": times_h})
    prev = order.groupby("g", sort=False)["t"].shift(1).to_numpy(dtype=float)
    bad = np.flatnonzero(times_h <= prev)
    if bad.size:
        i = int(bad[0])
        same = np.flatnonzero(groups[:i] == groups[i])
        kind = "duplicated" if times_h[i] == prev[i] else "unsorted"
        raise InputError(
            f"{kind} timestamp {_fmt(times[i])} in {where(int(rows[i]))}",
            file=label,
            row=int(rows[i]) + 1,
            column=column,
            expected=f"time > {_fmt(times[same[-1]])} (strictly increasing)",
            found=float(times[i]),
        )


def _spec_for_header(header: str, label: str) -> ColumnSpec:
    name, unit = _split_header(header)
    if name not in SIGNALS:
        raise _unknown_signal(name, file=label, column=header)
    sig = SIGNALS[name]
    unit = unit or sig.unit
    _check_unit(unit, sig, sig.molar_mass, file=label, column=header)
    return ColumnSpec(header, name, _units.canonical(unit), sig.kind, sig.molar_mass)


def _convert(
    values: npt.NDArray[np.float64],
    spec: ColumnSpec,
    unit: str,
    label: str,
    column: str,
    rows: npt.NDArray[np.intp],
    raw_text: pd.Series,
) -> npt.NDArray[np.float64]:
    """Convert to the standard unit and reject negatives of non-negative signals."""
    sig = SIGNALS[spec.signal]
    out = _units.convert(
        values,
        unit,
        sig.unit,
        molar_mass=spec.molar_mass,
        volume=spec.volume,
        density=spec.density,
    )
    if sig.nonnegative:
        neg = np.flatnonzero(out < 0)
        if neg.size:
            i = int(rows[neg[0]])
            raise InputError(
                f"negative {spec.signal}",
                file=label,
                row=i + 1,
                column=column,
                expected=f">= 0 {unit}",
                found=raw_text.iloc[i].strip(),
            )
    return out


def _metadata(
    cmap: ColumnMapping | None, ids: list[str], label: str, ignored: list[str]
) -> dict[str, dict[str, Any]]:
    meta = cmap.metadata if cmap else {}
    unknown = sorted(set(meta) - set(ids) - {"*"})
    if unknown:
        raise InputError(
            f"metadata for batch '{unknown[0]}', which the data file does not hold",
            file=cmap.source if cmap else None,
            column="metadata",
            expected="one of " + ", ".join(ids),
            found=unknown[0],
        )
    out = {}
    for b in ids:
        m: dict[str, Any] = {"source": label}
        m.update(meta.get("*", {}))
        m.update(meta.get(b, {}))
        if ignored:
            m["ignored_columns"] = list(ignored)
        out[b] = m
    return out


def _read_wide(
    raw: pd.DataFrame,
    label: str,
    cmap: ColumnMapping | None,
    batch_ids: npt.NDArray[Any],
    time_col: str,
    times: npt.NDArray[np.float64],
    times_h: npt.NDArray[np.float64],
) -> list[BatchData]:
    header = list(raw.columns)
    fixed = {time_col, cmap.batch if cmap and cmap.batch else "batch"}
    if cmap is not None:
        for col in cmap.columns:
            if col not in header:
                raise _missing_column(col, header, label, f"signal '{cmap.columns[col].signal}'")
        specs = list(cmap.columns.values())
        ignored = [c for c in header if c not in fixed and c not in cmap.columns]
    else:
        specs = [_spec_for_header(c, label) for c in header if c not in fixed]
        ignored = []
        seen: dict[str, str] = {}
        for spec in specs:
            if spec.signal in seen:
                raise InputError(
                    f"signal '{spec.signal}' appears in two columns",
                    file=label,
                    column=spec.source,
                    found=f"'{seen[spec.signal]}' and '{spec.source}'",
                )
            seen[spec.signal] = spec.source
    if not specs:
        raise InputError(
            "no signal columns", file=label, expected="one column per signal", found=header
        )
    rows = np.arange(len(raw))
    _check_order(
        batch_ids, times, times_h, label, time_col, lambda i: f"batch '{batch_ids[i]}'", rows
    )
    values = {s.signal: _numbers(raw[s.source], label, s.source) for s in specs}
    online = [s for s in specs if s.kind == "online"]
    has_online = (
        np.column_stack([~np.isnan(values[s.signal]) for s in online]).any(axis=1)
        if online
        else np.zeros(len(raw), dtype=bool)
    )
    for s in online:
        if cmap is not None and cmap.gaps_allowed(s.signal):
            continue
        gap = np.flatnonzero(np.isnan(values[s.signal]) & has_online)
        if gap.size:
            i = int(gap[0])
            raise InputError(
                f"NaN reading of online signal '{s.signal}' at time {_fmt(times[i])} "
                f"in batch '{batch_ids[i]}' (list it in the mapping's allow_gaps if gaps "
                "are expected)",
                file=label,
                row=i + 1,
                column=s.source,
                expected="a number",
                found="",
            )
    converted = {
        s.signal: _convert(values[s.signal], s, s.unit, label, s.source, rows, raw[s.source])
        for s in specs
    }
    ids = list(dict.fromkeys(batch_ids.tolist()))
    meta = _metadata(cmap, ids, label, ignored)
    batches = []
    for b in ids:
        mask = batch_ids == b
        on = pd.DataFrame(
            {s.signal: converted[s.signal][mask & has_online] for s in online},
            index=pd.Index(times_h[mask & has_online], name=TIME),
        )
        off_specs = [s for s in specs if s.kind == "offline"]
        off = pd.DataFrame(
            {s.signal: converted[s.signal][mask] for s in off_specs},
            index=pd.Index(times_h[mask], name=TIME),
        )
        batches.append(BatchData(str(b), on, off, {}, meta[b]))
    return batches


def _read_long(
    raw: pd.DataFrame,
    label: str,
    cmap: ColumnMapping | None,
    batch_ids: npt.NDArray[Any],
    time_col: str,
    times: npt.NDArray[np.float64],
    times_h: npt.NDArray[np.float64],
) -> list[BatchData]:
    header = list(raw.columns)
    var_col = cmap.variable if cmap else "variable"
    val_col = cmap.value if cmap else "value"
    unit_col = cmap.unit if cmap and cmap.unit else ("unit" if "unit" in header else None)
    kind_col = cmap.kind if cmap and cmap.kind else ("kind" if "kind" in header else None)
    for col, what in ((var_col, "variable names"), (val_col, "values")):
        if col not in header:
            raise _missing_column(col, header, label, what)
    for optional in (unit_col, kind_col):
        if optional is not None and optional not in header:
            raise _missing_column(optional, header, label, "per-row " + optional)
    variables = _stripped(raw[var_col])
    present = list(dict.fromkeys(variables.tolist()))
    ignored: list[str] = []
    if cmap is not None:
        for name in cmap.columns:
            if name not in present:
                raise InputError(
                    f"mapped variable '{name}' not found in the file",
                    file=label,
                    column=var_col,
                    expected=f"rows with {var_col} '{name}'",
                    found=", ".join(map(str, present)),
                )
        specs = dict(cmap.columns)
        ignored = [str(v) for v in present if v not in specs]
    else:
        specs = {}
        for v in present:
            name, unit = _split_header(str(v))
            if name not in SIGNALS:
                i = int(np.flatnonzero(variables == v)[0])
                raise _unknown_signal(name, file=label, row=i + 1, column=var_col)
            sig = SIGNALS[name]
            specs[str(v)] = ColumnSpec(str(v), name, unit or sig.unit, sig.kind, sig.molar_mass)
    keep = np.isin(variables, list(specs))
    values = _numbers(raw[val_col], label, val_col)
    nan = np.flatnonzero(np.isnan(values) & keep)
    if nan.size:
        i = int(nan[0])
        raise InputError(
            f"NaN reading of '{variables[i]}' at time {_fmt(times[i])} in batch "
            f"'{batch_ids[i]}' (in a long file leave unmeasured points out)",
            file=label,
            row=i + 1,
            column=val_col,
            expected="a number",
            found=raw[val_col].iloc[i].strip(),
        )
    signal_of = np.array([specs[v].signal if v in specs else "" for v in variables], dtype=object)
    # Per-row units: from the unit column when present, else the mapping's.
    default_units = np.array([specs[v].unit if v in specs else "" for v in variables], dtype=object)
    row_units = default_units
    if unit_col:
        # An empty unit cell means the mapping's (or the standard) unit.
        given_units = _stripped(raw[unit_col])
        row_units = np.where(given_units == "", default_units, given_units)
    converted = np.full(len(raw), np.nan)
    for key_pair, idx in pd.Series(np.arange(len(raw))).groupby([variables, row_units], sort=False):
        v, unit = (str(k) for k in key_pair)
        if v not in specs:
            continue
        spec = specs[v]
        rows = idx.to_numpy()
        i = int(rows[0])
        _check_unit(
            str(unit),
            SIGNALS[spec.signal],
            spec.molar_mass,
            file=label,
            volume=spec.volume,
            density=spec.density,
            row=i + 1,
            column=unit_col or var_col,
        )
        if unit_col and spec.explicit_unit and _units.canonical(unit) != spec.unit:
            raise InputError(
                f"unit mismatch for '{v}': the file says '{unit}', the mapping '{spec.unit}'",
                file=label,
                row=i + 1,
                column=unit_col,
                expected=spec.unit,
                found=str(unit),
            )
        converted[rows] = _convert(
            values[rows], spec, str(unit), label, val_col, rows, raw[val_col]
        )
    kinds = np.array([specs[v].kind if v in specs else "" for v in variables], dtype=object)
    if kind_col is not None:
        given = _stripped(raw[kind_col])
        bad = np.flatnonzero(keep & ~np.isin(given, ["online", "offline", ""]))
        if bad.size:
            i = int(bad[0])
            raise InputError(
                "unknown kind",
                file=label,
                row=i + 1,
                column=kind_col,
                expected="online or offline",
                found=given[i],
            )
        kinds = np.where(keep & (given != ""), given, kinds)
    rows_kept = np.flatnonzero(keep)
    # Integer group codes: one per (batch, signal) pair.
    b_code, _ = pd.factorize(pd.Series(batch_ids))
    s_code, s_names = pd.factorize(pd.Series(signal_of))
    key = b_code * (len(s_names) + 1) + s_code
    _check_order(
        key[rows_kept],
        times[rows_kept],
        times_h[rows_kept],
        label,
        time_col,
        lambda i: f"batch '{batch_ids[i]}', variable '{variables[i]}'",
        rows_kept,
    )
    ids = list(dict.fromkeys(batch_ids.tolist()))
    meta = _metadata(cmap, ids, label, ignored)
    table = pd.DataFrame(
        {"b": batch_ids, "t": times_h, "s": signal_of, "k": kinds, "v": converted}
    ).iloc[rows_kept]
    batches = []
    groups = {b: sub for b, sub in table.groupby("b", sort=False)}
    for b in ids:
        sub = groups.get(b, table.iloc[:0])  # a batch of only ignored variables: empty
        frames = []
        for kind in ("online", "offline"):
            part = sub[sub["k"] == kind]
            order = list(dict.fromkeys(part["s"].tolist()))  # signals in file order
            wide = part.pivot(index="t", columns="s", values="v").sort_index()[order]
            wide.columns = [str(c) for c in wide.columns]
            wide.index.name = TIME
            frames.append(wide)
        mixed = set(frames[0].columns) & set(frames[1].columns)
        if mixed:
            name = sorted(mixed)[0]
            i = int(np.flatnonzero((batch_ids == b) & (signal_of == name))[0])
            raise InputError(
                f"signal '{name}' is both online and offline in batch '{b}'",
                file=label,
                row=i + 1,
                column=kind_col,
                expected="one kind per signal",
            )
        batches.append(BatchData(str(b), frames[0], frames[1], {}, meta[b]))
    return batches


# ---------------------------------------------------------------------------------------
# Writing


def write_batches(
    batches: Iterable[BatchData],
    path: str | Path,
    *,
    format: Literal["long", "wide"] = "long",
) -> Path:
    """Write batches to one CSV, atomically; :func:`read_batches` reads it back.

    LONG (``batch, time_h, variable, value, unit, kind``) keeps everything but the
    metadata. WIDE (``batch, time_h``, then ``"signal [unit]"`` columns, empty cells
    where a signal has no reading) reads back with each signal's usual kind, and
    online gaps need ``allow_gaps`` in a mapping; prefer LONG for round trips.
    """
    items = list(batches)
    if format == "long":
        frames = [b.to_long() for b in items]
    elif format == "wide":
        frames = []
        for b in items:
            w = b.to_wide()
            w.columns = [c if c in ("batch", TIME) else f"{c} [{b.units[c]}]" for c in w.columns]
            frames.append(w)
    else:
        raise InputError("unknown CSV format", expected="long or wide", found=format)
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False, float_format="%.10g")
    return Path(path)


# ---------------------------------------------------------------------------------------
# Logged inputs onto a coarse grid


INPUT_STEP_H = 0.25
"""Default grid (h) onto which logged inputs (feed, temperature) are averaged before a
simulation: a 3-day log read every minute becomes 288 pieces instead of 4,320 integrator
restarts, with the fed volume unchanged."""


def hold_average(
    times: npt.ArrayLike, values: npt.ArrayLike, step: float = INPUT_STEP_H
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """A logged input as a piecewise-constant profile on a grid of ``step`` hours.

    The log is read as each value held until the next reading (a pump set-point). The
    returned ``(grid, means)`` hold on each cell ``[grid[k], grid[k+1])`` the average of
    that log over the cell, computed from its exact cumulative integral, so the integral
    (for a feed rate in L/h: the volume fed, L) is the same at every grid time. Before the
    first reading the first value holds; the last grid point is the last reading, whose
    value holds on. Grid times start at 0 h, or at the first reading when it is later.
    """
    t = np.asarray(times, dtype=float).reshape(-1)
    y = np.asarray(values, dtype=float).reshape(-1)
    if t.size != y.size or t.size == 0:
        raise InputError(
            "a logged input needs as many values as times (at least one)",
            found=f"{t.size} times, {y.size} values",
        )
    if not (step > 0 and math.isfinite(step)):
        raise InputError("input averaging step must be > 0 h", found=step)
    if not (np.isfinite(t).all() and np.isfinite(y).all()) or np.any(np.diff(t) <= 0):
        raise InputError(
            "a logged input needs finite values at strictly increasing times", found=t[:5]
        )
    if t.size == 1 or t[-1] - t[0] <= step:
        return t[:1].copy(), y[:1].copy()
    cum = np.concatenate([[0.0], np.cumsum(y[:-1] * np.diff(t))])
    start = min(float(t[0]), 0.0) if t[0] <= 0 else float(t[0])
    n = math.floor((t[-1] - start) / step + 1e-9)
    grid = start + step * np.arange(n + 1)
    grid = grid[grid < t[-1] - 1e-9]
    edges = np.concatenate([grid, [t[-1]]])
    # Cumulative integral at the edges; before the first reading the first value holds.
    c = np.interp(edges, t, cum) + np.minimum(edges - t[0], 0.0) * y[0]
    means = np.diff(c) / np.diff(edges)
    return np.concatenate([grid, [t[-1]]]), np.concatenate([means, [y[-1]]])


class LoggedInput:
    """A logged input (feed rate, temperature) as a smooth profile for the integrator.

    The log is averaged onto an ``step``-hour grid by :func:`hold_average` and read as a
    line through the cell means at the cell midpoints. The profile declares no breakpoints,
    so one integrator run covers the whole batch: a 3-day 1-minute log simulates in about
    0.1 s instead of restarting the solver at each of 4,320 readings (tens of minutes per
    fit). The fed volume matches the log's to within one cell's change of rate; a step
    change (feed start) is spread over one cell.
    """

    breakpoints: tuple[float, ...] = ()

    def __init__(
        self, times: npt.ArrayLike, values: npt.ArrayLike, step: float = INPUT_STEP_H
    ) -> None:
        grid, means = hold_average(times, values, step)
        if grid.size > 1:
            mids = (grid[:-1] + grid[1:]) / 2
            # Knots: the first cell's mean at its left edge, each cell's mean at its
            # midpoint, the last reading at its time.
            self.times = np.concatenate([grid[:1], mids, grid[-1:]])
            self.values = np.concatenate([means[:1], means[:-1], means[-1:]])
        else:
            self.times, self.values = grid, means
        self.step = float(step)

    @classmethod
    def from_knots(cls, times: npt.ArrayLike, values: npt.ArrayLike) -> LoggedInput:
        """The profile through saved knots (``self.times``, ``self.values``)."""
        out = cls.__new__(cls)
        out.times = np.asarray(times, dtype=float)
        out.values = np.asarray(values, dtype=float)
        if out.times.shape != out.values.shape or out.times.size == 0:
            raise InputError("logged input knots: times and values differ in length")
        if not (np.isfinite(out.times).all() and np.isfinite(out.values).all()):
            raise InputError("logged input knots must be finite")
        if np.any(np.diff(out.times) <= 0):
            raise InputError("logged input knots must be strictly increasing in time")
        out.step = float(np.median(np.diff(out.times))) if out.times.size > 1 else 0.0
        return out

    def __call__(self, t: float) -> float:
        return float(np.interp(t, self.times, self.values))
