"""Soft sensor: a process model, a Kalman filter and a fermentation data stream.

A soft sensor estimates what is not measured online (biomass, substrate, the specific growth
rate) from what is: off-gas OUR/CER, base addition, dissolved oxygen (Luttmann et al. 2012,
Biotechnol. J. 7:1040, review of soft sensors in bioprocessing). Offline samples (biomass,
glucose, ... every few hours) are fused when they arrive: the filter runs at the online rate
and applies a second update, through its own measurement function and noise, at the rows
that carry a sample (multi-rate fusion).

Growth rate. Kinetic parameters drift during a batch (induction, ageing, scale-up), so the
state is augmented with the parameters named in ``estimate`` (e.g. ``mu_max``) modelled as
random walks, ``dp/dt = w`` (Dochain 2003, J. Process Control 13:801). The reported specific
growth rate is the model's own ``mu = d(X V)/dt / (X V) = (dX/dt)/X + (dV/dt)/V`` at the
estimate (dilution removed), with a delta-method standard deviation.

Noise. Process noise may scale with each state (``process_relative``) and with its rate of
change (``process_rate``), online noise with each reading (``online_relative``): a fed-batch
spans two decades of biomass and off-gas, so fixed intensities are too wide early and
over-confident late. Where the culture runs out of oxygen, give the filter
:class:`~biofab.process.quasisteady.EColiQuasiSteadyDO` rather than the full twin (the DO
balance is too stiff there for the filter's explicit steps); ``benchmarks/process_estimation.py``
shows what each setting is worth.

The model follows the contract of :class:`biofab.process.models.ProcessModel`: ``states``,
``inputs``, ``outputs``, ``param_names`` (tuples of names), ``params`` (dict),
``input_defaults``, ``rhs(t, x, u, p, xp)`` and ``measure(x, u, p, xp)`` (lists, one entry per
state / output; ``p`` indexed in ``param_names`` order; ``xp`` numpy or casadi). Signals are
named as the model names them: an online or offline name is a model output (``OUR``,
``CER``, ``DO`` ...) or a state (``X``, ``V`` ..., a direct measurement of that state).

Data: a :class:`~biofab.process.batchdata.BatchData` or a wide DataFrame with ``time_h``,
the model inputs and the signal columns (NaN where not measured). Data columns are renamed
to model names through ``columns`` (default :data:`STANDARD_COLUMNS`: the BatchData
standard signals ``biomass`` -> ``X``, ``substrate`` -> ``S``, ``feed_rate`` -> ``F`` ...).
Inputs are held from one row to the next (zero-order hold, NaN rows forward-filled); an
input absent from the data takes the model's ``input_defaults`` value. Values must be in
the model's units (BatchData's standard units are the twins' units).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from biofab.core.errors import InputError
from biofab.process.ekf import (
    Array,
    Consistency,
    ExtendedKalmanFilter,
    KalmanFilterBase,
    nis_consistency,
)
from biofab.process.ukf import UnscentedKalmanFilter

__all__ = [
    "ESTIMATION_NOISE",
    "STANDARD_COLUMNS",
    "Estimates",
    "SoftSensor",
    "estimation_twin",
    "filter_options",
]

STANDARD_COLUMNS: dict[str, str] = {
    "biomass": "X",
    "substrate": "S",
    "acetate": "A",
    "product": "P",
    "volume": "V",
    "feed_rate": "F",
    "temperature": "T",
}
"""BatchData standard signal -> model name, used when the model has that name."""


ESTIMATION_NOISE: dict[str, dict[str, float]] = {
    "process_relative": {"X": 0.0025, "S": 0.0025, "A": 0.0025, "P": 0.0025},
    "process_rate": {"A": 0.05},
}
"""Process noise the soft-sensor benchmark chose for the E. coli twin (``--tune``, on a
protocol other than the reported one): 0.25 % of each concentration per sqrt(h), plus 5 %
of acetate's rate of change (acetate is made fast once oxygen runs out)."""


def estimation_twin(model: Any) -> Any:
    """The model a filter should run: the E. coli twin with its dissolved oxygen at
    quasi-steady state (:class:`~biofab.process.quasisteady.EColiQuasiSteadyDO`: DO becomes
    an output; its balance is too stiff for the filters' explicit steps once oxygen runs
    out); any other model as it is."""
    from biofab.process.models import EColiFedBatch

    if type(model) is EColiFedBatch:
        from biofab.process.quasisteady import EColiQuasiSteadyDO

        return EColiQuasiSteadyDO(model.params)
    return model


