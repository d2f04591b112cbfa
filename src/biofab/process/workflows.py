"""Process workflows: a typed request in, a typed result out, and the files written.

One function per job of the process pillar — :func:`simulate`, :func:`fit`,
:func:`fit_hybrid`, :func:`estimate`, :func:`control`, :func:`optimize` — holding the
orchestration that ``biofab process`` used to do itself (reading batches, building
experiments, choosing noise levels, running the estimator or the optimiser, writing the
table and the HTML report). The CLI parses arguments and prints; a web service calls the
same functions. Every result has ``to_frame()`` (its main table), ``to_dict()`` /
``to_json()`` (what ``--json`` prints) and ``files`` (paths written, in order).

Bad input raises a :class:`~biofab.core.errors.BiofabError` (one line) before anything is
written; outputs are written atomically only once everything is computed. Units are the
twin's (h, g/L or mM, L, L/h). Requests take a scenario as a path or a parsed
:class:`~biofab.process.scenario.Scenario`.
"""

from __future__ import annotations

import contextlib
import json
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from biofab.core.errors import BiofabError, InputError
from biofab.process.scenario import MODELS, Scenario, batch_frames, input_frame, make_model

if TYPE_CHECKING:
    from biofab.process.batchdata import BatchData
    from biofab.process.closed_loop import ClosedLoopResult
    from biofab.process.fit import Experiment
    from biofab.process.fit import FitResult as ParameterFit
    from biofab.process.hybrid import HybridModel
    from biofab.process.models import ProcessModel
    from biofab.process.simulate import Trajectory

__all__ = [
    "DEFAULT_RELATIVE_NOISE",
    "HYBRID_LEARNED",
    "ControlRequest",
    "ControlResult",
    "EstimateRequest",
    "EstimateResult",
    "FitRequest",
    "FitResult",
    "HybridFitRequest",
    "HybridFitResult",
    "OptimizeRequest",
    "OptimizeResult",
    "SimulateRequest",
    "SimulateResult",
    "control",
    "estimate",
    "experiments",
    "fit",
    "fit_hybrid",
    "measurement_stds",
    "optimize",
    "simulate",
]

ScenarioLike = str | Path | Scenario

DEFAULT_RELATIVE_NOISE = 0.05
"""Measurement std assumed for a signal the scenario gives no noise for: 5 % of its root
mean square reading (the estimators need one std per signal)."""
MIN_STD = 1e-3
"""Floor of every measurement std (signal units), so that a zero reading cannot make a
sensor infinitely trusted."""
HYBRID_LEARNED: dict[str, tuple[str, ...] | None] = {"ecoli": None, "cho": ("mu", "qGlc", "qLac")}
"""Rates a hybrid learns per twin. None: :class:`~biofab.process.hybrid.HybridModel`'s own
default (E. coli: ``qS``, ``qS_of``, ``qA_cons``, the residual set chosen on training feeds in
``benchmarks/process_hybrid.py``). The CHO set has no benchmark yet."""
HYBRID_PRESET_NAMES = ("rates", "capacity")
"""Names of :data:`biofab.process.hybrid.HYBRID_PRESETS`, known without importing torch."""
DEFAULT_BAND_CALIBRATION = "training"
"""Residuals a saved hybrid's discrepancy term is calibrated on by default (were it ``lobo`` or
``upward``, one batch would take ``forecast``). Kept at ``training`` by the rule written before
the development seeds of ``benchmarks/process_predict_bands.py`` ran (BENCHMARKS.md, "Saved
hybrid: prediction bands on unseen batches"): there the in-sample band already held >= 0.90
coverage of new batches on every state, inside the range and at +30 % feed, and ``lobo``,
which held as many, was wider."""


# ---------------------------------------------------------------------------------------
# shared helpers
# ---------------------------------------------------------------------------------------


def _jsonable(x: Any) -> Any:
    if hasattr(x, "item"):
        return x.item()
    return str(x)


def _dumps(data: Any) -> str:
    return json.dumps(data, indent=2, default=_jsonable) + "\n"


def _record(result: Any) -> str:
    """A result's JSON without its ``files`` (for the result file itself)."""
    return _dumps({k: v for k, v in result.to_dict().items() if k != "files"})


def _scenario(value: ScenarioLike) -> Scenario:
    return value if isinstance(value, Scenario) else Scenario.from_yaml(value)


def _optional_scenario(value: ScenarioLike | None) -> Scenario | None:
    return None if value is None else _scenario(value)


def _distinct(*paths: Path | None) -> None:
    given = [Path(p).resolve() for p in paths if p is not None]
    if len(set(given)) != len(given):
        raise InputError("two outputs name the same file", found=[str(p) for p in paths if p])


def _write(files: Mapping[Path | None, str]) -> list[str]:
    """Write every (path, text) atomically, once all of them are computed."""
    from biofab.core.atomic import write_atomic

    written = []
    for path, text in files.items():
        if path is not None:
            write_atomic(path, text)
            written.append(str(path))
    return written


def _choice(value: str, what: str, options: Sequence[str]) -> str:
    if value not in options:
        raise InputError(f"unknown {what}", column=what, expected=" | ".join(options), found=value)
    return value


def _check_x0(x0: Mapping[str, float], kind: str) -> dict[str, float]:
    states = MODELS[kind].states
    out = {}
    for name, value in x0.items():
        number = float(value)
        if name not in states or not (math.isfinite(number) and number >= 0):
            raise InputError(
                "bad initial value",
                column="x0",
                expected=f"NAME=VALUE with NAME in {', '.join(states)}, VALUE >= 0",
                found=f"{name}={value}",
            )
        out[name] = number
    return out


def _check_scenario_model(scenario: Scenario | None, kind: str) -> None:
    if scenario is not None and scenario.model != kind:
        raise InputError(
            "the model and the scenario's model differ",
            file=scenario.source,
            expected=kind,
            found=scenario.model,
        )


def _twin(scenario: Scenario | None, kind: str) -> ProcessModel:
    return scenario.build_model() if scenario is not None else make_model(kind)


def _not_available(job: str, module: str, err: Exception) -> BiofabError:
    return BiofabError(f"{job} is not available: {module} could not be imported ({err})")


# ---------------------------------------------------------------------------------------
# simulate
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SimulateRequest:
    """Simulate a scenario's recipe over ``[0, t_end]`` h.

    ``out``: trajectory CSV; ``report``: HTML page; ``data``: synthetic measurements as a
    long CSV (needs a ``measurements`` section); ``command``: provenance line for the report.
    """

    scenario: ScenarioLike
    out: Path | None = None
    report: Path | None = None
    data: Path | None = None
    command: str = ""


