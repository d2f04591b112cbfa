"""Closed-loop fed-batch simulation: plant, noisy sensors, estimator, feed controller.

One run advances a *plant* (a twin with its own, mismatched parameters, integrated by
:func:`~biofab.process.simulate.simulate` with LSODA) in control intervals of ``dt_h``
hours. At each interval start:

1. the sensors read the plant: online ``OUR``, ``CER`` (mmol/L/h), ``DO`` (%), ``V`` (L)
   with Gaussian noise, and every ``offline_every_h`` hours an offline biomass sample;
2. an extended Kalman filter (:class:`~biofab.process.ekf.ExtendedKalmanFilter`, on the
   controller's model) predicts over the last interval with the feed applied and fuses the
   readings;
3. every ``refit_every`` intervals, :class:`BalanceRefit` re-estimates ``kLa`` and ``Yxs``
   from all the data so far (adaptive control);
4. the controller (:class:`~biofab.process.mpc.FeedMPC`, or a :class:`ExponentialFeed`)
   returns the feed for the next interval, and the MPC also the temperature and induction
   when they are its decisions (``info['T']``, ``info['ind']``). Otherwise the loop applies
   the scenario's ``temperature`` (°C) and induces at ``induction_h`` (h; ``inf`` leaves
   the induction to the controller).

The estimator is told the inputs actually applied (feed, temperature, induction). The MPC
also receives the filter's standard deviation of the volume (its volume back-off). The
filter's random walk on the volume (``volume_drift_std``, L per sqrt(h)) says how much the
volume may change beyond the known feed (sampling, evaporation): small values make the
estimate follow the integrated feed and only slowly the noisy level reading.

The figures of merit are the plant's: final product (g), time with DO below the floor and
the worst depth (evaluated on a grid of ``fine`` points per interval), volume above the
maximum, and the controller's solve time per step. Feed chatter is measured on the applied
feed sequence: its total variation ``sum |F_k - F_k-1|`` (L/h) and the number of reversals
(sign changes of ``F_k - F_k-1``, moves under 1e-4 L/h ignored).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from biofab.core.errors import InputError
from biofab.process.ekf import ExtendedKalmanFilter, MissingMeasurementWarning
from biofab.process.models import ProcessModel
from biofab.process.simulate import simulate

__all__ = [
    "BalanceRefit",
    "ClosedLoopResult",
    "ExponentialFeed",
    "closed_loop",
    "mismatched_plant",
    "settle_do",
    "trajectory_figure",
]

Array = NDArray[np.float64]

ONLINE = ("OUR", "CER", "DO", "V")
DEFAULT_MISMATCH: dict[str, float] = {"qS_max": 0.85, "Yxs": 1.10, "kLa": 0.80}
"""Plant parameter = model parameter x factor: maximum uptake (growth) -15 %, biomass yield
+10 %, oxygen transfer -20 % (a scale-up with poorer mixing)."""


def mismatched_plant(model: ProcessModel, factors: Mapping[str, float] | None = None) -> Any:
    """A copy of ``model``'s class with parameters multiplied by ``factors``."""
    factors = DEFAULT_MISMATCH if factors is None else factors
    values = {k: model.params[k] * float(v) for k, v in factors.items()}
    return type(model)({**model.params, **values})


class Controller(Protocol):
    def step(self, x_est: Any, params: Any = None, *, t_h: float = 0.0) -> tuple[float, dict]: ...


