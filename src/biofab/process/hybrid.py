"""Hybrid bioreactor models: mechanistic material balances, specific rates from neural networks.

A hybrid (semi-parametric) model keeps what is known for sure — the material balances with
dilution by the feed, the volume balance and the stoichiometry written in a
:class:`~biofab.process.models.ProcessModel` — and learns what is uncertain, the kinetics,
from batch data (Psichogios & Ungar 1992, AIChE J. 38:1499-1511; von Stosch et al. 2014,
Comput. Chem. Eng. 60:86-101)::

    dx/dt = rhs_mechanistic(x, u; r),   r_k = g_k(NN_k(φ(x, u)))   for k in ``learned``

``rhs_mechanistic`` is the twin's own :meth:`~ProcessModel.rhs` (the code is reused, not
rewritten): its rates named in ``learned`` are replaced by the network's outputs, made
positive by a softplus where the rate is an uptake or production rate. Features ``φ`` are
``log(1 + x / s)`` of the chosen states (``s`` a resolution per state, so both the glucose-
limited regime near 0 g/L and the batch phase at several g/L are resolved) and standardised
inputs; the log saturates slowly, which keeps extrapolation beyond the training range tame.

Training differentiates *through the ODE solution* of all batches at once (direct,
discretise-then-optimise). The solver is a fixed-step two-stage Rosenbrock W-method, ROS2
(Verwer, Spee, Blom & Hundsdorfer 1999, SIAM J. Sci. Comput. 20:1456-1480), with the
diagonal of the Jacobian by finite differences: glucose near 0 g/L is consumed with a time
constant of seconds (``Ks / (qS_max X)``), far too stiff for explicit RK4 at useful steps;
ROS2 is second order for any Jacobian approximation. ``solver='rk4'`` is available for
non-stiff models. Fast states that the offline data do not describe (dissolved oxygen, which
relaxes in seconds) are ``frozen`` at their initial value; their effect on the kinetics is
left to the network.

The loss is the mean squared error of the offline samples, each state divided by its
scale (the std of its samples over the training batches). The physics-informed option
(``physics_weight > 0``; Raissi, Perdikaris & Karniadakis 2019, J. Comput. Phys.
378:686-707) adds the residual of the balances on collocation points: the derivative of a
smoothing spline through each batch's samples against the model's right-hand side at the
spline values. It is also used alone for a short warm-up, a cheap pre-training that brings
the rates close before the first pass through the ODE.

``ensemble`` networks from different initialisations are trained side by side as one
batched network (weights of shape ``(k, fan_in, fan_out)``); :meth:`predict` returns the
mean and standard deviation over members (epistemic spread only).

Units follow the mechanistic model (E. coli: g/L, h, L/h). Runs on CUDA when available.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Self

import numpy as np
import pandas as pd
import torch
from numpy.typing import NDArray

from biofab.core.errors import InputError
from biofab.learn.torch_threads import torch_threads
from biofab.process.fit import Experiment
from biofab.process.models import EColiFedBatch, ProcessModel
from biofab.process.simulate import (
    Bolus,
    Constant,
    Event,
    FeedStart,
    FeedStop,
    Induction,
    SetInput,
)

__all__ = [
    "YIELD_RULES",
    "HybridModel",
    "OdeEnsemble",
    "ecoli_yield_rates",
    "input_schedule",
    "torch_backend",
]

Array = NDArray[np.float64]

# Rates that may change sign (growth with maintenance, lactate shift); all others are
# uptake or production rates and go through a softplus.
_SIGNED_RATES = frozenset({"mu", "qLac"})
_GAMMA_ROS2 = 1.0 + 1.0 / math.sqrt(2.0)


# ---------------------------------------------------------------------------------------
# Torch backend for ProcessModel.rhs
# ---------------------------------------------------------------------------------------


def _fmax(a: Any, b: Any) -> Any:
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return torch.maximum(a, b)
    if isinstance(a, torch.Tensor):
        return torch.clamp(a, min=float(b))
    if isinstance(b, torch.Tensor):
        return torch.clamp(b, min=float(a))
    return max(a, b)


def _fmin(a: Any, b: Any) -> Any:
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return torch.minimum(a, b)
    if isinstance(a, torch.Tensor):
        return torch.clamp(a, max=float(b))
    if isinstance(b, torch.Tensor):
        return torch.clamp(b, max=float(a))
    return min(a, b)


def _unary(tf: Callable[[torch.Tensor], torch.Tensor], mf: Callable[[float], float]) -> Any:
    return lambda a: tf(a) if isinstance(a, torch.Tensor) else mf(a)


torch_backend = SimpleNamespace(
    exp=_unary(torch.exp, math.exp),
    fmax=_fmax,
    fmin=_fmin,
    sqrt=_unary(torch.sqrt, math.sqrt),
    log=_unary(torch.log, math.log),
)
"""Backend (``xp``) that evaluates a :class:`ProcessModel`'s ``rates``/``rhs`` on tensors."""