@dataclass
class SimulateResult:
    """The trajectory, the synthetic batch (when the scenario measures) and the files."""

    scenario: Scenario
    trajectory: Trajectory
    measurements: BatchData | None
    files: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        """``time_h``, the states, the inputs and the outputs, one row per output time."""
        return self.trajectory.frame.copy()

    def to_dict(self) -> dict[str, Any]:
        model = self.trajectory.model
        return {
            "scenario": self.scenario.name,
            "model": model.name,
            "t_end_h": self.scenario.t_end,
            "rows": len(self.trajectory),
            "final": self.trajectory.final,
            "units": {k: model.units.get(k, "") for k in model.states},
            "events": self.trajectory.events.to_dict("records"),
            "files": self.files,
        }

    def to_json(self) -> str:
        return _dumps(self.to_dict())


def simulate(request: SimulateRequest) -> SimulateResult:
    """Run the recipe, draw the synthetic measurements, write the requested files."""
    from biofab.process.batchdata import write_batches

    _distinct(request.out, request.report, request.data)
    s = _scenario(request.scenario)
    if request.data is not None and s.measurements is None:
        raise InputError("writing measurements needs a measurements section", file=s.source)
    traj = s.simulate()
    batch = s.measure(traj) if s.measurements is not None else None
    files: dict[Path | None, str] = {}
    if request.out is not None:
        files[request.out] = traj.frame.to_csv(index=False, float_format="%.8g")
    if request.report is not None:
        from biofab.process.report import simulation_page

        measured = []
        if batch is not None:
            on, off = batch_frames(s.model, batch)
            measured = [on.drop(columns=[c for c in ("F", "T") if c in on]), off]
        files[request.report] = simulation_page(s, traj, measured, request.command)
    written = _write(files)
    if request.data is not None and batch is not None:
        write_batches([batch], request.data, format="long")
        written.append(str(request.data))
    return SimulateResult(s, traj, batch, written)


# ---------------------------------------------------------------------------------------
# batch data -> experiments
# ---------------------------------------------------------------------------------------


#: Bounds of a simulation asked for by a request (HTTP route, dashboard page): a
#: two-month batch, and as many trajectory rows as a page can draw.
MAX_REQUEST_HOURS = 24 * 60
MAX_REQUEST_ROWS = 20_000


def simulate_text(scenario_yaml: str, *, purpose: str = "a request") -> SimulateResult:
    """:func:`simulate` of a scenario given as YAML text (not a server path), refused in
    one line when longer than :data:`MAX_REQUEST_HOURS` or :data:`MAX_REQUEST_ROWS`."""
    from biofab.core.staging import staged

    with staged("biofab-process-") as folder:
        path = folder / "scenario.yaml"
        path.write_text(scenario_yaml, encoding="utf-8")
        scenario = Scenario.from_yaml(path)
        rows = scenario.t_end / (scenario.output_every or scenario.t_end / 200)
        if scenario.t_end > MAX_REQUEST_HOURS or rows > MAX_REQUEST_ROWS:
            raise InputError(
                f"scenario too long for {purpose}",
                file="scenario.yaml",
                column="t_end",
                expected=f"t_end <= {MAX_REQUEST_HOURS} h and <= {MAX_REQUEST_ROWS} output rows",
                found=f"{scenario.t_end:g} h, {rows:.0f} rows",
            )
        return simulate(SimulateRequest(scenario=scenario))


def _recipe_from_data(
    kind: str, batch: BatchData, online: pd.DataFrame, input_step: float = 0.25
) -> tuple[dict[str, Any], list[Any]]:
    """Inputs logged online (feed, temperature; held between readings, averaged onto an
    ``input_step`` h grid by :func:`~biofab.process.batchdata.hold_average`) and an
    induction at the batch's ``induction_h`` metadata."""
    from biofab.process.batchdata import LoggedInput
    from biofab.process.simulate import Induction

    inputs: dict[str, Any] = {}
    for name in MODELS[kind].inputs:
        if name in online and online[name].notna().any():
            col = online[["time_h", name]].dropna()
            # Averaged onto a coarse grid, no breakpoints (same fed volume): one integrator
            # restart per logged reading made a 3-day 1-minute log take > 20 min to fit.
            inputs[name] = LoggedInput(col["time_h"], col[name], input_step)
    events = []
    ind = batch.metadata.get("induction_h")
    if ind is not None and "ind" in MODELS[kind].inputs:
        events.append(Induction(float(ind)))
    return inputs, events


def _x0_from_data(
    kind: str,
    batch: BatchData,
    online: pd.DataFrame,
    offline: pd.DataFrame,
    given: Mapping[str, float],
) -> dict[str, float]:
    """Initial state: ``given`` values, else the readings at the batch's first time."""
    states = MODELS[kind].states
    t0 = float(min(online["time_h"].min(), offline["time_h"].min()))
    x0: dict[str, float] = dict(given)
    for s in [s for s in states if s not in x0]:
        for frame in (online, offline):
            if s in frame:
                at = frame.loc[(frame["time_h"] - t0).abs() < 1e-9, s].dropna()
                if len(at):
                    x0[s] = float(at.iloc[0])
                    break
    missing = [s for s in states if s not in x0]
    if missing:
        raise InputError(
            f"batch '{batch.batch_id}': initial state unknown for {', '.join(missing)} "
            f"(no reading at t = {t0:g} h); give x0 (--x0 NAME=VALUE,...) or a scenario",
            expected=", ".join(states),
        )
    if t0 > 1e-9:
        raise InputError(
            f"batch '{batch.batch_id}' starts at t = {t0:g} h; simulations start at 0: "
            "give a scenario with the initial state and recipe"
        )
    return x0


def experiments(
    kind: str,
    batches: Sequence[BatchData],
    scenario: Scenario | None,
    x0: Mapping[str, float] | None = None,
    *,
    input_step: float = 0.25,
    online_states: Sequence[str] = (),
) -> list[Experiment]:
    """One :class:`~biofab.process.fit.Experiment` per batch: offline samples of states
    (model names and units), the initial state and the recipe.

    ``online_states``: states whose online log joins the samples as extra rows (that state
    only), for a hybrid that reads the log while training (``HybridModel(measured=)``).

    With a scenario, its initial state (``x0`` over it) and recipe are used and its noise
    model weights the samples (e.g. 5 % relative error); without, the initial state is read
    at the batch's first time and the recipe from the logged inputs.
    """
    from biofab.process.fit import Experiment

    given = dict(x0 or {})
    states = MODELS[kind].states
    out = []
    for batch in batches:
        online, offline = batch_frames(kind, batch)
        cols = [c for c in states if c in offline and offline[c].notna().any()]
        if not cols:
            raise InputError(
                f"batch '{batch.batch_id}' has no offline samples of a state of the {kind} twin",
                expected=", ".join(states),
                found=", ".join(batch.offline_signals) or "none",
            )
        samples = offline[["time_h", *cols]].dropna(how="all", subset=cols)
        logs = [c for c in online_states if c in online and online[c].notna().any()]
        if logs:
            log = online[["time_h", *logs]].dropna(how="all", subset=logs)
            samples = pd.concat([samples, log], ignore_index=True).sort_values(
                "time_h", kind="stable"
            )
            samples = samples.reset_index(drop=True)
        plan = scenario.measurements if scenario is not None else None
        for c in cols:
            noise = plan.offline.get(c) or plan.online.get(c) if plan is not None else None
            if noise is not None:
                samples[f"{c}_std"] = np.maximum(noise.sigma(samples[c].to_numpy()), 1e-6)
        inputs: Any
        if scenario is not None:
            start = {**scenario.initial, **given}
            inputs, events = scenario.inputs, list(scenario.events)
        else:
            start = _x0_from_data(kind, batch, online, offline, given)
            inputs, events = _recipe_from_data(kind, batch, online, input_step)
        t_end = max(
            float(samples["time_h"].max()), float(online["time_h"].max() if len(online) else 0)
        )
        if scenario is not None:
            t_end = max(t_end, scenario.t_end)
        out.append(Experiment(samples, start, inputs, tuple(events), str(batch.batch_id), t_end))
    return out