@dataclass
class ExponentialFeed:
    """The industrial reference: ``F(t) = F0 exp(mu_set t)`` (L/h) with a DO-stat override.

    ``F0`` follows the design rule of :meth:`~biofab.process.simulate.Exponential.for_growth`
    from the initial biomass and volume. As operators do, the feed is capped when the
    measured DO falls below ``do_min + margin``: the cap drops to ``backoff`` x the current
    feed and stays (it never rises again); the feed stops at ``v_max``. ``F0`` and
    ``mu_set`` come from the nominal model, not the plant.
    """

    F0: float
    mu_set: float = 0.15
    do_min: float = 30.0
    margin: float = 2.0
    backoff: float = 0.9
    v_max: float = 1.6
    f_max: float = 0.05
    dt_h: float = 0.75
    cap_: float = field(default=math.inf, init=False)
    history_: list[dict[str, Any]] = field(default_factory=list, init=False)

    def step(
        self, x_est: Any, params: Any = None, *, t_h: float = 0.0, do_meas: float | None = None
    ) -> tuple[float, dict[str, Any]]:
        t0 = time.perf_counter()
        F = min(self.F0 * math.exp(self.mu_set * t_h), self.f_max)
        if do_meas is not None and do_meas < self.do_min + self.margin:
            last = self.history_[-1]["F"] if self.history_ else F
            self.cap_ = min(self.cap_, self.backoff * last)
        F = min(F, self.cap_)
        volume = float(x_est[5])
        if volume + F * self.dt_h > self.v_max:
            F = max(0.0, (self.v_max - volume) / self.dt_h)
        info = {"t_h": t_h, "F": F, "fallback": False, "cause": None, "status": "rule"}
        info["solve_time_s"] = time.perf_counter() - t0
        self.history_.append(info)
        return F, info


@dataclass
class BalanceRefit:
    """Online re-estimation of ``kLa`` and ``Yxs`` from the data so far (least squares).

    ``kLa`` (1/h): the DO balance is quasi-steady on the hour scale (1/kLa ~ seconds), so
    ``OUR = kLa C*(100 - DO)/100`` at every online sample; ``kLa`` is its least-squares
    slope through the origin on the measured OUR and DO.

    ``Yxs`` (g/g): electron balance of the glucose consumed. Between the first and the last
    sample, ``O2 = Yos(Yxs) (G - M) + 1.067 M`` (g), where ``O2 = ∫ OUR V dt`` (measured),
    ``G`` the glucose consumed (fed glucose plus the estimated change of the glucose in the
    broth), ``M = ms ∫ X V dt`` the maintenance share (estimated biomass) and ``Yos`` the
    oxygen per oxidised glucose of the model (Roels 1983). Valid while there is no overflow
    (acetate stays low in a glucose-limited fed-batch); ``qS_max`` is not identifiable under
    glucose limitation and is left alone.

    Estimates outside ``[lo, hi]`` x the current value are rejected (a sensor fault must not
    steer the controller).
    """

    lo: float = 0.5
    hi: float = 2.0
    min_samples: int = 3

    def update(self, data: pd.DataFrame, params: dict[str, float]) -> dict[str, float]:
        """New values of ``kLa`` and ``Yxs`` (only those that could be estimated)."""
        out: dict[str, float] = {}
        d = data.dropna(subset=["OUR", "DO"])
        if len(d) >= 1:
            c = params["C_O2_sat"] * (100.0 - d["DO"].to_numpy()) / 100.0
            our = d["OUR"].to_numpy()
            if float(c @ c) > 0:
                kla = float(c @ our / (c @ c))
                if self.lo * params["kLa"] <= kla <= self.hi * params["kLa"]:
                    out["kLa"] = kla
        if len(data) >= self.min_samples:
            t = data["time_h"].to_numpy()
            o2 = np.trapezoid(data["OUR"].to_numpy() * data["V_meas"].to_numpy(), t) * 0.032
            # F is held over each interval: integrate it as a step function
            fed = float(np.sum(data["F"].to_numpy()[:-1] * np.diff(t))) * params["Sf"]
            s_v = data["S_est"].to_numpy() * data["V_meas"].to_numpy()
            glucose = fed + s_v[0] - s_v[-1]
            maint = params["ms"] * np.trapezoid(
                data["X_est"].to_numpy() * data["V_meas"].to_numpy(), t
            )
            if glucose - maint > 1e-6 and o2 > 0:
                yos = (o2 - 32.0 / 30.0 * maint) / (glucose - maint)
                yxs = (4.0 / 30.0 - 4.0 * yos / 32.0) * 24.6 / 4.2
                if self.lo * params["Yxs"] <= yxs <= self.hi * params["Yxs"]:
                    out["Yxs"] = float(yxs)
        return out


