"""The live twin: a scenario's fed-batch model and an EKF/UKF fed one estimator step at a time.

Each closed step (``(start, end]`` h, readings in time order; see
:mod:`biofab.process.live.ordering`) is processed as :class:`~biofab.process.softsensor.
SoftSensor` processes a batch row: at each reading time the filter predicts from the
previous time with the inputs held since then (zero-order hold), applies the logged inputs
read at that time (``F``, ``T``), then fuses the state and output readings of that time in
one update through their own measurement function (multi-rate fusion: online signals and
offline samples alike). At the step's end it predicts to the end and records the estimate:
every state ± σ and the specific growth rate.

Inputs a source does not log come from the scenario's recipe (feed profile, temperature,
induction), else the model's defaults. Measurement noise per variable: the scenario's
``measurements`` plan, else :data:`~biofab.process.workflows.DEFAULT_RELATIVE_NOISE` of the
reading; never below :data:`~biofab.process.workflows.MIN_STD` (twin units).

Process noise: a random-walk intensity of :data:`PROCESS_FRACTION` (2 %) per sqrt(h) of
each state's scale, the largest value the scenario's own open-loop simulation reaches
(the SoftSensor default scales by the initial value, which for biomass growing 100-fold
makes the band far too narrow late in the run). Settings tried on the example scenario's
simulated run (``examples/process/ecoli_fedbatch.yaml``, seed 1), RMSE / ±2σ coverage:
0.5 %: X 0.15 g/L / 95 %, DO 1.1 % / 44 %; 1 %: X 0.32 / 89 %, DO 0.89 / 67 %;
2 %: X 0.38 / 97 %, S 0.04 g/L / 95 %, DO 0.75 / 95 % (EKF; the UKF is alike).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from itertools import groupby
from typing import Any, Literal

import numpy as np

from biofab.core.errors import InputError
from biofab.process.live.ordering import Step
from biofab.process.live.readings import CheckedReading
from biofab.process.scenario import Noise, Scenario

__all__ = ["PROCESS_FRACTION", "LiveTwin", "state_scales"]

PROCESS_FRACTION = 0.02
"""Process-noise intensity per state, as a fraction of the state's scale per sqrt(h)."""


def state_scales(scenario: Scenario) -> dict[str, float]:
    """Largest absolute value of each state in the scenario's open-loop simulation."""
    frame = scenario.simulate().frame
    return {name: float(np.max(np.abs(frame[name]))) for name in scenario.build_model().states}