def _read(data: Path, mapping: Path | None) -> list[BatchData]:
    from biofab.process.batchdata import read_batches

    return read_batches(data, mapping)


# ---------------------------------------------------------------------------------------
# fit (parameters) and fit_hybrid
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FitRequest:
    """Estimate ``params`` of the ``model`` twin (``ecoli`` | ``cho``) from batch ``data``.

    ``mapping``: column-mapping YAML of the data; ``scenario``: initial state, recipe and
    noise model; ``x0``: initial values over the scenario's or the t = 0 readings;
    ``bands``: simulations drawn for the report's prediction bands; ``out``: result JSON;
    ``calibration_holdout``: with ``save``, also refit on all but the last fraction of each
    batch's time and add the forecast errors on that end to the saved discrepancy (0: the
    full fit's residuals only; see :mod:`biofab.process.saved`).
    """

    data: Path
    model: str
    params: tuple[str, ...]
    mapping: Path | None = None
    scenario: ScenarioLike | None = None
    x0: Mapping[str, float] = field(default_factory=dict)
    bands: int = 30
    out: Path | None = None
    report: Path | None = None
    command: str = ""
    kinetics: Path | None = None
    set: Mapping[str, float] = field(default_factory=dict)
    save: Path | None = None
    input_step: float = 0.25
    progress: bool = True
    calibration_holdout: float = 0.0


@dataclass
class FitResult:
    """The fitted twin's parameters (95 % CIs, identifiability) and the batches used."""

    model: ProcessModel
    fit: ParameterFit
    batches: list[str]
    files: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        """One row per parameter: estimate, CI, identifiability (see :mod:`~.fit`)."""
        return self.fit.table_.copy()

    def to_dict(self) -> dict[str, Any]:
        res = self.fit
        return {
            "model": self.model.name,
            "parameters": res.table_.to_dict("records"),
            "correlation": res.corr_.round(6).to_dict(),
            "s2": res.s2_,
            "n_obs": res.n_obs_,
            "dof": res.dof_,
            "converged": res.success_,
            "message": res.message_,
            "batches": self.batches,
            "files": self.files,
        }

    def to_json(self) -> str:
        return _dumps(self.to_dict())


