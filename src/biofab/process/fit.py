"""Parameter estimation for bioreactor twins, with an identifiability report.

Selected parameters ``θ`` are estimated by weighted least squares on offline samples of one or
more batches (:class:`Experiment`: samples + initial state + recipe), each simulated with
:func:`~biofab.process.simulate.simulate`::

    minimise  Σ_batches Σ_samples Σ_variables ((y_sim - y_obs) / σ)²

Parameters are optimised as ``log θ`` (they are positive and span decades), within bounds,
by the trust-region reflective method of :func:`scipy.optimize.least_squares`.

Identifiability (Bates & Watts 1988, *Nonlinear Regression Analysis and Its Applications*,
Wiley, ch. 2): at the optimum the Jacobian ``J`` of the weighted residuals with respect to
``log θ`` is recomputed by central differences, and

    Cov(log θ) = s² (JᵀJ)⁻¹,   s² = SSR / (n - p)   (or 1 with ``absolute_sigma=True``)

gives standard errors (``se(θ) ≈ θ se(log θ)``), 95 % confidence intervals
``exp(log θ ± t_{0.975, n-p} se(log θ))`` (positive, asymmetric) and the correlation matrix.
A parameter is flagged *not identifiable* when its interval spans more than a factor of
``max_ci_ratio`` (default 10) or it correlates with another beyond ``max_corr`` (0.95), or
``JᵀJ`` is numerically singular in its direction. Prediction bands propagate the parameter
covariance by sampling ``log θ`` from its normal approximation (:meth:`FitResult.predict`).
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from biofab.core.errors import BiofabError, InputError, NotEnoughDataError
from biofab.process.models import ProcessModel
from biofab.process.simulate import Event, SimulationError, simulate

__all__ = ["Experiment", "FitResult", "fit", "forecast_residuals"]

Array = NDArray[np.float64]

# Residual given to the optimiser where a trial parameter set makes the ODE fail: large but
# finite, so the trust region shrinks back towards parameters that simulate.
_FAILED_RESIDUAL = 1e3


@dataclass
class Experiment:
    """One batch: offline samples plus what is needed to simulate it.

    ``data`` has a ``time_h`` column (h) and one column per measured variable, named as a
    model state or output (units as in ``model.units``); NaN means not measured. An optional
    ``<variable>_std`` column gives each sample's measurement standard deviation.
    """

    data: pd.DataFrame
    x0: Mapping[str, float]
    inputs: Any = None
    events: Sequence[Event] = ()
    name: str = "batch"
    t_end: float | None = None


@dataclass
class _Block:
    exp: Experiment
    times: Array
    columns: list[str]
    obs: Array  # (n_times, n_columns), NaN where not measured
    std: Array
    mask: Array


@dataclass
class FitResult:
    """What :func:`fit` learned. Attributes end with ``_`` (scikit-learn style)."""

    model_: ProcessModel
    params_: dict[str, float]
    table_: pd.DataFrame
    corr_: pd.DataFrame
    cov_log_: Array
    residuals_: pd.DataFrame
    cost_: float
    s2_: float
    n_obs_: int
    dof_: int
    success_: bool
    message_: str
    nfev_: int
    experiments: list[Experiment] = field(default_factory=list)

    @property
    def identifiable_(self) -> dict[str, bool]:
        return dict(zip(self.table_["parameter"], self.table_["identifiable"], strict=True))

    def summary(self) -> str:
        """Plain-text report: estimates, 95 % intervals, flags."""
        lines = [
            f"{self.model_.name}: {len(self.params_)} parameters from {self.n_obs_} samples "
            f"(s² = {self.s2_:.3g}, {'converged' if self.success_ else 'NOT converged'})"
        ]
        for row in self.table_.to_dict("records"):
            flag = "" if row["identifiable"] else f"  NOT IDENTIFIABLE ({row['note']})"
            lines.append(
                f"  {row['parameter']} = {row['estimate']:.4g} {row['unit']} "
                f"[{row['ci_low']:.4g}, {row['ci_high']:.4g}] "
                f"(± {100 * float(row['rel_std_error']):.1f} %){flag}"
            )
        return "\n".join(lines)

    def predict(
        self,
        experiment: Experiment,
        t_eval: ArrayLike | None = None,
        n_samples: int = 50,
        level: float = 0.95,
        seed: int = 0,
    ) -> pd.DataFrame:
        """Trajectory of ``experiment`` at the estimate with prediction bands.

        Returns ``time_h`` and, per state and output, the prediction at the estimate plus
        ``<name>_lo``/``<name>_hi``: the ``(1 - level)/2`` quantiles over ``n_samples``
        simulations with ``log θ`` drawn from ``N(log θ̂, Cov)`` (draws that fail to
        simulate are skipped).
        """
        t_end = experiment.t_end or float(experiment.data["time_h"].max())
        times = np.linspace(0, t_end, 101) if t_eval is None else np.asarray(t_eval, float)
        base = _run(self.model_, experiment, {}, times).to_frame()
        names = [c for c in base.columns if c != "time_h"]
        rng = np.random.default_rng(seed)
        keys = list(self.params_)
        mean = np.log([self.params_[k] for k in keys])
        cov = self.cov_log_
        if not np.all(np.isfinite(cov)):
            return base
        draws = rng.multivariate_normal(mean, cov, size=n_samples, method="eigh")
        sims = []
        for d in draws:
            try:
                traj = _run(self.model_, experiment, dict(zip(keys, np.exp(d), strict=True)), times)
            except BiofabError:
                continue
            sims.append(traj.frame[names].to_numpy())
        if not sims:
            return base
        stack = np.stack(sims)
        lo = np.quantile(stack, (1 - level) / 2, axis=0)
        hi = np.quantile(stack, 1 - (1 - level) / 2, axis=0)
        out = base.copy()
        for j, n in enumerate(names):
            out[f"{n}_lo"] = lo[:, j]
            out[f"{n}_hi"] = hi[:, j]
        return out


def _run(model: ProcessModel, exp: Experiment, p: Mapping[str, float], times: Array) -> Any:
    t_end = exp.t_end or float(np.max(times))
    return simulate(
        model,
        exp.x0,
        t_end,
        inputs=exp.inputs,
        events=exp.events,
        p=p,
        t_eval=times,
        rtol=1e-7,
        atol=1e-9,
    )


def _experiments(
    model: ProcessModel, data: Any, x0: Any, inputs: Any, events: Any
) -> list[Experiment]:
    if isinstance(data, Experiment):
        return [data]
    if isinstance(data, pd.DataFrame):
        if x0 is None:
            raise InputError("fitting a data frame needs x0 (initial state by name)")
        if "batch" in data.columns:
            out = []
            for b, g in data.groupby("batch", sort=False):
                xb = x0[b] if isinstance(x0, Mapping) and b in x0 else x0
                out.append(Experiment(g.drop(columns="batch"), xb, inputs, events or (), str(b)))
            return out
        return [Experiment(data, x0, inputs, events or ())]
    if isinstance(data, Sequence) and all(isinstance(d, Experiment) for d in data):
        return list(data)
    raise InputError(
        "fit data must be an Experiment, a list of Experiments or a DataFrame of samples",
        found=type(data).__name__,
    )


def _block(
    model: ProcessModel, exp: Experiment, sigma: Mapping[str, float], rel_sigma: float
) -> _Block:
    df = exp.data
    if "time_h" not in df.columns:
        raise InputError(
            f"batch '{exp.name}': samples need a time_h column", found=list(df.columns)
        )
    known = set(model.states) | set(model.outputs)
    cols = [c for c in df.columns if c in known]
    extra = [c for c in df.columns if c not in known and c != "time_h" and not c.endswith("_std")]
    if extra:
        raise InputError(
            f"batch '{exp.name}': columns {extra} are not states or outputs of {model.name}",
            expected=", ".join(sorted(known)),
        )
    if not cols:
        raise InputError(f"batch '{exp.name}': no measured variable", expected=", ".join(known))
    t = df["time_h"].to_numpy(dtype=float)
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        raise InputError(f"batch '{exp.name}': time_h must be finite and >= 0")
    order = np.argsort(t, kind="stable")
    t = t[order]
    if np.any(np.diff(t) <= 0):
        raise InputError(f"batch '{exp.name}': duplicated sample times", column="time_h")
    obs = df[cols].to_numpy(dtype=float)[order]
    if np.any(np.isinf(obs)):
        raise InputError(f"batch '{exp.name}': infinite measurement")
    std = np.empty_like(obs)
    for j, c in enumerate(cols):
        if f"{c}_std" in df.columns:
            std[:, j] = df[f"{c}_std"].to_numpy(dtype=float)[order]
        elif c in sigma:
            std[:, j] = float(sigma[c])
        else:
            # Default: a constant σ per variable, rel_sigma of its largest reading.
            std[:, j] = rel_sigma * max(float(np.nanmax(np.abs(obs[:, j]), initial=0.0)), 1e-9)
    mask = np.isfinite(obs)
    if np.any(~(std[mask] > 0)):
        raise InputError(f"batch '{exp.name}': measurement std must be > 0")
    return _Block(exp, t, cols, obs, std, mask)


def fit(
    model: ProcessModel,
    data: Experiment | Sequence[Experiment] | pd.DataFrame,
    params: Sequence[str],
    x0: Mapping[str, Any] | None = None,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    *,
    inputs: Any = None,
    events: Sequence[Event] | None = None,
    p0: Mapping[str, float] | None = None,
    sigma: Mapping[str, float] | None = None,
    rel_sigma: float = 0.05,
    absolute_sigma: bool = False,
    max_ci_ratio: float = 10.0,
    max_corr: float = 0.95,
    max_nfev: int = 200,
    progress: bool = False,
) -> FitResult:
    """Estimate ``params`` of ``model`` from offline samples of one or more batches.

    Parameters
    ----------
    data:
        Experiment(s), or a DataFrame with ``time_h``, measured columns and optionally a
        ``batch`` column (then ``x0`` may map batch -> initial state); ``inputs``/``events``
        apply to every batch of a DataFrame.
    params:
        Names of the parameters to estimate; the others stay at the model's values.
    bounds:
        ``{name: (lo, hi)}`` in natural units; default ``(θ0/100, θ0*100)``.
    p0:
        Starting values (default: the model's values).
    sigma:
        Measurement std per variable (its units) where the data carry no ``<var>_std``
        column; otherwise ``rel_sigma`` × the variable's largest reading.
    absolute_sigma:
        Treat σ as exact (``s² = 1``) instead of rescaling by the residual variance.
    progress:
        Report each optimiser iteration (cost, evaluations) through
        :func:`biofab.core.progress.progress` (a bar on a terminal, lines on stderr).
    """
    from scipy.optimize import least_squares
    from scipy.stats import t as student_t

    params = list(params)
    if not params:
        raise InputError(
            "fit needs at least one parameter name", expected=", ".join(model.param_names)
        )
    model._check_names(dict.fromkeys(params, 0.0))
    if len(set(params)) != len(params):
        raise InputError("parameter names repeat", found=params)
    exps = _experiments(model, data, x0, inputs, events)
    blocks = [_block(model, e, sigma or {}, rel_sigma) for e in exps]
    n_obs = int(sum(b.mask.sum() for b in blocks))
    if n_obs <= len(params):
        raise NotEnoughDataError(f"{n_obs} measurements cannot determine {len(params)} parameters")
    start = {**model.params, **(p0 or {})}
    theta0 = np.log([_positive(start[k], k) for k in params])
    lo, hi = [], []
    for k, th in zip(params, theta0, strict=True):
        b = (bounds or {}).get(k, (math.exp(th) / 100, math.exp(th) * 100))
        if not (0 < b[0] < b[1]):
            raise InputError(f"bounds of '{k}' must satisfy 0 < lo < hi", found=b)
        lo.append(math.log(b[0]))
        hi.append(math.log(b[1]))
    theta0 = np.clip(theta0, lo, hi)

    def residuals(theta: Array) -> Array:
        values = dict(zip(params, np.exp(theta), strict=True))
        out = []
        for b in blocks:
            try:
                traj = _run(model, b.exp, values, b.times)
                sim = traj.frame[b.columns].to_numpy()
                if sim.shape[0] != b.times.size:
                    raise SimulationError("missing samples", time_h=float("nan"))
                r = (sim - b.obs) / b.std
            except SimulationError:
                r = np.full(b.obs.shape, _FAILED_RESIDUAL)
            out.append(r[b.mask])
        return np.concatenate(out)

    with _iterations(max_nfev, progress) as (counted, callback):
        res = least_squares(
            counted(residuals),
            theta0,
            bounds=(lo, hi),
            method="trf",
            x_scale=1.0,
            diff_step=1e-3,
            max_nfev=max_nfev,
            **callback,
        )
    theta = res.x
    r = residuals(theta)
    J = _central_jacobian(residuals, theta, r.size, 1e-3)
    dof = n_obs - len(params)
    ssr = float(r @ r)
    s2 = 1.0 if absolute_sigma else ssr / dof
    cov, singular = _covariance(J, s2)
    se = np.sqrt(np.clip(np.diag(cov), 0, None))
    q = float(student_t.ppf(0.975, dof))
    est = np.exp(theta)
    ci_lo, ci_hi = np.exp(theta - q * se), np.exp(theta + q * se)
    d = np.sqrt(np.clip(np.diag(cov), 1e-300, None))
    corr = cov / np.outer(d, d)
    notes = []
    for i in range(len(params)):
        why = []
        if singular[i]:
            why.append("J'J singular")
        if not np.isfinite(se[i]) or ci_hi[i] / ci_lo[i] > max_ci_ratio:
            why.append(f"95 % CI wider than x{max_ci_ratio:g}")
        partners = [params[j] for j in range(len(params)) if j != i and abs(corr[i, j]) > max_corr]
        if partners:
            why.append(f"|corr| > {max_corr:g} with {', '.join(partners)}")
        notes.append("; ".join(why))
    table = pd.DataFrame(
        {
            "parameter": params,
            "estimate": est,
            "unit": [model.param_specs[k].unit for k in params],
            "std_error": est * se,
            "rel_std_error": se,
            "ci_low": ci_lo,
            "ci_high": ci_hi,
            "identifiable": [not n for n in notes],
            "note": notes,
        }
    )
    fitted = copy.copy(model)
    fitted.params = {**model.params, **dict(zip(params, est.tolist(), strict=True))}
    return FitResult(
        model_=fitted,
        params_=dict(zip(params, est.tolist(), strict=True)),
        table_=table,
        corr_=pd.DataFrame(corr, index=params, columns=params),
        cov_log_=cov,
        residuals_=_residual_frame(fitted, blocks),
        cost_=0.5 * ssr,
        s2_=s2,
        n_obs_=n_obs,
        dof_=dof,
        success_=bool(res.success),
        message_=str(res.message),
        nfev_=int(res.nfev),
        experiments=exps,
    )


def forecast_residuals(
    model: ProcessModel,
    experiments: Sequence[Experiment],
    params: Sequence[str],
    holdout: float,
    **fit_kwargs: Any,
) -> pd.DataFrame:
    """Errors of a *forecast*: ``params`` refitted (from ``model``'s own values, as the
    main fit starts) on each batch's samples before the last fraction ``holdout`` of its
    time, then the whole batch simulated with its logged inputs and compared with the
    held-out samples. The rows (``batch, time_h, variable, observed, predicted, std``)
    measure what predicting beyond the data looks like, which in-sample residuals of the
    full fit cannot (they were minimised). Empty if too few samples remain to refit.
    """
    if not 0 < holdout < 1:
        raise InputError("calibration holdout must lie in (0, 1)", found=holdout)
    short, cuts = [], {}
    for e in experiments:
        t_end = float(e.t_end if e.t_end is not None else e.data["time_h"].max())
        cut = (1.0 - holdout) * t_end
        cuts[e.name] = cut
        short.append(replace(e, data=e.data[e.data["time_h"] <= cut], t_end=t_end))
    try:
        refit = fit(model, short, params, **fit_kwargs)
    except NotEnoughDataError:
        return pd.DataFrame()
    sigma, rel = fit_kwargs.get("sigma") or {}, fit_kwargs.get("rel_sigma", 0.05)
    blocks = [_block(refit.model_, e, sigma, rel) for e in experiments]
    frame = _residual_frame(refit.model_, blocks)
    if not len(frame):
        return frame
    late = frame["time_h"] > frame["batch"].map(cuts)
    return frame[late].reset_index(drop=True)


@contextlib.contextmanager
def _iterations(max_nfev: int, show: bool) -> Iterator[tuple[Any, dict[str, Any]]]:
    """Progress of :func:`scipy.optimize.least_squares`: one step per iteration (its
    ``callback``, SciPy >= 1.16; on older SciPy one step per residual evaluation), noting
    the cost and the residual evaluations so far."""
    import inspect

    from scipy.optimize import least_squares

    from biofab.core.progress import progress

    calls = [0]

    def counted(fun: Any) -> Any:
        def wrapped(theta: Array) -> Array:
            calls[0] += 1
            return fun(theta)

        return wrapped

    per_iteration = "callback" in inspect.signature(least_squares).parameters
    with progress("fit iteration", total=None, enabled=show) as bar:
        if per_iteration:

            def callback(intermediate_result: Any) -> None:
                bar.advance(note=f"cost {intermediate_result.cost:.4g}, {calls[0]} simulations")

            yield counted, {"callback": callback}
        else:

            def counting(fun: Any) -> Any:
                inner = counted(fun)

                def wrapped(theta: Array) -> Array:
                    out = inner(theta)
                    bar.advance(note=f"{calls[0]} simulations")
                    return out

                return wrapped

            yield counting, {}


def _positive(value: float, name: str) -> float:
    if not (value > 0 and math.isfinite(value)):
        raise InputError(f"parameter '{name}' must be > 0 to be fitted on a log scale", found=value)
    return float(value)


def _central_jacobian(fun: Any, theta: Array, m: int, h: float) -> Array:
    J = np.empty((m, theta.size))
    for i in range(theta.size):
        e = np.zeros_like(theta)
        e[i] = h
        J[:, i] = (fun(theta + e) - fun(theta - e)) / (2 * h)
    return J


def _covariance(J: Array, s2: float) -> tuple[Array, Array]:
    """``s² (JᵀJ)⁻¹`` by SVD; directions with singular value below 1e-8 × the largest are
    singular: their parameters get infinite variance and a flag."""
    _, sv, vt = np.linalg.svd(J, full_matrices=False)
    ok = sv > 1e-8 * (sv[0] if sv.size else 1.0)
    inv = (vt[ok].T / sv[ok] ** 2) @ vt[ok]
    cov = s2 * inv
    singular = np.zeros(J.shape[1], dtype=bool)
    if not ok.all():
        weak = np.abs(vt[~ok]).max(axis=0) > 1e-3
        singular |= weak
        cov = cov.copy()
        cov[weak, :] = np.inf
        cov[:, weak] = np.inf
    return cov, singular


def _residual_frame(model: ProcessModel, blocks: list[_Block]) -> pd.DataFrame:
    rows = []
    for b in blocks:
        try:
            sim = _run(model, b.exp, {}, b.times).frame[b.columns].to_numpy()
        except SimulationError:
            sim = np.full(b.obs.shape, np.nan)
        for j, c in enumerate(b.columns):
            for i in np.flatnonzero(b.mask[:, j]):
                rows.append(
                    {
                        "batch": b.exp.name,
                        "time_h": b.times[i],
                        "variable": c,
                        "observed": b.obs[i, j],
                        "predicted": sim[i, j],
                        "std": b.std[i, j],
                    }
                )
    frame = pd.DataFrame(rows)
    if len(frame):
        frame["weighted_residual"] = (frame["predicted"] - frame["observed"]) / frame["std"]
    return frame
