"""Hybrid bioreactor models: mechanistic material balances, specific rates from neural networks.

A hybrid (semi-parametric) model keeps what is known for sure — the material balances with
dilution by the feed, the volume balance and the stoichiometry written in a
:class:`~biofab.process.models.ProcessModel` — and learns what is uncertain, the kinetics,
from batch data (Psichogios & Ungar 1992, AIChE J. 38:1499-1511; von Stosch et al. 2014,
Comput. Chem. Eng. 60:86-101)::

    dx/dt = rhs_mechanistic(x, u; r),   r_k = g_k(NN_k(φ(x, u)))   for k in ``learned``

``rhs_mechanistic`` is the twin's own :meth:`~ProcessModel.rhs` (the code is reused, not
rewritten). Two structures: *residual* (parallel, the default) corrects the rates of a
(fitted) base model, ``r_k = r_k,base · exp(B tanh(NN_k / B))`` or ``r_k,base + s NN_k``
where the base lacks the rate, with the last layer at zero so training starts from the base
model; *replace* (serial) makes the rates the network's outputs, positive by a softplus
where the rate is an uptake or production rate. Features ``φ`` are
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
relaxes in seconds) are either ``frozen`` at their initial value, their effect on the kinetics
left to the network, or ``quasi_steady``: at every evaluation of the right-hand side the
state is put at the root of its own balance, the other states and the (learned) rates
given (DO: ``kLa (100 - DO) = 100 OUR(DO) / C_O2_sat``, the oxygen transfer-uptake balance
whose time constant ``1/kLa`` is seconds; Bodenstein's quasi-steady-state approximation).
The mechanistic model's oxygen limitation of respiration then caps oxidation wherever the
transfer cannot keep up — the overflow to acetate at high feed that the training batches
may never show — while the network corrects only the kinetics the mechanism lacks.

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
from biofab.core.progress import progress
from biofab.learn.torch_threads import torch_threads
from biofab.process.fit import Experiment
from biofab.process.models import EColiFedBatch, ProcessModel, _ctmi, ecoli_respiration
from biofab.process.simulate import Bolus, Event, input_schedule

__all__ = [
    "CAPACITY",
    "CAPACITY_RULES",
    "HYBRID_PRESETS",
    "YIELD_RULES",
    "HybridModel",
    "OdeEnsemble",
    "ecoli_capacity_factor",
    "ecoli_yield_rates",
    "torch_backend",
]

Array = NDArray[np.float64]

# Rates that may change sign (growth with maintenance, lactate shift); all others are
# uptake or production rates and go through a softplus.
_SIGNED_RATES = frozenset({"mu", "qLac"})
_GAMMA_ROS2 = 1.0 + 1.0 / math.sqrt(2.0)
# Grid points of a quasi-steady state over its 8 decades (ratio 1.45 between points).
_QS_POINTS = 50
_QS_REFINE = (16, 16)  # points of the two finer grids inside the bracketing cell


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


def _override_class(
    cls: type[ProcessModel], derive: Any, capacity: Any = None
) -> type[ProcessModel]:
    """Subclass of ``cls`` whose ``rates`` returns the mechanistic rates updated by the
    learned ones — the tensors in ``self._learned``, or ``self._transform(r)`` of the
    mechanistic rates ``r`` (residual structure) — then by ``derive``, the rates that follow
    from them through yields: the twin's own ``rhs`` then closes the balances. With
    ``capacity`` (a :data:`CAPACITY_RULES` entry) and ``self._cap_start`` set, the rates
    also hold the start value of the learned respiratory capacity, ``'capacity'``."""

    def rates(self: Any, t: Any, x: Any, u: Any, p: Any, xp: Any = np) -> dict[str, Any]:
        r = cls.rates(self, t, x, u, p, xp)
        if capacity is not None and self._cap_start is not None:
            r[CAPACITY] = self._cap_start * capacity(self, x, u, p, xp)
        learned = self._transform(r) if self._transform is not None else self._learned
        r.update(learned)
        if derive is not None and learned:
            r.update(derive(self, r, x, u, p, xp, frozenset(learned)))
        return r

    return type(
        f"Hybrid{cls.__name__}",
        (cls,),
        {
            "rates": rates,
            "_learned": {},
            "_transform": None,
            "_cap_start": None,
            "_smooth": 0.0,
        },
    )


# Name of the learned respiratory capacity (g/g/h), a quantity inside the base's kinetics
# rather than one of its rates.
CAPACITY = "capacity"


def ecoli_capacity_factor(model: ProcessModel, x: Any, u: Any, p: Any, xp: Any) -> Any:
    """Temperature and oxygen factors ``fT fO`` of :class:`EColiFedBatch`'s respiratory
    capacity ``cap = qS_crit fT fO`` (dimensionless): a learned capacity is ``c fT fO``, so
    the oxygen limitation (settled DO) and temperature still act on it as in the base."""
    k = model._unpack(p, xp)
    fT = _ctmi(u[1], k.T_min, k.T_opt, k.T_max, xp) / _ctmi(37.0, k.T_min, k.T_opt, k.T_max, xp)
    DO = xp.fmax(x[4], 0.0)
    return fT * DO / (k.K_DO + DO)


def ecoli_yield_rates(
    model: ProcessModel,
    r: dict[str, Any],
    x: Any,
    u: Any,
    p: Any,
    xp: Any,
    learned: frozenset[str],
) -> dict[str, Any]:
    """Rates of :class:`EColiFedBatch` that follow from learned uptake rates through its
    yields (the rates not in ``learned``)::

        qS_of <= qS,  qS_ox = qS - qS_of,  qA_prod = Yas qS_of,
        mu = (1 - burden ind) [Yxs (qS_ox - ms) + Yxs_of qS_of + Yxa qA_cons]

    so a hybrid that learns ``('qS', 'qS_of', 'qA_cons')`` keeps the stoichiometry of
    growth on glucose, overflow and acetate (Xu et al. 1999) and learns only the kinetics.
    With a learned respiratory ``capacity`` (``cap``, g/g/h, in ``r``) the overflow and the
    acetate uptake follow from it inside the base's own ``min()``::

        qS_of = qS - min(qS, cap),   qA_cons = min(qA_cons, max(cap - qS, 0))

    so overflow (uptake beyond capacity) and acetate re-uptake (spare capacity only) come
    together and cannot run as a futile cycle.
    The oxygen uptake and CO2 evolution follow from the same fluxes
    (:func:`~biofab.process.models.ecoli_respiration`), so the DO balance — quasi-steady or
    not — sees the hybrid's respiration, not the base model's.
    """
    k = model._unpack(p, xp)
    out: dict[str, Any] = {}
    qS = r["qS"]
    if CAPACITY in learned:
        cap = r[CAPACITY]
        w = float(getattr(model, "_smooth", 0.0))
        if w > 0 and isinstance(qS, torch.Tensor):
            # Smooth max(z, 0) of width w (g/g/h): the training loss then has no jumps where
            # the uptake crosses the capacity (see HybridModel(smooth_min=...)).
            sp = lambda z: w * torch.nn.functional.softplus(z / w)  # noqa: E731
            qSof = xp.fmin(sp(qS - cap), qS)
            spare = sp(cap - qS)
            out["qA_cons"] = xp.fmax(r["qA_cons"] - sp(r["qA_cons"] - spare), 0.0)
        else:
            qSof = qS - xp.fmin(qS, cap)
            out["qA_cons"] = xp.fmin(r["qA_cons"], xp.fmax(cap - qS, 0.0))
        r = {**r, "qA_cons": out["qA_cons"]}
    else:
        qSof = xp.fmin(r["qS_of"], qS)  # a learned qS may fall below the overflow
    out["qS_of"] = qSof
    if "qS_ox" not in learned:
        out["qS_ox"] = qS - qSof
    if "qA_prod" not in learned:
        out["qA_prod"] = k.Yas * qSof
    if "mu" not in learned:
        out["mu"] = (1.0 - k.burden * u[2]) * (
            k.Yxs * (qS - qSof - k.ms) + k.Yxs_of * qSof + k.Yxa * r["qA_cons"]
        )
    qSox = out.get("qS_ox", r["qS_ox"])
    X = xp.fmax(x[0], 0.0)
    out["qO2"], out["OUR"], out["CER"] = ecoli_respiration(k, qSox, qSof, r["qA_cons"], X)
    return out


# Per model class: which rates follow from learned ones through yields.
YIELD_RULES: dict[type[ProcessModel], Any] = {EColiFedBatch: ecoli_yield_rates}
# Per model class: the factors of its respiratory capacity other than the learned value.
CAPACITY_RULES: dict[type[ProcessModel], Any] = {EColiFedBatch: ecoli_capacity_factor}


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

    ``verbose=True`` reports the training steps through
    :func:`biofab.core.progress.progress` (a bar on a terminal, else a line on stderr at
    most every :attr:`progress_every` seconds): ``hybrid: training step 40/300 (52 s) loss
    0.213 (lowest 0.198), 5 members`` (mean over the members; each keeps the weights of its
    lowest loss). The members train together, one step for all of them.
    """

    #: Name that starts the progress lines (an instance may set its own, e.g. a refit's).
    progress_label = "ODE ensemble"
    #: Least seconds between two progress lines off a terminal (the last step always).
    progress_every = 10.0

    model: ProcessModel
    train_best_: Array
    train_start_: Array
    restarted_: np.ndarray

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
        predict_dt: float | None = None,
        solver: str = "ros2",
        jacobian: str = "diag",
        frozen: Sequence[str] | None = None,
        features: Sequence[str] | None = None,
        clip_features: bool = False,
        weight_decay: float = 1e-5,
        lr_warmup: int = 0,
        restarts: int = 0,
        stuck_ratio: float = 0.5,
        device: str | torch.device | None = None,
        check_every: int = 5,
        seed: int = 0,
        n_jobs: int | None = 1,
        verbose: bool = False,
    ) -> None:
        self.check_every = int(check_every)
        self.hidden = tuple(int(h) for h in hidden)
        self.ensemble = int(ensemble)
        self.epochs = int(epochs)
        self.lr = float(lr)
        self.physics_weight = float(physics_weight)
        self.warmup = int(warmup)
        self.dt = float(dt)
        self.predict_dt = None if predict_dt is None else float(predict_dt)
        self.solver = solver
        self.jacobian = jacobian
        self.frozen = frozen
        self.features = features
        self.clip_features = bool(clip_features)
        self.weight_decay = float(weight_decay)
        self.lr_warmup = int(lr_warmup)
        self.restarts = int(restarts)
        self.stuck_ratio = float(stuck_ratio)
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

    def _n_extra_features(self) -> int:
        return 0

    def _extra_params(self) -> list[torch.Tensor]:
        """Trainable tensors beyond the network layers, without weight decay (hook)."""
        return []

    def _extra_lr(self) -> float:
        """Learning rate of the tensors of :meth:`_extra_params` (hook; default ``lr``)."""
        return self.lr

    def _penalty(self, per_member: bool = False) -> torch.Tensor | float:
        """Term added to the training loss through the ODE, summed over members or one per
        member with ``per_member`` (hook)."""
        return 0.0

    # -- checks and preparation -------------------------------------------------------------
    def _check_params(self) -> None:
        if self.ensemble < 1 or self.epochs < 0 or self.warmup < 0 or self.check_every < 1:
            raise InputError("ensemble, check_every must be >= 1 and epochs, warmup >= 0")
        if self.lr_warmup < 0:
            raise InputError("lr_warmup (steps) must be >= 0", found=self.lr_warmup)
        if self.restarts < 0:
            raise InputError("restarts must be >= 0", found=self.restarts)
        if not (0.0 < self.stuck_ratio <= 1.0):
            raise InputError("stuck_ratio must lie in (0, 1]", found=self.stuck_ratio)
        if not (self.dt > 0 and math.isfinite(self.dt)):
            raise InputError("dt (h) must be > 0", found=self.dt)
        pdt = self.predict_dt
        if pdt is not None and not (pdt > 0 and math.isfinite(pdt)):
            raise InputError("predict_dt (h) must be > 0 (or None: dt)", found=pdt)
        if self.solver not in ("ros2", "rk4"):
            raise InputError("unknown solver", expected="ros2 or rk4", found=self.solver)
        if self.jacobian not in ("full", "diag"):
            raise InputError("unknown jacobian", expected="full or diag", found=self.jacobian)
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
        if any(isinstance(ev, Bolus) for e in exps for ev in e.events):
            raise InputError("hybrid models do not support boluses (state jumps) yet")
        u = np.stack([input_schedule(m, e.inputs, e.events, half) for e in exps], axis=1)
        start = np.arange(n_steps + 1) * self.dt
        u_start = np.stack([input_schedule(m, e.inputs, e.events, start) for e in exps], axis=1)
        u = np.concatenate([u, u_start])
        measured = self._measuring()
        if measured:
            # Online logs of measured states ride along as extra input columns (same grid).
            grid = np.concatenate([half, start])
            logs = np.stack([self._online_log(e, measured, grid) for e in exps], axis=1)
            u = np.concatenate([u, logs], axis=-1)
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
                if s not in d.columns or s in measured:
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

    def _measuring(self) -> list[str]:
        """States whose online logs are inputs of the current fit (hook; none here)."""
        return []

    def _online_log(self, e: Experiment, names: list[str], grid: Array) -> Array:
        """Online logs of the states ``names`` in batch ``e`` (columns of its data, rows
        where they are finite) interpolated linearly on ``grid`` (h), shape
        ``(len(grid), len(names))``; held at the first/last logged value outside."""
        cols = []
        for name in names:
            d = e.data
            if name not in d.columns or "time_h" not in d.columns:
                raise InputError(
                    f"batch '{e.name}' has no online log of the measured state '{name}'",
                    expected=f"a column '{name}' with values over the batch",
                )
            t = pd.to_numeric(d["time_h"], errors="coerce").to_numpy(dtype=float)
            y = pd.to_numeric(d[name], errors="coerce").to_numpy(dtype=float)
            ok = np.isfinite(t) & np.isfinite(y)
            if ok.sum() < 2 or np.any(y[ok] < 0):
                raise InputError(
                    f"online log of '{name}' in batch '{e.name}' needs >= 2 finite values >= 0",
                    found=int(ok.sum()),
                )
            order = np.argsort(t[ok], kind="stable")
            cols.append(np.interp(grid, t[ok][order], y[ok][order]))
        return np.stack(cols, axis=-1)

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
                # Start near the output bias (smooth, small rates); a residual hybrid starts
                # at exactly zero, i.e. exactly as its mechanistic base model.
                w = w * (0.0 if self._zero_output() else 0.1)
            params.append(w.to(self.device_).requires_grad_())
            params.append(
                torch.zeros(
                    self.ensemble, 1, b, dtype=torch.float64, device=self.device_
                ).requires_grad_()
            )
        return params

    def _net(self, h: torch.Tensor) -> torch.Tensor:
        ps = self.params_
        n_layers = len(self.hidden) + 1  # extra parameters (if any) follow the layers
        for j in range(n_layers):
            h = torch.baddbmm(ps[2 * j + 1], h, ps[2 * j])
            if j < n_layers - 1:
                h = torch.tanh(h)
        return h

    def _zero_output(self) -> bool:
        """Whether the last layer starts at zero (hook)."""
        return False

    def _extra_features(self, x: torch.Tensor, u: torch.Tensor) -> list[torch.Tensor]:
        """Standardised features beyond states and inputs, each ``(E, N)`` (hook)."""
        return []

    def _phi(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        cols: list[torch.Tensor] = []
        for kind, j in self._feat_index:
            if kind == "x":
                v = torch.log1p(torch.clamp(x[..., j], min=0.0) / self._feat_res[len(cols)])
            else:
                v = u[..., j].expand(x.shape[0], -1)
            cols.append(v)
        f = (torch.stack(cols, dim=-1) - self._feat_mu) / self._feat_sd
        if self.clip_features:
            f = torch.minimum(torch.maximum(f, self._feat_lo), self._feat_hi)
        extra = self._extra_features(x, u)
        return torch.cat([f, torch.stack(extra, dim=-1)], dim=-1) if extra else f

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
                lu = self._ros2_matrix(x, u0, h)
                k1 = self._ros2_solve(lu, self._f(x, u0))
                k2 = self._ros2_solve(lu, self._f(x + h * k1, u1) - 2.0 * k1)
                x = x + h * (1.5 * k1 + 0.5 * k2)
            # A concentration cannot be negative; the cap stops a bad trial from overflowing.
            x = torch.minimum(torch.clamp(x, min=0.0), cap)
            if not torch.is_grad_enabled():
                x = self._after_step(x, u1)
            out.append(x)
        return torch.stack(out)

    def _after_step(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """States after a step, for reporting (hook; prediction only): a hybrid puts its
        quasi-steady states at their balance there."""
        return x

    def _ros2_matrix(self, x: torch.Tensor, u: torch.Tensor, h: float) -> Any:
        """``W = I - γ h J`` of the step: LU factors of the full matrix, or the diagonal
        (``jacobian='diag'``; a W-method, cheaper but it breaks the linear invariants of the
        balances — biomass grows a few % too fast when glucose runs out at 0.25 h steps)."""
        if self.jacobian == "diag" and not self._coupled():
            return 1.0 - _GAMMA_ROS2 * h * self._jac_diag(x, u)
        n = x.shape[-1]
        eye = torch.eye(n, dtype=x.dtype, device=x.device)
        w = eye - _GAMMA_ROS2 * h * self._jac_full(x, u)
        lu, piv, info = torch.linalg.lu_factor_ex(w)
        if bool((info != 0).any()):  # singular (a runaway trial): fall back to the diagonal
            return 1.0 - _GAMMA_ROS2 * h * self._jac_diag(x, u)
        return (lu, piv)

    def _coupled(self) -> bool:
        """Whether the states are coupled so strongly that the full Jacobian is needed
        whatever ``jacobian`` says (hook)."""
        return False

    @staticmethod
    def _ros2_solve(lu: Any, rhs: torch.Tensor) -> torch.Tensor:
        if isinstance(lu, torch.Tensor):
            return rhs / lu
        return torch.linalg.lu_solve(lu[0], lu[1], rhs.unsqueeze(-1)).squeeze(-1)

    def _fd_jacobian(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """``∂f/∂x`` by forward differences (one batched call of ``f`` on the ``n + 1``
        perturbed states), shape ``(E, B, n, n)`` (rows: f, columns: x)."""
        n = x.shape[-1]
        with torch.no_grad():
            eps = self._fd_eps
            xs = x.unsqueeze(0).repeat(n + 1, 1, 1, 1)  # (n+1, E, B, n)
            idx = torch.arange(n, device=x.device)
            xs[idx + 1, :, :, idx] += eps[idx].view(n, 1, 1)
            E, B = x.shape[0], x.shape[1]
            flat = xs.permute(1, 0, 2, 3).reshape(E, (n + 1) * B, n)
            uf = u.expand(E, -1, -1).repeat(1, n + 1, 1)
            f = self._f(flat, uf).reshape(E, n + 1, B, n)
            jac = (f[:, 1:] - f[:, :1]) / eps.view(1, n, 1, 1)  # (E, j, B, i)
            return jac.permute(0, 2, 3, 1).contiguous()

    def _jac_full(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """``∂f/∂x``, shape ``(E, B, n, n)``, with positive diagonal entries clipped to 0."""
        jac = self._fd_jacobian(x, u)
        # Growing modes (biomass in exponential growth) stay explicit: ROS2's implicit
        # treatment damps them (R(0.15) = 1.152 against e^0.15 = 1.162 per step).
        torch.diagonal(jac, dim1=-2, dim2=-1).clamp_(max=0.0)
        return jac

    def _jac_diag(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """Diagonal of ``∂f/∂x``, shape ``(E, B, n)``, clipped to <= 0 (only decaying
        modes are treated implicitly, so ``1 - γ h J_ii >= 1``)."""
        jac = self._fd_jacobian(x, u)
        return torch.clamp(torch.diagonal(jac, dim1=-2, dim2=-1), max=0.0)

    # -- training ----------------------------------------------------------------------------
    def fit(
        self,
        batches: Experiment | Sequence[Experiment],
        validation: Experiment | Sequence[Experiment] | None = None,
    ) -> Self:
        """Train on the offline samples of ``batches`` (each with ``x0``, recipe, ``data``).

        ``validation`` (optional batches, e.g. a replicate run at a training feed) switches on
        early stopping: every ``check_every`` steps through the ODE each member's data loss on
        them is computed, and each member keeps the weights where it was lowest.

        Returns ``self``; sets ``params_``, ``state_scale_``, ``loss_history_`` (mean over
        the members per step), ``train_best_`` (each member's lowest training loss; without
        ``validation`` its weights are those of that loss or its final ones, if no worse) (and
        ``val_history_``, ``best_step_`` with ``validation``).
        """
        self._check_params()
        exps = _as_experiments(batches)
        vexps = _as_experiments(validation) if validation is not None else None
        if vexps is not None and self.restarts > 0:
            # Early stopping keeps each member's best validation step; a restart would
            # start a second pass that this bookkeeping does not cover.
            raise InputError(
                "restarts > 0 does not combine with validation batches (early stopping)",
                found=self.restarts,
            )
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
        n_feat = len(self._feat_index) + self._n_extra_features()
        self.params_ = self._init_net(n_feat, self._n_outputs(), gen) + self._extra_params()
        start_params = [p.detach().clone() for p in self.params_]
        t_obs = self._obs_tensors(prep)
        x0 = torch.tensor(prep.x0, dtype=dt64, device=dev)
        u = torch.tensor(prep.u, dtype=dt64, device=dev)
        colloc = self._collocation(exps, prep) if self.physics_weight > 0 else None
        val_fn: Callable[[], torch.Tensor] | None = None
        if vexps is not None:
            vprep = self._prepare(vexps)
            self._check_data(vexps, vprep)
            v_obs = self._obs_tensors(vprep)
            vx0 = torch.tensor(vprep.x0, dtype=dt64, device=dev)
            vu = torch.tensor(vprep.u, dtype=dt64, device=dev)

            def val_fn() -> torch.Tensor:
                return self._data_loss(self._integrate(vx0, vu), v_obs, per_member=True)

        history: list[float] = []
        self.val_history_: list[float] = []
        with torch_threads(self.n_jobs):
            if colloc is not None and self.warmup > 0:
                self._train(
                    lambda: self._physics_loss(colloc, per_member=True),
                    self.warmup,
                    history,
                    label="physics warm-up step",
                )
            if self.epochs > 0:

                def loss_fn() -> torch.Tensor:
                    # Per member (shape (E,)): each member keeps its own best weights.
                    traj = self._integrate(x0, u)
                    loss = self._data_loss(traj, t_obs, per_member=True)
                    loss = loss + self._log_loss(traj, u)
                    loss = loss + self._penalty(per_member=True)
                    if colloc is not None:
                        loss = loss + self.physics_weight * self._physics_loss(
                            colloc, per_member=True
                        )
                    return loss

                self._train(loss_fn, self.epochs, history, val_fn, label="training step")
                self.restarted_ = np.zeros(self.ensemble, dtype=int)
                for r in range(self.restarts):
                    stuck = self.train_best_ > self.stuck_ratio * self.train_start_
                    if not stuck.any():
                        break
                    self._restart(stuck, start_params, n_feat, r)
                    what = f"restart {r + 1} ({int(stuck.sum())} members), training step"
                    self._train(loss_fn, self.epochs, history, keep=~stuck, label=what)
        self.loss_history_ = history
        self.n_batches_ = len(exps)
        return self

    def _train(
        self,
        loss_fn: Callable[[], torch.Tensor],
        steps: int,
        hist: list[float],
        val_fn: Callable[[], torch.Tensor] | None = None,
        keep: np.ndarray | None = None,
        label: str = "training step",
    ) -> None:
        """Adam on the summed loss of the members; ``loss_fn`` returns one loss per member.
        Members marked in ``keep`` (a restart of the others) stay as they are. ``label``
        names the steps in the progress report (with ``verbose``).

        The members share nothing but the optimiser call, so each is guarded on its own: its
        gradient is clipped to its own norm, a member whose loss is not finite goes back to
        its best weights and from then on takes half-size steps (its own step factor), and at
        the end each member keeps the weights of its own lowest training loss (or its final
        ones if no worse). One member that blows up therefore cannot pin the others near their
        start, nor slow them down.
        """
        n_net = 2 * (len(self.hidden) + 1)
        opt = torch.optim.Adam(
            [
                {"params": self.params_[:n_net], "weight_decay": self.weight_decay},
                {"params": self.params_[n_net:], "weight_decay": 0.0, "lr": self._extra_lr()},
            ],
            lr=self.lr,
        )
        total = max(steps, 1)
        warm = max(self._extra_warmup(), 0)

        net_warm = self.lr_warmup

        def cosine(k: int) -> float:
            # Optional linear warm-up of every weight (lr_warmup): Adam's first steps move all
            # weights at once by about lr each, which can throw a member far off.
            w = min(1.0, (k + 1) / net_warm) if net_warm else 1.0
            return w * 0.5 * (1.0 + math.cos(math.pi * min(k, total) / total))

        def warm_cosine(k: int) -> float:
            # Linear warm-up of the extra (refit) parameters: Adam's first steps move each
            # by about its full lr whatever the gradient, so a large refit lr starts gently.
            return cosine(k) * (min(1.0, (k + 1) / warm) if warm else 1.0)

        sched = torch.optim.lr_scheduler.LambdaLR(opt, [cosine, warm_cosine])
        E = self.ensemble
        dev = self.device_
        best = torch.full((E,), math.inf, dtype=torch.float64, device=dev)
        best_params = [p.detach().clone() for p in self.params_]
        # Early stopping per member on the validation batches (members train independently).
        v_best = torch.full((E,), math.inf, dtype=torch.float64, device=dev)
        v_params = [p.detach().clone() for p in self.params_]
        self.best_step_ = torch.zeros(E, dtype=torch.long)
        kept = None if keep is None else torch.as_tensor(keep, dtype=torch.bool, device=dev)
        old_best = None if keep is None else self.train_best_.copy()
        old_start = None if keep is None else self.train_start_.copy()
        self.train_best_ = np.full(E, np.inf)
        # Per-member step factor, halved each time that member's loss is not finite.
        factor = torch.ones(E, dtype=torch.float64, device=dev)
        with progress(
            f"{self.progress_label}: {label}",
            total=steps,
            enabled=self.verbose,
            every=self.progress_every,
        ) as bar:
            for step in range(steps):
                if val_fn is not None and step % self.check_every == 0:
                    self._keep_best_members(val_fn, v_best, v_params, step)
                opt.zero_grad()
                per = loss_fn()
                vals = per.detach()
                if step == 0:
                    self.train_start_ = vals.cpu().numpy().copy()
                ok = torch.isfinite(vals)
                if not bool(ok.any()):
                    self._restore(best_params, ~ok)
                    factor *= 0.5
                    sched.step()
                    bar.advance(note="no member's loss finite: smaller steps")
                    continue
                better = ok & (vals < best)
                if bool(better.any()):
                    best[better] = vals[better]
                    with torch.no_grad():
                        for p, q in zip(self.params_, best_params, strict=True):
                            q[better] = p[better]
                per[ok].sum().backward()
                with torch.no_grad():
                    self._clip_members(10.0, ~ok)
                    before = [p.detach().clone() for p in self.params_]
                opt.step()
                with torch.no_grad():
                    if kept is not None:  # weight decay would still move them
                        self._restore(before, kept)
                    if bool((factor < 1).any()):
                        for p, q in zip(self.params_, before, strict=True):
                            f = factor.view(-1, *([1] * (p.dim() - 1)))
                            p.copy_(q + f * (p - q))
                if not bool(ok.all()):
                    # A member that blew up: back to its best weights, smaller steps from now
                    # on; the others go on as they were.
                    self._restore(best_params, ~ok)
                    factor[~ok] *= 0.5
                sched.step()
                value = float(vals[ok].mean())
                hist.append(value)
                # the lowest loss too: each member keeps its best weights, not its last
                low = float(best[torch.isfinite(best)].mean())
                bar.advance(note=f"loss {value:.4g} (lowest {low:.4g}), {E} members")
        if val_fn is not None and steps:
            self._keep_best_members(val_fn, v_best, v_params, steps)
            with torch.no_grad():
                for p, q in zip(self.params_, v_params, strict=True):
                    p.copy_(q)
            self.train_best_ = best.cpu().numpy()
            return
        if not steps:
            return
        with torch.no_grad():
            # Each member keeps its final weights unless worse than its best seen.
            final = torch.nan_to_num(loss_fn().detach(), nan=math.inf)
            worse = ~(final <= best)
            self._restore(best_params, worse)
            self.train_best_ = torch.where(worse, best, final).cpu().numpy()
        if keep is not None and old_best is not None and old_start is not None:
            self.train_best_ = np.where(keep, old_best, self.train_best_)
            self.train_start_ = np.where(keep, old_start, self.train_start_)

    def _restart(
        self, stuck: np.ndarray, start: list[torch.Tensor], n_feat: int, attempt: int
    ) -> None:
        """Members in ``stuck`` back to a fresh start: new random hidden weights (their own
        generator, per attempt), the output layer and extra parameters as at the start."""
        gen = torch.Generator().manual_seed(self.seed + 7919 * (attempt + 1))
        fresh = self._init_net(n_feat, self._n_outputs(), gen)
        fresh += [q.clone() for q in start[len(fresh) :]]
        m = torch.as_tensor(stuck, dtype=torch.bool, device=self.device_)
        self._restore(fresh, m)
        self.restarted_ = self.restarted_ + np.asarray(stuck, dtype=int)

    def _restore(self, saved: list[torch.Tensor], members: torch.Tensor) -> None:
        """Copy the ``saved`` weights back into the members where ``members`` is True."""
        if not bool(members.any()):
            return
        with torch.no_grad():
            for p, q in zip(self.params_, saved, strict=True):
                p[members] = q[members]

    def _clip_members(self, max_norm: float, drop: torch.Tensor) -> None:
        """Clip each member's gradient to ``max_norm`` (its own norm over all its weights,
        so one member's large gradient does not shrink the others' steps); zero the
        gradients of the members in ``drop``."""
        grads = [p.grad for p in self.params_ if p.grad is not None]
        if not grads:
            return
        sq = torch.stack([g.reshape(self.ensemble, -1).pow(2).sum(dim=1) for g in grads]).sum(0)
        factor = (max_norm / (torch.sqrt(sq) + 1e-12)).clamp(max=1.0)
        for g in grads:
            g.mul_(factor.view(-1, *([1] * (g.dim() - 1))))
            g[drop] = 0.0  # after the product: a dropped member's gradient may hold NaN

    def _extra_warmup(self) -> int:
        """Steps of linear learning-rate warm-up of the extra parameters (none here)."""
        return 0

    def _log_loss(self, traj: torch.Tensor, u: torch.Tensor) -> torch.Tensor | float:
        """Per-member loss of the online logs read as observations (hook; none here)."""
        return 0.0

    def _keep_best_members(
        self,
        val_fn: Callable[[], torch.Tensor],
        v_best: torch.Tensor,
        v_params: list[torch.Tensor],
        step: int,
    ) -> None:
        with torch.no_grad():
            v = torch.nan_to_num(val_fn(), nan=math.inf)
            better = v < v_best
            v_best[better] = v[better]
            for p, q in zip(self.params_, v_params, strict=True):
                q[better] = p[better]
            self.best_step_[better.cpu()] = step
            self.val_history_.append(float(v.mean()))

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
        # Training range of each standardised feature (clip_features): beyond it a network
        # sees the edge of what it was trained on, never an extrapolated input.
        lo = [(float(np.min(c)) - a) / b for c, a, b in zip(cols, mu, sd, strict=True)]
        hi = [(float(np.max(c)) - a) / b for c, a, b in zip(cols, mu, sd, strict=True)]
        self._feat_lo = torch.tensor(lo, dtype=torch.float64, device=self.device_)
        self._feat_hi = torch.tensor(hi, dtype=torch.float64, device=self.device_)

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

    def _data_loss(
        self, traj: torch.Tensor, o: dict[str, torch.Tensor], per_member: bool = False
    ) -> torch.Tensor:
        lo = traj[o["k"], :, o["b"], o["i"]]  # (n_obs, E)
        hi = traj[o["k"] + 1, :, o["b"], o["i"]]
        pred = lo + o["w"][:, None] * (hi - lo)
        r = (pred - o["y"][:, None]) / o["s"][:, None]
        per = (r**2).mean(dim=0)
        return per if per_member else per.sum()  # summed: members train independently

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

    def _physics_loss(self, c: dict[str, torch.Tensor], per_member: bool = False) -> torch.Tensor:
        x = c["x"].unsqueeze(0).expand(self.ensemble, -1, -1)
        f = self._f(x, c["u"].unsqueeze(0))
        r = (f - c["dx"]) / self._scale_t * c["m"]
        per = (r**2).sum(dim=(1, 2)).div(c["m"].sum().clamp(min=1.0))
        return per if per_member else per.sum()

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
        train_dt = self.dt
        # Prediction may step finer than training: no gradient is kept, so it is cheap,
        # and a settled (quasi-steady) state makes the rates kinked where the oxygen
        # limitation switches on, which the fixed step only resolves finely.
        self.dt = self.predict_dt if self.predict_dt is not None else train_dt
        try:
            prep = self._prepare([exp], t_end=float(times.max()))
            traj = self._run(prep)[:, :, 0, :]  # (T, E, n)
            step = self.dt
        finally:
            self.dt = train_dt
        pos = np.minimum(times / step, prep.n_steps - 1e-9)
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

#: Named :class:`HybridModel` settings for the E. coli twin (``process fit --model hybrid
#: --preset``). ``rates``: the constructor's defaults (qS, qS_of and qA_cons corrected by
#: bounded factors; DO settled in training too). ``capacity``: the variant
#: ``benchmarks/process_hybrid.py`` selected in round 9 (``capacity_do_kia_obs``; rounds 5-7
#: selected ``capacity_do_kia``, the same without the DO observation; BENCHMARKS.md) -- the
#: respiratory capacity learned on glucose alone with features clipped at the training range,
#: qS_max, Yxs and Kia refitted per member at their own learning rate, DO frozen in training
#: and settled in prediction, 60 steps at lr 2e-3 on a 0.125 h step. The benchmark also reads
#: each batch's online DO log while training (``measured=("DO",)``) and fits its quasi-steady
#: O2 balance as an observation (``log_weight=1``):
#: :func:`biofab.process.workflows.fit_hybrid` does both when every batch has a DO log, and
#: neither otherwise (``log_weight`` 0: there is no log to observe).
HYBRID_PRESETS: dict[str, dict[str, Any]] = {
    "rates": {},
    "capacity": {
        "structure": "residual",
        "learned": ("capacity",),
        "features": ("S",),
        "clip_features": True,
        "refit": ("qS_max", "Yxs", "Kia"),
        "refit_lr": 2e-2,
        "quasi_steady": ("DO",),
        "quasi_steady_fit": False,
        "lr": 2e-3,
        "epochs": 60,
        "dt": 0.125,
        "predict_dt": 0.0625,
        "physics_weight": 0.0,
        "warmup": 0,
        "hidden": (32, 32),
        "log_weight": 1.0,
    },
}


class HybridModel(OdeEnsemble):
    """Mechanistic balances of ``mechanistic`` with the specific rates ``learned`` from an
    ensemble of MLPs (see the module docstring).

    Two structures (von Stosch et al. 2014, Comput. Chem. Eng. 60:86-101, review both):

    - ``'replace'`` (serial): each learned rate *is* the network output, made positive by a
      softplus and scaled by ``rate_scale``; the mechanistic kinetics of those rates are
      discarded.
    - ``'residual'`` (parallel): each learned rate is the mechanistic rate of ``base``
      corrected by the network, ``r = r_base · exp(B tanh(NN / B))`` with ``B =
      log(max_factor)`` (a bounded factor), or ``r = r_base + s · NN`` (then a smooth floor
      at 0 for positive rates) where the base gives that rate as zero on the training
      samples (a factor cannot create it: e.g. overflow missing from a Monod model) or the
      rate is signed. The last layer starts at zero, so the untrained hybrid *is* the base
      model and the network only adds what the data demand (weight decay and, with
      ``fit(..., validation=...)``, early stopping keep it there otherwise). With
      ``rate_features`` the networks also see base rates (serial-parallel).

    Parameters
    ----------
    mechanistic:
        The twin whose :meth:`~ProcessModel.rhs` gives the balances (and whose other
        rates and parameters, e.g. the feed concentration ``Sf``, stay as they are).
    learned:
        Names of entries of ``mechanistic.rates(...)`` replaced or corrected by the networks
        (E. coli: ``qS``, ``qS_of``, ``qA_cons``, ``qA_prod``, ``qP`` g/g/h, ``mu`` 1/h).
        ``mu`` and ``qLac`` are signed; the others positive. Residual structure, models with a
        :data:`CAPACITY_RULES` entry (E. coli): ``'capacity'``, the respiratory capacity
        (g/g/h) inside the base's own ``min()`` — overflow is the uptake beyond it, acetate
        is taken up only with spare capacity (see :func:`ecoli_yield_rates`) — learned as
        ``c0 exp(B tanh(NN / B)) fT fO`` around ``c0 = capacity_start`` times the base's peak
        glucose uptake on the training samples (not with ``'qS_of'``).
    structure:
        ``'residual'`` (default) or ``'replace'``, see above.
    base:
        Residual structure: the mechanistic model whose rates are corrected and whose
        parameters (yields, ``Sf``) close the balances — a fitted :class:`ProcessModel` of the
        same class as ``mechanistic``, or a mapping of parameter values applied over
        ``mechanistic``'s; None uses ``mechanistic`` as it is.
    capacity_start:
        Start of a learned ``'capacity'`` as a fraction of the base model's peak glucose
        uptake on the training samples (1: the capacity starts where the batch phase's uptake
        just reaches it, so the untrained hybrid has almost no overflow there and the
        gradient can still see the ``min()``).
    max_factor:
        Residual structure: largest factor (and 1/factor) a multiplicative correction may
        apply to a base rate (bounded, so extrapolation cannot run away).
    rate_features:
        Residual structure: base rates given to the networks as extra (standardised) inputs.
    refit:
        Residual structure: parameters of ``base`` (e.g. ``('qS_max', 'Yxs')``) trained
        jointly with the networks, on a log scale and per member, starting at their base
        values: once the networks add what the base model lacked, the parameters fitted to
        compensate for it can move back.
    additive_gate:
        Residual structure: ``(rate, fraction)``, e.g. ``('qS', 0.6)``: additive corrections of
        positive rates are multiplied by ``clip((r - f p) / ((1 - f) p), 0, 1)``, ``r`` the
        base model's ``rate`` at the current state and ``p`` its peak over the training
        samples; closed where the base rate is below ``f p``. Overflow is added only where
        glucose uptake nears saturation, never in the glucose-limited fed phase (where
        the samples cannot tell it from a lower yield); the base's own, O2-limited overflow
        is untouched.
    correction_penalty:
        Residual structure: weight of the mean squared network output at the training
        samples' states, added to the loss (shrinkage of the corrections toward the base
        model where the data do not ask for them). A correction the samples barely see —
        overflow in the glucose-limited fed phase, whose acetate the base re-consumes at
        once, visible only as a few % less biomass — otherwise drifts off zero.
    quasi_steady:
        Fast states held at the root of their own balance instead of being integrated
        (e.g. ``('DO',)``), see the module docstring. The balance must fall with the state
        (DO: more oxygen, more respiration); the root is sought on a log grid over eight
        decades below the state's largest initial value (DO starts at saturation) and is not
        differentiated through (it is an input of each step). Not a network feature. While
        states settle, ROS2 uses the full Jacobian whatever ``jacobian`` says: the settled
        state couples the other balances (glucose uptake sets the spare respiration that
        consumes acetate), which the diagonal W-method misses (acetate re-consumed ~2x too
        slowly under O2 limitation at 0.125 h steps).
    quasi_steady_fit:
        Whether the quasi-steady states settle while training too (True) or stay frozen
        there and settle only in prediction (False). The training loss through a settled
        oxygen balance (and through a full-Jacobian ROS2 step) is rough where the
        limitation switches on and off — the kinks of ``min`` in the rates: finite-difference
        slopes of opposite sign either side, so gradient steps went uphill and 150 epochs
        left the networks at their start. False trains the smooth frozen-DO hybrid; where
        the data never reach the limitation both give the same model there.
    quasi_steady_grad:
        With ``quasi_steady_fit=True``: give each settled root the implicit-function gradient
        ``-(∂g/∂θ)/(∂g/∂x_q)`` of its balance ``g`` (one Newton step from the detached root),
        so a gradient step on a rate sees the oxygen balance move to compensate. It makes the
        right-hand side's gradient exact; the loss through the fixed-step solver stayed
        rough (its W-matrix depends strongly on the settled state), see BENCHMARKS.md round 5.
    measured:
        Frozen or quasi-steady states whose *online log* is read as an input while training
        (e.g. ``('DO',)``): each training batch's data hold rows with the state's value (its
        unit; DO in % sat) and nothing else, interpolated linearly in time. The log is not
        fitted. Prediction has no log: the state settles (quasi-steady) or stays frozen. A
        learned capacity then trains with the oxygen factor the batch really had, not with
        DO frozen at saturation (which reads O2-limited overflow as a low capacity). Needs
        ``quasi_steady_fit=False``.
    log_weight:
        Weight of the measured quasi-steady states' logs as *observations* (0: input only).
        A quasi-steady state sits at the root of its own balance, so at each step start of
        the training trajectory the balance, evaluated at the logged value, must vanish
        (DO: ``kLa (100 - DO_log) = 100 OUR / C_O2_sat``: the log states the oxygen
        uptake, which the hybrid's fluxes and yields predict). The residual is turned into
        the state's unit by one Newton step (balance over its slope in the state, by finite
        differences), divided by the log's spread over the training batches (as an offline
        state is by its samples' spread), and its mean square times ``log_weight`` is added
        to the loss. The trajectory's states are held fixed in that term (no gradient
        through the ODE; through it training blew up on a development seed). A dense
        online signal then answers for the uptake and the yields, not only the sparse
        offline samples. (Benchmark, round 8: it pins the biomass yield and X, not the
        acetate inhibition constant; see BENCHMARKS.md.)
    smooth_min:
        Width (g/g/h) of a softplus that replaces ``max(z, 0)`` in the overflow and spare
        capacity of a learned ``'capacity'`` (0: the exact ``min``); used only on tensors
        (training and prediction alike).
    refit_lr:
        Learning rate of the ``refit`` parameters (None: ``lr``). Adam moves each by about
        the learning rate per step on its log scale.
    refit_warmup:
        Steps over which the ``refit`` parameters' learning rate rises linearly to its value
        (0: none). Adam's first steps move a parameter by about its full learning rate
        whatever the gradient; a member whose refitted yield jumps there can blow up.
    yields:
        Derive the rates that are not learned from the learned ones through the model's
        yields where a rule exists (:data:`YIELD_RULES`; E. coli: :func:`ecoli_yield_rates`),
        so growth follows from uptake by stoichiometry; False keeps them mechanistic.
    hidden, ensemble:
        Hidden layer widths (tanh) and number of members.
    physics_weight, warmup:
        Weight of the balance residual on collocation points (0 = off) and the number of
        warm-up steps on that residual alone before training through the ODE (default 200
        for ``'replace'``, 0 for ``'residual'``, which starts at its base model). Default
        ``physics_weight``: 1 for ``'replace'``, 0 for ``'residual'`` (chosen on a validation
        split of training feeds).
    epochs, lr, weight_decay:
        Adam steps through the ODE (full batch, cosine-decayed learning rate) and L2 penalty.
    lr_warmup:
        Steps over which every weight's learning rate rises linearly to ``lr`` (0: none).
    restarts, stuck_ratio:
        After training, a member whose lowest training loss is still above ``stuck_ratio``
        times its start loss (stopped on a plateau) goes back to a fresh start — new random
        hidden weights, the output layer and refitted parameters as at the start — and
        trains again (``epochs`` steps) while the other members stay as they are; at most
        ``restarts`` times (0: never; not with ``validation``). ``restarted_`` counts the
        restarts per member. Costs one more training pass whenever a member is stuck.
    dt, solver:
        Fixed step (h) and ``'ros2'`` (stiff, default) or ``'rk4'``.
    predict_dt:
        Fixed step (h) of :meth:`predict` (None: ``dt``). Training keeps ``dt``; with
        quasi-steady states a finer prediction step pays: at the onset of the oxygen
        limitation the settled rates are kinked, and the untrained hybrid around the
        benchmark's wrong model, settled at 0.125 h, missed that model itself by 0.5 g/L
        biomass RMSE at a 30 % higher feed (0.0625 h: 0.002 g/L).
    frozen:
        States held at their initial value (default ``('DO',)`` where the model has it).
    features:
        States/inputs the networks see (default: concentration states of
        ``mechanistic.diluted`` and inputs other than ``F``).
    clip_features:
        Clip each feature at its range over the training samples (a network then never
        extrapolates in its inputs: at a higher feed, acetate three times the training
        range is seen as the largest trained acetate).
    check_every:
        Steps between validation checks when ``fit`` is given validation batches.
    device, seed, n_jobs:
        ``'cpu'``, ``'cuda'`` or None (CUDA when available); seed of the initialisation;
        torch CPU threads while training (1 by default: small tensors).
    verbose:
        Report the training steps (and their loss) through
        :func:`biofab.core.progress.progress`: a bar on a terminal, else a line on stderr
        at most every ``progress_every`` (class attribute, 10) seconds.

    Attributes
    ----------
    params_: network weights; state_scale_: per-state loss scale (state units);
    rate_scale_: per learned rate (its unit); correction_: per learned rate ``'mul'``,
    ``'add'`` (residual) or ``'replace'``; base_: the base model; loss_history_;
    val_history_; best_step_ (per member, with validation); train_best_ (per member's lowest
    training loss); train_start_ (per member's first loss); restarted_; features_; frozen_;
    quasi_steady_upper_ (upper bound of each quasi-steady state's root search).
    """

    progress_label = "hybrid"

    def __init__(
        self,
        mechanistic: ProcessModel | None = None,
        learned: Sequence[str] = ("qS", "qS_of", "qA_cons"),
        *,
        structure: str = "residual",
        base: ProcessModel | Mapping[str, float] | None = None,
        max_factor: float = 3.0,
        capacity_start: float = 1.0,
        rate_features: Sequence[str] = (),
        refit: Sequence[str] = (),
        correction_penalty: float = 0.0,
        additive_gate: Sequence[Any] | None = None,
        yields: bool = True,
        quasi_steady: Sequence[str] = (),
        quasi_steady_fit: bool = True,
        quasi_steady_grad: bool = False,
        measured: Sequence[str] = (),
        log_weight: float = 0.0,
        smooth_min: float = 0.0,
        refit_lr: float | None = None,
        refit_warmup: int = 10,
        rate_scale: Mapping[str, float] | None = None,
        hidden: Sequence[int] = (32, 32),
        ensemble: int = 5,
        physics_weight: float | None = None,
        warmup: int | None = None,
        epochs: int = 300,
        lr: float = 1e-2,
        **kwargs: Any,
    ) -> None:
        # No physics term by default for a residual hybrid: it already starts at its base
        # model, and fitting spline derivatives (smoothed where glucose runs out) pulls it
        # away; chosen on a validation split of training feeds (benchmarks/process_hybrid.py).
        residual = structure == "residual"
        if warmup is None:
            warmup = 0 if residual else 200
        if physics_weight is None:
            physics_weight = 0.0 if residual else 1.0
        super().__init__(
            hidden=hidden,
            ensemble=ensemble,
            physics_weight=physics_weight,
            warmup=warmup,
            epochs=epochs,
            lr=lr,
            **kwargs,
        )
        self.mechanistic = mechanistic if mechanistic is not None else EColiFedBatch()
        self.learned = tuple(learned)
        self.structure = structure
        self.base = base
        self.max_factor = float(max_factor)
        self.capacity_start = float(capacity_start)
        self.rate_features = tuple(rate_features)
        self.refit = tuple(refit)
        self.correction_penalty = float(correction_penalty)
        self.additive_gate = None if additive_gate is None else tuple(additive_gate)
        self.yields = bool(yields)
        self.quasi_steady = tuple(quasi_steady)
        self.quasi_steady_fit = bool(quasi_steady_fit)
        self.quasi_steady_grad = bool(quasi_steady_grad)
        self.measured = tuple(measured)
        self.log_weight = float(log_weight)
        self.smooth_min = float(smooth_min)
        self.refit_lr = None if refit_lr is None else float(refit_lr)
        self.refit_warmup = int(refit_warmup)
        self.rate_scale = rate_scale
        self.model = self.mechanistic

    _proxy: Any
    _refit_idx: list[int]
    _qs: list[tuple[int, torch.Tensor]] = []  # noqa: RUF012 - set per fit
    _qs_active = True

    def fit(
        self,
        batches: Experiment | Sequence[Experiment],
        validation: Experiment | Sequence[Experiment] | None = None,
    ) -> Self:
        """As :meth:`OdeEnsemble.fit`; with ``quasi_steady_fit=False`` the quasi-steady
        states stay frozen while training (and validating) and settle only in prediction."""
        m = self.model
        bad = [q for q in self.measured if q not in self._frozen_names()]
        if bad:
            raise InputError(
                f"measured states {bad} must be frozen or quasi-steady states of {m.name} "
                "(an integrated state is predicted, not read from a log)"
            )
        if self.measured and self.quasi_steady_fit:
            raise InputError("measured states need quasi_steady_fit=False (settled in prediction)")
        if self.refit_warmup < 0:
            raise InputError("refit_warmup (steps) must be >= 0", found=self.refit_warmup)
        if not (self.log_weight >= 0 and math.isfinite(self.log_weight)):
            raise InputError("log_weight must be a finite number >= 0", found=self.log_weight)
        if self.log_weight > 0:
            bad = [q for q in self.measured if q not in self.quasi_steady]
            if not self.measured or bad:
                raise InputError(
                    "log_weight > 0 needs measured states that are quasi-steady "
                    "(their balance at the logged value is the observation)",
                    found=bad or "no measured states",
                )
        self._qs_active = self.quasi_steady_fit
        self._meas_on = bool(self.measured)
        try:
            return super().fit(batches, validation)
        finally:
            self._qs_active = True
            self._meas_on = False

    _meas_on = False

    def _measuring(self) -> list[str]:
        return list(self.measured) if self._meas_on else []

    def _f(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        k = len(self.model.inputs)
        if u.shape[-1] > k:
            # Training with online logs: the measured states take the logged values.
            logged = u[..., k:].expand(*x.shape[:-1], -1)
            x = x.clone()
            for c, name in enumerate(self.measured):
                x[..., self.model.states.index(name)] = logged[..., c]
            u = u[..., :k]
        return super()._f(x, u)

    def _log_loss(self, traj: torch.Tensor, u: torch.Tensor) -> torch.Tensor | float:
        k = len(self.model.inputs)
        if self.log_weight <= 0 or u.shape[-1] <= k:
            return 0.0
        n_steps = traj.shape[0] - 1
        E, B, n = traj.shape[1], traj.shape[2], traj.shape[3]
        us = u[2 * n_steps + 1 :]  # right-continuous inputs and logs at the step starts
        # The trajectory is held fixed (no gradient through the ODE): the log then speaks to
        # the rates and yields at the states the batch went through, like a collocation
        # term. Through the ODE (dev seed 119) the loss went 0.11 -> 0.44-1.1 in the first
        # steps and never came back.
        x = traj.detach().transpose(0, 1).reshape(E, (n_steps + 1) * B, n).clone()
        uu = us.reshape(1, (n_steps + 1) * B, us.shape[-1])
        logged, uu = uu[..., k:], uu[..., :k]
        idx = [self.model.states.index(q) for q in self.measured]
        for c, i in enumerate(idx):
            x[..., i] = logged[..., c]
        self._install(self._net(self._phi(x, uu)))
        try:
            dx = self._balances(x, uu)
            total = traj.new_zeros(E)
            for c, i in enumerate(idx):
                # Slope of the balance in the state (finite difference, no gradient): one
                # Newton step turns the balance residual into the state's unit.
                with torch.no_grad():
                    h = 1e-3 * float(self._log_scale[c])
                    xh = x.clone()
                    xh[..., i] = xh[..., i] + h
                    slope = (self._balances(xh, uu)[..., i] - dx[..., i].detach()) / h
                    slope = torch.where(slope.abs() > 1e-9, slope.abs(), 1e-9)
                r = dx[..., i] / slope / self._log_scale[c]
                total = total + (r**2).mean(dim=-1)
        finally:
            self._uninstall()
        return self.log_weight * total

    def _frozen_names(self) -> list[str]:
        """Frozen states plus the quasi-steady ones: neither is integrated."""
        names = super()._frozen_names()
        m = self.model
        bad = [q for q in self.quasi_steady if q not in m.states or q == m.volume_state]
        if bad:
            raise InputError(
                f"quasi_steady states {bad} are not (non-volume) states of {m.name}",
                expected=", ".join(s for s in m.states if s != m.volume_state),
            )
        return names + [q for q in self.quasi_steady if q not in names]

    def _setup_quasi_steady(self, prep: _Prepared) -> None:
        """Log-spaced grid per quasi-steady state, from 1e-8 to 1 times its largest initial
        value: a fast state such as DO starts at saturation and its balance point lies below."""
        m = self.model
        self.quasi_steady_upper_: dict[str, float] = {}
        feats = set(self.features or ())
        for q in self.quasi_steady:
            if q in feats:
                raise InputError(
                    f"quasi-steady state '{q}' cannot be a network feature (it follows from "
                    "the network's rates)",
                    found=", ".join(sorted(feats)),
                )
            j = m.states.index(q)
            hi = float(np.max(prep.x0[:, j]))
            if not (hi > 0 and math.isfinite(hi)):
                raise InputError(
                    f"quasi-steady state '{q}' needs a positive initial value (its upper bound)",
                    found=hi,
                )
            self.quasi_steady_upper_[q] = hi
        self._build_quasi_steady()

    def _build_quasi_steady(self) -> None:
        """Root-finding grids from the fitted ``quasi_steady_upper_`` (state -> upper bound,
        the state's unit): all a saved model needs to settle again after loading."""
        m = self.model
        self._qs = []
        for q, hi in self.quasi_steady_upper_.items():
            grid = torch.logspace(
                math.log10(hi) - 8.0, math.log10(hi), _QS_POINTS, dtype=torch.float64
            )
            self._qs.append((m.states.index(q), grid.to(self.device_)))

    def _settle(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """``x`` with each quasi-steady state at the root of its own balance, the other
        states and the installed rates given (see :class:`HybridModel`).

        The balance falls with the state (more oxygen, more respiration). It is evaluated on
        a log grid over the whole range in one batched call (small tensors: the cost is that
        of a few single calls), then twice more on a finer grid inside the cell where it
        changes sign (cell ratio 1.45, then 1.025, then 1.0016), and the root taken by linear
        interpolation in the last cell: the kinks of ``min`` in the rates (respiration
        reaching the uptake, where acetate re-consumption starts) often sit next to the root,
        and the spare capacity there is a small difference of large rates, so the cell must
        be narrow. The root is treated as an input of the step (no gradient through it).
        """
        for j, grid in self._qs:
            with torch.no_grad():
                nd = x.dim() - 1
                lo = grid[0].expand(x.shape[:-1])
                hi = grid[-1].expand(x.shape[:-1])
                xg = x.detach().unsqueeze(0)
                for level, k_n in enumerate((grid.shape[0], *_QS_REFINE)):
                    frac = torch.linspace(0.0, 1.0, k_n, dtype=x.dtype, device=x.device)
                    frac = frac.view(k_n, *([1] * nd))
                    pts = torch.exp(lo.log() + frac * (hi.log() - lo.log()))
                    xk = xg.repeat(k_n, *([1] * x.dim()))
                    xk[..., j] = pts
                    g = self._balances(xk, u)[..., j]  # (K, *x.shape[:-1])
                    pos = g > 0
                    if level == 0:
                        above, below = pos.all(0), ~pos.any(0)
                    k = pos.sum(0).clamp(1, k_n - 1).unsqueeze(0)
                    lo, hi = pts.gather(0, k - 1)[0], pts.gather(0, k)[0]
                    g_lo, g_hi = g.gather(0, k - 1)[0], g.gather(0, k)[0]
                w = torch.nan_to_num(g_lo / (g_lo - g_hi), nan=0.0).clamp(0.0, 1.0)
                d = lo + w * (hi - lo)
                edge = above | below
                d = torch.where(above, grid[-1], torch.where(below, grid[0], d))
                # Slope of the balance in the state over the last (narrow) cell: < 0.
                slope = ((g_hi - g_lo) / (hi - lo)).clamp(max=-1e-12)
            if self.quasi_steady_grad and torch.is_grad_enabled():
                d = self._implicit_root(x, u, j, d, slope, edge)
            x = torch.cat([x[..., :j], d.unsqueeze(-1), x[..., j + 1 :]], dim=-1)
        return x

    def _implicit_root(
        self,
        x: torch.Tensor,
        u: torch.Tensor,
        j: int,
        d: torch.Tensor,
        slope: torch.Tensor,
        edge: torch.Tensor,
    ) -> torch.Tensor:
        """The root ``d`` (its value unchanged) carrying the implicit-function gradient
        ``∂d/∂θ = -(∂g/∂θ) / (∂g/∂d)`` of the balance ``g(d; x, θ) = 0`` in the other states
        and the network's rates: one Newton step from the (detached) root, whose value is
        zero. Without it the root is an input of the step, and a gradient step on the
        respiratory capacity ignores that the oxygen balance moves the root to compensate
        (under O2 limitation the oxidation is set by the transfer, not by the capacity):
        training through the settled DO then went uphill (loss 0.23 -> 56 in 5 steps).
        No gradient where the root sits at an edge of the grid (no sign change)."""
        xd = torch.cat([x[..., :j], d.unsqueeze(-1), x[..., j + 1 :]], dim=-1)
        g = self._balances(xd, u)[..., j]
        step = (g - g.detach()) / slope
        return d - torch.where(edge, torch.zeros_like(step), step)

    def _coupled(self) -> bool:
        # A settled state couples the balances (glucose uptake sets the spare respiration
        # that consumes acetate): the diagonal W-method re-consumes acetate ~2x too slowly
        # under O2 limitation at 0.125 h steps, the full Jacobian matches the plant.
        return bool(self._qs and self._qs_active)

    def _after_step(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        if not (self._qs and self._qs_active):
            return x
        self._install(self._net(self._phi(x, u)))
        try:
            return self._settle(x, u)
        finally:
            self._uninstall()

    def _n_outputs(self) -> int:
        return len(self.learned)

    def _n_extra_features(self) -> int:
        return len(self.rate_features) if self.structure == "residual" else 0

    def _zero_output(self) -> bool:
        return self.structure == "residual"

    def _default_features(self) -> list[str]:
        m = self.model
        return [s for s in m.diluted] + [i for i in m.inputs if i != "F"]

    def _base_model(self) -> ProcessModel:
        m = self.mechanistic
        if self.structure == "replace" or self.base is None:
            return m
        if isinstance(self.base, ProcessModel):
            if type(self.base) is not type(m):
                raise InputError(
                    "base must be a model of the same class as mechanistic",
                    expected=type(m).__name__,
                    found=type(self.base).__name__,
                )
            return self.base
        if isinstance(self.base, Mapping):
            unknown = sorted(set(self.base) - set(m.params))
            if unknown:
                raise InputError(
                    f"base names unknown parameters {', '.join(unknown)} of {m.name}",
                    expected=", ".join(m.params),
                )
            return type(m)({**m.params, **{k: float(v) for k, v in self.base.items()}})
        raise InputError(
            "base must be a ProcessModel or a mapping of parameter values",
            found=type(self.base).__name__,
        )

    def _check_structure(self) -> None:
        if self.structure not in ("replace", "residual"):
            raise InputError(
                "unknown hybrid structure", expected="replace or residual", found=self.structure
            )
        if not (self.max_factor > 1.0 and math.isfinite(self.max_factor)):
            raise InputError("max_factor must be a finite number > 1", found=self.max_factor)
        if not self.learned:
            raise InputError("learned must name at least one rate")
        if CAPACITY in self.learned:
            m = self.mechanistic
            if self.structure != "residual" or type(m) not in CAPACITY_RULES:
                raise InputError(
                    f"a learned '{CAPACITY}' needs the residual structure and a model with a "
                    "respiratory capacity",
                    expected=", ".join(c.__name__ for c in CAPACITY_RULES),
                    found=f"{self.structure}, {type(m).__name__}",
                )
            if "qS_of" in self.learned:
                raise InputError(
                    f"learn either '{CAPACITY}' or 'qS_of' (the overflow follows from the capacity)"
                )
            c0 = self.capacity_start
            if not (c0 > 0 and math.isfinite(c0)):
                raise InputError("capacity_start must be a finite number > 0", found=c0)
        if not (self.correction_penalty >= 0 and math.isfinite(self.correction_penalty)):
            raise InputError(
                "correction_penalty must be a finite number >= 0", found=self.correction_penalty
            )

    def _probe(self, prep: _Prepared) -> dict[str, Array]:
        """Rates of the base model at the training samples (states sampled there, the
        others at their initial values; inputs at the sample times), each ``(n_rows,)``."""
        x, u = self._sample_states(prep)
        m = self.base_
        with np.errstate(all="ignore"):
            r = m.rates(0.0, list(x.T), list(u.T), m.param_vector(), xp=np)
        return {k: np.broadcast_to(np.asarray(v, dtype=float), (x.shape[0],)) for k, v in r.items()}

    def _sample_states(self, prep: _Prepared) -> tuple[Array, Array]:
        """States ``(n_rows, n)`` and inputs ``(n_rows, m)`` at the training samples' times:
        sampled states as measured, the others at their initial values."""
        rows, ins = [], []
        m = self.model
        measured = self._measuring()
        offline = [s for s in m.states if s not in measured]
        for b, d in enumerate(prep.frames):
            # Offline sample rows only (an online log adds rows with nothing else).
            keep = np.zeros(len(d), dtype=bool)
            for s in offline:
                if s in d.columns:
                    keep |= np.isfinite(pd.to_numeric(d[s], errors="coerce").to_numpy(float))
            d = d[keep]
            t = d["time_h"].to_numpy(dtype=float)
            x = np.repeat(prep.x0[b][None], t.size, axis=0)
            for s in offline:
                if s in d.columns:
                    y = pd.to_numeric(d[s], errors="coerce").to_numpy(dtype=float)
                    j = m.states.index(s)
                    x[:, j] = np.where(np.isfinite(y), y, x[:, j])
            k = np.clip(np.floor(t / self.dt).astype(int), 0, prep.n_steps)
            u = prep.u[2 * prep.n_steps + 1 + k, b, :]
            for c, name in enumerate(measured):  # the logged value at the sample time
                x[:, m.states.index(name)] = u[:, len(m.inputs) + c]
            rows.append(x)
            ins.append(u[:, : len(m.inputs)])
        return np.concatenate(rows), np.concatenate(ins)

    def _setup(self, prep: _Prepared) -> None:
        self._check_structure()
        self._setup_quasi_steady(prep)
        k = len(self.mechanistic.inputs)
        n_logs = prep.u.shape[-1] - k
        logs = prep.u[..., k:].reshape(-1, n_logs) if n_logs else np.zeros((1, 0))
        # Scale of each logged state (its unit): the log's spread over the training batches,
        # floored as an offline state's is (so a near-constant log still counts).
        self._log_scale = torch.tensor(
            [max(float(np.std(c)), 0.05 * float(np.max(np.abs(c))), 1e-6) for c in logs.T],
            dtype=torch.float64,
            device=self.device_,
        )
        self._refit_idx = []  # set by _extra_params, after the networks
        m = self.mechanistic
        self.base_ = self._base_model()
        derive = YIELD_RULES.get(type(m)) if self.yields else None
        cap_rule = CAPACITY_RULES.get(type(m)) if CAPACITY in self.learned else None
        if cap_rule is not None and derive is None:
            raise InputError(f"a learned '{CAPACITY}' needs yields=True (its rates follow)")
        proxy: Any = _override_class(type(m), derive, cap_rule)(params=self.base_.params)
        self._proxy = proxy
        self._p = self.base_.param_vector().tolist()
        x = [float(v) for v in prep.x0[0]]
        uu = [float(v) for v in prep.u[0, 0]]
        names = m.rates(0.0, x, uu, self._p, xp=np)
        names = {**names, CAPACITY: 0.0} if cap_rule is not None else names
        unknown = [r for r in (*self.learned, *self._rate_feature_names()) if r not in names]
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
        probe = self._probe(prep) if self.structure == "residual" else {}
        if self.structure == "residual" and self.correction_penalty > 0:
            xs_, us_ = self._sample_states(prep)
            self._pen_x = torch.tensor(xs_, dtype=torch.float64, device=self.device_)
            self._pen_u = torch.tensor(us_, dtype=torch.float64, device=self.device_)
        self.rate_scale_: dict[str, float] = {}
        self.correction_: dict[str, str] = {}
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
            if self.structure == "replace":
                self.correction_[r] = "replace"
                self.rate_scale_[r] = float(scales.get(r, _default_rate_scale(m, prep, r)))
                continue
            if r == CAPACITY:
                # Starts at the batch phase's uptake (the base, a Monod model, has none).
                c0 = self.capacity_start * float(np.nanmax(probe["qS"], initial=0.0))
                if not (c0 > 0 and math.isfinite(c0)):
                    raise InputError("the base model's glucose uptake is never positive")
                self.correction_[r] = "mul"
                self.rate_scale_[r] = c0
                continue
            peak = float(np.nanmax(np.abs(probe[r]), initial=0.0))
            # A factor cannot create a rate the base lacks (overflow in a Monod model).
            additive = r in _SIGNED_RATES or not (peak > 1e-9 and math.isfinite(peak))
            self.correction_[r] = "add" if additive else "mul"
            self.rate_scale_[r] = float(scales.get(r, max(peak if additive else 0.0, 0.1)))
        proxy._learned = {}
        proxy._cap_start = self.rate_scale_.get(CAPACITY) if cap_rule is not None else None
        proxy._smooth = self.smooth_min
        dev = self.device_
        self._rs = torch.tensor(
            [self.rate_scale_[r] for r in self.learned], dtype=torch.float64, device=dev
        )
        self._signed = torch.tensor(
            [r in _SIGNED_RATES for r in self.learned], dtype=torch.bool, device=dev
        )
        names_rf = self._rate_feature_names()
        mu = [float(np.nanmean(probe[r])) for r in names_rf]
        sd = [max(float(np.nanstd(probe[r])), 1e-6) for r in names_rf]
        self._rf_mu, self._rf_sd = mu, sd
        self._gate = self._setup_gate(probe)

    def _setup_gate(self, probe: dict[str, Array]) -> tuple[str, float, float] | None:
        """``(rate, lower, width)`` of ``additive_gate`` in the rate's unit, or None."""
        if self.additive_gate is None or self.structure != "residual":
            return None
        ok = len(self.additive_gate) == 2 and isinstance(self.additive_gate[0], str)
        name, frac = (self.additive_gate[0], self.additive_gate[1]) if ok else ("", math.nan)
        try:
            frac = float(frac)
        except (TypeError, ValueError):
            frac = math.nan
        if not ok or name not in probe or not (0.0 <= frac < 1.0):
            raise InputError(
                "additive_gate must be (rate of the base model, fraction in [0, 1))",
                found=self.additive_gate,
            )
        peak = float(np.nanmax(probe[name], initial=0.0))
        if not (peak > 0 and math.isfinite(peak)):
            raise InputError(f"additive_gate rate '{name}' is never positive at the samples")
        return name, frac * peak, (1.0 - frac) * peak

    def _extra_params(self) -> list[torch.Tensor]:
        names = self.refit if self.structure == "residual" else ()
        if not names:
            return []
        pn = list(self.mechanistic.param_names)
        bad = [n for n in names if n not in pn]
        if bad:
            raise InputError(
                f"refit names unknown parameters {bad} of {self.mechanistic.name}",
                expected=", ".join(pn),
            )
        self._refit_idx = [pn.index(n) for n in names]
        vals = [self._p[i] for i in self._refit_idx]
        if min(vals) <= 0:
            raise InputError("refit parameters must be > 0 in the base model (log scale)")
        theta = torch.log(torch.tensor(vals, dtype=torch.float64, device=self.device_))
        return [theta.repeat(self.ensemble, 1).requires_grad_()]

    def _penalty(self, per_member: bool = False) -> torch.Tensor | float:
        """``correction_penalty`` times the mean squared network output (the corrections
        in their own scale: log-factor, or rate over ``rate_scale_``) at the training
        samples' states, per member, summed over members."""
        if self.structure != "residual" or self.correction_penalty <= 0:
            return 0.0
        x = self._pen_x.unsqueeze(0).expand(self.ensemble, -1, -1)
        out = self._net(self._phi(x, self._pen_u.unsqueeze(0)))
        per = self.correction_penalty * (out**2).mean(dim=(1, 2))
        return per if per_member else per.sum()

    def _extra_warmup(self) -> int:
        return self.refit_warmup

    def _extra_lr(self) -> float:
        # Refitted parameters may need their own pace: Adam moves each by about lr per step
        # (log scale), so at lr 2e-3 a parameter moves at most ~13 % in 60 steps.
        return self.lr if self.refit_lr is None else self.refit_lr

    def _pv(self) -> list[Any]:
        """Parameter vector for the balances: the base values, with the refitted ones as
        ``(E, 1)`` tensors (one value per member)."""
        idx = getattr(self, "_refit_idx", [])
        if not idx:
            return self._p
        p: list[Any] = list(self._p)
        theta = self.params_[-1]
        for j, i in enumerate(idx):
            p[i] = torch.exp(theta[:, j : j + 1])
        return p

    @property
    def refit_params_(self) -> dict[str, Array]:
        """Per-member values of the ``refit`` parameters (their units), shape ``(E,)``."""
        self._check_fitted()
        idx = getattr(self, "_refit_idx", [])
        if not idx:
            return {}
        theta = self.params_[-1].detach().exp().cpu().numpy()
        return {n: theta[:, j] for j, n in enumerate(self.refit)}

    def _rate_feature_names(self) -> tuple[str, ...]:
        return self.rate_features if self.structure == "residual" else ()

    def _balances(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        n, k = x.shape[-1], len(self.model.inputs)
        xs = [x[..., i] for i in range(n)]
        us = [u[..., j].expand_as(xs[0]) for j in range(k)]
        dx = self._proxy.rhs(0.0, xs, us, self._pv(), xp=torch_backend)
        return torch.stack([d if isinstance(d, torch.Tensor) else xs[0] * 0 + d for d in dx], -1)

    def _extra_features(self, x: torch.Tensor, u: torch.Tensor) -> list[torch.Tensor]:
        names = self._rate_feature_names()
        if not names:
            return []
        xs = [x[..., i] for i in range(x.shape[-1])]
        us = [u[..., j].expand_as(xs[0]) for j in range(u.shape[-1])]
        r = type(self.mechanistic).rates(self._proxy, 0.0, xs, us, self._pv(), xp=torch_backend)
        return [
            (xs[0] * 0 + r[n] - mu) / sd
            for n, mu, sd in zip(names, self._rf_mu, self._rf_sd, strict=True)
        ]

    def _install(self, out: torch.Tensor) -> None:
        """Make the proxy model's rates follow the network outputs ``(E, N, n_out)``."""
        if self.structure == "replace":
            rates = torch.where(self._signed, out, torch.nn.functional.softplus(out)) * self._rs
            self._proxy._learned = {r: rates[..., j] for j, r in enumerate(self.learned)}
            return
        bound = math.log(self.max_factor)

        def transform(r: dict[str, Any]) -> dict[str, Any]:
            new: dict[str, Any] = {}
            for j, name in enumerate(self.learned):
                o = out[..., j]
                if self.correction_[name] == "mul":
                    new[name] = r[name] * torch.exp(bound * torch.tanh(o / bound))
                    continue
                s = self.rate_scale_[name]
                gate = self._gate
                if gate is not None and name not in _SIGNED_RATES:
                    # Open only where the base rate ``gate[0]`` is near its peak (uptake near
                    # saturation): the added rate (overflow) cannot spill where it is not.
                    o = o * torch.clamp((r[gate[0]] - gate[1]) / gate[2], 0.0, 1.0)
                z = o * s + r[name]
                if name not in _SIGNED_RATES:
                    # Floor at 0 (exactly the base where the correction is 0) that keeps a
                    # small gradient below 0, so no region of the network is dead for good.
                    # ``<=``: an additive correction of a rate the base lacks starts at
                    # exactly z = 0, where relu has no gradient; without the leak there the
                    # network never moved off zero (the overflow was never learned).
                    z = torch.relu(z) + 0.01 * torch.where(z <= 0, z - z.detach(), 0.0)
                new[name] = z
            return new

        self._proxy._transform = transform

    def _uninstall(self) -> None:
        self._proxy._learned = {}
        self._proxy._transform = None

    def _derivative(self, x: torch.Tensor, u: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        self._install(out)
        try:
            if self._qs and self._qs_active:
                x = self._settle(x, u)
            return self._balances(x, u)
        finally:
            self._uninstall()

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
            self._install(out)
            try:
                if self._qs:
                    xt = self._settle(xt, ut)
                xs = [xt[..., i] for i in range(xt.shape[-1])]
                us = [ut[..., j].expand_as(xs[0]) for j in range(ut.shape[-1])]
                r = self._proxy.rates(0.0, xs, us, self._pv(), xp=torch_backend)
            finally:
                self._uninstall()
            vals = np.stack([(xs[0] * 0 + r[k]).mean(0).cpu().numpy() for k in self.learned], 1)
        return pd.DataFrame(vals, columns=list(self.learned))

    def __repr__(self) -> str:
        return (
            f"HybridModel({type(self.mechanistic).__name__}, learned={self.learned}, "
            f"structure={self.structure!r}, hidden={self.hidden}, ensemble={self.ensemble}, "
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