@dataclass
class ClosedLoopResult:
    """What :func:`closed_loop` returns.

    ``frame``: one row per plant grid time: ``time_h``, the true states, ``F`` (L/h). ``steps``:
    one row per control interval: the estimate (``<state>_est``), the readings, the feed,
    the controller status, solve time and fallback flags, the adapted parameters.
    Scalars: ``product_g`` (P V at the end, g), ``do_below_h`` (h with DO < floor),
    ``do_worst`` (deepest DO deficit, %-points), ``v_over`` (largest V - V_max, L),
    ``solve_time_*_s``, ``fallbacks``, ``feed_tv`` (total variation of the feed, L/h),
    ``feed_reversals`` (sign changes of the feed move), the same two ``*_near_vmax`` from
    the first interval whose true volume is within 1 % of ``v_max`` (0 if never),
    ``induction_h`` (when the plant was induced, h; NaN if never), ``temperature_mean``
    (°C, mean over the intervals).
    """

    frame: pd.DataFrame
    steps: pd.DataFrame
    product_g: float
    do_below_h: float
    do_worst: float
    v_over: float
    solve_time_median_s: float
    solve_time_p95_s: float
    solve_time_max_s: float
    fallbacks: int
    do_min: float
    v_max: float
    label: str = ""
    feed_tv: float = 0.0
    feed_reversals: int = 0
    feed_tv_near_vmax: float = 0.0
    feed_reversals_near_vmax: int = 0
    induction_h: float = math.nan
    temperature_mean: float = math.nan

    def metrics(self) -> dict[str, float]:
        return {
            "feed_tv": self.feed_tv,
            "feed_reversals": float(self.feed_reversals),
            "feed_tv_near_vmax": self.feed_tv_near_vmax,
            "feed_reversals_near_vmax": float(self.feed_reversals_near_vmax),
            "induction_h": self.induction_h,
            "temperature_mean": self.temperature_mean,
            "product_g": self.product_g,
            "do_below_h": self.do_below_h,
            "do_worst": self.do_worst,
            "v_over": self.v_over,
            "solve_time_median_s": self.solve_time_median_s,
            "solve_time_p95_s": self.solve_time_p95_s,
            "solve_time_max_s": self.solve_time_max_s,
            "fallbacks": float(self.fallbacks),
        }


def _estimator(
    model: ProcessModel,
    x0: Array,
    params: list[float],
    max_step: float,
    volume_drift_std: float = 0.002,
) -> ExtendedKalmanFilter:
    """EKF on the controller's model. The inputs vector carries ``F, T, ind`` followed by
    the parameters, so a re-fit changes the filter's model without rebuilding it."""
    n_in = len(model.inputs)

    def f(x: Any, u: Any) -> Any:
        import casadi as ca

        xp = np if isinstance(x, np.ndarray) else ca
        return model.rhs(0.0, x, u[:n_in], u[n_in:], xp=xp)

    def h(x: Any, u: Any) -> Any:
        import casadi as ca

        xp = np if isinstance(x, np.ndarray) else ca
        our, cer, _do, _rq = model.measure(x, u[:n_in], u[n_in:], xp=xp)
        return [our, cer, x[4], x[5]]

    process_std = np.array([0.3, 0.05, 0.02, 0.05, 5.0, volume_drift_std])  # per sqrt(h)
    initial_std = np.maximum(0.1 * np.abs(x0), [0.5, 0.05, 0.02, 0.02, 5.0, 0.01])
    return ExtendedKalmanFilter(
        f,
        h,
        Q=process_std**2,
        R=np.array([1.0, 1.0, 1.0, 1e-4]),  # replaced at each update
        x0=x0,
        P0=initial_std**2,
        max_step=max_step,
        lower=0.0,
    )