def fit(request: FitRequest) -> FitResult:
    """Weighted least squares of the twin's parameters over every batch in the data."""
    from biofab.process.fit import fit as fit_parameters
    from biofab.process.fit import forecast_residuals
    from biofab.process.report import Run, fit_page
    from biofab.process.saved import SavedFit, discrepancy_from_residuals

    declared = _load_kinetics(request.kinetics)
    s = _optional_scenario(request.scenario)  # a declared scenario registers its model
    kind = _choice(request.model, "model", tuple(MODELS))
    names = [p.strip() for p in request.params if p.strip()]
    if not names:
        raise InputError("name at least one parameter to estimate", column="params")
    _distinct(request.out, request.report, request.save)
    if not 0 <= request.calibration_holdout < 1:
        raise InputError(
            "calibration holdout must be a fraction of the batch time in [0, 1)",
            column="calibration_holdout",
            found=request.calibration_holdout,
        )
    if request.calibration_holdout > 0 and request.save is None:
        # The forecast residuals only widen the saved bands: without a file they would
        # cost a second fit and change nothing.
        raise InputError(
            "calibration holdout widens the saved model's bands: give --save too",
            column="calibration_holdout",
            found=request.calibration_holdout,
        )
    _check_scenario_model(s, kind)
    twin = _with_overrides(_twin(s, kind) if declared is None else declared, request.set)
    twin.param_vector(dict.fromkeys(names, 1.0))  # unknown names fail before reading data
    exps = experiments(
        kind,
        _read(request.data, request.mapping),
        s,
        _check_x0(request.x0, kind),
        input_step=request.input_step,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = fit_parameters(twin, exps, names, progress=request.progress)
        runs, variables = [], []
        for e in exps:
            t = np.linspace(0.0, float(e.t_end or e.data["time_h"].max()), 121)
            pred = (
                res.predict(e, t_eval=t, n_samples=request.bands)
                if request.report is not None
                else None
            )
            runs.append(Run(e.name, pred, e.data))
            variables += [c for c in e.data.columns if c != "time_h" and c not in variables]
    result = FitResult(twin, res, [e.name for e in exps])
    files: dict[Path | None, str] = {}
    if request.out is not None:
        files[request.out] = _record(result)
    if request.save is not None:
        residuals = res.residuals_
        if request.calibration_holdout > 0:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                late = forecast_residuals(
                    twin, exps, names, request.calibration_holdout, progress=request.progress
                )
            residuals = pd.concat([residuals, late], ignore_index=True)
        decl = getattr(twin, "declaration", None)
        files[request.save] = SavedFit(
            model=kind,
            parameters=dict(res.model_.params),
            fitted=list(res.params_),
            cov_log=np.asarray(res.cov_log_, dtype=float).tolist(),
            discrepancy=discrepancy_from_residuals(residuals),
            kinetics=decl.to_dict() if decl is not None else None,
            input_step=request.input_step,
            batches=[e.name for e in exps],
        ).to_json()
    if request.report is not None:
        summary = {
            "samples": res.n_obs_,
            "degrees of freedom": res.dof_,
            "residual variance s2": res.s2_,
            "converged": res.success_,
            "function evaluations": res.nfev_,
        }
        shown = [v for v in twin.states if v in variables] + [
            v for v in ("X", "S", "P") if v in twin.states and v not in variables
        ]
        files[request.report] = fit_page(
            twin, res.table_, runs, shown, summary, res.corr_, request.command
        )
    result.files = _write(files)
    return result


@dataclass(frozen=True)
class HybridFitRequest:
    """Train a hybrid model (mechanistic balances of the ``base`` twin + neural rates).

    ``learned``: rates the networks learn; None takes :data:`HYBRID_LEARNED` (for E. coli
    the library default). ``quasi_steady``: states settled at their balance point in
    prediction; None takes DO for E. coli (the choice the hybrid benchmark made on its
    validation split: the base model's oxygen limit then caps respiration beyond the
    training feeds), nothing otherwise. ``epochs``, ``ensemble`` and ``seed`` as in
    :class:`~biofab.process.hybrid.HybridModel` (``epochs`` None: the preset's, else 300);
    the rest as in :class:`FitRequest`.

    ``preset``: a named group of hybrid settings from
    :data:`~biofab.process.hybrid.HYBRID_PRESETS` under the fields above: ``rates`` (the
    constructor's defaults) or ``capacity`` (E. coli only: the variant the hybrid benchmark
    selected; each batch's online DO log is read while training when every batch has one).

    ``band_calibration`` (with ``save``): residuals the saved discrepancy term is calibrated
    on, one of :data:`~biofab.process.saved_hybrid.BAND_CALIBRATIONS` (refits cost one
    training each: ``lobo`` one per batch, ``upward`` and ``forecast`` one); None takes
    :data:`DEFAULT_BAND_CALIBRATION`. ``calibration_holdout``: the fraction of each batch's
    time ``forecast`` holds out. ``options``: further
    :class:`~biofab.process.hybrid.HybridModel` settings (library only; the benchmark's
    variants), over the ones above. ``progress``: report the training steps (and loss) and
    the band-calibration refits on stderr.
    """

    data: Path
    base: str = "ecoli"
    learned: tuple[str, ...] | None = None
    mapping: Path | None = None
    scenario: ScenarioLike | None = None
    x0: Mapping[str, float] = field(default_factory=dict)
    epochs: int | None = None
    ensemble: int = 5
    seed: int = 0
    out: Path | None = None
    report: Path | None = None
    command: str = ""
    save: Path | None = None
    set: Mapping[str, float] = field(default_factory=dict)
    input_step: float = 0.25
    quasi_steady: tuple[str, ...] | None = None
    preset: str = "rates"
    band_calibration: str | None = None
    calibration_holdout: float = 0.25
    options: Mapping[str, Any] = field(default_factory=dict)
    progress: bool = False


@dataclass
class HybridFitResult:
    """The trained hybrid, its training RMSE per state and the batches used."""

    model: ProcessModel
    hybrid: HybridModel
    rmse: dict[str, float]
    batches: list[str]
    files: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"hybrid ({self.model.name}, learned {', '.join(self.hybrid.learned)})"

    def to_frame(self) -> pd.DataFrame:
        """One row per state: training RMSE and unit."""
        return pd.DataFrame(
            [
                {"state": k, "rmse": v, "unit": self.model.units.get(k, "")}
                for k, v in self.rmse.items()
            ]
        )

    def to_dict(self) -> dict[str, Any]:
        h = self.hybrid
        return {
            "model": self.name,
            "learned": list(h.learned),
            "rmse": self.rmse,
            "ensemble": h.ensemble,
            "epochs": h.epochs,
            "batches": self.batches,
            "files": self.files,
        }

    def to_json(self) -> str:
        return _dumps(self.to_dict())


def _logged(e: Experiment, variable: str) -> bool:
    """Whether batch ``e`` has a log of ``variable`` (more than one finite reading)."""
    if variable not in e.data.columns:
        return False
    return int(pd.to_numeric(e.data[variable], errors="coerce").notna().sum()) > 1


def fit_hybrid(request: HybridFitRequest) -> HybridFitResult:
    """Train the hybrid on every batch in the data (library defaults unless overridden)."""
    from biofab.process.saved_hybrid import BAND_CALIBRATIONS

    kind = _choice(request.base, "base", tuple(MODELS))
    # the names of biofab.process.hybrid.HYBRID_PRESETS (a test keeps them equal), checked
    # before that module (torch) is imported
    _choice(request.preset, "preset", HYBRID_PRESET_NAMES)
    if request.preset == "capacity" and kind != "ecoli":
        raise InputError(
            "preset 'capacity' learns the E. coli twin's respiratory capacity",
            column="preset",
            expected="--base ecoli (or preset rates)",
            found=kind,
        )
    method = request.band_calibration
    if method is not None:
        _choice(method, "band calibration", BAND_CALIBRATIONS)
        if request.save is None and method != "training":
            raise InputError(
                "band calibration widens the saved hybrid's bands: give --save too",
                column="band_calibration",
                found=method,
            )
    _distinct(request.out, request.report)
    s = _optional_scenario(request.scenario)
    _check_scenario_model(s, kind)
    try:
        from biofab.process.hybrid import HYBRID_PRESETS, HybridModel
    except ImportError as err:
        raise _not_available("the hybrid model", "biofab.process.hybrid", err) from None
    from biofab.process.report import Run, fit_page

    _distinct(request.out, request.report, request.save)
    twin = _with_overrides(_twin(s, kind), request.set)
    batches = _read(request.data, request.mapping)
    start = _check_x0(request.x0, kind)
    exps = experiments(kind, batches, s, start, input_step=request.input_step)
    measured = False
    if request.preset == "capacity":
        # the DO log read while training, as benchmarked, when every batch has one
        logged = experiments(
            kind, batches, s, start, input_step=request.input_step, online_states=("DO",)
        )
        if all(_logged(e, "DO") for e in logged):
            exps, measured = logged, True
    preset = dict(HYBRID_PRESETS[request.preset])
    learned = request.learned
    if learned is None and "learned" not in preset:
        learned = HYBRID_LEARNED[kind]
    options: dict[str, Any] = {
        **preset,
        "ensemble": request.ensemble,
        "epochs": request.epochs if request.epochs is not None else preset.get("epochs", 300),
        "seed": request.seed,
    }
    if learned is not None:
        options["learned"] = tuple(learned)
    quasi = request.quasi_steady
    if quasi is None and "quasi_steady" not in preset:
        quasi = ("DO",) if kind == "ecoli" and "DO" in twin.states else ()
    if quasi is not None:
        options["quasi_steady"] = tuple(quasi)
    if request.progress:
        options["verbose"] = True  # the training steps on stderr (core.progress)
    if measured:
        options["measured"] = ("DO",)
    elif options.get("log_weight"):
        options["log_weight"] = 0.0  # the preset observes the DO log; this data has none
    options.update(request.options)
    if method is None:
        method = DEFAULT_BAND_CALIBRATION
        if method in ("lobo", "upward") and len(exps) < 2:
            method = "forecast"  # nothing to leave out: the one batch's late part
    if method == "forecast" and not 0 < request.calibration_holdout < 1:
        raise InputError(
            "band calibration 'forecast' holds out a fraction of each batch's time in (0, 1)",
            column="calibration_holdout",
            found=request.calibration_holdout,
        )
    if request.save is not None and method in ("lobo", "upward") and len(exps) < 2:
        raise InputError(  # before the training, not after it
            f"band calibration '{method}' leaves a batch out: it needs >= 2 training batches "
            "(one batch: use 'forecast')",
            found=f"{len(exps)} batch",
        )

    def make() -> HybridModel:
        return HybridModel(twin, **options)

    def make_refit() -> HybridModel:
        # a band-calibration refit trains as long as the fit: its steps say which they are
        refit = make()
        refit.progress_label = "hybrid band-calibration refit"
        return refit

    hybrid = make()
    hybrid.fit(exps)
    result = HybridFitResult(twin, hybrid, hybrid.rmse(exps), [e.name for e in exps])
    files: dict[Path | None, str] = {}
    if request.out is not None:
        files[request.out] = _record(result)
    weights = None
    if request.save is not None:
        from biofab.process.saved import discrepancy_from_residuals
        from biofab.process.saved_hybrid import calibration_residuals, hybrid_to_files

        weights_path = request.save.with_suffix(".pt")
        _distinct(request.out, request.report, request.save, weights_path)
        tables, info = calibration_residuals(
            make_refit, hybrid, exps, method, request.calibration_holdout, request.progress
        )
        terms = {k: discrepancy_from_residuals(v) for k, v in tables.items()}
        info["discrepancy_by_calibration"] = terms
        config, weights = hybrid_to_files(
            hybrid, kind, None, exps, terms[method], weights_path.name, info
        )
        files[request.save] = config
    if request.report is not None:
        runs, variables = [], []
        for e in exps:
            t = np.linspace(0.0, float(e.t_end or e.data["time_h"].max()), 121)
            mean, std = hybrid.predict(e.x0, e.inputs, t, e.events)
            for c in twin.states:
                mean[f"{c}_lo"] = mean[c] - 2 * std[c]
                mean[f"{c}_hi"] = mean[c] + 2 * std[c]
            runs.append(Run(e.name, mean, e.data))
            variables += [c for c in e.data.columns if c != "time_h" and c not in variables]
        shown = [v for v in twin.states if v in variables]
        summary = {"ensemble members": request.ensemble, "training steps": options["epochs"]}
        files[request.report] = fit_page(
            twin, result.to_frame(), runs, shown, summary, None, request.command
        )
    if weights is not None and request.save is not None:
        import torch

        from biofab.core.atomic import atomic_path

        # The tensors first: a config is never left pointing at missing weights.
        with atomic_path(request.save.with_suffix(".pt")) as tmp:
            torch.save(weights, tmp)
        result.files.append(str(request.save.with_suffix(".pt")))
    result.files += _write(files)
    return result


# ---------------------------------------------------------------------------------------
# estimate
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EstimateRequest:
    """Soft sensor over batch ``data``: every state (± σ) and the growth rate.

    ``filter``: ``ekf`` | ``ukf``; ``online``/``offline``: signals used (model names; None:
    every logged online signal / every sampled state not read online); ``estimate``:
    parameters tracked as random walks; ``x0``: initial guess over the scenario's or the
    t = 0 readings; ``out``: estimates CSV.
    """

    data: Path
    model: str
    filter: str = "ekf"
    mapping: Path | None = None
    scenario: ScenarioLike | None = None
    online: tuple[str, ...] | None = None
    offline: tuple[str, ...] | None = None
    estimate: tuple[str, ...] = ()
    x0: Mapping[str, float] = field(default_factory=dict)
    out: Path | None = None
    report: Path | None = None
    command: str = ""


@dataclass
class EstimateResult:
    """Estimates per batch and time, NIS consistency per update kind, and the RMSE of the
    estimate against offline samples."""

    model: ProcessModel
    filter: str
    estimates: pd.DataFrame
    consistency: pd.DataFrame
    offline_rmse: pd.DataFrame
    files: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        """``batch``, ``time_h``, each state and ``mu`` with ``<name>_std``."""
        return self.estimates.copy()

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.name,
            "filter": self.filter,
            "consistency": self.consistency.to_dict("records"),
            "rmse_offline": self.offline_rmse.to_dict("records"),
            "final": self.estimates.groupby("batch").tail(1).to_dict("records"),
            "files": self.files,
        }

    def to_json(self) -> str:
        return _dumps(self.to_dict())