def filter_options(model: Any, filter: str) -> dict[str, Any]:
    """Keyword arguments of :class:`SoftSensor` for ``model`` beyond the signals: the
    benchmark's process noise for the quasi-steady E. coli twin and, for the UKF, bounds
    applied where the model is evaluated (clipping the sigma points themselves ratchets a
    state resting at zero, such as product before induction)."""
    from biofab.process.quasisteady import EColiQuasiSteadyDO

    out: dict[str, Any] = {}
    if isinstance(model, EColiQuasiSteadyDO):
        out.update({k: dict(v) for k, v in ESTIMATION_NOISE.items()})
        out["report_outputs"] = ("DO",)  # still shown beside the states
    if filter == "ukf":
        out["filter_options"] = {"sigma_bounds": "evaluate"}
    return out


@dataclass
class Estimates:
    """What a soft sensor run returns.

    ``frame``: one row per data time: ``time_h``, each state and estimated parameter with a
    ``<name>_std`` column, ``mu`` and ``mu_std`` (1/h). ``nis``: one row per update
    (``time_h``, ``label`` 'online'/'offline', ``nis``, ``dof``). ``consistency``: the
    average-NIS test per label and ``'all'``.
    """

    frame: pd.DataFrame
    nis: pd.DataFrame
    consistency: dict[str, Consistency] = field(default_factory=dict)

    def rmse(self, truth: pd.DataFrame, columns: Sequence[str] | None = None) -> dict[str, float]:
        """Root-mean-square error against a ``truth`` frame (``time_h`` + columns).

        The truth is linearly interpolated to the estimate times.
        """
        names = [c for c in (columns or truth.columns) if c != "time_h"]
        times = self.frame["time_h"].to_numpy()
        out = {}
        for name in names:
            if name not in self.frame or name not in truth:
                raise InputError("column missing for RMSE", column=name)
            reference = np.interp(times, truth["time_h"], truth[name])
            out[name] = float(np.sqrt(np.mean((self.frame[name].to_numpy() - reference) ** 2)))
        return out