def closed_loop(
    controller: Any,
    model: ProcessModel,
    plant: ProcessModel,
    x0: Mapping[str, float],
    *,
    t_end_h: float,
    dt_h: float,
    do_min: float,
    v_max: float,
    seed: int = 0,
    noise: Mapping[str, float] | None = None,
    offline_every_h: float = 2.0,
    offline_std_rel: float = 0.05,
    adapt: bool = True,
    refit_every: int = 2,
    refit: BalanceRefit | None = None,
    fine: int = 8,
    ekf_max_step: float = 0.002,
    label: str = "",
    temperature: float = 37.0,
    induction_h: float = 0.0,
    volume_drift_std: float = 0.002,
) -> ClosedLoopResult:
    """Run one fed-batch in closed loop (module docstring).

    ``model`` is the controller's and estimator's model (nominal parameters); ``plant`` the
    simulated truth. ``x0`` (by state name) starts the plant; the estimator starts from it
    with a 10 % error on biomass. ``noise``: std of the online readings (``OUR``, ``CER``
    mmol/L/h, ``DO`` %, ``V`` L). ``controller`` is a :class:`FeedMPC` or an
    :class:`ExponentialFeed`. ``temperature`` (°C) and ``induction_h`` (h; ``inf``: never)
    are the scenario's schedule: the temperature applies unless the controller returns one;
    the plant is induced from ``induction_h`` or when the controller induces, whichever is
    first (pass ``inf`` when the controller chooses the induction time);
    ``volume_drift_std`` (L per sqrt(h)): see the module docstring.
    """
    if not (t_end_h > 0 and dt_h > 0 and math.isfinite(t_end_h) and math.isfinite(dt_h)):
        raise InputError("closed loop needs t_end_h > 0 and dt_h > 0", found=(t_end_h, dt_h))
    if not (math.isfinite(temperature) and temperature > 0):
        raise InputError("closed loop temperature must be > 0 °C", found=temperature)
    if math.isnan(induction_h) or induction_h < 0:
        raise InputError("closed loop induction_h must be >= 0 h (inf: never)", found=induction_h)
    if not (math.isfinite(volume_drift_std) and volume_drift_std > 0):
        raise InputError("closed loop volume_drift_std must be > 0", found=volume_drift_std)
    rng = np.random.default_rng(seed)
    sd = {"OUR": 1.0, "CER": 1.0, "DO": 1.0, "V": 0.005, **(noise or {})}
    x_true = settle_do(plant, plant.state_vector(x0))
    params = dict(model.params)
    refit = refit or BalanceRefit()
    guess = x_true.copy()
    guess[0] *= 1.1
    kf = _estimator(
        model, guess, model.param_vector(params).tolist(), ekf_max_step, volume_drift_std
    )
    n_steps = round(t_end_h / dt_h)
    # temperature and induction applied during the last interval (before t = 0: the
    # schedule's values at t = 0)
    u_fixed = [float(temperature), 1.0 if induction_h <= 0 else 0.0]
    rows: list[dict[str, Any]] = []
    grid: list[pd.DataFrame] = []
    F_prev = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingMeasurementWarning)
        for k in range(n_steps + 1):
            t = k * dt_h
            pvec = model.param_vector(params)
            y_true = plant.measure(x_true, [F_prev, *u_fixed], plant.param_vector(), xp=np)
            reading = np.array(
                [
                    y_true[0] + sd["OUR"] * rng.standard_normal(),
                    y_true[1] + sd["CER"] * rng.standard_normal(),
                    x_true[4] + sd["DO"] * rng.standard_normal(),
                    x_true[5] + sd["V"] * rng.standard_normal(),
                ]
            )
            u_kf = np.array([F_prev, *u_fixed, *pvec])
            if k > 0:
                kf.predict(u_kf, dt_h)
            kf.update(reading, np.diag([sd[s] ** 2 for s in ONLINE]), args=(u_kf,), label="online")
            x_off = math.nan
            if offline_every_h > 0 and (t + 1e-9) % offline_every_h < 1e-6 + 1e-9:
                x_off = x_true[0] * (1 + offline_std_rel * rng.standard_normal())
                kf.update(
                    [x_off],
                    np.array([[(offline_std_rel * max(x_off, 1e-3)) ** 2]]),
                    _offline_biomass,
                    args=(u_kf,),
                    label="offline",
                )
            x_est = kf.x_.copy()
            row: dict[str, Any] = {"time_h": t, "F_prev": F_prev, "V_std": v_std(kf)}
            row.update({f"{s}_true": float(v) for s, v in zip(plant.states, x_true, strict=True)})
            row.update({f"{s}_est": float(v) for s, v in zip(model.states, x_est, strict=True)})
            row.update({f"{s}_meas": float(v) for s, v in zip(ONLINE, reading, strict=True)})
            row["X_offline"] = x_off
            rows.append(row)
            if k == n_steps:
                break
            if adapt and k % refit_every == 0:
                data = _refit_frame(rows)
                params.update(refit.update(data, params))
            ctrl_params = {n: params[n] for n in ("kLa", "Yxs")}
            if isinstance(controller, ExponentialFeed):
                F, info = controller.step(x_est, t_h=t, do_meas=float(reading[2]))
            else:
                F, info = controller.step(
                    x_est,
                    ctrl_params,
                    t_h=t,
                    f_prev=F_prev,
                    v_std=v_std(kf),
                    t_prev=u_fixed[0],
                )
            F = float(F) if math.isfinite(F) else 0.0
            T_k = float(info.get("T", temperature))
            # induced when the schedule or the controller says so; it cannot be undone
            scheduled = 1.0 if t + 1e-9 >= induction_h else 0.0
            ind_k = max(float(info.get("ind", 0.0)), scheduled, u_fixed[1])
            u_fixed = [T_k if math.isfinite(T_k) else float(temperature), ind_k]
            row.update(
                F=F,
                status=info.get("status"),
                fallback=bool(info.get("fallback")),
                cause=info.get("cause"),
                solve_time_s=float(info.get("solve_time_s", math.nan)),
                iterations=info.get("iterations", 0),
                kLa=params["kLa"],
                Yxs=params["Yxs"],
                T=u_fixed[0],
                ind=u_fixed[1],
                v_limit=float(info.get("v_limit", math.nan)),
                induction_at=float(info.get("induction_at", math.nan)),
            )
            times = np.linspace(0.0, dt_h, fine + 1)
            traj = simulate(
                plant,
                x_true.tolist(),
                dt_h,
                inputs={"F": F, "T": u_fixed[0], "ind": u_fixed[1]},
                t_eval=times,
            )
            piece = traj.frame[["time_h", *plant.states]].copy()
            piece["time_h"] += t
            piece["F"] = F
            piece["T"] = u_fixed[0]
            piece["ind"] = u_fixed[1]
            grid.append(piece if k == 0 else piece.iloc[1:])
            x_true = np.maximum(np.asarray(traj.x[-1], dtype=float), 0.0)
            F_prev = F
    frame = pd.concat(grid, ignore_index=True)
    steps = pd.DataFrame(rows)
    return _summarise(frame, steps, do_min, v_max, dt_h / fine, label)


