"""Process scenarios: a fed-batch recipe in YAML, validated whole before anything runs.

A scenario names a twin (``ecoli`` or ``cho``, :mod:`biofab.process.models`), parameter
overrides, the initial state, the batch length and the recipe (inputs and events), and
optionally a measurement plan (synthetic noisy data), a closed-loop ``control`` section and
an ``optimize`` section. Units are the twin's: h, g/L (E. coli), mM and 1e6 cells/mL (CHO),
L, L/h, °C, % air saturation. Example (``examples/process/ecoli_fedbatch.yaml``)::

    name: E. coli fed-batch, exponential feed
    model: ecoli
    parameters: {qS_max: 1.25}            # overrides of the documented defaults
    initial: {X: 0.2, S: 10, A: 0, P: 0, DO: 100, V: 1.0}
    t_end: 16                             # h
    output_every: 0.1                     # h, rows of the trajectory
    inputs:
      T: 37                               # a number: constant from t = 0
      F: 0                                # or {profile: exponential, F0, mu_set, F_max}
                                          # or {profile: piecewise, times, values, kind}
    events:                               # times (h) in increasing order
      - {t: 7, feed_start: {profile: exponential, F0: 0.0045, mu_set: 0.15, F_max: 0.05}}
      - {t: 10, induction: 1}
      - {t: 12, bolus: {volume: 0.01, concentrations: {S: 500}}}
      - {t: 14, set: {T: 30}}
      - {t: 15, feed_stop: true}
    measurements:                         # synthetic data from the simulation
      seed: 1
      online: {every: 0.25, signals: {OUR: 1.0, CER: 1.0, DO: 1.0, V: 0.002}}
      offline: {times: [2, 4, 6, 8, 10, 12, 14, 16], signals: {X: 5%, S: 0.05, P: 5%}}

Noise is a standard deviation in the signal's unit, or a percentage of the true value
(``5%``). Measured values of non-negative signals are clipped at 0.

Every problem raises :class:`ScenarioError` (an :class:`~biofab.core.errors.InputError`, so
the CLI prints one line and exits with code 2) naming the file and the key path, e.g.
``scenario.yaml, key inputs.F.mu_set: expected a number > 0, found -0.1``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from biofab.core.errors import InputError
from biofab.core.scenario_yaml import Reader, ScenarioError, read_yaml, shown
from biofab.process.models import ChoFedBatch, EColiFedBatch, ProcessModel
from biofab.process.simulate import (
    Bolus,
    Constant,
    Event,
    Exponential,
    FeedStart,
    FeedStop,
    Induction,
    Piecewise,
    SetInput,
    Trajectory,
    input_schedule,
    simulate,
)

__all__ = [
    "MODELS",
    "SIGNAL_MAP",
    "ControlSpec",
    "MeasurementPlan",
    "Noise",
    "OptimizeSpec",
    "Scenario",
    "ScenarioError",
    "ScenarioTestbed",
    "batch_frames",
    "input_frame",
    "make_model",
    "to_batchdata",
]

MODELS: dict[str, type[ProcessModel]] = {"ecoli": EColiFedBatch, "cho": ChoFedBatch}

SIGNAL_MAP: dict[str, dict[str, tuple[str, str]]] = {
    "ecoli": {
        "X": ("biomass", "g/L"),
        "S": ("substrate", "g/L"),
        "A": ("acetate", "g/L"),
        "P": ("product", "g/L"),
        "DO": ("DO", "%"),
        "V": ("volume", "L"),
        "OUR": ("OUR", "mmol/L/h"),
        "CER": ("CER", "mmol/L/h"),
        "F": ("feed_rate", "L/h"),
        "T": ("temperature", "degC"),
    },
    "cho": {
        "Xv": ("viable_cells", "1e6 cells/mL"),
        "Glc": ("substrate", "mM"),
        "Gln": ("glutamine", "mM"),
        "Lac": ("lactate", "mM"),
        "Amm": ("ammonia", "mM"),
        "P": ("product", "mg/L"),
        "V": ("volume", "L"),
        "OUR": ("OUR", "mmol/L/h"),
        "F": ("feed_rate", "L/h"),
    },
}
"""Model name -> (BatchData standard signal, the model's unit), per twin. ``RQ`` and the
induction input ``ind`` have no standard signal."""

_PROFILE_KEYS = {
    "exponential": (("F0", "mu_set"), ("F_max",)),
    "piecewise": (("times", "values"), ("kind",)),
}
_EVENT_KINDS = ("feed_start", "feed_stop", "induction", "bolus", "set")
OBJECTIVES: dict[str, str] = {
    "product_mass": "g",
    "titer": "g/L",
    "biomass_mass": "g",
    "productivity": "g/h",
}
"""Optimisation objectives (all maximised) and their units: product in the vessel at
``t_end`` (P·V), final titer P, biomass in the vessel (X·V), product mass per hour of batch.
CHO titers are mg/L, so there the masses are mg and the productivity mg/h."""
KNOBS: dict[str, str] = {
    "mu_set": "1/h",
    "F0": "L/h",
    "F_max": "L/h",
    "T": "°C",
    "induction_t": "h",
    "feed_start_t": "h",
}
"""Recipe settings ``optimize.parameters`` may vary, with units."""


# ---------------------------------------------------------------------------------------
# Specification objects
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Noise:
    """Measurement noise of one signal: ``std`` (signal unit) or ``relative`` (fraction)."""

    std: float = 0.0
    relative: float = 0.0

    def sigma(self, value: Any) -> Any:
        """Standard deviation at the true ``value`` (array or float)."""
        return self.std + self.relative * np.abs(value)

    def __str__(self) -> str:
        return f"{100 * self.relative:g}%" if self.relative else f"{self.std:g}"


@dataclass(frozen=True)
class MeasurementPlan:
    """Synthetic measurements of a simulated batch (model names and units).

    ``online``: signals read every ``online_every`` h (states or outputs), ``offline``:
    states sampled at ``offline_times`` h; noise per signal; ``seed`` of the noise.
    """

    online: dict[str, Noise] = field(default_factory=dict)
    online_every: float = 0.25
    offline: dict[str, Noise] = field(default_factory=dict)
    offline_times: tuple[float, ...] = ()
    seed: int = 0


@dataclass(frozen=True)
class ControlSpec:
    """Closed-loop feed control (:mod:`biofab.process.closed_loop`, :class:`FeedMPC`).

    ``dt`` control interval (h), ``horizon`` intervals, ``do_min`` DO floor (%), ``v_max``
    (L), feed bounds ``f_min``/``f_max`` (L/h), ``do_backoff`` (%-points), ``plant``:
    factors on the model's parameters that make the simulated plant (mismatch), ``adapt``:
    re-fit kLa and Yxs online, ``noise``: online sensor std, ``offline_every`` (h),
    ``compare_mu_set``: also run the exponential-feed reference at this mu_set (1/h).

    Temperature, induction and the volume limit (see :class:`~biofab.process.mpc.FeedMPC`):
    ``temperature`` (°C) held, or a decision of the MPC within ``temperature_range``
    (low, high °C) changing by at most ``max_temperature_step`` (°C per interval) from
    ``temperature``; ``induction_at`` (h) the scheduled induction time, or
    ``induction_candidates`` (h) among which the MPC chooses; ``v_backoff`` (standard
    deviations of the volume estimate), ``volume_drift`` (L per sqrt(h), the estimator's
    random walk on the volume beyond the known feed), ``move_penalty_l1`` (g).
    """

    dt: float = 0.75
    horizon: int = 20
    do_min: float = 30.0
    v_max: float = 1.6
    f_min: float = 0.0
    f_max: float = 0.05
    do_backoff: float = 2.0
    plant: dict[str, float] = field(default_factory=dict)
    adapt: bool = True
    seed: int = 0
    noise: dict[str, float] = field(default_factory=dict)
    offline_every: float = 2.0
    compare_mu_set: float | None = None
    temperature: float = 37.0
    temperature_range: tuple[float, float] | None = None
    max_temperature_step: float = 1.0
    induction_at: float = 0.0
    induction_candidates: tuple[float, ...] | None = None
    v_backoff: float = 0.0
    volume_drift: float = 0.002
    move_penalty_l1: float = 0.0


@dataclass(frozen=True)
class OptimizeSpec:
    """Recipe optimisation: ``parameters`` (knob -> (lo, hi), see :data:`KNOBS`),
    ``objective`` (see :data:`OBJECTIVES`), ``batch`` bioreactors per round, ``seed``."""

    parameters: dict[str, tuple[float, float]]
    objective: str = "product_mass"
    batch: int = 4
    seed: int = 0
    n_init: int | None = None


@dataclass(frozen=True)
class Scenario:
    """A validated process scenario (see the module docstring for the YAML)."""

    model: str
    initial: dict[str, float]
    t_end: float
    parameters: dict[str, float] = field(default_factory=dict)
    inputs: dict[str, Any] = field(default_factory=dict)
    events: tuple[Event, ...] = ()
    output_every: float | None = None
    measurements: MeasurementPlan | None = None
    control: ControlSpec | None = None
    optimize: OptimizeSpec | None = None
    name: str = ""
    source: str | None = None
    kinetics: Any = None  # a kinetics.Declaration when model is "kinetics"

    # -- reading ---------------------------------------------------------------------
    @classmethod
    def from_yaml(cls, path: str | Path) -> Scenario:
        """Read and validate a scenario file (see :func:`biofab.core.scenario_yaml.read_yaml`
        for what is refused before the fields are checked)."""
        return cls.from_dict(read_yaml(path), source=str(path))

    @classmethod
    def from_dict(cls, data: Any, *, source: str | None = None) -> Scenario:
        """Validate a parsed scenario mapping; errors name ``source`` and the key path."""
        r = Reader(source)
        top = r.mapping(data, "")
        top, declared = _kinetics_block(r, top)
        r.keys(
            top,
            "",
            required=("model", "initial", "t_end"),
            optional=(
                "name",
                "parameters",
                "inputs",
                "events",
                "output_every",
                "measurements",
                "control",
                "optimize",
            ),
        )
        kind = r.choice(top["model"], "model", tuple(MODELS))
        cls_ = MODELS[kind]
        t_end = r.number(top["t_end"], "t_end", positive=True)
        params = _parameters(r, top.get("parameters") or {}, cls_)
        initial = _initial(r, top["initial"], cls_)
        inputs = _inputs(r, top.get("inputs") or {}, cls_)
        events = _events(r, top.get("events") or [], cls_, t_end)
        every = top.get("output_every")
        if every is not None:
            every = r.number(every, "output_every", positive=True)
            if every > t_end:
                r.fail("output_every", "longer than the batch", f"<= t_end = {t_end:g} h", every)
        plan = None
        if top.get("measurements") is not None:
            plan = _measurements(r, top["measurements"], kind, cls_, t_end)
        control = None
        if top.get("control") is not None:
            if kind != "ecoli":
                r.fail("control", "closed-loop feed control needs the E. coli twin", "model: ecoli")
            control = _control(r, top["control"], cls_)
        name = r.text(top["name"], "name") if top.get("name") is not None else ""
        scenario = cls(
            model=kind,
            initial=initial,
            t_end=t_end,
            parameters=params,
            inputs=inputs,
            events=events,
            output_every=every,
            measurements=plan,
            control=control,
            name=name or (Path(source).stem if source else kind),
            source=source,
            kinetics=declared,
        )
        if top.get("optimize") is not None:
            scenario = replace(scenario, optimize=_optimize(r, top["optimize"], scenario))
        return scenario

    # -- use -------------------------------------------------------------------------
    def build_model(self) -> ProcessModel:
        """The twin with this scenario's parameter overrides."""
        if self.kinetics is not None:
            return declared_class(self.kinetics)(self.parameters)
        return MODELS[self.model](self.parameters)

    def times(self) -> np.ndarray:
        """Output times (h): every ``output_every`` (default t_end/200), plus the samples."""
        step = self.output_every or self.t_end / 200
        grid = np.arange(0.0, self.t_end + 1e-9, step)
        extra: list[float] = [self.t_end]
        if self.measurements is not None:
            plan = self.measurements
            extra += list(np.arange(0.0, self.t_end + 1e-9, plan.online_every))
            extra += list(plan.offline_times)
        return np.unique(np.round(np.concatenate([grid, extra]), 9))

    def simulate(self, t_eval: Any = None) -> Trajectory:
        """Run the recipe (raises :class:`~biofab.process.simulate.SimulationError` when the
        ODE blows up or a state goes negative)."""
        return simulate(
            self.build_model(),
            self.initial,
            self.t_end,
            inputs=self.inputs or None,
            events=self.events,
            t_eval=self.times() if t_eval is None else t_eval,
        )

    def measure(self, trajectory: Trajectory, batch_id: str | None = None) -> Any:
        """Synthetic noisy :class:`~biofab.process.batchdata.BatchData` of ``trajectory``
        following the measurement plan (inputs ``F``/``T`` logged without noise)."""
        if self.measurements is None:
            raise ScenarioError("the scenario has no measurements section", file=self.source)
        plan = self.measurements
        rng = np.random.default_rng(plan.seed)
        frame = trajectory.frame
        t = frame["time_h"].to_numpy()
        on_t = np.round(np.arange(0.0, self.t_end + 1e-9, plan.online_every), 9)
        on_rows = np.isin(np.round(t, 9), on_t)
        off_rows = np.isin(np.round(t, 9), np.round(plan.offline_times, 9))
        online = pd.DataFrame({"time_h": t[on_rows]})
        for name in self.build_model().inputs:
            if name in SIGNAL_MAP[self.model]:
                online[name] = frame[name].to_numpy()[on_rows]
        for name, noise in plan.online.items():
            y = frame[name].to_numpy()[on_rows]
            online[name] = y + noise.sigma(y) * rng.standard_normal(y.size)
        offline = pd.DataFrame({"time_h": t[off_rows]})
        for name, noise in plan.offline.items():
            y = frame[name].to_numpy()[off_rows]
            offline[name] = y + noise.sigma(y) * rng.standard_normal(y.size)
        meta = {"scenario": self.name, "seed": plan.seed}
        ind = [ev.t for ev in self.events if isinstance(ev, Induction)]
        if ind:
            meta["induction_h"] = ind[0]
        default = Path(self.source).stem if self.source else self.model
        return to_batchdata(self.model, online, offline, batch_id or default, meta)

    def input_schedule(self, times: Any) -> pd.DataFrame:
        """Every input of the recipe at ``times`` (h): ``time_h`` + one column per input."""
        return input_frame(self.build_model(), self.inputs, self.events, times)

    def with_design(self, design: Mapping[str, float]) -> Scenario:
        """A copy with recipe knobs (:data:`KNOBS`) set to ``design``'s values."""
        inputs = dict(self.inputs)
        events = list(self.events)
        exp_where, exp = _exponential(self)
        changes = {k: float(v) for k, v in design.items() if k in ("F0", "mu_set", "F_max")}
        if changes and exp is not None:
            new = Exponential(
                F0=changes.get("F0", exp.F0),
                mu_set=changes.get("mu_set", exp.mu_set),
                F_max=changes.get("F_max", exp.F_max),
            )
            if exp_where == "inputs":
                inputs["F"] = new
            else:
                i = next(i for i, e in enumerate(events) if isinstance(e, FeedStart))
                events[i] = FeedStart(events[i].t, new, getattr(events[i], "input", "F"))
        if "T" in design:
            inputs["T"] = Constant(float(design["T"]))
        for knob, cls_ in (("induction_t", Induction), ("feed_start_t", FeedStart)):
            if knob in design:
                i = next(i for i, e in enumerate(events) if isinstance(e, cls_))
                events[i] = replace(events[i], t=float(design[knob]))
        events.sort(key=lambda e: e.t)
        return replace(self, inputs=inputs, events=tuple(events))

    def design(self) -> dict[str, float]:
        """The scenario's own values of the knobs named in ``optimize.parameters``."""
        if self.optimize is None:
            return {}
        return {k: _knob_value(self, k) for k in self.optimize.parameters}


# ---------------------------------------------------------------------------------------
# Signals: model names and units <-> BatchData
# ---------------------------------------------------------------------------------------


def make_model(kind: str, params: Mapping[str, float] | None = None) -> ProcessModel:
    """``ecoli`` or ``cho`` twin with parameter overrides."""
    if kind not in MODELS:
        raise InputError("unknown model", expected=" | ".join(MODELS), found=kind)
    return MODELS[kind](dict(params or {}))


def to_batchdata(
    kind: str,
    online: pd.DataFrame,
    offline: pd.DataFrame,
    batch_id: str,
    metadata: Mapping[str, Any] | None = None,
) -> Any:
    """A :class:`~biofab.process.batchdata.BatchData` from frames in model names and units
    (``time_h`` + columns named as in :data:`SIGNAL_MAP`); converts to standard units and
    clips non-negative signals at 0 (noise must not make a concentration negative)."""
    from biofab.process.batchdata import SIGNALS, BatchData

    table = SIGNAL_MAP[kind]
    frames = []
    units: dict[str, str] = {}
    for frame in (online, offline):
        out = pd.DataFrame(index=pd.Index(frame["time_h"].to_numpy(float), name="time_h"))
        for col in frame.columns:
            if col == "time_h":
                continue
            signal, unit = table[col]
            values = frame[col].to_numpy(dtype=float)
            if SIGNALS[signal].nonnegative:
                values = np.maximum(values, 0.0)
            out[signal] = values
            units[signal] = unit
        frames.append(out)
    return BatchData.from_frames(
        batch_id, frames[0], frames[1], units=units, metadata=dict(metadata or {})
    )


def batch_frames(kind: str, batch: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A batch's online and offline readings in model names and units (``time_h`` column
    first; NaN where not read). Signals the model has no name for are left out."""
    from biofab.process import units as _units
    from biofab.process.batchdata import SIGNALS

    back = {signal: (name, unit) for name, (signal, unit) in SIGNAL_MAP[kind].items()}
    out = []
    for frame in (batch.online, batch.offline):
        result = pd.DataFrame({"time_h": frame.index.to_numpy(dtype=float)})
        for signal in frame.columns:
            if signal not in back:
                continue
            name, unit = back[str(signal)]
            sig = SIGNALS[str(signal)]
            values = frame[signal].to_numpy(dtype=float)
            result[name] = _units.convert(values, sig.unit, unit, molar_mass=sig.molar_mass)
        out.append(result)
    return out[0], out[1]


def input_frame(
    model: ProcessModel, inputs: Mapping[str, Any], events: Sequence[Event], times: Any
) -> pd.DataFrame:
    """:func:`~biofab.process.simulate.input_schedule` as a table: ``time_h`` and one
    column per input of ``model`` (its units)."""
    t = np.asarray(times, dtype=float).reshape(-1)
    values = input_schedule(model, inputs, events, t)
    out = pd.DataFrame({"time_h": t})
    for j, name in enumerate(model.inputs):
        out[name] = values[:, j]
    return out


# ---------------------------------------------------------------------------------------
# Optimisation testbed
# ---------------------------------------------------------------------------------------


def _objective_value(scenario: Scenario, objective: str) -> float:
    traj = scenario.simulate(t_eval=np.array([0.0, scenario.t_end]))
    last = traj.final
    product, volume = last["P"], last["V"]
    biomass = last["X"] if "X" in last else last["Xv"]
    return {
        "product_mass": product * volume,
        "titer": product,
        "biomass_mass": biomass * volume,
        "productivity": product * volume / scenario.t_end,
    }[objective]


def _evaluate_one(job: tuple[Scenario, dict[str, float], str]) -> tuple[float, str]:
    """One bioreactor run (module level: picklable for the process pool). A run that fails
    to simulate yields nothing (0) and its cause."""
    from biofab.core.errors import BiofabError

    scenario, design, objective = job
    try:
        return float(_objective_value(scenario.with_design(design), objective)), ""
    except BiofabError as err:
        return 0.0, str(err)


class ScenarioTestbed:
    """The scenario's twin as a :class:`~biofab.core.Testbed` of recipe designs.

    ``space``: one :class:`~biofab.core.Continuous` per knob of ``optimize.parameters``;
    ``objectives``: the chosen objective (maximised); ``evaluate`` simulates one batch per
    design, ``workers`` in parallel (:func:`biofab.compute.parallel_map`). Runs whose
    simulation fails score 0 (nothing harvested) and are listed in ``failures_``.
    """

    def __init__(self, scenario: Scenario, workers: int | None = None) -> None:
        from biofab.core import Continuous, Objective, Space

        if scenario.optimize is None:
            raise ScenarioError(
                "the scenario has no optimize section", file=scenario.source, key="optimize"
            )
        self.scenario = scenario
        self.spec = scenario.optimize
        self.workers = workers
        self.space = Space(
            {k: Continuous(lo, hi, unit=KNOBS[k]) for k, (lo, hi) in self.spec.parameters.items()}
        )
        unit = OBJECTIVES[self.spec.objective]
        if scenario.model == "cho":
            unit = unit.replace("g", "mg", 1)
        self.objectives = [Objective(self.spec.objective, "max", unit=unit)]
        self.failures_: list[dict[str, Any]] = []

    def default_design(self) -> pd.DataFrame | None:
        """The scenario's own recipe, when it lies inside the ranges (else no start)."""
        own = self.scenario.design()
        inside = all(lo <= own[k] <= hi for k, (lo, hi) in self.spec.parameters.items())
        return pd.DataFrame([own]) if inside else None

    def evaluate(self, designs: pd.DataFrame) -> pd.DataFrame:
        from biofab.compute import parallel_map

        rows = [
            {k: float(v) for k, v in row.items() if k in self.spec.parameters}
            for row in designs.to_dict("records")
        ]
        jobs = [(self.scenario, row, self.spec.objective) for row in rows]
        results = parallel_map(_evaluate_one, jobs, workers=self.workers)
        for row, (_, cause) in zip(rows, results, strict=True):
            if cause:
                self.failures_.append({**row, "cause": cause})
        return pd.DataFrame({self.spec.objective: [v for v, _ in results]})


# ---------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------


def _parameters(r: Reader, data: Any, cls_: type[ProcessModel]) -> dict[str, float]:
    table = r.mapping(data, "parameters")
    r.keys(table, "parameters", optional=tuple(cls_.param_specs))
    return {k: r.number(v, f"parameters.{k}", nonneg=True) for k, v in table.items()}


def _initial(r: Reader, data: Any, cls_: type[ProcessModel]) -> dict[str, float]:
    table = r.mapping(data, "initial")
    r.keys(table, "initial", required=cls_.states)
    out = {}
    for s in cls_.states:
        unit = cls_.units.get(s, "")
        positive = s == cls_.volume_state
        value = table[s]
        if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
            r.fail(
                f"initial.{s}",
                f"negative initial {'volume' if positive else 'state'} ({unit})",
                "a number >= 0",
                value,
            )
        out[s] = r.number(value, f"initial.{s}", positive=positive, nonneg=True)
    return out


def _profile(r: Reader, value: Any, key: str, name: str) -> Any:
    """A number (constant) or ``{profile: exponential|piecewise, ...}``."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = r.number(value, key, nonneg=name == "F")
        return Constant(number)
    d = r.mapping(value, key)
    kind = r.choice(d.get("profile"), f"{key}.profile", tuple(_PROFILE_KEYS))
    required, optional = _PROFILE_KEYS[kind]
    r.keys(d, key, required=("profile", *required), optional=optional)
    if kind == "exponential":
        F0 = r.number(d["F0"], f"{key}.F0", nonneg=True)
        mu = r.number(d["mu_set"], f"{key}.mu_set", positive=True)
        fmax = r.number(d["F_max"], f"{key}.F_max", positive=True) if "F_max" in d else math.inf
        return Exponential(F0=F0, mu_set=mu, F_max=fmax)
    times = r.numbers(d["times"], f"{key}.times", nonneg=True)
    r.increasing(times, f"{key}.times")
    values = r.numbers(d["values"], f"{key}.values", nonneg=name == "F")
    if len(values) != len(times):
        r.fail(f"{key}.values", "wrong length", f"{len(times)} values (one per time)", len(values))
    kind_ = r.choice(d.get("kind", "hold"), f"{key}.kind", ("hold", "linear"))
    return Piecewise(times, values, kind=kind_)


def _inputs(r: Reader, data: Any, cls_: type[ProcessModel]) -> dict[str, Any]:
    table = r.mapping(data, "inputs")
    r.keys(table, "inputs", optional=cls_.inputs)
    return {k: _profile(r, v, f"inputs.{k}", k) for k, v in table.items()}


def _events(r: Reader, data: Any, cls_: type[ProcessModel], t_end: float) -> tuple[Event, ...]:
    if not isinstance(data, list):
        r.fail("events", "wrong type", "a list of events", shown(data))
    out: list[Event] = []
    last = -math.inf
    for i, raw in enumerate(data):
        key = f"events[{i}]"
        d = r.mapping(raw, key)
        kinds = [k for k in _EVENT_KINDS if k in d]
        if len(kinds) != 1:
            r.fail(key, "each event needs exactly one action", " | ".join(_EVENT_KINDS), kinds)
        r.keys(d, key, required=("t", kinds[0]))
        t = r.number(d["t"], f"{key}.t", nonneg=True)
        if t < last:
            r.fail(f"{key}.t", "event times out of order", f"a time >= {last:g} h", t)
        if t >= t_end:
            r.fail(
                f"{key}.t", "event after the end of the batch", f"a time < t_end = {t_end:g} h", t
            )
        last = t
        kind = kinds[0]
        body = d[kind]
        where = f"{key}.{kind}"
        ev: Event
        if kind == "feed_start":
            if "F" not in cls_.inputs:
                r.fail(where, "this model has no feed input F")
            ev = FeedStart(t, _profile(r, body, where, "F"))
        elif kind == "feed_stop":
            if body is not True:
                r.fail(where, "wrong value", "true", shown(body))
            ev = FeedStop(t)
        elif kind == "induction":
            if "ind" not in cls_.inputs:
                r.fail(where, f"{cls_.name} has no induction input")
            level = r.number(body, where, nonneg=True)
            if level > 1:
                r.fail(where, "out of range", "an induction level in [0, 1]", level)
            ev = Induction(t, level)
        elif kind == "set":
            table = r.mapping(body, where)
            r.keys(table, where, optional=cls_.inputs)
            if len(table) != 1:
                r.fail(where, "set one input per event", "{input: value}", list(table))
            ((name, value),) = table.items()
            ev = SetInput(t, name, _profile(r, value, f"{where}.{name}", name))
        else:
            ev = _bolus(r, body, where, t, cls_)
        out.append(ev)
    return tuple(out)


def _bolus(r: Reader, body: Any, where: str, t: float, cls_: type[ProcessModel]) -> Bolus:
    d = r.mapping(body, where)
    r.keys(d, where, required=("volume",), optional=("concentrations", "amounts"))
    volume = r.number(d["volume"], f"{where}.volume", nonneg=True)
    parts = {}
    for part in ("concentrations", "amounts"):
        table = r.mapping(d.get(part) or {}, f"{where}.{part}")
        r.keys(table, f"{where}.{part}", optional=cls_.diluted)
        parts[part] = {k: r.number(v, f"{where}.{part}.{k}", nonneg=True) for k, v in table.items()}
    return Bolus(t, volume, parts["concentrations"], parts["amounts"])


def _noise(r: Reader, value: Any, key: str) -> Noise:
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            pct = float(value.strip()[:-1])
        except ValueError:
            pct = math.nan
        if not (math.isfinite(pct) and pct >= 0):
            r.fail(key, "bad noise", "a std >= 0 or a percentage like '5%'", value)
        return Noise(relative=pct / 100)
    if isinstance(value, bool) or not isinstance(value, int | float):
        r.fail(key, "wrong type", "a std >= 0 (signal units) or a percentage like '5%'", value)
    return Noise(std=r.number(value, key, nonneg=True))


def _measurements(
    r: Reader, data: Any, kind: str, cls_: type[ProcessModel], t_end: float
) -> MeasurementPlan:
    d = r.mapping(data, "measurements")
    r.keys(d, "measurements", optional=("seed", "online", "offline"))
    seed = r.integer(d.get("seed", 0), "measurements.seed")
    table = SIGNAL_MAP[kind]
    online: dict[str, Noise] = {}
    every = 0.25
    if d.get("online") is not None:
        on = r.mapping(d["online"], "measurements.online")
        r.keys(on, "measurements.online", required=("signals",), optional=("every",))
        every = r.number(on.get("every", 0.25), "measurements.online.every", positive=True)
        sig = r.mapping(on["signals"], "measurements.online.signals")
        allowed = [n for n in (*cls_.states, *cls_.outputs) if n in table]
        r.keys(sig, "measurements.online.signals", optional=allowed)
        online = {k: _noise(r, v, f"measurements.online.signals.{k}") for k, v in sig.items()}
    offline: dict[str, Noise] = {}
    times: list[float] = []
    if d.get("offline") is not None:
        off = r.mapping(d["offline"], "measurements.offline")
        r.keys(off, "measurements.offline", required=("signals",), optional=("times", "every"))
        if ("times" in off) == ("every" in off):
            r.fail(
                "measurements.offline", "give sample times or a sampling interval", "times or every"
            )
        if "times" in off:
            times = r.numbers(off["times"], "measurements.offline.times", nonneg=True)
            r.increasing(times, "measurements.offline.times")
            if times[-1] > t_end:
                r.fail(
                    f"measurements.offline.times[{len(times) - 1}]",
                    "sample after the end of the batch",
                    f"<= t_end = {t_end:g} h",
                    times[-1],
                )
        else:
            step = r.number(off["every"], "measurements.offline.every", positive=True)
            times = [float(v) for v in np.round(np.arange(step, t_end + 1e-9, step), 9)]
        sig = r.mapping(off["signals"], "measurements.offline.signals")
        allowed = [n for n in cls_.states if n in table]
        r.keys(sig, "measurements.offline.signals", optional=allowed)
        offline = {k: _noise(r, v, f"measurements.offline.signals.{k}") for k, v in sig.items()}
        both = sorted(set(online) & set(offline))
        if both:
            r.fail(f"measurements.offline.signals.{both[0]}", "signal is also measured online")
    if not online and not offline:
        r.fail("measurements", "no signal to measure", "an online or offline section")
    return MeasurementPlan(online, every, offline, tuple(times), seed)


def _control(r: Reader, data: Any, cls_: type[ProcessModel]) -> ControlSpec:
    d = r.mapping(data, "control")
    numbers = ("dt", "do_min", "v_max", "f_min", "f_max", "do_backoff", "offline_every")
    r.keys(
        d,
        "control",
        optional=(
            *numbers,
            *_CONTROL_INPUT_KEYS,
            "horizon",
            "plant",
            "adapt",
            "seed",
            "noise",
            "compare_mu_set",
        ),
    )
    kw: dict[str, Any] = {}
    for k in numbers:
        if k in d:
            kw[k] = r.number(
                d[k], f"control.{k}", positive=k in ("dt", "v_max", "f_max"), nonneg=True
            )
    if "horizon" in d:
        kw["horizon"] = r.integer(d["horizon"], "control.horizon", minimum=1)
    if "seed" in d:
        kw["seed"] = r.integer(d["seed"], "control.seed")
    if "adapt" in d:
        kw["adapt"] = r.boolean(d["adapt"], "control.adapt")
    plant = r.mapping(d.get("plant") or {}, "control.plant")
    r.keys(plant, "control.plant", optional=tuple(cls_.param_specs))
    kw["plant"] = {k: r.number(v, f"control.plant.{k}", positive=True) for k, v in plant.items()}
    noise = r.mapping(d.get("noise") or {}, "control.noise")
    r.keys(noise, "control.noise", optional=("OUR", "CER", "DO", "V"))
    kw["noise"] = {k: r.number(v, f"control.noise.{k}", nonneg=True) for k, v in noise.items()}
    if d.get("compare_mu_set") is not None:
        kw["compare_mu_set"] = r.number(
            d["compare_mu_set"], "control.compare_mu_set", positive=True
        )
    kw.update(_control_inputs(r, d))
    spec = ControlSpec(**kw)
    if spec.f_min > spec.f_max:
        r.fail(
            "control.f_min", "feed bounds inverted", f"<= f_max = {spec.f_max:g} L/h", spec.f_min
        )
    return spec


_CONTROL_INPUT_KEYS = (
    "temperature",
    "max_temperature_step",
    "induction_at",
    "v_backoff",
    "volume_drift",
    "move_penalty_l1",
)


def _control_inputs(r: Reader, d: dict[str, Any]) -> dict[str, Any]:
    """The control keys for temperature, induction and the volume back-off::

    temperature: 37                      # °C, held (default)
    temperature: {min: 30, max: 40, start: 37}   # a decision of the MPC
    max_temperature_step: 1              # °C per interval
    induction_at: 0                      # h, scheduled (default: induced from 0)
    induction_at: [0, 1.5, 3, 4.5]       # candidate times: the MPC chooses
    v_backoff: 2                         # standard deviations of the volume estimate
    volume_drift: 0.0002                 # L/sqrt(h)
    move_penalty_l1: 0.3                 # g
    """
    kw: dict[str, Any] = {}
    temp = d.get("temperature")
    if isinstance(temp, Mapping):
        t = r.mapping(temp, "control.temperature")
        r.keys(t, "control.temperature", required=("min", "max"), optional=("start",))
        lo = r.number(t["min"], "control.temperature.min", positive=True)
        hi = r.number(t["max"], "control.temperature.max", positive=True)
        if lo > hi:
            r.fail("control.temperature.min", "temperature range inverted", f"<= max = {hi:g}", lo)
        start = r.number(t.get("start", min(max(37.0, lo), hi)), "control.temperature.start")
        if not lo <= start <= hi:
            r.fail("control.temperature.start", "out of range", f"in [{lo:g}, {hi:g}] °C", start)
        kw.update(temperature=start, temperature_range=(lo, hi))
    elif temp is not None:
        kw["temperature"] = r.number(temp, "control.temperature", positive=True)
    ind = d.get("induction_at")
    if isinstance(ind, list):
        kw["induction_candidates"] = tuple(r.numbers(ind, "control.induction_at", nonneg=True))
    elif ind is not None:
        kw["induction_at"] = r.number(ind, "control.induction_at", nonneg=True)
    for key in ("max_temperature_step", "volume_drift"):
        if key in d:
            kw[key] = r.number(d[key], f"control.{key}", positive=True)
    for key in ("v_backoff", "move_penalty_l1"):
        if key in d:
            kw[key] = r.number(d[key], f"control.{key}", nonneg=True)
    return kw


def _exponential(s: Scenario) -> tuple[str | None, Exponential | None]:
    """Where the scenario's exponential feed is: ``inputs`` (F) or the feed-start event."""
    if isinstance(s.inputs.get("F"), Exponential):
        return "inputs", s.inputs["F"]
    for ev in s.events:
        if isinstance(ev, FeedStart) and isinstance(ev.profile, Exponential):
            return "events", ev.profile
    return None, None


def _knob_value(s: Scenario, knob: str) -> float:
    _, exp = _exponential(s)
    if knob in ("F0", "mu_set", "F_max"):
        return float(getattr(exp, knob))
    if knob == "T":
        prof = s.inputs.get("T", Constant(s.build_model().input_defaults.get("T", 37.0)))
        return float(prof(0.0))
    cls_ = Induction if knob == "induction_t" else FeedStart
    return float(next(e.t for e in s.events if isinstance(e, cls_)))


def _optimize(r: Reader, data: Any, s: Scenario) -> OptimizeSpec:
    d = r.mapping(data, "optimize")
    r.keys(
        d, "optimize", required=("parameters",), optional=("objective", "batch", "seed", "n_init")
    )
    objective = r.choice(
        d.get("objective", "product_mass"), "optimize.objective", tuple(OBJECTIVES)
    )
    batch = r.integer(d.get("batch", 4), "optimize.batch", minimum=1)
    seed = r.integer(d.get("seed", 0), "optimize.seed")
    n_init = r.integer(d["n_init"], "optimize.n_init", minimum=1) if "n_init" in d else None
    table = r.mapping(d["parameters"], "optimize.parameters")
    if not table:
        r.fail("optimize.parameters", "nothing to optimise", "at least one of " + ", ".join(KNOBS))
    r.keys(table, "optimize.parameters", optional=tuple(KNOBS))
    model = s.build_model()
    ranges: dict[str, tuple[float, float]] = {}
    for knob, raw in table.items():
        key = f"optimize.parameters.{knob}"
        if not isinstance(raw, list) or len(raw) != 2:
            r.fail(key, "wrong type", f"a range [low, high] in {KNOBS[knob]}", shown(raw))
        lo = r.number(raw[0], f"{key}[0]", nonneg=True)
        hi = r.number(raw[1], f"{key}[1]", nonneg=True)
        if not lo < hi:
            r.fail(key, "empty range", "low < high", raw)
        if knob in ("F0", "mu_set", "F_max") and _exponential(s)[1] is None:
            r.fail(
                key,
                "the recipe has no exponential feed to vary",
                "inputs.F or a feed_start event with profile: exponential",
            )
        if knob == "mu_set" and lo <= 0:
            r.fail(f"{key}[0]", "out of range", "a number > 0", lo)
        if knob == "T":
            if "T" not in model.inputs:
                r.fail(key, f"{model.name} has no temperature input")
            if any(isinstance(e, SetInput) and e.name == "T" for e in s.events):
                r.fail(key, "the recipe also changes T in events; remove those to optimise T")
        if knob in ("induction_t", "feed_start_t"):
            cls_ = Induction if knob == "induction_t" else FeedStart
            count = sum(isinstance(e, cls_) for e in s.events)
            if count != 1:
                what = "induction" if cls_ is Induction else "feed_start"
                r.fail(key, f"needs exactly one {what} event to move", "1 event", count)
            if hi >= s.t_end:
                r.fail(
                    f"{key}[1]", "event after the end of the batch", f"< t_end = {s.t_end:g} h", hi
                )
        ranges[knob] = (lo, hi)
    return OptimizeSpec(ranges, objective, batch, seed, n_init)


# ---------------------------------------------------------------------------------------
# Declared kinetics (model: kinetics) -- a user's own organism (biofab.process.kinetics)
# ---------------------------------------------------------------------------------------

DECLARED = "kinetics"
"""The ``model:`` value of a scenario whose rate laws are declared in its ``kinetics:``
block. Loading one registers its class in :data:`MODELS` and its signals in
:data:`SIGNAL_MAP` under this name (the latest declaration loaded wins; a scenario keeps
its own in ``Scenario.kinetics``)."""


def declared_class(decl: Any) -> type[ProcessModel]:
    """The model class of a declaration, registered as :data:`DECLARED` (see there)."""
    from biofab.process.kinetics import model_class, signal_map

    cls_ = model_class(decl)
    MODELS[DECLARED] = cls_
    SIGNAL_MAP[DECLARED] = signal_map(decl)
    return cls_


def _kinetics_block(r: Reader, top: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """Split off and validate the ``kinetics:`` block; register its model class."""
    from biofab.process.kinetics import read_declaration

    if top.get("model") != DECLARED:
        if "kinetics" in top:
            r.fail("kinetics", "a kinetics block needs model: kinetics", "model: kinetics")
        return top, None
    if "kinetics" not in top:
        r.fail("kinetics", "missing key", "the declared rate laws (model: kinetics)")
    decl = read_declaration(top["kinetics"], r.source)
    declared_class(decl)
    return {k: v for k, v in top.items() if k != "kinetics"}, decl