def measurement_stds(
    scenario: Scenario | None, wide: pd.DataFrame, signals: Sequence[str]
) -> dict[str, float]:
    """One measurement std per signal (the filters take one per signal): the root mean
    square of the scenario's noise model over the readings (a relative noise varies with
    the value), else :data:`DEFAULT_RELATIVE_NOISE` of the root mean square reading; at
    least :data:`MIN_STD`."""
    plan = scenario.measurements if scenario is not None else None
    out = {}
    for name in signals:
        values = wide[name].dropna().to_numpy(dtype=float)
        noise = None
        if plan is not None:
            noise = plan.online.get(name) or plan.offline.get(name)
        spread = (
            noise.sigma(values) if noise is not None else DEFAULT_RELATIVE_NOISE * np.abs(values)
        )
        value = float(np.sqrt(np.mean(np.square(spread)))) if values.size else 0.0
        out[name] = max(value, MIN_STD)
    return out


def _unlogged_inputs(
    scenario: Scenario | None, twin: ProcessModel, batch: BatchData, times: Any
) -> pd.DataFrame:
    """Inputs the data do not log: from the scenario's recipe, else the model defaults with
    an induction at the batch's ``induction_h`` metadata."""
    from biofab.process.simulate import Induction

    if scenario is not None:
        return scenario.input_schedule(times)
    events = []
    ind = batch.metadata.get("induction_h")
    if ind is not None and "ind" in twin.inputs:
        events.append(Induction(float(ind)))
    return input_frame(twin, {}, events, times)