def v_std(kf: ExtendedKalmanFilter) -> float:
    """Standard deviation of the filter's volume estimate (L)."""
    return float(math.sqrt(max(float(kf.P_[5, 5]), 0.0)))


def feed_chatter(feeds: Sequence[float] | Array, tol: float = 1e-4) -> tuple[float, int]:
    """Total variation (L/h) and number of reversals of a feed sequence (L/h): sign changes
    of successive moves, moves smaller than ``tol`` L/h ignored (solver round-off)."""
    f = np.asarray(feeds, dtype=float)
    f = f[np.isfinite(f)]
    if f.size < 2:
        return 0.0, 0
    moves = np.diff(f)
    signs = np.sign(moves[np.abs(moves) >= tol])
    return float(np.abs(moves).sum()), int(np.sum(signs[1:] != signs[:-1]))


def settle_do(model: ProcessModel, x: Array, u: Sequence[float] = (0.0, 37.0, 1.0)) -> Array:
    """``x`` with DO moved to its quasi-steady value (the DO balance relaxes in seconds, so
    a DO given with an initial state is only a guess). Root of ``dDO/dt`` by Brent's method."""
    from scipy.optimize import brentq

    p = model.param_vector()

    def rate(do: float) -> float:
        y = x.copy()
        y[4] = do
        return float(model.rhs(0.0, y, list(u), p, xp=np)[4])

    out = x.copy()
    if rate(0.0) <= 0.0:
        out[4] = 0.0
    else:
        out[4] = brentq(rate, 0.0, 100.0, xtol=1e-8)
    return out


def _offline_biomass(x: Any, u: Any) -> Any:
    return [x[0]]