def _override_class(cls: type[ProcessModel], derive: Any) -> type[ProcessModel]:
    """Subclass of ``cls`` whose ``rates`` returns the mechanistic rates updated by the
    tensors in ``self._learned`` (then by ``derive``, rates that follow from them through
    yields): the twin's own ``rhs`` then closes the balances."""

    def rates(self: Any, t: Any, x: Any, u: Any, p: Any, xp: Any = np) -> dict[str, Any]:
        r = cls.rates(self, t, x, u, p, xp)
        r.update(self._learned)
        if derive is not None and self._learned:
            r.update(derive(self, r, u, p, xp, frozenset(self._learned)))
        return r

    return type(f"Hybrid{cls.__name__}", (cls,), {"rates": rates, "_learned": {}})


def ecoli_yield_rates(
    model: ProcessModel, r: dict[str, Any], u: Any, p: Any, xp: Any, learned: frozenset[str]
) -> dict[str, Any]:
    """Rates of :class:`EColiFedBatch` that follow from learned uptake rates through its
    yields (the rates not in ``learned``)::

        qS_of <= qS,  qS_ox = qS - qS_of,  qA_prod = Yas qS_of,
        mu = (1 - burden ind) [Yxs (qS_ox - ms) + Yxs_of qS_of + Yxa qA_cons]

    so a hybrid that learns ``('qS', 'qS_of', 'qA_cons')`` keeps the stoichiometry of
    growth on glucose, overflow and acetate (Xu et al. 1999) and learns only the kinetics.
    """
    k = model._unpack(p, xp)
    out: dict[str, Any] = {}
    qS = r["qS"]
    qSof = xp.fmin(r["qS_of"], qS) if "qS_of" in learned else r["qS_of"]
    out["qS_of"] = qSof
    if "qS_ox" not in learned:
        out["qS_ox"] = qS - qSof
    if "qA_prod" not in learned:
        out["qA_prod"] = k.Yas * qSof
    if "mu" not in learned:
        out["mu"] = (1.0 - k.burden * u[2]) * (
            k.Yxs * (qS - qSof - k.ms) + k.Yxs_of * qSof + k.Yxa * r["qA_cons"]
        )
    return out


# Per model class: which rates follow from learned ones through yields.
YIELD_RULES: dict[type[ProcessModel], Any] = {EColiFedBatch: ecoli_yield_rates}


# ---------------------------------------------------------------------------------------
# Input schedules
# ---------------------------------------------------------------------------------------


def input_schedule(model: ProcessModel, inputs: Any, events: Sequence[Event], times: Any) -> Array:
    """Value of every model input at ``times`` (h), shape ``(n_times, n_inputs)``.

    Same recipe semantics as :func:`~biofab.process.simulate.simulate` (right-continuous;
    an event's profile runs on the time since the event). Boluses (state jumps) are not
    supported by the fixed-step solvers here.
    """
    specs: dict[str, tuple[Any, float]] = {
        n: (Constant(v), 0.0) for n, v in model.input_defaults.items()
    }
    if inputs is not None:
        given = inputs if isinstance(inputs, Mapping) else {"F": inputs}
        unknown = sorted(set(given) - set(model.inputs))
        if unknown:
            raise InputError(
                f"unknown input(s) {', '.join(unknown)} for {model.name}",
                expected=", ".join(model.inputs),
            )
        for n, v in given.items():
            specs[n] = (Constant(float(v)) if isinstance(v, int | float) else v, 0.0)
    changes: list[tuple[float, str, Any]] = []
    for ev in sorted(events, key=lambda e: e.t):
        if isinstance(ev, Bolus):
            raise InputError("hybrid models do not support boluses (state jumps) yet")
        if isinstance(ev, FeedStart):
            changes.append((ev.t, ev.input, ev.profile))
        elif isinstance(ev, FeedStop):
            changes.append((ev.t, ev.input, 0.0))
        elif isinstance(ev, Induction):
            changes.append((ev.t, ev.input, ev.level))
        elif isinstance(ev, SetInput):
            changes.append((ev.t, ev.name, ev.value))
        else:
            raise InputError("unsupported event for a hybrid model", found=ev)
    for _, name, _ in changes:
        if name not in model.inputs:
            raise InputError(f"event sets unknown input '{name}'", expected=", ".join(model.inputs))
    out = np.empty((len(times), len(model.inputs)))
    for k, t in enumerate(times):
        current = dict(specs)
        for te, name, value in changes:
            if te <= t + 1e-12:
                prof = Constant(float(value)) if isinstance(value, int | float) else value
                current[name] = (prof, te)
        for j, name in enumerate(model.inputs):
            prof, origin = current[name]
            out[k, j] = float(prof(t - origin))
    if not np.all(np.isfinite(out)):
        raise InputError("the recipe gives non-finite inputs")
    return out


# ---------------------------------------------------------------------------------------
# Prepared batches
# ---------------------------------------------------------------------------------------


@dataclass
class _Prepared:
    x0: Array  # (B, n)
    u: Array  # (3 n_steps + 2, B, n_in): half-step grid (left limits at step ends), then
    # the right-continuous values at step starts
    obs_b: Array  # flat observation arrays (int / float)
    obs_i: Array
    obs_k: Array
    obs_w: Array
    obs_y: Array
    n_steps: int
    frames: list[pd.DataFrame]


def _as_experiments(batches: Any) -> list[Experiment]:
    if isinstance(batches, Experiment):
        return [batches]
    if (
        isinstance(batches, Sequence)
        and batches
        and all(isinstance(b, Experiment) for b in batches)
    ):
        return list(batches)
    raise InputError(
        "batches must be a non-empty list of biofab.process.fit.Experiment",
        found=type(batches).__name__,
    )