class LiveTwin:
    """A scenario's twin and Kalman filter, advanced one estimator step at a time.

    Parameters
    ----------
    scenario:
        Gives the twin (model and parameter overrides), the initial state guess, the
        recipe for unlogged inputs and the measurement noise.
    filter:
        ``'ekf'`` or ``'ukf'``.
    t0:
        Time of the initial state, h.
    noise:
        Noise per twin variable (overrides the scenario's), in twin units.
    estimate:
        Model parameters tracked as random walks (e.g. ``qS_max``).
    x0:
        Initial-state overrides (twin units).
    process_std:
        Process-noise intensity per state or parameter (per sqrt(h)); default
        :data:`PROCESS_FRACTION` of :func:`state_scales` (module docstring).
    """

    def __init__(
        self,
        scenario: Scenario,
        filter: Literal["ekf", "ukf"] = "ekf",
        *,
        t0: float = 0.0,
        noise: Mapping[str, Noise] | None = None,
        estimate: Sequence[str] = (),
        x0: Mapping[str, float] | None = None,
        process_std: Mapping[str, float] | None = None,
    ) -> None:
        from biofab.process.softsensor import SoftSensor, estimation_twin, filter_options

        self.scenario = scenario
        # E. coli: DO at quasi-steady state inside the filter, still reported (an output).
        self.model = estimation_twin(scenario.build_model())
        self.filter = filter
        self.t0 = float(t0)
        self.noise = _noise_table(scenario, noise)
        if process_std is None:
            process_std = {
                name: max(PROCESS_FRACTION * scale, 1e-3)
                for name, scale in state_scales(scenario).items()
                if name in self.model.states
            }
        self.sensor = SoftSensor(
            self.model,
            filter,
            online=(),
            offline=(),
            estimate=estimate,
            x0={
                k: v
                for k, v in {**scenario.initial, **dict(x0 or {})}.items()
                if k in self.model.states
            },
            biomass="X" if "X" in self.model.states else "Xv",
            volume="V" if "V" in self.model.states else None,
            columns={},
            process_std=process_std,
            **filter_options(self.model, filter),
        )
        self.kf_ = self.sensor.start(self.t0)
        self.updates_ = 0
        self._held: dict[str, float] = {}
        self._h: dict[tuple[str, ...], Callable[..., Any]] = {}
        self._measured = set(self.model.states) | set(self.model.outputs)
        # the first row is the prior at t0, before any reading
        first = self._estimate_row(self.kf_, self.t0, self.inputs_at(self.t0))
        self.rows_: list[dict[str, float]] = [{**first, "time_h": self.t0, "readings": 0.0}]

    @property
    def names(self) -> tuple[str, ...]:
        """Estimated quantities: the model's states, then the tracked parameters."""
        return self.sensor.names

    def inputs_at(self, t: float) -> np.ndarray:
        """The inputs in force at ``t`` h (logged values held, else the recipe), then ``t``."""
        schedule = self.scenario.input_schedule([t])
        values = [self._held.get(name, float(schedule[name].iloc[0])) for name in self.model.inputs]
        return np.append(np.asarray(values, dtype=float), t)

    def _estimate_row(self, kf: Any, t: float, inputs: Any) -> dict[str, float]:
        # mu from the UKF's sigma points may divide by V = 0: a RuntimeWarning per row
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return self.sensor.estimate_row(kf, t, inputs)

    def _advance(self, t: float) -> None:
        dt = t - self.kf_.t_
        if dt > 1e-12:
            # the UKF's sigma points may reach V = 0 (a NumPy RuntimeWarning per step on
            # the command's stderr); a spoiled state still fails the step (LiveLoop says so)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                self.kf_.predict(self.inputs_at(self.kf_.t_), dt)

    def step(self, step: Step) -> dict[str, float]:
        """Process one closed step; returns its estimate row (also kept in ``rows_``)."""
        for t, group in groupby(step.readings, key=lambda r: r.time_h):
            self._advance(t)
            readings = list(group)
            for r in readings:
                if r.variable in self.model.inputs:
                    self._held[r.variable] = r.value
            measured = [r for r in readings if r.variable in self._measured]
            if measured:
                self._update(t, measured)
        self._advance(step.end)
        row = self._estimate_row(self.kf_, step.end, self.inputs_at(step.end))
        row["time_h"] = float(step.end)
        row["readings"] = float(len(step.readings))
        self.rows_.append(row)
        return row

    def _update(self, t: float, readings: list[CheckedReading]) -> None:
        names = tuple(r.variable for r in readings)
        if names not in self._h:
            self._h[names] = self.sensor.signal(names)
        values = np.array([r.value for r in readings])
        stds = [self._std(r.variable, r.value) for r in readings]
        label = "offline" if all(n in self.model.states for n in names) else "online"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.kf_.update(
                values,
                np.diag(np.square(stds)),
                self._h[names],
                args=(self.inputs_at(t),),
                label=label,
            )
        self.updates_ += 1

    def _std(self, variable: str, value: float) -> float:
        from biofab.process.workflows import DEFAULT_RELATIVE_NOISE, MIN_STD

        noise = self.noise.get(variable, Noise(relative=DEFAULT_RELATIVE_NOISE))
        return max(float(noise.sigma(value)), MIN_STD)

    def frame(self) -> Any:
        """The estimates so far, the prior at ``t0`` first: ``time_h``, ``readings`` (fed
        in the step), each state and ``mu`` with ``<name>_std``."""
        import pandas as pd

        columns = ["time_h", "readings"]
        for name in (*self.names, *self.sensor.report_outputs, "mu"):
            columns += [name, f"{name}_std"]
        return pd.DataFrame(self.rows_, columns=columns)


def _noise_table(scenario: Scenario, noise: Mapping[str, Noise] | None) -> dict[str, Noise]:
    table: dict[str, Noise] = {}
    plan = scenario.measurements
    if plan is not None:
        table.update(plan.offline)
        table.update(plan.online)
    for name, value in (noise or {}).items():
        if not isinstance(value, Noise) or not (
            math.isfinite(value.std) and math.isfinite(value.relative)
        ):
            raise InputError("bad noise", column=name, expected="a Noise", found=value)
        table[name] = value
    return table