class SoftSensor:
    """Estimate a process model's states (and drifting parameters) from a batch's signals.

    Parameters
    ----------
    model:
        A process model (module docstring).
    filter:
        ``'ekf'`` or ``'ukf'``.
    online, offline:
        Names of the online signals (keys of ``model.measure``, or state names) and of the
        offline samples (state names, or measured signals).
    estimate:
        Model parameters estimated as random walks (augmented state).
    x0:
        Initial guess per state (model units). Missing states raise an error.
    initial_std:
        Initial standard deviation per state/parameter; default 50 % of the guess, at least
        ``1e-3`` (an inoculum is rarely known better than that).
    process_std:
        Process-noise intensity per state/parameter as a standard deviation per sqrt(h);
        default 2 % of the guess (at least 1e-3) for states, 5 % for parameters.
    process_relative:
        Process-noise intensity per state/parameter as a fraction of its current estimate
        per sqrt(h), added in quadrature to ``process_std`` (which then acts as a floor).
        Named entries replace the guess-scaled default of ``process_std``; a state that
        grows 100-fold keeps a band of the same relative width.
    process_rate:
        Process-noise intensity per state as a fraction of its current rate of change
        (``|dx/dt|`` per sqrt(h)), added in quadrature: a kinetic law that is a few % off
        matters where the state moves fast (acetate made at 5 g/L/h once oxygen runs out)
        and not where it rests (acetate at zero in a glucose-limited feed).
    online_std, offline_std:
        Measurement noise standard deviations per signal (model units); required for
        every signal named.
    online_relative:
        Part of an online signal's noise proportional to its reading (a fraction): the
        standard deviation of a reading ``y`` is ``online_std + online_relative |y|``, the
        way analysers state their accuracy ("0.5 mmol/L/h + 5 % of reading"). An off-gas
        signal that grows 50-fold over a fed-batch is otherwise weighted far too much late
        in the run (normalised innovations 1.6 times their expected size in the benchmark).
    report_outputs:
        Model outputs added to every estimate row with a delta-method ``_std`` (e.g.
        ``DO`` of the quasi-steady twin, where it is an output, not a state).
    offline_relative:
        The same for offline samples (``offline_std + offline_relative |y|``): a biomass
        assay good to 5 % is worth 1.5 g/L at 30 g/L, not a flat 0.5.
    biomass, volume:
        State names used for the specific growth rate (``volume=None`` for a batch).
    max_step:
        Longest RK4 sub-step, h. Fed-batch models are stiff: the substrate balance near
        ``S ~ Ks`` has an eigenvalue ``~ mu_max X / (Yxs Ks)`` (hundreds per hour at high
        cell density) and the DO balance one of ``kLa``; explicit RK4 is stable only for
        ``max_step * lambda < 2.8``, hence the small default.
    lower:
        Clipping bound of every state and parameter (default 0: concentrations, volume
        and kinetic parameters are non-negative).
    columns:
        Data column -> model name (default :data:`STANDARD_COLUMNS`).
    filter_options:
        Extra keyword arguments of the filter (``alpha``, ``beta``, ``kappa``, ``jacobian``).
    """

    def __init__(
        self,
        model: Any,
        filter: Literal["ekf", "ukf"] = "ekf",
        online: Sequence[str] = ("OUR", "CER"),
        offline: Sequence[str] = (),
        *,
        estimate: Sequence[str] = (),
        x0: Mapping[str, float] | None = None,
        initial_std: Mapping[str, float] | None = None,
        process_std: Mapping[str, float] | None = None,
        online_std: Mapping[str, float] | None = None,
        offline_std: Mapping[str, float] | None = None,
        biomass: str = "X",
        volume: str | None = "V",
        max_step: float = 0.0025,
        lower: float = 0.0,
        columns: Mapping[str, str] | None = None,
        filter_options: Mapping[str, Any] | None = None,
        process_relative: Mapping[str, float] | None = None,
        online_relative: Mapping[str, float] | None = None,
        process_rate: Mapping[str, float] | None = None,
        offline_relative: Mapping[str, float] | None = None,
        report_outputs: Sequence[str] = (),
    ) -> None:
        if filter not in ("ekf", "ukf"):
            raise InputError("unknown filter", expected="'ekf' or 'ukf'", found=filter)
        self.model = model
        self.filter = filter
        self.online = tuple(online)
        self.offline = tuple(offline)
        self.estimate = tuple(estimate)
        self.x0 = dict(x0 or {})
        self.initial_std = dict(initial_std or {})
        self.process_std = dict(process_std or {})
        self.process_relative = dict(process_relative or {})
        self.online_relative = dict(online_relative or {})
        self.process_rate = dict(process_rate or {})
        self.offline_relative = dict(offline_relative or {})
        self.report_outputs = tuple(report_outputs)
        unknown = [o for o in self.report_outputs if o not in tuple(model.outputs)]
        if unknown:
            raise InputError(
                "report_outputs: not an output of the model",
                column=unknown[0],
                expected=", ".join(model.outputs),
            )
        self.online_std = dict(online_std or {})
        self.offline_std = dict(offline_std or {})
        self.biomass = biomass
        self.volume = volume
        self.max_step = max_step
        self.lower = lower
        self.columns = dict(STANDARD_COLUMNS if columns is None else columns)
        self.filter_options = dict(filter_options or {})
        self._check()

    # -- set-up -----------------------------------------------------------------------
    @property
    def names(self) -> tuple[str, ...]:
        """Augmented state: the model's states, then the estimated parameters."""
        return tuple(self.model.states) + self.estimate

    def _check(self) -> None:
        states = tuple(self.model.states)
        unknown = [p for p in self.estimate if p not in self.model.params]
        if unknown:
            raise InputError(
                "cannot estimate unknown parameters",
                expected=", ".join(sorted(self.model.params)),
                found=unknown,
            )
        missing = [s for s in states if s not in self.x0]
        if missing:
            raise InputError("x0 lacks states", expected=", ".join(list(states)), found=missing)
        for label, names, stds in (
            ("online", self.online, self.online_std),
            ("offline", self.offline, self.offline_std),
        ):
            lacking = [n for n in names if n not in stds]
            if lacking:
                raise InputError(
                    f"{label}_std lacks signals", expected=", ".join(list(names)), found=lacking
                )
            bad = [n for n in names if not (stds[n] > 0 and math.isfinite(stds[n]))]
            if bad:
                raise InputError(f"{label}_std must be positive", found=bad)
        for label, table, allowed in (
            ("process_relative", self.process_relative, self.names),
            ("process_rate", self.process_rate, self.names),
            ("online_relative", self.online_relative, self.online),
            ("offline_relative", self.offline_relative, self.offline),
        ):
            strange_noise = sorted(set(table) - set(allowed))
            if strange_noise:
                raise InputError(
                    f"{label} names unknown signals or states",
                    expected=", ".join(allowed),
                    found=strange_noise,
                )
            bad_noise = [k for k, v in table.items() if not (v >= 0 and math.isfinite(v))]
            if bad_noise:
                raise InputError(f"{label} must be finite and >= 0", found=bad_noise)
        known = set(states) | set(self.model.outputs)
        for label, names in (("online", self.online), ("offline", self.offline)):
            strange = [n for n in names if n not in known]
            if strange:
                raise InputError(
                    f"{label} signals are neither states nor outputs of the model",
                    expected=", ".join(sorted(known)),
                    found=strange,
                )
        if self.biomass not in states or (self.volume is not None and self.volume not in states):
            raise InputError(
                "biomass/volume must be state names",
                expected=", ".join(list(states)),
                found=[self.biomass, self.volume],
            )

    def _guess(self) -> Array:
        values = [self.x0[s] for s in self.model.states]
        values += [self.x0.get(p, self.model.params[p]) for p in self.estimate]
        return np.asarray(values, dtype=float)

    def _split(self, z: Any) -> tuple[Any, list[Any]]:
        """Model states and the parameter list (estimated ones taken from ``z``)."""
        n = len(self.model.states)
        x = [z[i] for i in range(n)]
        values = {**self.model.params, **{p: z[n + j] for j, p in enumerate(self.estimate)}}
        return _pack(x, isinstance(z, np.ndarray)), [values[p] for p in self.model.param_names]

    def _derivative(self, z: Any, u: Any) -> Any:
        """``dz/dt``; ``u`` = model inputs followed by the time (h)."""
        x, params = self._split(z)
        count = len(self.model.inputs)
        numeric = isinstance(z, np.ndarray)
        inputs = _pack([u[i] for i in range(count)], numeric)
        xp = np if numeric else _casadi_module()
        rates = list(self.model.rhs(u[count], x, inputs, params, xp=xp))
        return rates + [0.0 * z[0]] * len(self.estimate)

    def _signal(self, names: tuple[str, ...]) -> Callable[[Any, Any], Any]:
        """``h(z, u)`` of the named signals; ``u`` as in :meth:`_derivative`."""
        states = tuple(self.model.states)
        outputs_named = tuple(self.model.outputs)
        need_outputs = any(n not in states for n in names)

        def h(z: Any, u: Any) -> Any:
            x, params = self._split(z)
            numeric = isinstance(z, np.ndarray)
            outputs: list[Any] = []
            if need_outputs:
                inputs = _pack([u[i] for i in range(len(self.model.inputs))], numeric)
                xp = np if numeric else _casadi_module()
                outputs = list(self.model.measure(x, inputs, params, xp=xp))
            return [
                x[states.index(n)] if n in states else outputs[outputs_named.index(n)]
                for n in names
            ]

        return h

    def _build(self, t0: float) -> KalmanFilterBase:
        guess = self._guess()
        names = self.names
        n_states = len(self.model.states)
        initial = np.array(
            [
                self.initial_std.get(k, max(0.5 * abs(g), 1e-3))
                for k, g in zip(names, guess, strict=True)
            ]
        )
        floor = np.array(
            [
                self.process_std.get(
                    k,
                    1e-3
                    if k in self.process_relative or k in self.process_rate
                    else max((0.02 if i < n_states else 0.05) * abs(g), 1e-3),
                )
                for i, (k, g) in enumerate(zip(names, guess, strict=True))
            ]
        )
        relative = np.array([self.process_relative.get(k, 0.0) for k in names])
        by_rate = np.array([self.process_rate.get(k, 0.0) for k in names])
        intensity: Array | Callable[[Array, Array], Array] = np.diag(floor**2)
        if relative.any() or by_rate.any():

            def intensity(z: Array, u: Array) -> Array:
                variance = floor**2 + (relative * z) ** 2
                if by_rate.any():
                    rate = np.asarray(self._derivative(z, u), dtype=float)
                    variance = variance + (by_rate * rate) ** 2
                return np.diag(variance)

        noise = np.array([self.online_std[s] for s in self.online]) ** 2
        cls = ExtendedKalmanFilter if self.filter == "ekf" else UnscentedKalmanFilter
        return cls(
            self._derivative,
            self._signal(self.online),
            intensity,
            np.diag(noise) if noise.size else np.zeros((0, 0)),
            guess,
            np.diag(initial**2),
            max_step=self.max_step,
            lower=self.lower,
            t0=t0,
            **self.filter_options,
        )

    # -- run --------------------------------------------------------------------------
    def run(self, batch: Any) -> Estimates:
        """Filter a whole batch, row by row: predict to the row's time with the previous
        row's inputs, update with the online readings, then with any offline sample."""
        data = self._prepare(_as_frame(batch))
        times = data["time_h"].to_numpy(dtype=float)
        inputs = data[list(self.model.inputs)].to_numpy(dtype=float)
        online = data[list(self.online)].to_numpy(dtype=float)
        offline = data[list(self.offline)].to_numpy(dtype=float)
        kf = self._build(float(times[0]))
        floor = np.array([self.online_std[s] for s in self.online])
        relative = np.array([self.online_relative.get(s, 0.0) for s in self.online])
        h_offline: dict[tuple[str, ...], Callable[..., Any]] = {}
        rows = []
        for k, t in enumerate(times):
            u = np.append(inputs[k], t)
            if k > 0:
                kf.predict(np.append(inputs[k - 1], times[k - 1]), float(t - times[k - 1]))
            if online.shape[1] and not np.all(np.isnan(online[k])):
                spread = floor + relative * np.nan_to_num(np.abs(online[k]))
                kf.update(online[k], np.diag(spread**2), args=(u,), label="online")
            taken = ~np.isnan(offline[k])
            if taken.any():
                present = tuple(n for n, ok in zip(self.offline, taken, strict=True) if ok)
                if present not in h_offline:
                    h_offline[present] = self._signal(present)
                noise = np.diag(
                    [
                        (self.offline_std[n] + self.offline_relative.get(n, 0.0) * abs(y)) ** 2
                        for n, y in zip(present, offline[k][taken], strict=True)
                    ]
                )
                kf.update(offline[k][taken], noise, h_offline[present], args=(u,), label="offline")
            rows.append(self._row(kf, t, u))
        return self._estimates(kf, pd.DataFrame(rows))

    # -- step by step (live operation, :mod:`biofab.process.live`) -------------------------
    def start(self, t0: float) -> KalmanFilterBase:
        """A fresh filter at ``t0`` h, for callers that predict and update themselves."""
        return self._build(t0)

    def signal(self, names: Sequence[str]) -> Callable[[Any, Any], Any]:
        """``h(z, u)`` of the named signals (states or outputs); ``u`` = inputs + time."""
        return self._signal(tuple(names))

    def estimate_row(self, kf: KalmanFilterBase, t: float, u: Array) -> dict[str, float]:
        """One row of :attr:`Estimates.frame` (states, parameters, ``mu``, each ± std)."""
        return self._row(kf, t, u)

    def _row(self, kf: KalmanFilterBase, t: float, u: Array) -> dict[str, float]:
        std = np.sqrt(np.clip(np.diag(kf.P_), 0.0, None))
        row = {"time_h": float(t)}
        for name, value, spread in zip(self.names, kf.x_, std, strict=True):
            row[name] = float(value)
            row[f"{name}_std"] = float(spread)
        for name in self.report_outputs:
            h = self._signal((name,))

            def output(point: Array, h: Any = h) -> float:
                return float(np.asarray(h(point, u), dtype=float).ravel()[0])

            centre, gradient = output(kf.x_), _gradient(output, kf.x_)
            row[name] = centre
            row[f"{name}_std"] = math.sqrt(max(float(gradient @ kf.P_ @ gradient), 0.0))
        if isinstance(kf, UnscentedKalmanFilter):
            # unscented transform of mu: near S ~ Ks the Monod term is too curved for the
            # value at the mean to be the mean value
            points = kf.sigma_points(kf.x_, kf.P_)
            values = np.array([self._specific_growth(p, u) for p in points])
            mean = float(kf.weights_mean_ @ values)
            row["mu"] = mean
            row["mu_std"] = math.sqrt(max(float(kf.weights_cov_ @ (values - mean) ** 2), 0.0))
            return row
        mu, gradient = self._growth_rate(kf.x_, u)
        row["mu"] = mu
        row["mu_std"] = math.sqrt(max(float(gradient @ kf.P_ @ gradient), 0.0))
        return row

    def _specific_growth(self, point: Array, u: Array) -> float:
        """``(dX/dt)/X + (dV/dt)/V`` at ``point`` (1/h)."""
        rates = np.asarray(self._derivative(point, u), dtype=float)
        states = tuple(self.model.states)
        i = states.index(self.biomass)
        value = rates[i] / max(point[i], 1e-9)
        if self.volume is not None:
            j = states.index(self.volume)
            value += rates[j] / max(point[j], 1e-9)
        return float(value)

    def _growth_rate(self, z: Array, u: Array) -> tuple[float, Array]:
        def mu(point: Array) -> float:
            rates = np.asarray(self._derivative(point, u), dtype=float)
            states = tuple(self.model.states)
            i = states.index(self.biomass)
            value = rates[i] / max(point[i], 1e-9)
            if self.volume is not None:
                j = states.index(self.volume)
                value += rates[j] / max(point[j], 1e-9)
            return float(value)

        return mu(z), _gradient(mu, z)

    def _estimates(self, kf: KalmanFilterBase, frame: pd.DataFrame) -> Estimates:
        updates = [s for s in kf.history_ if s.kind == "update"]
        nis = pd.DataFrame(
            {
                "time_h": [s.t for s in updates],
                "label": [s.label for s in updates],
                "nis": [s.nis for s in updates],
                "dof": [s.dof for s in updates],
            }
        )
        tests = {}
        if len(nis):
            tests["all"] = nis_consistency(nis["nis"], nis["dof"])
            for label, group in nis.groupby("label"):
                tests[str(label)] = nis_consistency(group["nis"], group["dof"])
        return Estimates(frame, nis, tests)

    def _prepare(self, data: pd.DataFrame) -> pd.DataFrame:
        """Rename to model names, check times and columns, fill inputs."""
        model_names = {*self.model.states, *self.model.inputs, *self.model.outputs}
        renames = {
            column: name
            for column, name in self.columns.items()
            if column in data.columns and name in model_names and name not in data.columns
        }
        data = data.rename(columns=renames).reset_index(drop=True)
        needed = ["time_h", *self.online, *self.offline]
        missing = [c for c in needed if c not in data.columns]
        if missing:
            raise InputError("batch lacks columns", expected=", ".join(needed), found=missing)
        times = pd.to_numeric(data["time_h"], errors="coerce").to_numpy(dtype=float)
        if len(times) == 0 or not np.all(np.isfinite(times)):
            raise InputError("time_h must be finite numbers", column="time_h")
        steps = np.diff(times)
        if np.any(steps <= 0):
            row = int(np.flatnonzero(steps <= 0)[0]) + 2
            raise InputError(
                "time is not strictly increasing",
                column="time_h",
                row=row,
                expected="sorted, unique times",
                found=float(times[row - 1]),
            )
        defaults = getattr(self.model, "input_defaults", {})
        for name in self.model.inputs:
            if name not in data.columns:
                if name not in defaults:
                    raise InputError("batch lacks an input", column=name)
                data[name] = float(defaults[name])
            held = pd.to_numeric(data[name], errors="coerce").ffill()
            if held.isna().any():
                raise InputError("input has no value before its first reading", column=name, row=1)
            data[name] = held
        return data