def _refit_frame(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    out = pd.DataFrame(
        {
            "time_h": frame["time_h"],
            "OUR": frame["OUR_meas"],
            "DO": frame["DO_meas"],
            "V_meas": frame["V_meas"],
            "X_est": frame["X_est"],
            "S_est": frame["S_est"],
            # the feed applied from each sample to the next (last one not applied yet)
            "F": [*frame["F_prev"].iloc[1:], 0.0],
        }
    )
    return out


def _summarise(
    frame: pd.DataFrame, steps: pd.DataFrame, do_min: float, v_max: float, h: float, label: str
) -> ClosedLoopResult:
    do = frame["DO"].to_numpy()
    deficit = np.maximum(do_min - do, 0.0)
    # time below the floor: each grid point stands for one grid step
    below = float(np.sum(deficit > 0) * h)
    solved = steps.dropna(subset=["solve_time_s"]) if "solve_time_s" in steps else steps
    times = solved["solve_time_s"].to_numpy(dtype=float) if len(solved) else np.array([])
    last = frame.iloc[-1]
    feeds = steps["F"].to_numpy(dtype=float) if "F" in steps else np.array([])
    tv, reversals = feed_chatter(feeds)
    near = np.flatnonzero(steps["V_true"].to_numpy() >= 0.99 * v_max)
    tv_near, rev_near = feed_chatter(feeds[near[0] :]) if len(near) else (0.0, 0)
    induced = steps.loc[steps["ind"] > 0.5, "time_h"] if "ind" in steps else steps["time_h"][:0]
    induction = float(induced.iloc[0]) if len(induced) else math.nan
    temp_mean = float(np.mean(steps["T"].dropna())) if "T" in steps else math.nan
    return ClosedLoopResult(
        frame=frame,
        steps=steps,
        product_g=float(last["P"] * last["V"]),
        do_below_h=below,
        do_worst=float(deficit.max()),
        v_over=float(max(frame["V"].max() - v_max, 0.0)),
        solve_time_median_s=float(np.median(times)) if times.size else math.nan,
        solve_time_p95_s=float(np.percentile(times, 95)) if times.size else math.nan,
        solve_time_max_s=float(times.max()) if times.size else math.nan,
        fallbacks=int(solved["fallback"].sum()) if "fallback" in solved else 0,
        do_min=do_min,
        v_max=v_max,
        label=label,
        feed_tv=tv,
        feed_reversals=reversals,
        feed_tv_near_vmax=tv_near,
        feed_reversals_near_vmax=rev_near,
        induction_h=induction,
        temperature_mean=temp_mean,
    )


def trajectory_figure(results: Sequence[ClosedLoopResult] | ClosedLoopResult) -> Any:
    """Plotly figure of closed-loop runs: X, S, P (g/L), DO (%) with its floor, V (L) with
    its maximum, the feed F (L/h), the temperature T (°C) and the induction (0/1); one
    colour per run. Usable in :func:`biofab.viz.html_page`."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    runs = [results] if isinstance(results, ClosedLoopResult) else list(results)
    panels = [
        ("X", "biomass X (g/L)"),
        ("S", "glucose S (g/L)"),
        ("P", "product P (g/L)"),
        ("DO", "dissolved O2 (% sat)"),
        ("V", "volume V (L)"),
        ("F", "feed F (L/h)"),
        ("T", "temperature T (°C)"),
        ("ind", "induction (0/1)"),
    ]
    fig = make_subplots(rows=4, cols=2, subplot_titles=[p[1] for p in panels])
    colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
    for i, run in enumerate(runs):
        colour = colours[i % len(colours)]
        name = run.label or f"run {i + 1}"
        for j, (col, _title) in enumerate(panels):
            if col not in run.frame:
                continue
            r, c = divmod(j, 2)
            shape = "hv" if col in ("F", "T", "ind") else "linear"
            fig.add_trace(
                go.Scatter(
                    x=run.frame["time_h"],
                    y=run.frame[col],
                    mode="lines",
                    line={"color": colour, "shape": shape},
                    name=name,
                    legendgroup=name,
                    showlegend=j == 0,
                ),
                row=r + 1,
                col=c + 1,
            )
        if "X_est" in run.steps:
            fig.add_trace(
                go.Scatter(
                    x=run.steps["time_h"],
                    y=run.steps["X_est"],
                    mode="markers",
                    marker={"color": colour, "size": 4, "symbol": "circle-open"},
                    name=f"{name} X estimate",
                    legendgroup=name,
                    showlegend=False,
                ),
                row=1,
                col=1,
            )
    if runs:
        fig.add_hline(y=runs[0].do_min, line_dash="dash", line_color="grey", row=2, col=2)
        fig.add_hline(y=runs[0].v_max, line_dash="dash", line_color="grey", row=3, col=1)
    fig.update_xaxes(title_text="time (h)", row=4)
    fig.update_layout(height=1050, title="Fed-batch closed loop")
    return fig