def estimate(request: EstimateRequest) -> EstimateResult:
    """Run the EKF/UKF soft sensor over every batch; write estimates and report."""
    from biofab.process.report import Run, estimate_page
    from biofab.process.softsensor import SoftSensor, estimation_twin, filter_options

    kind = _choice(request.model, "model", tuple(MODELS))
    filter_ = _choice(request.filter, "filter", ("ekf", "ukf"))
    _distinct(request.out, request.report)
    s = _optional_scenario(request.scenario)
    _check_scenario_model(s, kind)
    guess = _check_x0(request.x0, kind)
    # E. coli: DO at quasi-steady state inside the filter (an output, not a state).
    twin = estimation_twin(_twin(s, kind))
    options = filter_options(twin, filter_)
    extra = tuple(options.get("report_outputs", ()))  # outputs shown beside the states
    frames, consistency, errors, runs = [], [], [], []
    for batch in _read(request.data, request.mapping):
        on, off = batch_frames(kind, batch)
        on_names = list(request.online or ()) or [
            c for c in on.columns if c in (*twin.states, *twin.outputs) and on[c].notna().any()
        ]
        off_names = list(request.offline or ()) or [
            c for c in off.columns if c in twin.states and c not in on_names
        ]
        if not on_names and not off_names:
            raise InputError(f"batch '{batch.batch_id}' has no signal the {kind} twin knows")
        wide = on.merge(off, on="time_h", how="outer", suffixes=("", "_offline"))
        wide = wide.sort_values("time_h").reset_index(drop=True)
        for name in (*on_names, *off_names):
            if name not in wide:
                raise InputError(
                    f"batch '{batch.batch_id}' lacks the signal",
                    column=name,
                    found=", ".join(c for c in wide.columns if c != "time_h"),
                )
        missing_inputs = [u for u in twin.inputs if u not in wide]
        if missing_inputs:
            schedule = _unlogged_inputs(s, twin, batch, wide["time_h"])
            for u in missing_inputs:
                wide[u] = schedule[u].to_numpy()
        start = (
            {**s.initial, **guess} if s is not None else _x0_from_data(kind, batch, on, off, guess)
        )
        start = {k: v for k, v in start.items() if k in twin.states}
        stds = measurement_stds(s, wide, [*on_names, *off_names])
        sensor = SoftSensor(
            twin,
            filter_,  # type: ignore[arg-type]
            online=on_names,
            offline=off_names,
            estimate=request.estimate,
            x0=start,
            online_std={n: stds[n] for n in on_names},
            offline_std={n: stds[n] for n in off_names},
            biomass="X" if kind == "ecoli" else "Xv",
            columns={},
            **options,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est = sensor.run(wide)
        frame = est.frame.copy()
        frame.insert(0, "batch", batch.batch_id)
        frames.append(frame)
        for label, c in est.consistency.items():
            consistency.append(
                {
                    "batch": batch.batch_id,
                    "updates": label,
                    "n": c.n_updates,
                    "mean NIS": c.nis_mean,
                    "95 % band low": c.lower,
                    "95 % band high": c.upper,
                    "consistent": c.consistent,
                }
            )
        line = est.frame.copy()
        shown = (*twin.states, *extra)
        for v in (*shown, "mu"):
            line[f"{v}_lo"] = line[v] - 2 * line[f"{v}_std"]
            line[f"{v}_hi"] = line[v] + 2 * line[f"{v}_std"]
        measured = wide[["time_h", *[n for n in (*on_names, *off_names) if n in shown]]]
        runs.append(Run(str(batch.batch_id), line, measured))
        for name in off_names:
            samples = wide[["time_h", name]].dropna()
            if name in twin.states and len(samples):
                at = np.interp(samples["time_h"], est.frame["time_h"], est.frame[name])
                errors.append(
                    {
                        "batch": batch.batch_id,
                        "state": name,
                        "samples": len(samples),
                        "rmse": float(np.sqrt(np.mean((at - samples[name]) ** 2))),
                        "unit": twin.units.get(name, ""),
                    }
                )
    result = EstimateResult(
        twin,
        filter_,
        pd.concat(frames, ignore_index=True),
        pd.DataFrame(consistency),
        pd.DataFrame(errors),
    )
    files: dict[Path | None, str] = {}
    if request.out is not None:
        files[request.out] = result.estimates.to_csv(index=False, float_format="%.8g")
    if request.report is not None:
        files[request.report] = estimate_page(
            twin,
            runs,
            [*twin.states, *extra, "mu"],
            result.consistency,
            result.offline_rmse,
            request.command,
        )
    result.files = _write(files)
    return result


# ---------------------------------------------------------------------------------------
# control
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ControlRequest:
    """Closed-loop feed control of the scenario's ``control`` section (E. coli twin).

    ``out``: plant trajectories CSV (one block per controller); ``report``: HTML page.
    """

    scenario: ScenarioLike
    out: Path | None = None
    report: Path | None = None
    command: str = ""


@dataclass
class ControlResult:
    """One closed-loop run per controller (the NMPC, then the optional exponential-feed
    reference) and their metrics."""

    model: ProcessModel
    runs: list[ClosedLoopResult]
    files: list[str] = field(default_factory=list)

    @property
    def metrics(self) -> pd.DataFrame:
        """One row per controller: product (g), DO deficit (h, %-points), volume over (L),
        solve times (s), fallbacks."""
        return pd.DataFrame([{"controller": r.label, **r.metrics()} for r in self.runs])

    def to_frame(self) -> pd.DataFrame:
        """The plants' trajectories, a ``controller`` column telling the runs apart."""
        return pd.concat([r.frame.assign(controller=r.label) for r in self.runs], ignore_index=True)

    def to_dict(self) -> dict[str, Any]:
        return {"metrics": self.metrics.to_dict("records"), "files": self.files}

    def to_json(self) -> str:
        return _dumps(self.to_dict())


def control(request: ControlRequest) -> ControlResult:
    """NMPC of the feed on a mismatched simulated plant, EKF estimate, online re-fitting."""
    import logging

    _distinct(request.out, request.report)
    s = _scenario(request.scenario)
    if s.control is None:
        raise InputError("the scenario has no control section", file=s.source, column="control")
    c = s.control
    steps = s.t_end / c.dt
    if abs(steps - round(steps)) > 1e-6:
        raise InputError(
            "control.dt must divide t_end into whole intervals",
            file=s.source,
            column="control.dt",
            expected=f"a divisor of {s.t_end:g} h",
            found=c.dt,
        )
    try:
        from biofab.process.closed_loop import ExponentialFeed, closed_loop, mismatched_plant
        from biofab.process.mpc import FeedMPC
    except ImportError as err:
        raise _not_available("feed control", "biofab.process.closed_loop / mpc", err) from None
    from biofab.process.report import control_page
    from biofab.process.simulate import Exponential

    logging.getLogger("biofab.process.mpc").setLevel(logging.ERROR)
    model = s.build_model()
    plant = mismatched_plant(model, c.plant)
    common: dict[str, Any] = {
        "t_end_h": s.t_end,
        "dt_h": c.dt,
        "do_min": c.do_min,
        "v_max": c.v_max,
        "seed": c.seed,
        "noise": c.noise or None,
        "offline_every_h": c.offline_every,
        "temperature": c.temperature,
        "induction_h": math.inf if c.induction_candidates else c.induction_at,
        "volume_drift_std": c.volume_drift,
    }
    # a scheduled induction is a single candidate: the MPC plans with the known schedule
    candidates = c.induction_candidates or (c.induction_at,)
    mpc = FeedMPC(
        model,
        horizon=c.horizon,
        dt_h=c.dt,
        t_end_h=s.t_end,
        do_min=c.do_min,
        v_max=c.v_max,
        f_min=c.f_min,
        f_max=c.f_max,
        do_backoff=c.do_backoff,
        temperature=c.temperature,
        temperature_bounds=c.temperature_range,
        max_delta_t=c.max_temperature_step,
        induction_times=list(candidates),
        v_backoff=c.v_backoff,
        move_penalty_l1=c.move_penalty_l1,
    )
    runs = [closed_loop(mpc, model, plant, s.initial, adapt=c.adapt, label="MPC", **common)]
    if c.compare_mu_set is not None:
        x0, p = s.initial, model.params
        design = Exponential.for_growth(
            c.compare_mu_set, x0["X"], x0["V"], p["Sf"], p["Yxs"], p["ms"]
        )
        feed = ExponentialFeed(
            F0=design.F0,
            mu_set=c.compare_mu_set,
            do_min=c.do_min,
            v_max=c.v_max,
            f_max=c.f_max,
            dt_h=c.dt,
        )
        label = f"exponential mu_set={c.compare_mu_set:g}"
        # the reference follows the schedule (0 h when the MPC chooses the induction)
        ref = {**common, "induction_h": c.induction_at}
        runs.append(closed_loop(feed, model, plant, s.initial, label=label, **ref))
    result = ControlResult(model, runs)
    files: dict[Path | None, str] = {}
    if request.out is not None:
        files[request.out] = result.to_frame().to_csv(index=False, float_format="%.8g")
    if request.report is not None:
        files[request.report] = control_page(model, runs, c, result.metrics, request.command)
    result.files = _write(files)
    return result


# ---------------------------------------------------------------------------------------
# optimize
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OptimizeRequest:
    """Bayesian optimisation of the recipe knobs in the scenario's ``optimize`` section.

    ``budget``: bioreactor runs in total (>= 2); ``batch``: parallel bioreactors per round
    and ``seed`` (None: the scenario's); ``workers``: processes simulating in parallel;
    ``out``: evaluated recipes CSV; ``progress``: report each round.
    """

    scenario: ScenarioLike
    budget: int
    batch: int | None = None
    seed: int | None = None
    workers: int | None = None
    out: Path | None = None
    report: Path | None = None
    progress: bool = False
    command: str = ""


@dataclass
class OptimizeResult:
    """Every evaluated recipe, the best one and the scenario's own recipe with values."""

    objective: str
    unit: str
    history: pd.DataFrame
    best: dict[str, float]
    best_value: float
    start: dict[str, float]
    start_value: float | None
    failures: pd.DataFrame
    files: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        """One row per run: ``evaluation``, ``round``, ``recommender``, knobs, objective."""
        return self.history.copy()

    def to_dict(self) -> dict[str, Any]:
        return {
            "objective": self.objective,
            "unit": self.unit,
            "evaluations": len(self.history),
            "start": {"design": self.start, "value": self.start_value},
            "best": {"design": self.best, "value": self.best_value},
            "failed_runs": len(self.failures),
            "files": self.files,
        }

    def to_json(self) -> str:
        return _dumps(self.to_dict())


def _value_of(history: pd.DataFrame, design: dict[str, float], objective: str) -> float | None:
    for row in history.to_dict("records"):
        if all(abs(float(row[k]) - v) <= 1e-9 * max(1.0, abs(v)) for k, v in design.items()):
            return float(row[objective])
    return None


def optimize(request: OptimizeRequest) -> OptimizeResult:
    """Optimise the recipe on the scenario's twin, ``batch`` bioreactors per round."""
    if request.budget < 2:
        raise InputError("budget too small", column="budget", expected=">= 2", found=request.budget)
    _distinct(request.out, request.report)
    s = _scenario(request.scenario)
    if s.optimize is None:
        raise InputError("the scenario has no optimize section", file=s.source, column="optimize")
    try:
        from biofab.process.recipe import optimize_recipe
    except ImportError as err:
        raise _not_available("recipe optimisation", "biofab.process.recipe", err) from None
    from biofab.process.report import Run, optimize_page
    from biofab.process.scenario import ScenarioTestbed

    spec = s.optimize
    k = request.batch or spec.batch
    testbed = ScenarioTestbed(s, workers=request.workers)
    res = optimize_recipe(
        testbed,
        budget=request.budget,
        batch=min(k, request.budget),
        seed=spec.seed if request.seed is None else request.seed,
        n_init=None if spec.n_init is None else min(spec.n_init, request.budget),
        progress=request.progress,
    )
    history = res.history
    best = {n: float(res.best[n]) for n in spec.parameters}
    start = s.design()
    result = OptimizeResult(
        objective=spec.objective,
        unit=testbed.objectives[0].unit or "",
        history=history,
        best=best,
        best_value=float(res.best[spec.objective]),
        start=start,
        start_value=_value_of(history, start, spec.objective),
        failures=pd.DataFrame(testbed.failures_),
    )
    files: dict[Path | None, str] = {}
    if request.out is not None:
        files[request.out] = history.to_csv(index=False, float_format="%.8g")
    if request.report is not None:
        runs = [Run("scenario recipe", s.simulate().frame, dash="dash")]
        with contextlib.suppress(BiofabError):
            runs.append(Run("best recipe", s.with_design(best).simulate().frame))
        files[request.report] = optimize_page(
            history,
            spec.objective,
            result.unit,
            runs,
            s.build_model(),
            result.failures,
            request.command,
        )
    result.files = _write(files)
    return result


# ---------------------------------------------------------------------------------------
# A user's own organism and data: declared kinetics, parameter overrides, predict
# ---------------------------------------------------------------------------------------


def _load_kinetics(path: Path | None) -> ProcessModel | None:
    """The model declared in ``path``: a scenario with ``model: kinetics``, or a file with
    just ``kinetics:`` (and optionally ``parameters:`` and ``name:``). Registers it as the
    ``kinetics`` twin (see :data:`biofab.process.scenario.DECLARED`)."""
    if path is None:
        return None
    from biofab.core.scenario_yaml import Reader, read_yaml
    from biofab.process.kinetics import read_declaration
    from biofab.process.scenario import DECLARED, declared_class

    data = read_yaml(path)
    r = Reader(str(path))
    top = r.mapping(data, "")
    if "model" in top:
        s = Scenario.from_dict(top, source=str(path))
        if s.kinetics is None:
            r.fail("model", "--kinetics needs declared kinetics", f"model: {DECLARED}", s.model)
        return s.build_model()
    r.keys(top, "", required=("kinetics",), optional=("parameters", "name"))
    decl = read_declaration(top["kinetics"], str(path))
    cls_ = declared_class(decl)
    table = r.mapping(top.get("parameters") or {}, "parameters")
    r.keys(table, "parameters", optional=tuple(cls_.param_specs))
    values = {k: r.number(v, f"parameters.{k}", nonneg=True) for k, v in table.items()}
    return cls_(values)


def _with_overrides(model: ProcessModel, sets: Mapping[str, float]) -> ProcessModel:
    """``model`` with parameter values replaced (``--set NAME=VALUE``), checked first."""
    if not sets:
        return model
    for name, value in sets.items():
        number = float(value)
        if name not in model.param_specs or not (math.isfinite(number) and number >= 0):
            raise InputError(
                "bad parameter override",
                column="set",
                expected=f"NAME=VALUE with NAME in {', '.join(model.param_specs)}, VALUE >= 0",
                found=f"{name}={value}",
            )
    return type(model)({**model.params, **{k: float(v) for k, v in sets.items()}})


def _prediction_experiment(
    kind: str,
    batch: BatchData,
    x0: Mapping[str, float],
    input_step: float,
) -> Experiment:
    """A new batch as an experiment: initial state at its first reading (``x0`` over it),
    recipe from its logged inputs, its offline samples (may be none) to compare with."""
    from biofab.process.fit import Experiment

    online, offline = batch_frames(kind, batch)
    states = MODELS[kind].states
    cols = [c for c in states if c in offline and offline[c].notna().any()]
    samples = offline[["time_h", *cols]].dropna(how="all", subset=cols) if cols else None
    start = _x0_from_data(kind, batch, online, offline if len(offline) else online, dict(x0))
    inputs, events = _recipe_from_data(kind, batch, online, input_step)
    ends = [float(online["time_h"].max()) if len(online) else 0.0]
    if samples is not None:
        ends.append(float(samples["time_h"].max()))
    data = samples if samples is not None else pd.DataFrame({"time_h": []})
    return Experiment(data, start, inputs, tuple(events), str(batch.batch_id), max(ends))


@dataclass(frozen=True)
class PredictRequest:
    """Apply a saved fit (``process fit --save``) to every batch in ``data``.

    ``set``: parameter overrides (e.g. the new run's feed concentration ``Sf``); ``x0``:
    initial values over the batch's first readings; ``level``: band probability; ``bands``:
    parameter draws; ``out``: predictions CSV (``batch, time_h``, each state with ``_lo``,
    ``_hi``, ``_sd``); ``report``: HTML with the offline samples overlaid.
    """

    data: Path
    model: Path
    mapping: Path | None = None
    x0: Mapping[str, float] = field(default_factory=dict)
    set: Mapping[str, float] = field(default_factory=dict)
    level: float = 0.95
    bands: int = 30
    out: Path | None = None
    report: Path | None = None
    command: str = ""


@dataclass
class PredictResult:
    """Predictions with bands per batch, and their coverage of the batch's samples."""

    model: ProcessModel
    predictions: pd.DataFrame
    coverage: pd.DataFrame
    batches: list[str]
    files: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        """Coverage and error per batch and sampled variable."""
        return self.coverage.copy()

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.name,
            "coverage": self.coverage.to_dict("records"),
            "batches": self.batches,
            "files": self.files,
        }

    def to_json(self) -> str:
        return _dumps(self.to_dict())