# ---------------------------------------------------------------------------------------
# Base: ensemble of networks inside a fixed-step ODE solver
# ---------------------------------------------------------------------------------------


class OdeEnsemble:
    """Shared machinery of :class:`HybridModel` and the pure neural ODE baseline.

    Subclasses set ``self.model`` (a :class:`ProcessModel` giving states, inputs, units,
    parameters) and implement :meth:`_n_outputs`, :meth:`_feature_names` and
    :meth:`_derivative` (tensor right-hand side from network outputs).
    """

    model: ProcessModel

    def __init__(
        self,
        *,
        hidden: Sequence[int] = (32, 32),
        ensemble: int = 5,
        epochs: int = 300,
        lr: float = 1e-2,
        physics_weight: float = 0.0,
        warmup: int = 200,
        dt: float = 0.1,
        solver: str = "ros2",
        frozen: Sequence[str] | None = None,
        features: Sequence[str] | None = None,
        weight_decay: float = 1e-5,
        device: str | torch.device | None = None,
        seed: int = 0,
        n_jobs: int | None = 1,
        verbose: bool = False,
    ) -> None:
        self.hidden = tuple(int(h) for h in hidden)
        self.ensemble = int(ensemble)
        self.epochs = int(epochs)
        self.lr = float(lr)
        self.physics_weight = float(physics_weight)
        self.warmup = int(warmup)
        self.dt = float(dt)
        self.solver = solver
        self.frozen = frozen
        self.features = features
        self.weight_decay = float(weight_decay)
        self.device = device
        self.seed = int(seed)
        self.n_jobs = n_jobs
        self.verbose = verbose

    # -- to implement ----------------------------------------------------------------------
    def _n_outputs(self) -> int:
        raise NotImplementedError

    def _default_features(self) -> list[str]:
        raise NotImplementedError

    def _derivative(self, x: torch.Tensor, u: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """``dx/dt`` of shape ``x.shape`` from states ``(E, N, n)``, inputs ``(E|1, N, m)``
        and network outputs ``(E, N, n_out)``."""
        raise NotImplementedError

    def _setup(self, prep: _Prepared) -> None:
        """Hook before training (scales of the outputs)."""

    # -- checks and preparation -------------------------------------------------------------
    def _check_params(self) -> None:
        if self.ensemble < 1 or self.epochs < 0 or self.warmup < 0:
            raise InputError("ensemble must be >= 1 and epochs, warmup >= 0")
        if not (self.dt > 0 and math.isfinite(self.dt)):
            raise InputError("dt (h) must be > 0", found=self.dt)
        if self.solver not in ("ros2", "rk4"):
            raise InputError("unknown solver", expected="ros2 or rk4", found=self.solver)
        if not self.hidden or min(self.hidden) < 1:
            raise InputError("hidden must list positive layer widths", found=self.hidden)
        if self.physics_weight < 0 or self.lr <= 0:
            raise InputError("physics_weight must be >= 0 and lr > 0")

    def _frozen_names(self) -> list[str]:
        names = (
            list(self.frozen)
            if self.frozen is not None
            else (["DO"] if "DO" in self.model.states else [])
        )
        bad = [n for n in names if n not in self.model.states]
        if bad:
            raise InputError(f"frozen states {bad} are not states of {self.model.name}")
        return names

    def _prepare(self, exps: list[Experiment], t_end: float | None = None) -> _Prepared:
        m = self.model
        ends = [float(e.t_end or (e.data["time_h"].max() if len(e.data) else 0.0)) for e in exps]
        horizon = max(ends) if t_end is None else t_end
        n_steps = max(1, math.ceil(horizon / self.dt - 1e-9))
        half = np.arange(2 * n_steps + 1) * (self.dt / 2)
        x0 = np.stack([m.state_vector(e.x0) for e in exps])
        # Stages that end a step see the input's left limit there, so a feed that starts
        # on a grid time is not smeared into the step before it.
        half = np.where(np.arange(half.size) % 2 == 0, np.maximum(half - 1e-9, 0.0), half)
        half[0] = 0.0
        u = np.stack([input_schedule(m, e.inputs, e.events, half) for e in exps], axis=1)
        start = np.arange(n_steps + 1) * self.dt
        u_start = np.stack([input_schedule(m, e.inputs, e.events, start) for e in exps], axis=1)
        u = np.concatenate([u, u_start])
        ob: list[int] = []
        oi: list[int] = []
        ok: list[int] = []
        ow: list[float] = []
        oy: list[float] = []
        frames = []
        for b, e in enumerate(exps):
            d = e.data
            if "time_h" not in d.columns:
                raise InputError(
                    f"batch '{e.name}' has no time_h column", found=", ".join(map(str, d.columns))
                )
            frames.append(d)
            t = d["time_h"].to_numpy(dtype=float)
            if np.any(~np.isfinite(t)) or np.any(t < 0):
                raise InputError(f"batch '{e.name}' has bad sample times (h)")
            for i, s in enumerate(m.states):
                if s not in d.columns:
                    continue
                y = pd.to_numeric(d[s], errors="coerce").to_numpy(dtype=float)
                for tj, yj in zip(t, y, strict=True):
                    if not math.isfinite(yj):
                        continue
                    pos = min(tj / self.dt, n_steps - 1e-9)
                    k = math.floor(pos)
                    ob.append(b)
                    oi.append(i)
                    ok.append(k)
                    ow.append(pos - k)
                    oy.append(yj)
        return _Prepared(
            x0,
            u,
            np.array(ob, dtype=np.int64),
            np.array(oi, dtype=np.int64),
            np.array(ok, dtype=np.int64),
            np.array(ow),
            np.array(oy),
            n_steps,
            frames,
        )

    def _check_data(self, exps: list[Experiment], prep: _Prepared) -> None:
        m = self.model
        for e in exps:
            measured = [c for c in e.data.columns if c in m.states]
            if not measured:
                raise InputError(
                    f"batch '{e.name}' has no offline samples of any state of {m.name}",
                    expected=", ".join(m.states),
                    found=", ".join(map(str, e.data.columns)),
                )
        if prep.obs_y.size == 0:
            raise InputError("the batches hold no finite offline samples")
        if np.any(prep.obs_y < 0):
            raise InputError("offline samples must be >= 0 (concentrations, volume)")

    # -- network -----------------------------------------------------------------------------
    def _init_net(self, d_in: int, d_out: int, gen: torch.Generator) -> list[torch.Tensor]:
        sizes = (d_in, *self.hidden, d_out)
        params = []
        for a, b in itertools.pairwise(sizes):
            w = torch.randn(self.ensemble, a, b, generator=gen, dtype=torch.float64)
            w = w * math.sqrt(1.0 / a)
            if b == d_out:
                w = w * 0.1  # start near the output bias: smooth, small rates
            params.append(w.to(self.device_).requires_grad_())
            params.append(
                torch.zeros(
                    self.ensemble, 1, b, dtype=torch.float64, device=self.device_
                ).requires_grad_()
            )
        return params

    def _net(self, h: torch.Tensor) -> torch.Tensor:
        ps = self.params_
        n_layers = len(ps) // 2
        for j in range(n_layers):
            h = torch.baddbmm(ps[2 * j + 1], h, ps[2 * j])
            if j < n_layers - 1:
                h = torch.tanh(h)
        return h

    def _phi(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        cols: list[torch.Tensor] = []
        for kind, j in self._feat_index:
            if kind == "x":
                v = torch.log1p(torch.clamp(x[..., j], min=0.0) / self._feat_res[len(cols)])
            else:
                v = u[..., j].expand(x.shape[0], -1)
            cols.append(v)
        f = torch.stack(cols, dim=-1)
        return (f - self._feat_mu) / self._feat_sd

    def _f(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        out = self._net(self._phi(x, u))
        dx = self._derivative(x, u, out)
        return dx * self._active

    # -- solver ------------------------------------------------------------------------------
    def _integrate(self, x0: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """Trajectory on the step grid, shape ``(n_steps + 1, E, B, n)``; ``u`` is
        ``(n_half, B, m)`` on the half-step grid."""
        h = self.dt
        x = x0.unsqueeze(0).expand(self.ensemble, -1, -1)
        out = [x]
        n_steps = (u.shape[0] - 2) // 3
        cap = self._cap
        for k in range(n_steps):
            u0 = u[2 * n_steps + 1 + k][None]  # right-continuous value at t_k
            um, u1 = u[2 * k + 1][None], u[2 * k + 2][None]
            if self.solver == "rk4":
                k1 = self._f(x, u0)
                k2 = self._f(x + 0.5 * h * k1, um)
                k3 = self._f(x + 0.5 * h * k2, um)
                k4 = self._f(x + h * k3, u1)
                x = x + h / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
            else:
                w = 1.0 - _GAMMA_ROS2 * h * self._jac_diag(x, u0)
                f0 = self._f(x, u0)
                k1 = f0 / w
                k2 = (self._f(x + h * k1, u1) - 2.0 * k1) / w
                x = x + h * (1.5 * k1 + 0.5 * k2)
            # A concentration cannot be negative; the cap stops a bad trial from overflowing.
            x = torch.minimum(torch.clamp(x, min=0.0), cap)
            out.append(x)
        return torch.stack(out)

    def _jac_diag(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """Diagonal of ``∂f/∂x`` by forward differences, clipped to <= 0 (only decaying
        modes are treated implicitly, so ``1 - γ h J_ii >= 1``)."""
        n = x.shape[-1]
        with torch.no_grad():
            eps = self._fd_eps
            xs = x.unsqueeze(0).repeat(n + 1, 1, 1, 1)  # (n+1, E, B, n)
            idx = torch.arange(n, device=x.device)
            xs[idx + 1, :, :, idx] += eps[idx].view(n, 1, 1)
            E, B = x.shape[0], x.shape[1]
            flat = xs.permute(1, 0, 2, 3).reshape(E, (n + 1) * B, n)
            uf = u.expand(E, -1, -1).repeat(1, n + 1, 1)
            f = self._f(flat, uf).reshape(E, n + 1, B, n).permute(1, 0, 2, 3)
            jd = (f[idx + 1, :, :, idx] - f[0][..., idx].permute(2, 0, 1)) / eps.view(n, 1, 1)
            return torch.clamp(jd.permute(1, 2, 0), max=0.0)

    # -- training ----------------------------------------------------------------------------
    def fit(self, batches: Experiment | Sequence[Experiment]) -> Self:
        """Train on the offline samples of ``batches`` (each with ``x0``, recipe, ``data``).

        Returns ``self``; sets ``params_``, ``state_scale_``, ``loss_history_``.
        """
        self._check_params()
        exps = _as_experiments(batches)
        self.device_ = _resolve_device(self.device)
        frozen = self._frozen_names()
        m = self.model
        prep = self._prepare(exps)
        self._check_data(exps, prep)
        n = len(m.states)
        # Per-state scale: spread of the samples (floored so a near-constant state counts).
        scale = np.ones(n)
        for i in range(n):
            y = prep.obs_y[prep.obs_i == i]
            if y.size:
                scale[i] = max(float(np.std(y)), 0.05 * float(np.max(np.abs(y))), 1e-6)
            else:
                scale[i] = max(float(np.max(np.abs(prep.x0[:, i]))), 1e-3)
        self.state_scale_ = dict(zip(m.states, scale, strict=True))
        self.frozen_ = frozen
        dev, dt64 = self.device_, torch.float64
        active = [0.0 if s in frozen else 1.0 for s in m.states]
        self._active = torch.tensor(active, dtype=dt64, device=dev)
        self._scale_t = torch.tensor(scale, dtype=dt64, device=dev)
        self._fd_eps = torch.tensor(1e-5 * scale, dtype=dt64, device=dev)
        hi = np.maximum(np.nanmax(np.abs(prep.x0), axis=0), scale)
        self._cap = torch.tensor(1e3 * hi, dtype=dt64, device=dev)
        self._set_features(prep)
        self._setup(prep)
        gen = torch.Generator().manual_seed(self.seed)
        self.params_ = self._init_net(len(self._feat_index), self._n_outputs(), gen)
        t_obs = self._obs_tensors(prep)
        x0 = torch.tensor(prep.x0, dtype=dt64, device=dev)
        u = torch.tensor(prep.u, dtype=dt64, device=dev)
        colloc = self._collocation(exps, prep) if self.physics_weight > 0 else None
        history: list[float] = []
        with torch_threads(self.n_jobs):
            if colloc is not None and self.warmup > 0:
                self._train(lambda: self._physics_loss(colloc), self.warmup, history)
            if self.epochs > 0:

                def loss_fn() -> torch.Tensor:
                    loss = self._data_loss(self._integrate(x0, u), t_obs)
                    if colloc is not None:
                        loss = loss + self.physics_weight * self._physics_loss(colloc)
                    return loss

                self._train(loss_fn, self.epochs, history)
        self.loss_history_ = history
        self.n_batches_ = len(exps)
        return self

    def _train(self, loss_fn: Callable[[], torch.Tensor], steps: int, hist: list[float]) -> None:
        opt = torch.optim.Adam(self.params_, lr=self.lr, weight_decay=self.weight_decay)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(steps, 1))
        best = math.inf
        best_params = [p.detach().clone() for p in self.params_]
        for step in range(steps):
            opt.zero_grad()
            loss = loss_fn()
            value = float(loss.detach())
            if not math.isfinite(value):
                # A trial that blew up: go back to the best weights and take smaller steps.
                with torch.no_grad():
                    for p, q in zip(self.params_, best_params, strict=True):
                        p.copy_(q)
                for g in opt.param_groups:
                    g["lr"] *= 0.5
                continue
            if value < best:
                best = value
                best_params = [p.detach().clone() for p in self.params_]
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.params_, 10.0 * self.ensemble)
            opt.step()
            sched.step()
            hist.append(value / self.ensemble)
            if self.verbose and step % 50 == 0:
                print(f"  step {step}: loss {value / self.ensemble:.4g}")
        with torch.no_grad():
            # Keep the final weights unless they are worse than the best seen (noisy end).
            final = float(loss_fn().detach()) if steps else math.inf
            if not math.isfinite(final) or final > best:
                for p, q in zip(self.params_, best_params, strict=True):
                    p.copy_(q)

    def _set_features(self, prep: _Prepared) -> None:
        m = self.model
        names = list(self.features) if self.features is not None else self._default_features()
        unknown = [f for f in names if f not in m.states and f not in m.inputs]
        if unknown or not names:
            raise InputError(
                f"features must name states or inputs of {m.name}",
                expected=", ".join((*m.states, *m.inputs)),
                found=unknown or names,
            )
        self.features_ = names
        index: list[tuple[str, int]] = []
        res: list[float] = []
        cols: list[Array] = []
        for name in names:
            if name in m.states:
                i = m.states.index(name)
                y = np.concatenate([prep.obs_y[prep.obs_i == i], prep.x0[:, i]])
                r = max(0.01 * float(np.max(y)), 1e-3)
                index.append(("x", i))
                res.append(r)
                cols.append(np.log1p(np.clip(y, 0, None) / r))
            else:
                j = m.inputs.index(name)
                index.append(("u", j))
                res.append(1.0)
                cols.append(prep.u[..., j].ravel())
        self._feat_index = index
        self._feat_res = res
        mu = [float(np.mean(c)) for c in cols]
        sd = [max(float(np.std(c)), 1e-6) for c in cols]
        self._feat_mu = torch.tensor(mu, dtype=torch.float64, device=self.device_)
        self._feat_sd = torch.tensor(sd, dtype=torch.float64, device=self.device_)

    def _obs_tensors(self, prep: _Prepared) -> dict[str, torch.Tensor]:
        def t(a: Array, dtype: torch.dtype = torch.float64) -> torch.Tensor:
            return torch.as_tensor(a, dtype=dtype, device=self.device_)

        return {
            "b": t(prep.obs_b, torch.long),
            "i": t(prep.obs_i, torch.long),
            "k": t(prep.obs_k, torch.long),
            "w": t(prep.obs_w),
            "y": t(prep.obs_y),
            "s": self._scale_t[t(prep.obs_i, torch.long)],
        }

    def _data_loss(self, traj: torch.Tensor, o: dict[str, torch.Tensor]) -> torch.Tensor:
        lo = traj[o["k"], :, o["b"], o["i"]]  # (n_obs, E)
        hi = traj[o["k"] + 1, :, o["b"], o["i"]]
        pred = lo + o["w"][:, None] * (hi - lo)
        r = (pred - o["y"][:, None]) / o["s"][:, None]
        return (r**2).mean(dim=0).sum()  # mean per member, summed: members train independently

    # -- physics-informed term --------------------------------------------------------------
    def _collocation(self, exps: list[Experiment], prep: _Prepared) -> dict[str, torch.Tensor]:
        """Collocation points every ``dt`` inside each batch's sampled window: states from
        smoothing splines (Woltring's GCV choice of the penalty, scipy's
        ``make_smoothing_spline``) where a state is sampled, else from the untrained model's
        trajectory (volume, frozen states), and the splines' derivatives."""
        from scipy.interpolate import make_smoothing_spline

        m = self.model
        dev = self.device_
        x0 = torch.tensor(prep.x0, dtype=torch.float64, device=dev)
        u = torch.tensor(prep.u, dtype=torch.float64, device=dev)
        with torch.no_grad():
            base = self._integrate(x0, u)[:, 0].cpu().numpy()  # (T, B, n)
        xs, us, ds, ms = [], [], [], []
        for b, e in enumerate(exps):
            d = e.data.sort_values("time_h")
            t_all = d["time_h"].to_numpy(dtype=float)
            k_end = min(int(np.floor(np.nanmax(t_all) / self.dt)), prep.n_steps)
            ks = np.arange(0, k_end + 1)
            tc = ks * self.dt
            x = base[ks, b, :].copy()
            dx = np.zeros_like(x)
            mask = np.zeros_like(x)
            for i, s in enumerate(m.states):
                if s not in d.columns or s in self.frozen_ or s == m.volume_state:
                    continue
                y = pd.to_numeric(d[s], errors="coerce").to_numpy(dtype=float)
                ok = np.isfinite(y)
                tt, yy = t_all[ok], y[ok]
                tt, first = np.unique(tt, return_index=True)
                yy = yy[first]
                if tt.size < 5:
                    continue
                spl = make_smoothing_spline(tt, yy)
                inside = (tc >= tt[0]) & (tc <= tt[-1])
                x[inside, i] = np.clip(spl(tc[inside]), 0.0, None)
                dx[inside, i] = spl.derivative()(tc[inside])
                mask[inside, i] = 1.0
            xs.append(x)
            ds.append(dx)
            ms.append(mask)
            us.append(prep.u[2 * prep.n_steps + 1 + ks, b, :])
        t = lambda a: torch.tensor(np.concatenate(a), dtype=torch.float64, device=dev)  # noqa: E731
        return {"x": t(xs), "u": t(us), "dx": t(ds), "m": t(ms)}

    def _physics_loss(self, c: dict[str, torch.Tensor]) -> torch.Tensor:
        x = c["x"].unsqueeze(0).expand(self.ensemble, -1, -1)
        f = self._f(x, c["u"].unsqueeze(0))
        r = (f - c["dx"]) / self._scale_t * c["m"]
        return (r**2).sum(dim=(1, 2)).div(c["m"].sum().clamp(min=1.0)).sum()

    def balance_residual(self, batches: Experiment | Sequence[Experiment]) -> float:
        """Mean squared residual of the balances on the collocation points of ``batches``
        (spline derivative minus model right-hand side, per state scale; averaged over
        members and points). The physics-informed term drives it down."""
        self._check_fitted()
        exps = _as_experiments(batches)
        prep = self._prepare(exps)
        self._check_data(exps, prep)
        with torch.no_grad(), torch_threads(self.n_jobs):
            c = self._collocation(exps, prep)
            return float(self._physics_loss(c)) / self.ensemble

    # -- prediction -------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "params_"):
            raise InputError(f"{type(self).__name__} is not fitted; call fit(batches) first")

    def predict(
        self,
        x0: Mapping[str, float] | Sequence[float],
        inputs: Any = None,
        t: Any = None,
        events: Sequence[Event] = (),
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Mean and std over the ensemble of the states at times ``t`` (h).

        ``x0`` and the recipe (``inputs``, ``events``) as for
        :func:`~biofab.process.simulate.simulate`. Returns two frames with ``time_h`` and
        one column per state (the model's units).
        """
        self._check_fitted()
        times = np.linspace(0, 24, 97) if t is None else np.asarray(t, dtype=float).ravel()
        if times.size == 0 or np.any(~np.isfinite(times)) or np.any(times < 0):
            raise InputError("prediction times must be finite and >= 0 (h)")
        x0_map = dict(zip(self.model.states, self.model.state_vector(x0), strict=True))
        exp = Experiment(pd.DataFrame({"time_h": times}), x0_map, inputs, events)
        prep = self._prepare([exp], t_end=float(times.max()))
        traj = self._run(prep)[:, :, 0, :]  # (T, E, n)
        pos = np.minimum(times / self.dt, prep.n_steps - 1e-9)
        k = np.floor(pos).astype(int)
        w = (pos - k)[:, None, None]
        vals = traj[k] + w * (traj[k + 1] - traj[k])  # (n_t, E, n)
        mean = pd.DataFrame(vals.mean(axis=1), columns=list(self.model.states))
        std = pd.DataFrame(vals.std(axis=1), columns=list(self.model.states))
        mean.insert(0, "time_h", times)
        std.insert(0, "time_h", times)
        return mean, std

    def _run(self, prep: _Prepared) -> Array:
        dev = self.device_
        with torch.no_grad(), torch_threads(self.n_jobs):
            x0 = torch.tensor(prep.x0, dtype=torch.float64, device=dev)
            u = torch.tensor(prep.u, dtype=torch.float64, device=dev)
            return self._integrate(x0, u).cpu().numpy()

    def rmse(self, batches: Experiment | Sequence[Experiment]) -> dict[str, float]:
        """RMSE of the ensemble mean against the offline samples, per sampled state."""
        exps = _as_experiments(batches)
        errs: dict[str, list[float]] = {}
        for e in exps:
            mean, _ = self.predict(e.x0, e.inputs, e.data["time_h"].to_numpy(float), e.events)
            for s in self.model.states:
                if s in e.data.columns:
                    diff = mean[s].to_numpy() - pd.to_numeric(e.data[s]).to_numpy(float)
                    errs.setdefault(s, []).extend(diff[np.isfinite(diff)].tolist())
        return {s: float(np.sqrt(np.mean(np.square(v)))) for s, v in errs.items() if v}


def _resolve_device(device: str | torch.device | None) -> torch.device:
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError("device 'cuda' asked for but torch sees no CUDA device")
    return dev


# ---------------------------------------------------------------------------------------
# Hybrid model
# ---------------------------------------------------------------------------------------


class HybridModel(OdeEnsemble):
    """Mechanistic balances of ``mechanistic`` with the specific rates ``learned`` from an
    ensemble of MLPs (see the module docstring).

    Parameters
    ----------
    mechanistic:
        The twin whose :meth:`~ProcessModel.rhs` gives the balances (and whose other
        rates and parameters, e.g. the feed concentration ``Sf``, stay as they are).
    learned:
        Names of entries of ``mechanistic.rates(...)`` replaced by the networks (E. coli:
        ``qS``, ``qS_of``, ``qA_cons``, ``qA_prod``, ``qP`` g/g/h, ``mu`` 1/h). ``mu`` and
        ``qLac`` are signed; the others positive (softplus).
    yields:
        Derive the rates that are not learned from the learned ones through the model's
        yields where a rule exists (:data:`YIELD_RULES`; E. coli: :func:`ecoli_yield_rates`),
        so growth follows from uptake by stoichiometry; False keeps them mechanistic.
    hidden, ensemble:
        Hidden layer widths (tanh) and number of members.
    physics_weight, warmup:
        Weight of the balance residual on collocation points (0 = off) and the number of
        warm-up steps on that residual alone before training through the ODE.
    epochs, lr, weight_decay:
        Adam steps through the ODE (full batch, cosine-decayed learning rate) and L2 penalty.
    dt, solver:
        Fixed step (h) and ``'ros2'`` (stiff, default) or ``'rk4'``.
    frozen:
        States held at their initial value (default ``('DO',)`` where the model has it).
    features:
        States/inputs the networks see (default: concentration states of
        ``mechanistic.diluted`` and inputs other than ``F``).
    device, seed, n_jobs:
        ``'cpu'``, ``'cuda'`` or None (CUDA when available); seed of the initialisation;
        torch CPU threads while training (1 by default: small tensors).

    Attributes
    ----------
    params_: network weights; state_scale_: per-state loss scale (state units);
    rate_scale_: per learned rate (its unit); loss_history_; features_; frozen_.
    """

    def __init__(
        self,
        mechanistic: ProcessModel | None = None,
        learned: Sequence[str] = ("qS", "qS_of", "qA_cons"),
        *,
        yields: bool = True,
        rate_scale: Mapping[str, float] | None = None,
        hidden: Sequence[int] = (32, 32),
        ensemble: int = 5,
        physics_weight: float = 1.0,
        epochs: int = 300,
        lr: float = 1e-2,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            hidden=hidden,
            ensemble=ensemble,
            physics_weight=physics_weight,
            epochs=epochs,
            lr=lr,
            **kwargs,
        )
        self.mechanistic = mechanistic if mechanistic is not None else EColiFedBatch()
        self.learned = tuple(learned)
        self.yields = bool(yields)
        self.rate_scale = rate_scale
        self.model = self.mechanistic

    _proxy: Any

    def _n_outputs(self) -> int:
        return len(self.learned)

    def _default_features(self) -> list[str]:
        m = self.model
        return [s for s in m.diluted] + [i for i in m.inputs if i != "F"]

    def _setup(self, prep: _Prepared) -> None:
        m = self.mechanistic
        if not self.learned:
            raise InputError("learned must name at least one rate")
        derive = YIELD_RULES.get(type(m)) if self.yields else None
        proxy: Any = _override_class(type(m), derive)(params=m.params)
        self._proxy = proxy
        self._p = m.param_vector().tolist()
        x = [float(v) for v in prep.x0[0]]
        uu = [float(v) for v in prep.u[0, 0]]
        names = m.rates(0.0, x, uu, self._p, xp=np)
        unknown = [r for r in self.learned if r not in names]
        if unknown:
            raise InputError(
                f"learned rates {unknown} are not rates of {m.name}",
                expected=", ".join(k for k in names if k != "F"),
            )
        # Which states each learned rate moves (perturb it and look at the balances): each
        # needs offline samples, or nothing can teach the network that rate.
        xt = torch.tensor(prep.x0[:1], dtype=torch.float64)
        ut = torch.tensor(prep.u[0, :1], dtype=torch.float64)
        sampled = {m.states[i] for i in np.unique(prep.obs_i)}
        scales = dict(self.rate_scale or {})
        self.rate_scale_: dict[str, float] = {}
        for r in self.learned:
            proxy._learned = {q: torch.ones(1, dtype=torch.float64) for q in self.learned}
            f0 = self._balances(xt, ut)
            proxy._learned[r] = torch.full((1,), 0.5, dtype=torch.float64)
            f1 = self._balances(xt, ut)
            moved = {
                s
                for j, s in enumerate(m.states)
                if float((f1[..., j] - f0[..., j]).abs().max()) > 0 and s not in self.frozen_
            }
            if not moved & sampled:
                raise InputError(
                    f"learned rate '{r}' changes {sorted(moved) or 'no state'} but the batches "
                    "hold no offline samples of them",
                    expected=", ".join(sorted(moved)),
                    found=", ".join(sorted(sampled)),
                )
            self.rate_scale_[r] = float(scales.get(r, _default_rate_scale(m, prep, r)))
        proxy._learned = {}
        self._rs = torch.tensor(
            [self.rate_scale_[r] for r in self.learned], dtype=torch.float64, device=self.device_
        )
        self._signed = torch.tensor(
            [r in _SIGNED_RATES for r in self.learned], dtype=torch.bool, device=self.device_
        )

    def _balances(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        n, k = x.shape[-1], u.shape[-1]
        xs = [x[..., i] for i in range(n)]
        us = [u[..., j].expand_as(xs[0]) for j in range(k)]
        dx = self._proxy.rhs(0.0, xs, us, self._p, xp=torch_backend)
        return torch.stack([d if isinstance(d, torch.Tensor) else xs[0] * 0 + d for d in dx], -1)

    def _derivative(self, x: torch.Tensor, u: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        rates = torch.where(self._signed, out, torch.nn.functional.softplus(out)) * self._rs
        self._proxy._learned = {r: rates[..., j] for j, r in enumerate(self.learned)}
        try:
            return self._balances(x, u)
        finally:
            self._proxy._learned = {}

    def learned_rates(
        self, states: Mapping[str, Any], inputs: Mapping[str, Any] | None = None
    ) -> pd.DataFrame:
        """Ensemble-mean learned rates at given states (arrays by state name; missing
        states at 0, inputs at the model defaults)."""
        self._check_fitted()
        m = self.model
        n = len(np.atleast_1d(next(iter(states.values()))))
        x = np.zeros((n, len(m.states)))
        for i, s in enumerate(m.states):
            if s in states:
                x[:, i] = np.asarray(states[s], dtype=float)
        uvec = m.input_vector(inputs)
        with torch.no_grad():
            xt = torch.tensor(x, dtype=torch.float64, device=self.device_)[None].expand(
                self.ensemble, -1, -1
            )
            ut = torch.tensor(uvec, dtype=torch.float64, device=self.device_).expand(1, n, -1)
            out = self._net(self._phi(xt, ut))
            rates = torch.where(self._signed, out, torch.nn.functional.softplus(out)) * self._rs
            vals = rates.mean(0).cpu().numpy()
        return pd.DataFrame(vals, columns=list(self.learned))

    def __repr__(self) -> str:
        return (
            f"HybridModel({type(self.mechanistic).__name__}, learned={self.learned}, "
            f"hidden={self.hidden}, ensemble={self.ensemble}, "
            f"physics_weight={self.physics_weight}, device={self.device!r})"
        )


def _default_rate_scale(m: ProcessModel, prep: _Prepared, rate: str) -> float:
    """Typical magnitude of a rate: the mechanistic model's largest value over the initial
    states (floored at 0.05 in its unit), so the network's outputs start at order one."""
    x = [prep.x0[:, i] for i in range(prep.x0.shape[1])]
    u = [prep.u[-1, :, j] for j in range(prep.u.shape[2])]
    try:
        r = np.asarray(m.rates(0.0, x, u, m.param_vector(), xp=np)[rate], dtype=float)
        value = float(np.nanmax(np.abs(r)))
    except (ValueError, FloatingPointError, ZeroDivisionError):
        value = 0.0
    return max(value if math.isfinite(value) else 0.0, 0.05)
