"""Nonlinear model predictive control of the feed rate of a fed-batch twin.

:class:`FeedMPC` chooses the feed ``F`` (L/h) of an :class:`~biofab.process.models.
EColiFedBatch` (or any twin with states ``X, S, A, P, DO, V`` and inputs ``F, T, ind``)
every ``dt_h`` hours so as to maximise the product at the end of the batch, subject to a
dissolved-oxygen floor, a maximum broth volume, feed bounds and a rate-of-change limit.
Optionally it also chooses the temperature (bounded, rate-limited) and the induction time
(among candidates), and tightens the volume limit by the uncertainty of the volume estimate
(sections below).

Transcription. Direct collocation (Biegler 2010, *Nonlinear Programming*, SIAM, ch. 10) on
``horizon`` intervals with Radau IIA points of degree 3. Radau collocation is stiffly
accurate, which matters here: the DO balance relaxes in seconds (eigenvalue ~ kLa ≈ 600 /h)
and the glucose balance near ``S ~ Ks`` in about a second at high cell density, while an
interval lasts tens of minutes. An explicit shooting integrator would need hundreds of
sub-steps per interval; collocation puts DO on its quasi-steady manifold with three points.

The NLP is built once with CasADi (Andersson et al. 2019, Math. Prog. Comp. 11:1-36) and
solved by IPOPT (Wächter & Biegler 2006, Math. Prog. 106:25-57). The estimated state, the
model parameters, the previous feed, the length of each interval and the time left after
the horizon are NLP *parameters*, so each step only re-solves; the previous primal and dual
solution, shifted by one interval, warm-starts the next solve.

Objective (maximised, grams)::

    P_N V_N  +  t_after · qP(x_N) X_N V_N  -  penalties

``P_N V_N`` is the product in the vessel at the end of the horizon. The intervals shrink to
zero length past the end of the batch (their duration is a parameter), so once the horizon
reaches the end of the batch the first term *is* the end-of-batch product. While the batch
ends after the horizon (``t_after > 0``), the terminal term values the biomass at the
horizon end by the product it would make at its current specific rate ``qP`` over the time
left: without it the controller is myopic and trades later product for earlier product.

Constraints: ``DO ≥ do_min`` at every collocation point, softened by one slack per interval
with a heavy L1 + L2 penalty (an exact penalty: zero slack whenever the floor can be kept,
Fletcher 1987, *Practical Methods of Optimization*, §12.3), so the NLP stays feasible when
the state estimate already sits below the floor; ``V ≤ v_max`` at the nodes (hard);
``f_min ≤ F ≤ f_max``; ``|F_k - F_{k-1}| ≤ max_delta_f``.

The model's ``min``/``max`` kinks (overflow switch, clipping at zero) are smoothed with
``max(a, b) ≈ (a + b + sqrt((a - b)² + ε²)) / 2`` (ε = 1e-4, far below Ks) so IPOPT sees
twice-differentiable functions; the plant keeps the sharp model.

Temperature. With ``temperature_bounds`` the temperature ``T`` (°C) of every interval is a
decision variable too, within the bounds and changing by at most ``max_delta_t`` per
interval (a jacket cannot cool a broth instantly); the twin's cardinal-temperature factor
(Rosso et al. 1993) then trades growth, overflow capacity and product formation. Without
bounds ``T`` is held at ``temperature``.

Induction. The induction input enters per interval (an NLP parameter vector), so the plan
may induce part-way through the horizon. With ``induction_times`` the controller *chooses*
when to induce: until it has induced, each step solves the NLP once per candidate time
(candidates already past count as "now") and keeps the best predicted objective; it induces
when the best candidate is the current step (a small enumerated search over horizons,
cheaper and more robust than a mixed-integer NLP). Induction is irreversible.

Volume back-off. The volume limit is an NLP parameter: ``v_max - v_backoff · σ_V`` where
``σ_V`` (L) is the standard deviation of the volume estimate that the caller passes to
:meth:`FeedMPC.step` (the filter's). The tightened limit keeps the true volume below
``v_max`` with the confidence of ``v_backoff`` standard deviations (a constraint back-off,
e.g. Rawlings, Mayne & Diehl 2017, *Model Predictive Control*, §3.5); when the estimate
already lies above the tightened limit the plan only has to hold the volume where it is,
so noise on the reading cannot make the problem infeasible (no fallback, no feed spikes).

Fallback. When IPOPT fails, reports infeasibility, returns non-finite values, or the best
plan still violates the DO floor by more than ``do_tolerance`` (the floor cannot be kept),
:meth:`FeedMPC.step` returns a *safe* feed instead of the plan: the smaller of the last
applied feed and the next move of the last feasible plan (0 where the volume is at its
maximum), within ``[f_min, f_max]``. Lowering the feed of a glucose-limited culture lowers
its oxygen uptake, so the DO can only rise and the volume rises more slowly; the fallback
deliberately ignores the rate-of-change limit, which is a comfort constraint, not a safety
one. Each fallback is logged (logger ``biofab.process.mpc``) with its cause and recorded in
``history_``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from types import SimpleNamespace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from biofab.core.errors import InputError
from biofab.process.models import ProcessModel

__all__ = ["FeedMPC", "smooth_casadi_backend"]

Array = NDArray[np.float64]
logger = logging.getLogger("biofab.process.mpc")

_REQUIRED_STATES = ("X", "S", "A", "P", "DO", "V")
_OK_STATUSES = ("Solve_Succeeded", "Solved_To_Acceptable_Level")
_DEGREE = 3


def smooth_casadi_backend(eps: float = 1e-4) -> SimpleNamespace:
    """CasADi backend for ``ProcessModel.rhs`` with smoothed ``fmax``/``fmin`` (see module
    docstring); ``eps`` is in the units of the arguments."""
    import casadi as ca

    e2 = eps * eps

    def fmax(a: Any, b: Any) -> Any:
        return 0.5 * (a + b + ca.sqrt((a - b) ** 2 + e2))

    def fmin(a: Any, b: Any) -> Any:
        return 0.5 * (a + b - ca.sqrt((a - b) ** 2 + e2))

    return SimpleNamespace(exp=ca.exp, sqrt=ca.sqrt, log=ca.log, fmax=fmax, fmin=fmin)


def _radau_matrices(degree: int) -> tuple[Array, Array]:
    """Collocation points ``tau`` (with 0 first) and the derivative matrix ``C`` with
    ``C[r, j] = dL_r/dtau(tau_j)`` of the Lagrange basis (points 1..degree)."""
    import casadi as ca

    tau = np.array([0.0, *ca.collocation_points(degree, "radau")])
    C = np.zeros((degree + 1, degree + 1))
    for r in range(degree + 1):
        coeffs = np.poly1d([1.0])
        for s in range(degree + 1):
            if s != r:
                coeffs *= np.poly1d([1.0, -tau[s]]) / (tau[r] - tau[s])
        deriv = np.polyder(coeffs)
        for j in range(degree + 1):
            C[r, j] = deriv(tau[j])
    return tau, C


class FeedMPC:
    """Shrinking/receding-horizon NMPC of the feed rate (see the module docstring).

    Parameters
    ----------
    model:
        Process twin with states ``X, S, A, P, DO, V`` (g/L, g/L, g/L, g/L, % sat, L) and
        inputs ``F, T, ind`` (L/h, °C, 0/1), e.g. :class:`~biofab.process.models.EColiFedBatch`.
    horizon:
        Number of control intervals in the prediction (>= 1).
    dt_h:
        Control interval, h.
    t_end_h:
        Batch end, h (the objective is the product at that time).
    objective:
        ``'product_end'`` (only choice; named for clarity in reports).
    do_min:
        DO floor, % of air saturation.
    v_max:
        Maximum broth volume, L.
    f_min, f_max:
        Feed bounds, L/h.
    max_delta_f:
        Largest change of the feed between intervals, L/h (default ``f_max``: no limit).
    move_penalty:
        Weight (g) of the squared feed change, relative to ``f_max``, per interval.
    move_penalty_l1:
        Weight (g) of the absolute feed change, relative to ``f_max``, per interval
        (smoothed, ``sqrt(ΔF² + ε²)``): move suppression that, unlike the squared term,
        makes small corrections not worth their cost, so the feed holds still instead of
        chasing noise (sparse moves; default 0, off).
    do_penalty:
        Weight (g per %-point per interval) of the DO-floor slack (L1 and L2).
    do_backoff:
        %-points added to the floor inside the controller (a back-off that absorbs
        estimation error and noise, so the plant stays above ``do_min``).
    do_tolerance:
        Predicted DO violation (%-points) above which the plan counts as infeasible.
    temperature, induction:
        Values of the inputs ``T`` (°C) and ``ind`` (0/1) held over the horizon (unless
        ``temperature_bounds`` / ``induction_times`` make them decisions).
    temperature_bounds:
        ``(low, high)`` °C: make ``T`` a decision variable within these bounds (``None``:
        hold ``temperature``).
    max_delta_t:
        Largest change of ``T`` between intervals, °C.
    induction_times:
        Candidate induction times (h). ``None``: ``induction`` is applied throughout.
    v_backoff:
        Volume back-off in standard deviations of the volume estimate (see the module
        docstring); 0 keeps the plain ``V <= v_max``.
    solver:
        ``'ipopt'``.
    warm_start:
        Start each solve from the previous solution shifted by one interval.
    max_iter:
        IPOPT iteration limit of a warm-started solve (a cold solve gets 3x).
    """

    def __init__(
        self,
        model: ProcessModel,
        horizon: int = 20,
        dt_h: float = 0.75,
        t_end_h: float = 15.0,
        objective: str = "product_end",
        do_min: float = 30.0,
        v_max: float = 1.6,
        f_min: float = 0.0,
        f_max: float = 0.05,
        max_delta_f: float | None = None,
        move_penalty: float = 0.01,
        move_penalty_l1: float = 0.0,
        do_penalty: float = 100.0,
        do_backoff: float = 0.0,
        do_tolerance: float = 1.0,
        temperature: float = 37.0,
        induction: float = 1.0,
        temperature_bounds: tuple[float, float] | None = None,
        max_delta_t: float = 1.0,
        induction_times: Sequence[float] | None = None,
        v_backoff: float = 0.0,
        solver: str = "ipopt",
        warm_start: bool = True,
        max_iter: int = 100,
    ) -> None:
        self.model = model
        self.horizon = horizon
        self.dt_h = dt_h
        self.t_end_h = t_end_h
        self.objective = objective
        self.do_min = do_min
        self.v_max = v_max
        self.f_min = f_min
        self.f_max = f_max
        self.max_delta_f = f_max if max_delta_f is None else max_delta_f
        self.move_penalty = move_penalty
        self.move_penalty_l1 = move_penalty_l1
        self.do_penalty = do_penalty
        self.do_backoff = do_backoff
        self.do_tolerance = do_tolerance
        self.temperature = temperature
        self.induction = induction
        self.temperature_bounds = temperature_bounds
        self.max_delta_t = max_delta_t
        self.induction_times = induction_times
        self.v_backoff = v_backoff
        self.solver = solver
        self.warm_start = warm_start
        self.max_iter = max_iter
        self._check()
        self.history_: list[dict[str, Any]] = []
        self._build()
        self.reset()

    # -- configuration ------------------------------------------------------------------
    def _check(self) -> None:
        states = tuple(getattr(self.model, "states", ()))
        if states != _REQUIRED_STATES or tuple(self.model.inputs)[:3] != ("F", "T", "ind"):
            raise InputError(
                "FeedMPC needs a twin with states X, S, A, P, DO, V and inputs F, T, ind",
                found=f"states {states}, inputs {tuple(self.model.inputs)}",
            )
        if not isinstance(self.horizon, int | np.integer) or self.horizon < 1:
            raise InputError("MPC horizon must be a whole number >= 1", found=self.horizon)
        numbers = {
            "dt_h": self.dt_h,
            "t_end_h": self.t_end_h,
            "do_min": self.do_min,
            "v_max": self.v_max,
            "f_min": self.f_min,
            "f_max": self.f_max,
            "max_delta_f": self.max_delta_f,
            "move_penalty": self.move_penalty,
            "move_penalty_l1": self.move_penalty_l1,
            "do_penalty": self.do_penalty,
            "do_tolerance": self.do_tolerance,
            "do_backoff": self.do_backoff,
            "temperature": self.temperature,
            "induction": self.induction,
            "max_delta_t": self.max_delta_t,
            "v_backoff": self.v_backoff,
        }
        for name, value in numbers.items():
            if not (isinstance(value, int | float) and math.isfinite(value)):
                raise InputError(f"MPC setting {name} must be a finite number", found=value)
        names_pos = ("dt_h", "t_end_h", "v_max", "f_max", "max_delta_f", "do_tolerance")
        for name in (*names_pos, "max_delta_t", "temperature"):
            if numbers[name] <= 0:
                raise InputError(f"MPC setting {name} must be > 0", found=numbers[name])
        nonneg = ("f_min", "move_penalty", "move_penalty_l1", "do_penalty", "do_min")
        for name in (*nonneg, "do_backoff", "v_backoff"):
            if numbers[name] < 0:
                raise InputError(f"MPC setting {name} must be >= 0", found=numbers[name])
        if self.f_min > self.f_max:
            raise InputError(
                "MPC feed bounds are inverted: f_min > f_max",
                expected="f_min <= f_max (L/h)",
                found=f"f_min={self.f_min}, f_max={self.f_max}",
            )
        if not 0.0 <= self.induction <= 1.0:
            raise InputError("MPC induction must be in [0, 1]", found=self.induction)
        if self.temperature_bounds is not None:
            lo_hi = tuple(self.temperature_bounds)
            ok = len(lo_hi) == 2 and all(
                isinstance(v, int | float) and math.isfinite(v) for v in lo_hi
            )
            if not ok or not 0.0 < lo_hi[0] <= lo_hi[1]:
                raise InputError(
                    "MPC temperature_bounds must be (low, high) in °C with 0 < low <= high",
                    found=self.temperature_bounds,
                )
        if self.induction_times is not None:
            times = list(self.induction_times)
            if not times or not all(
                isinstance(v, int | float) and math.isfinite(v) and v >= 0 for v in times
            ):
                raise InputError(
                    "MPC induction_times must be a non-empty list of times >= 0 (h)",
                    found=self.induction_times,
                )
        if self.objective != "product_end":
            raise InputError(
                "unknown MPC objective", expected="'product_end'", found=self.objective
            )
        if self.solver != "ipopt":
            raise InputError("unknown MPC solver", expected="'ipopt'", found=self.solver)
        if not (isinstance(self.max_iter, int) and self.max_iter >= 1):
            raise InputError("max_iter must be a whole number >= 1", found=self.max_iter)

    # -- the NLP, built once ------------------------------------------------------------
    def _build(self) -> None:
        import casadi as ca

        model = self.model
        N, d = int(self.horizon), _DEGREE
        nx, npar = len(model.states), len(model.param_names)
        tau, C = _radau_matrices(d)
        xp = smooth_casadi_backend()
        # Scales bring every decision variable to O(1) (IPOPT is not scale invariant).
        xs = np.array([20.0, 1.0, 1.0, 5.0, 100.0, max(self.v_max, 1e-3)])
        fs = self.f_max
        ts = 40.0  # °C
        self._xs, self._fs, self._ts = xs, fs, ts

        x_sym = ca.SX.sym("x", nx)
        u_sym = ca.SX.sym("u", len(model.inputs))
        p_sym = ca.SX.sym("p", npar)
        dx = ca.vertcat(*model.rhs(0.0, x_sym, u_sym, p_sym, xp=xp))
        f = ca.Function("f", [x_sym, u_sym, p_sym], [dx])
        qp = model.rates(0.0, x_sym, u_sym, p_sym, xp=xp)["qP"]
        qp_fun = ca.Function("qP", [x_sym, u_sym, p_sym], [qp])

        # Decision variables (scaled): nodes, collocation states, feeds, temperatures (fixed
        # by their bounds unless temperature_bounds), DO slacks.
        Xn = ca.SX.sym("Xn", nx, N)  # nodes 1..N; node 0 is the estimate
        Xc = ca.SX.sym("Xc", nx, N * d)
        U = ca.SX.sym("U", N)
        UT = ca.SX.sym("UT", N)
        Sl = ca.SX.sym("Sl", N)
        w = ca.vertcat(ca.vec(Xn), ca.vec(Xc), U, UT, Sl)
        # Parameters: x0 (unscaled), model parameters, previous feed, interval lengths,
        # time after the horizon, previous temperature, induction per interval, volume limit.
        P0 = ca.SX.sym("x0", nx)
        Pp = ca.SX.sym("pm", npar)
        Fprev = ca.SX.sym("Fprev")
        Tau = ca.SX.sym("tau", N)
        Tafter = ca.SX.sym("tafter")
        Tprev = ca.SX.sym("Tprev")
        Ind = ca.SX.sym("ind", N)
        Vlim = ca.SX.sym("vlim")
        par = ca.vertcat(P0, Pp, Fprev, Tau, Tafter, Tprev, Ind, Vlim)
        # past the tightened limit already: hold the volume (feasible with F = 0)
        v_cap = ca.fmax(Vlim, P0[5])

        g_blocks = []
        lbg, ubg = [], []
        obj: Any = 0
        xs_dm = ca.DM(xs)
        for k in range(N):
            xk = P0 if k == 0 else Xn[:, k - 1] * xs_dm
            Fk = U[k] * fs
            uk = ca.vertcat(Fk, UT[k] * ts, Ind[k])
            pts = [xk] + [Xc[:, k * d + j] * xs_dm for j in range(d)]
            block = []
            for j in range(1, d + 1):
                slope = sum(C[r, j] * pts[r] for r in range(d + 1))
                block.append((slope - Tau[k] * f(pts[j], uk, Pp)) / xs_dm)
            # Radau: the last collocation point is the interval end.
            block.append(Xn[:, k] - Xc[:, k * d + d - 1])
            lbg += [0.0] * (nx * (d + 1))
            ubg += [0.0] * (nx * (d + 1))
            for j in range(1, d + 1):
                block.append((pts[j][4] + Sl[k] - self.do_min - self.do_backoff) / 100.0)
                lbg.append(0.0)
                ubg.append(ca.inf)
            block.append(Xn[5, k] * xs[5] - v_cap)
            lbg.append(-ca.inf)
            ubg.append(0.0)
            prev = Fprev / fs if k == 0 else U[k - 1]
            block.append(U[k] - prev)
            lbg.append(-self.max_delta_f / fs)
            ubg.append(self.max_delta_f / fs)
            prev_t = Tprev / ts if k == 0 else UT[k - 1]
            block.append(UT[k] - prev_t)
            lbg.append(-self.max_delta_t / ts)
            ubg.append(self.max_delta_t / ts)
            g_blocks.append(ca.vertcat(*block))
            obj += self.move_penalty * (U[k] - prev) ** 2
            if self.move_penalty_l1 > 0:
                obj += self.move_penalty_l1 * ca.sqrt((U[k] - prev) ** 2 + 1e-6)
            obj += self.move_penalty * (UT[k] - prev_t) ** 2
            obj += self.do_penalty * (Sl[k] + Sl[k] ** 2)
        xN = Xn[:, N - 1] * xs_dm
        uN = ca.vertcat(U[N - 1] * fs, UT[N - 1] * ts, Ind[N - 1])
        product = xN[3] * xN[5] + Tafter * qp_fun(xN, uN, Pp) * xN[0] * xN[5]
        obj += -product
        g = ca.vertcat(*g_blocks)
        self._ng_block = int(g.shape[0] // N)
        self._nx, self._N, self._d, self._npar = nx, N, d, npar
        self._tau_points = tau
        nlp = {"x": w, "p": par, "f": obj, "g": g}
        base: dict[str, Any] = {
            "ipopt.print_level": 0,
            "ipopt.sb": "yes",
            "print_time": False,
            "ipopt.mu_strategy": "adaptive",
            "ipopt.tol": 1e-6,
            "ipopt.acceptable_tol": 1e-4,
            "ipopt.acceptable_iter": 5,
            "ipopt.hessian_approximation": "exact",
        }
        cold: dict[str, Any] = {**base, "ipopt.max_iter": 3 * self.max_iter}
        warm: dict[str, Any] = {
            **base,
            "ipopt.max_iter": self.max_iter,
            "ipopt.warm_start_init_point": "yes",
            "ipopt.warm_start_bound_push": 1e-6,
            "ipopt.warm_start_slack_bound_push": 1e-6,
            "ipopt.warm_start_mult_bound_push": 1e-6,
            "ipopt.mu_init": 1e-4,
        }
        self._solver_cold = ca.nlpsol("mpc_cold", "ipopt", nlp, cold)
        self._solver_warm = ca.nlpsol("mpc_warm", "ipopt", nlp, warm)
        self._lbg = np.array(lbg, dtype=float)
        self._ubg = np.array(ubg, dtype=float)
        nw = int(w.shape[0])
        lbw = np.full(nw, -np.inf)
        ubw = np.full(nw, np.inf)
        nstate = nx * N + nx * N * d
        # Biomass and volume >= 0. Glucose and acetate get no bound: the smoothed clipping
        # at zero lets them settle a hair below 0 (by ~1e-5 g/L) when fully consumed, and
        # a bound there would make the collocation equations infeasible.
        state_lb = np.where(np.isin(np.arange(nx), [0, 5]), 0.0, -np.inf)
        lbw[:nstate] = np.tile(state_lb, nstate // nx)
        lbw[nstate : nstate + N] = self.f_min / fs
        ubw[nstate : nstate + N] = self.f_max / fs
        t_lo, t_hi = self._t_range()
        lbw[nstate + N : nstate + 2 * N] = t_lo / ts
        ubw[nstate + N : nstate + 2 * N] = t_hi / ts
        lbw[nstate + 2 * N :] = 0.0
        self._lbw, self._ubw = lbw, ubw
        self._nstate = nstate
        self._nw = nw

    def _t_range(self) -> tuple[float, float]:
        if self.temperature_bounds is None:
            return float(self.temperature), float(self.temperature)
        lo, hi = self.temperature_bounds
        return float(lo), float(hi)

    # -- state --------------------------------------------------------------------------
    def reset(self) -> FeedMPC:
        """Forget the warm start, the last plan and the history."""
        self._w: Array | None = None
        self._lam_x: Array | None = None
        self._lam_g: Array | None = None
        self._plan: Array | None = None
        self._f_prev: float | None = None
        lo, hi = self._t_range()
        self._t_prev = min(max(float(self.temperature), lo), hi)
        self.induced_ = self.induction_times is None and self.induction > 0
        self.history_ = []
        return self

    def _unpack_w(self, w: Array) -> tuple[Array, Array, Array, Array, Array]:
        """Nodes, collocation states, feeds (L/h), temperatures (°C), DO slacks."""
        nx, N, d = self._nx, self._N, self._d
        a = nx * N
        b = a + nx * N * d
        Xn = w[:a].reshape(N, nx) * self._xs
        Xc = w[a:b].reshape(N * d, nx) * self._xs
        feeds = w[b : b + N] * self._fs
        temps = w[b + N : b + 2 * N] * self._ts
        return Xn, Xc, feeds, temps, w[b + 2 * N :]

    def _shift(self, w: Array, lam_x: Array, lam_g: Array) -> tuple[Array, Array, Array]:
        """Move the previous solution one interval ahead, repeating the last interval."""
        nx, N, d = self._nx, self._N, self._d
        a = nx * N
        b = a + nx * N * d

        def roll(v: Array, width: int) -> Array:
            blocks = v.reshape(-1, width)
            return np.vstack([blocks[1:], blocks[-1:]]).reshape(-1)

        def shift_all(v: Array) -> Array:
            return np.concatenate(
                [
                    roll(v[:a], nx),
                    roll(v[a:b], nx * d),
                    roll(v[b : b + N], 1),
                    roll(v[b + N : b + 2 * N], 1),
                    roll(v[b + 2 * N :], 1),
                ]
            )

        return shift_all(w), shift_all(lam_x), roll(lam_g, self._ng_block)

    def _interval_lengths(self, t_h: float) -> tuple[Array, float]:
        left = self.t_end_h - t_h
        k = np.arange(self._N)
        tau = np.clip(left - k * self.dt_h, 0.0, self.dt_h)
        after = max(left - self._N * self.dt_h, 0.0)
        return tau, after

    # -- one control step ---------------------------------------------------------------
    def step(
        self,
        x_est: Mapping[str, float] | Sequence[float] | Array,
        params: Mapping[str, float] | Sequence[float] | Array | None = None,
        *,
        t_h: float = 0.0,
        f_prev: float | None = None,
        v_std: float = 0.0,
        t_prev: float | None = None,
    ) -> tuple[float, dict[str, Any]]:
        """Solve the NLP from ``x_est`` at time ``t_h`` (h) and return the first feed move.

        ``x_est``: estimated state (mapping by name or sequence in ``model.states`` order).
        ``params``: model parameters (mapping of changed values, or a full vector); default
        the model's. ``f_prev``: feed applied during the last interval (default the last
        move this controller returned, else ``f_min``). ``v_std``: standard deviation of the
        volume estimate (L), used by the ``v_backoff``. ``t_prev``: temperature applied
        during the last interval (°C; default the last one this controller returned).
        Returns ``(F, info)``; ``info`` holds ``T`` (°C) and ``ind`` (0/1) to apply over the
        next interval, ``status``, ``fallback``, ``cause``, ``iterations``,
        ``solve_time_s``, ``max_do_violation`` (predicted, %-points), ``v_limit`` (L, the
        tightened volume limit), ``induction_at`` (the chosen induction time, h, when
        induction is a decision), ``plan`` (L/h per interval), ``plan_T`` (°C per interval)
        and ``predicted`` (node states, shape ``(horizon + 1, 6)``).
        """
        t0 = time.perf_counter()
        prev = self._f_prev if f_prev is None else float(f_prev)
        prev = self.f_min if prev is None or not math.isfinite(prev) else prev
        prev = min(max(prev, self.f_min), self.f_max)
        t_lo, t_hi = self._t_range()
        temp_prev = self._t_prev if t_prev is None else float(t_prev)
        temp_prev = self._t_prev if not math.isfinite(temp_prev) else temp_prev
        temp_prev = min(max(temp_prev, t_lo), t_hi)
        cause = self._precheck(x_est, params, t_h)
        if cause is None and not (math.isfinite(v_std) and v_std >= 0):
            cause = f"volume standard deviation {v_std} is not a finite number >= 0"
        info: dict[str, Any] = {"t_h": float(t_h), "iterations": 0, "max_do_violation": 0.0}
        ind_now = self._induction_now()
        temp = temp_prev
        if cause is None:
            x = self._state(x_est)
            p = self._params(params)
            tau, after = self._interval_lengths(t_h)
            v_lim = self.v_max - self.v_backoff * float(v_std)
            info["v_limit"] = v_lim
            best: tuple[float, float, Array, Array, Any] | None = None
            for when, ind in self._induction_schedules(t_h, tau):
                par = np.concatenate([x, p, [prev], tau, [after, temp_prev], ind, [v_lim]])
                warm = self.warm_start and self._w is not None
                cause, w, sol = self._solve(x, par, p, tau, info, warm, temp_prev, ind)
                if cause is not None and warm:
                    # a warm start can sit in the flat, oxygen-starved region (DO ~ 0, where
                    # the feed no longer moves DO): retry once from a simulated cold guess
                    cause, w, sol = self._solve(x, par, p, tau, info, False, temp_prev, ind)
                if cause is None:
                    value = float(sol["f"])
                    if best is None or value < best[0]:
                        best = (value, when, ind, w, sol)
            if best is not None:
                cause = None
                _value, when, ind, w, sol = best
                Xn, Xc, plan, plan_t, _slack = self._unpack_w(w)
                info["plan"] = plan
                info["plan_T"] = plan_t
                info["predicted"] = np.vstack([x, Xn])
                info["max_do_violation"] = float(max(0.0, self.do_min - Xc[:, 4].min()))
                info["predicted_product_g"] = float(Xn[-1, 3] * Xn[-1, 5])
                if self.induction_times is not None and not self.induced_:
                    info["induction_at"] = when
                    self.induced_ = bool(ind[0] > 0.5)
                    ind_now = self._induction_now()
                temp = float(np.clip(plan_t[0], t_lo, t_hi))
                self._w = w
                self._lam_x = np.asarray(sol["lam_x"], dtype=float).reshape(-1)
                self._lam_g = np.asarray(sol["lam_g"], dtype=float).reshape(-1)
                self._plan = plan
            else:
                self._w = None  # never warm-start from a rejected solution
        else:
            info["status"] = "not solved"
        if cause is None:
            F = float(np.clip(info["plan"][0], self.f_min, self.f_max))
            info.update(fallback=False, cause=None)
        else:
            F = self._fallback(x_est, prev)
            info.update(fallback=True, cause=cause)
            logger.warning("MPC fallback at t=%.3g h: F=%.4g L/h (%s)", t_h, F, cause)
            # an infeasible or failed solve must not seed the next one
            if self._plan is not None:
                self._plan = np.append(self._plan[1:], self._plan[-1])
        info["F"] = F
        info["T"] = temp
        info["ind"] = ind_now
        info["solve_time_s"] = time.perf_counter() - t0
        self._f_prev = F
        self._t_prev = temp
        hidden = ("plan", "plan_T", "predicted")
        self.history_.append({k: v for k, v in info.items() if k not in hidden})
        return F, info

    def _induction_now(self) -> float:
        if self.induction_times is None:
            return float(self.induction)
        return 1.0 if self.induced_ else 0.0

    def _induction_schedules(self, t_h: float, tau: Array) -> list[tuple[float, Array]]:
        """Induction per interval for each candidate time (one schedule when induction is
        fixed or already done). A candidate between interval starts induces at the next
        start; candidates that give the same schedule are tried once."""
        N = self._N
        if self.induction_times is None or self.induced_:
            return [(math.nan, np.full(N, self._induction_now()))]
        starts = t_h + np.concatenate([[0.0], np.cumsum(tau)[:-1]])
        out: list[tuple[float, Array]] = []
        seen: set[bytes] = set()
        for when in sorted({max(float(c), float(t_h)) for c in self.induction_times}):
            ind = (starts >= when - 1e-9).astype(float)
            key = ind.tobytes()
            if key not in seen:
                seen.add(key)
                out.append((when, ind))
        return out

    def _solve(
        self,
        x: Array,
        par: Array,
        p: Array,
        tau: Array,
        info: dict[str, Any],
        warm: bool,
        temp: float,
        ind: Array,
    ) -> tuple[str | None, Array, Any]:
        """One IPOPT solve; returns (cause of rejection or None, w, solution)."""
        if warm:
            w0, lx0, lg0 = self._shift(self._w, self._lam_x, self._lam_g)  # type: ignore[arg-type]
            solver = self._solver_warm
            args = {"lam_x0": lx0, "lam_g0": lg0}
        else:
            w0 = self._cold_guess(x, p, tau, temp, float(ind[0]))
            solver = self._solver_cold
            args = {}
        args["x0"] = np.clip(w0, self._lbw, self._ubw)
        sol: Any = None
        try:
            sol = solver(**args, lbx=self._lbw, ubx=self._ubw, lbg=self._lbg, ubg=self._ubg, p=par)
            stats = solver.stats()
            status = str(stats.get("return_status", "unknown"))
            info["iterations"] = int(info.get("iterations", 0)) + int(stats.get("iter_count", 0))
            w = np.asarray(sol["x"], dtype=float).reshape(-1)
        except RuntimeError as err:  # CasADi raises on evaluation errors (NaN in f, ...)
            status, w = f"solver error: {err}", np.full(self._nw, np.nan)
        info["status"] = status
        if not np.all(np.isfinite(w)):
            return f"IPOPT returned non-finite values ({status})", w, sol
        if status not in _OK_STATUSES:
            return f"IPOPT did not converge: {status}", w, sol
        slack = w[-self._N :]
        if float(slack.max()) > self.do_tolerance:
            return (
                f"DO floor {self.do_min:g} % cannot be kept: the best plan still falls "
                f"{float(slack.max()):.2f} %-points below it",
                w,
                sol,
            )
        return None, w, sol

    def _cold_guess(self, x: Array, p: Array, tau: Array, temp: float, ind: float) -> Array:
        """Initial guess of a cold solve: the model simulated with the feed at ``f_min``
        (a starving culture has high DO, far from the flat oxygen-limited region where
        IPOPT can stall), sampled at the nodes and collocation points."""
        from biofab.process.simulate import SimulationError, simulate

        N, d = self._N, self._d
        starts = np.concatenate([[0.0], np.cumsum(tau)])
        times = [
            starts[k] + tau[k] * self._tau_points[j] for k in range(N) for j in range(1, d + 1)
        ]
        nodes = starts[1:]
        x0 = np.clip(x, 0.0, None)
        total = float(starts[-1])
        try:
            if total <= 0:
                raise SimulationError("empty horizon", time_h=0.0)
            t_eval = np.unique(np.clip(np.concatenate([times, nodes]), 0.0, total))
            traj = simulate(
                self.model,
                x0.tolist(),
                total,
                inputs={"F": self.f_min, "T": temp, "ind": ind},
                p=dict(zip(self.model.param_names, p.tolist(), strict=True)),
                t_eval=t_eval,
            )
            tt, xx = traj.t, traj.x
            Xn = np.array([xx[np.argmin(np.abs(tt - t))] for t in nodes])
            Xc = np.array([xx[np.argmin(np.abs(tt - t))] for t in times])
        except (SimulationError, InputError):
            Xn = np.tile(x0, (N, 1))
            Xc = np.tile(x0, (N * d, 1))
        return np.concatenate(
            [
                (Xn / self._xs).reshape(-1),
                (Xc / self._xs).reshape(-1),
                np.full(N, self.f_min / self._fs),
                np.full(N, temp / self._ts),
                np.zeros(N),
            ]
        )

    def _precheck(self, x_est: Any, params: Any, t_h: float) -> str | None:
        """A cause that makes the problem infeasible or unsolvable before solving, or None."""
        try:
            x = self._state(x_est)
            p = self._params(params)
        except InputError as err:
            return f"bad controller input: {err}"
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(p))):
            return "the state estimate or the parameters contain NaN/inf"
        if not math.isfinite(t_h):
            return f"time t_h={t_h} is not finite"
        if self.t_end_h - t_h <= 1e-9:
            return f"the batch is over (t={t_h:g} h >= t_end={self.t_end_h:g} h)"
        if self.do_min >= 100.0:
            return (
                f"DO floor {self.do_min:g} % is at or above air saturation (100 %): no feed "
                "can keep it"
            )
        if x[5] >= self.v_max:
            return f"volume {x[5]:.4g} L is already at V_max={self.v_max:g} L"
        if x[5] + self.f_min * (self.t_end_h - t_h) > self.v_max + 1e-12:
            return (
                f"f_min={self.f_min:g} L/h until the end would overfill the vessel "
                f"(V={x[5]:.4g} L, V_max={self.v_max:g} L)"
            )
        return None

    def _fallback(self, x_est: Any, prev: float) -> float:
        """Safe feed: never more than the last applied feed or the last feasible plan's next
        move; ``f_min`` at full volume (module docstring)."""
        candidates = [prev]
        if self._plan is not None and self._plan.size > 1:
            candidates.append(float(self._plan[1]))
        F = min(candidates)
        try:
            volume = float(self._state(x_est)[5])
        except InputError:
            volume = math.nan
        if not math.isfinite(volume) or volume >= self.v_max or not math.isfinite(F):
            F = self.f_min
        return float(min(max(F, self.f_min), self.f_max))

    # -- conversions --------------------------------------------------------------------
    def _state(self, x_est: Any) -> Array:
        if isinstance(x_est, Mapping):
            missing = [s for s in self.model.states if s not in x_est]
            if missing:
                raise InputError("state estimate lacks states", found=missing)
            x = np.array([float(x_est[s]) for s in self.model.states])
        else:
            x = np.asarray(x_est, dtype=float).reshape(-1)
        if x.size != self._nx:
            raise InputError(
                "state estimate has the wrong length", expected=str(self._nx), found=x.size
            )
        return x

    def _params(self, params: Any) -> Array:
        if params is None or isinstance(params, Mapping):
            return self.model.param_vector(params)
        p = np.asarray(params, dtype=float).reshape(-1)
        if p.size != self._npar:
            raise InputError(
                "parameter vector has the wrong length", expected=str(self._npar), found=p.size
            )
        return p

    def summary(self) -> dict[str, float]:
        """Solve-time statistics (s) and counts over ``history_``."""
        times = np.array([h["solve_time_s"] for h in self.history_ if h["status"] != "not solved"])
        its = np.array([h["iterations"] for h in self.history_], dtype=float)
        return {
            "steps": float(len(self.history_)),
            "fallbacks": float(sum(bool(h["fallback"]) for h in self.history_)),
            "solve_time_median_s": float(np.median(times)) if times.size else math.nan,
            "solve_time_p95_s": float(np.percentile(times, 95)) if times.size else math.nan,
            "solve_time_max_s": float(times.max()) if times.size else math.nan,
            "iterations_median": float(np.median(its)) if its.size else math.nan,
        }