def predict(request: PredictRequest) -> PredictResult:
    """Predict each batch of ``request.data`` with a saved fit (see :class:`PredictRequest`)."""
    from biofab.process.report import Run, trajectory_figure
    from biofab.process.saved import SavedFit, coverage, predict_bands
    from biofab.viz import html_page

    _distinct(request.out, request.report)
    if not 0 < request.level < 1:
        raise InputError("band level must lie in (0, 1)", column="level", found=request.level)
    hybrid_config = _hybrid_config(request.model)
    hybrid = None
    if hybrid_config is not None:
        from biofab.process.saved_hybrid import load_hybrid, predict_hybrid_bands

        kind = _choice(str(hybrid_config.get("model")), "model", tuple(MODELS))
        model = _with_overrides(
            make_model(kind, hybrid_config.get("parameters") or {}), request.set
        )
        hybrid = load_hybrid(hybrid_config, Path(request.model), model)
        step = 0.25
        discrepancy = hybrid_config.get("discrepancy") or {}
        fitted_names: list[str] = []
    else:
        saved = SavedFit.read(request.model)
        model = _with_overrides(saved.build_model(), request.set)
        kind = saved.model if saved.kinetics is None else "kinetics"
        step = saved.input_step
        fitted_names = saved.fitted
    x0 = _check_x0(request.x0, kind)
    batches = _read(request.data, request.mapping)
    exps = [_prediction_experiment(kind, b, x0, step) for b in batches]
    frames, covs, runs = [], [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for e in exps:
            t = np.union1d(np.linspace(0.0, float(e.t_end or 1.0), 201), e.data["time_h"])
            if hybrid is not None:
                pred = predict_hybrid_bands(hybrid, e, t, discrepancy, request.level)
            else:
                pred = predict_bands(
                    model,
                    e,
                    t,
                    fitted=saved.fitted,
                    cov_log=saved.cov_log,
                    discrepancy=saved.discrepancy,
                    n_samples=request.bands,
                    level=request.level,
                )
            cov = coverage(pred, e.data, request.level)
            cov.insert(0, "batch", e.name)
            covs.append(cov)
            frames.append(pred.assign(batch=e.name)[["batch", *pred.columns]])
            runs.append(Run(e.name, pred, e.data))
    predictions = pd.concat(frames, ignore_index=True)
    cov_all = pd.concat(covs, ignore_index=True) if covs else pd.DataFrame()
    result = PredictResult(model, predictions, cov_all, [e.name for e in exps])
    files: dict[Path | None, str] = {}
    if request.out is not None:
        files[request.out] = predictions.to_csv(index=False, float_format="%.8g")
    if request.report is not None:
        shown = [v for v in model.states if v != model.volume_state] + [model.volume_state]
        fig = trajectory_figure(model, runs, shown, title="Prediction of new batches")
        sections: list[tuple[str, Any]] = [
            ("Predictions", fig),
            (
                "",
                f"Lines: the saved fit; shaded: {100 * request.level:g} % band (parameter "
                "uncertainty + model discrepancy from the fitting run); markers: samples.",
            ),
            ("Coverage of the samples", cov_all if len(cov_all) else "No offline samples."),
            (
                "Parameters",
                pd.DataFrame(
                    [
                        {"parameter": k, "value": v, "fitted": k in fitted_names}
                        for k, v in model.params.items()
                    ]
                ),
            ),
        ]
        files[request.report] = html_page(
            f"Predict: {model.name}", sections, subtitle=request.command
        )
    result.files = _write(files)
    return result


def _hybrid_config(path: Path) -> dict[str, Any] | None:
    """The config of a saved hybrid (``fit --model hybrid --save``), None for a saved fit."""
    from biofab.core.textfile import read_text
    from biofab.process.saved_hybrid import HYBRID_FORMAT

    p = Path(path)
    if not p.is_file():
        raise InputError("saved model file not found", file=str(p))
    try:
        data = json.loads(read_text(p))
    except json.JSONDecodeError:
        return None  # SavedFit.read names the problem
    if isinstance(data, dict) and data.get("format") == HYBRID_FORMAT:
        return data
    return None