def _gradient(fn: Callable[[Array], float], z: Array) -> Array:
    """Finite-difference gradient of ``fn`` at ``z`` (one-sided at a state resting at 0)."""
    gradient = np.zeros(z.size)
    for i in range(z.size):
        step = 1e-6 * max(1.0, abs(z[i]))
        up, down = z.copy(), z.copy()
        up[i] += step
        down[i] = max(down[i] - step, 0.0) if z[i] >= step else down[i]
        gradient[i] = (fn(up) - fn(down)) / (up[i] - down[i])
    return gradient


def _casadi_module() -> Any:
    import casadi

    return casadi


def _pack(values: list[Any], numeric: bool) -> Any:
    """A state or input list in the form ``rhs``/``measure`` index into."""
    if numeric:
        return np.asarray(values)
    import casadi as ca

    return ca.vertcat(*values) if values else ca.SX(0, 1)


def _as_frame(batch: Any) -> pd.DataFrame:
    """A wide frame (``time_h`` + signal columns) from a DataFrame or a BatchData."""
    if isinstance(batch, pd.DataFrame):
        return batch
    to_wide = getattr(batch, "to_wide", None)
    if callable(to_wide):
        frame = to_wide()
        if isinstance(frame, pd.DataFrame):
            return frame
    raise InputError(
        "cannot read the batch", expected="a BatchData or a DataFrame", found=type(batch).__name__
    )
