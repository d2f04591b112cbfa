"""Simulate a bioreactor twin through a recipe: feed profiles and discrete events.

Time is in hours from inoculation. A recipe is

- ``inputs``: the value of each model input from t = 0, a number, a :class:`FeedProfile`
  (evaluated at absolute time) or a callable ``t -> value``;
- ``events``: :class:`FeedStart`, :class:`FeedStop`, :class:`Induction`, :class:`SetInput`
  and :class:`Bolus`, each at a time ``t``. A profile given to an event is evaluated in the
  time *since that event* (``F(t) = F0 exp(mu_set (t - t_start))`` for an exponential feed
  started at ``t_start``, the standard industrial profile).

The integration is split at every event and every profile breakpoint (a step change inside
a solver step would be smeared), each piece solved by a stiff-capable solver (LSODA by
default: the dissolved-oxygen balance relaxes in seconds while biomass changes over hours).
The trajectory is right-continuous: a sample at an event's time shows the state after it.
Events at or after ``t_end`` do not fire.

A run that goes wrong stops with :class:`SimulationError` naming the time, the state and the
value: a state below ``-negative_tol`` (a concentration cannot be negative), a state beyond
``blowup`` times its scale, a non-finite derivative, or a solver failure.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from biofab.core.errors import BiofabError, InputError
from biofab.process.models import ProcessModel, scalar_backend

__all__ = [
    "Bolus",
    "Constant",
    "Event",
    "Exponential",
    "FeedProfile",
    "FeedStart",
    "FeedStop",
    "Induction",
    "Piecewise",
    "SetInput",
    "SimulationError",
    "Trajectory",
    "input_schedule",
    "simulate",
]

Array = NDArray[np.float64]


class SimulationError(BiofabError):
    """A simulation that cannot go on: blow-up, negative state, non-finite rate, solver failure.

    Attributes ``time_h``, ``state`` (or ``None``) and ``value`` locate the failure.
    """

    def __init__(
        self, message: str, *, time_h: float, state: str | None = None, value: float | None = None
    ) -> None:
        self.time_h = time_h
        self.state = state
        self.value = value
        super().__init__(message)


# ---------------------------------------------------------------------------------------
# Feed profiles
# ---------------------------------------------------------------------------------------


@runtime_checkable
class FeedProfile(Protocol):
    """A time course of one input: ``profile(t)`` with ``t`` in hours; ``breakpoints`` are
    the times where it jumps (the solver restarts there)."""

    breakpoints: tuple[float, ...]

    def __call__(self, t: float) -> float: ...


def _check_rate(value: float, what: str) -> float:
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise InputError(f"{what} must be finite and >= 0", found=value)
    return value


@dataclass(frozen=True)
class Constant:
    """Constant value (e.g. a feed rate in L/h)."""

    value: float
    breakpoints: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if not math.isfinite(float(self.value)):
            raise InputError("constant input must be finite", found=self.value)

    def __call__(self, t: float) -> float:
        return float(self.value)


@dataclass(frozen=True)
class Exponential:
    """Exponential feed ``F(t) = F0 exp(mu_set t)`` (L/h), capped at ``F_max``.

    Feeding glucose in proportion to the biomass that grows at ``mu_set`` keeps the specific
    growth rate at ``mu_set`` below the overflow threshold; see :meth:`for_growth`.
    """

    F0: float
    mu_set: float
    F_max: float = math.inf
    breakpoints: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        _check_rate(self.F0, "exponential feed F0 (L/h)")
        if not math.isfinite(self.mu_set):
            raise InputError("exponential feed mu_set (1/h) must be finite", found=self.mu_set)
        if not self.F_max > 0:
            raise InputError("exponential feed F_max (L/h) must be > 0", found=self.F_max)

    def __call__(self, t: float) -> float:
        return min(self.F0 * math.exp(self.mu_set * t), self.F_max)

    @classmethod
    def for_growth(
        cls,
        mu_set: float,
        X0: float,
        V0: float,
        S_feed: float,
        Yxs: float,
        ms: float = 0.0,
        F_max: float = math.inf,
    ) -> Exponential:
        """Feed that sustains growth at ``mu_set`` (1/h) from ``X0`` g/L in ``V0`` L:
        ``F0 = (mu_set / Yxs + ms) X0 V0 / S_feed`` (the usual design rule, e.g. Enfors 2011,
        *Fermentation Process Engineering*, KTH)."""
        F0 = (mu_set / Yxs + ms) * X0 * V0 / S_feed
        return cls(F0=F0, mu_set=mu_set, F_max=F_max)


@dataclass(frozen=True)
class Piecewise:
    """Piecewise profile through ``(times[i], values[i])``; ``kind='hold'`` keeps each value
    until the next time (step changes), ``'linear'`` interpolates. Before ``times[0]`` the
    value is ``values[0]``; after the last time, the last value."""

    times: tuple[float, ...]
    values: tuple[float, ...]
    kind: str = "hold"
    breakpoints: tuple[float, ...] = field(init=False)

    def __init__(self, times: ArrayLike, values: ArrayLike, kind: str = "hold") -> None:
        t = tuple(float(v) for v in np.atleast_1d(np.asarray(times, dtype=float)))
        y = tuple(float(v) for v in np.atleast_1d(np.asarray(values, dtype=float)))
        if len(t) != len(y) or not t:
            raise InputError(
                "piecewise profile needs as many values as times (at least one)",
                found=f"{len(t)} times, {len(y)} values",
            )
        if any(b <= a for a, b in itertools.pairwise(t)):
            raise InputError("piecewise profile times must be strictly increasing", found=t)
        if not all(math.isfinite(v) for v in t + y):
            raise InputError("piecewise profile times and values must be finite")
        if kind not in ("hold", "linear"):
            raise InputError("unknown piecewise kind", expected="hold or linear", found=kind)
        object.__setattr__(self, "times", t)
        object.__setattr__(self, "values", y)
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "breakpoints", t)

    def __call__(self, t: float) -> float:
        if self.kind == "linear":
            return float(np.interp(t, self.times, self.values))
        i = int(np.searchsorted(self.times, t, side="right")) - 1
        return self.values[max(i, 0)]


def _as_profile(value: Any, what: str) -> Callable[[float], float]:
    if isinstance(value, int | float):
        return Constant(float(value))
    if callable(value):
        return value
    raise InputError(f"{what} must be a number, a feed profile or a callable", found=value)


# ---------------------------------------------------------------------------------------
# Events
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """Something that happens at time ``t`` (h)."""

    t: float

    def label(self) -> str:
        return type(self).__name__


@dataclass(frozen=True)
class SetInput(Event):
    """From ``t`` on, input ``name`` follows ``value`` (a number or a profile of the time
    since ``t``)."""

    name: str = "F"
    value: Any = 0.0

    def label(self) -> str:
        return f"{self.name} := {self.value}"


@dataclass(frozen=True)
class FeedStart(Event):
    """Start feeding at ``t``: ``input`` follows ``profile`` (L/h, time since ``t``)."""

    profile: Any = 0.0
    input: str = "F"

    def label(self) -> str:
        return f"feed start {self.profile}"


@dataclass(frozen=True)
class FeedStop(Event):
    """Stop feeding at ``t`` (sets ``input`` to 0)."""

    input: str = "F"

    def label(self) -> str:
        return "feed stop"


@dataclass(frozen=True)
class Induction(Event):
    """Add the inducer at ``t`` (sets input ``input`` to ``level``, 1 = fully induced)."""

    level: float = 1.0
    input: str = "ind"

    def label(self) -> str:
        return f"induction ({self.level:g})"


@dataclass(frozen=True)
class Bolus(Event):
    """Add ``volume`` L of liquid at ``t``.

    ``concentrations`` (state units, e.g. g/L or mM) give the composition of the added
    liquid; ``amounts`` (state unit × L, e.g. g or mmol) add material directly. Concentration
    states of ``model.diluted`` are diluted by the volume; others (DO) are unchanged.
    """

    volume: float = 0.0
    concentrations: Mapping[str, float] = field(default_factory=dict)
    amounts: Mapping[str, float] = field(default_factory=dict)

    def label(self) -> str:
        what = {**self.concentrations, **{f"{k} (amount)": v for k, v in self.amounts.items()}}
        return f"bolus {self.volume:g} L {what}"

    def apply(self, model: ProcessModel, x: Array) -> Array:
        iv = model.states.index(model.volume_state)
        V = x[iv]
        V_new = V + self.volume
        if V_new <= 0:
            raise SimulationError(
                f"bolus at t = {self.t:g} h leaves volume {V_new:g} L <= 0",
                time_h=self.t,
                state=model.volume_state,
                value=V_new,
            )
        out = x.copy()
        for name in model.diluted:
            i = model.states.index(name)
            mass = x[i] * V + self.concentrations.get(name, 0.0) * self.volume
            mass += self.amounts.get(name, 0.0)
            out[i] = mass / V_new
        out[iv] = V_new
        return out


def _check_events(model: ProcessModel, events: Sequence[Event]) -> None:
    for ev in events:
        if not isinstance(ev, Event):
            raise InputError(
                "events must be FeedStart, FeedStop, Induction, SetInput or Bolus", found=ev
            )
        if not math.isfinite(ev.t) or ev.t < 0:
            raise InputError(f"event {ev.label()} has a bad time (h)", expected=">= 0", found=ev.t)
        name = getattr(ev, "input", None) or getattr(ev, "name", None)
        if isinstance(ev, SetInput | FeedStart | FeedStop | Induction) and name not in model.inputs:
            raise InputError(
                f"event {ev.label()} sets input '{name}' that {model.name} does not have",
                expected=", ".join(model.inputs),
            )
        if isinstance(ev, Bolus):
            allowed = set(model.diluted)
            bad = sorted((set(ev.concentrations) | set(ev.amounts)) - allowed)
            if bad:
                raise InputError(
                    f"bolus at t = {ev.t:g} h names states that a bolus cannot carry: {bad}",
                    expected=", ".join(model.diluted),
                )
            if not math.isfinite(ev.volume) or ev.volume < 0:
                raise InputError("bolus volume (L) must be finite and >= 0", found=ev.volume)


# ---------------------------------------------------------------------------------------
# Trajectory
# ---------------------------------------------------------------------------------------


class Trajectory:
    """Result of :func:`simulate`: ``frame`` with ``time_h``, the states, the inputs and the
    outputs (one row per requested time); ``events`` lists the events that fired.

    Column access (``traj["X"]``), ``len``, ``columns`` and ``to_frame()`` behave like a
    DataFrame's; ``final`` is the state at the last time as a dict.
    """

    def __init__(
        self, model: ProcessModel, frame: pd.DataFrame, events: pd.DataFrame, p: Array
    ) -> None:
        self.model = model
        self.frame = frame
        self.events = events
        self.p = p

    def __getitem__(self, key: Any) -> Any:
        return self.frame[key]

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def columns(self) -> pd.Index:
        return self.frame.columns

    @property
    def t(self) -> Array:
        return self.frame["time_h"].to_numpy()

    @property
    def x(self) -> Array:
        """States, shape ``(n_times, n_states)``."""
        return self.frame[list(self.model.states)].to_numpy()

    @property
    def final(self) -> dict[str, float]:
        row = self.frame.iloc[-1]
        return {s: float(row[s]) for s in self.model.states}

    def to_frame(self) -> pd.DataFrame:
        return self.frame.copy()

    def __repr__(self) -> str:
        return f"Trajectory({self.model.name}, {len(self)} times, {len(self.events)} events)"


# ---------------------------------------------------------------------------------------
# simulate
# ---------------------------------------------------------------------------------------


@dataclass
class _InputSpec:
    profile: Callable[[float], float]
    origin: float

    def __call__(self, t: float) -> float:
        return float(self.profile(t - self.origin))


def simulate(
    model: ProcessModel,
    x0: Mapping[str, float] | Sequence[float],
    t_end: float,
    inputs: Mapping[str, Any] | Any = None,
    events: Sequence[Event] = (),
    p: Mapping[str, float] | None = None,
    t_eval: ArrayLike | None = None,
    *,
    method: str = "LSODA",
    rtol: float = 1e-7,
    atol: float = 1e-9,
    negative_tol: float = 1e-6,
    blowup: float = 1e6,
) -> Trajectory:
    """Simulate ``model`` from ``x0`` over ``[0, t_end]`` hours.

    Parameters
    ----------
    x0:
        Initial state by name (every state) or in ``model.states`` order.
    inputs:
        ``{input: number | profile | callable(t)}`` from t = 0 (absolute time); a bare
        number or profile is taken as the feed ``F``. Unset inputs take
        ``model.input_defaults``.
    events:
        Events (see the module docstring); a profile of an event runs on time since it.
    p:
        Parameter values replacing the model's, by name.
    t_eval:
        Output times (h) within ``[0, t_end]``; default 201 evenly spaced.
    rtol, atol:
        Solver tolerances; ``atol`` is scaled per state by ``max(1, |x0|)``.
    negative_tol:
        A state below ``-(negative_tol * max(1, |x0|))`` stops the run with an error.
    blowup:
        A state beyond ``blowup * max(1, |x0|)`` stops the run with an error.
    """
    from scipy.integrate import solve_ivp

    t_end = float(t_end)
    if not math.isfinite(t_end) or t_end <= 0:
        raise InputError("simulation end time t_end (h) must be > 0", found=t_end)
    x = model.state_vector(x0)
    pvec = model.param_vector(p)
    plist = pvec.tolist()
    _check_events(model, events)
    times = (
        np.linspace(0.0, t_end, 201)
        if t_eval is None
        else np.unique(np.asarray(t_eval, dtype=float))
    )
    if times.size == 0 or times[0] < 0 or times[-1] > t_end * (1 + 1e-12):
        raise InputError(
            "t_eval must lie within [0, t_end]",
            expected=f"[0, {t_end:g}]",
            found=f"[{times.min() if times.size else None}, {times.max() if times.size else None}]",
        )

    specs = _initial_inputs(model, inputs)
    order = sorted((ev for ev in events if ev.t < t_end), key=lambda ev: ev.t)
    scale = np.maximum(1.0, np.abs(x))
    neg_limit = negative_tol * scale
    big_limit = blowup * scale
    fired: list[dict[str, Any]] = []
    rows_t: list[Array] = []
    rows_x: list[Array] = []
    rows_u: list[Array] = []

    def u_at(t: float) -> list[float]:
        return [specs[name](t) for name in model.inputs]

    def breaks(lo: float, hi: float) -> list[float]:
        out = []
        for spec in specs.values():
            for b in getattr(spec.profile, "breakpoints", ()):
                tb = spec.origin + b
                if lo < tb < hi:
                    out.append(tb)
        return out

    t = 0.0
    pending = list(order)
    while True:
        while pending and pending[0].t <= t:
            ev = pending.pop(0)
            x = _fire(model, ev, x, specs)
            fired.append({"time_h": ev.t, "event": type(ev).__name__, "detail": ev.label()})
        t_next = min([pending[0].t] if pending else [t_end])
        t_next = min(t_next, t_end)
        cuts = sorted({t, *breaks(t, t_next), t_next})
        for a, b in itertools.pairwise(cuts):
            last = b >= t_end
            mask = (times >= a) & ((times <= b) if last else (times < b))
            x = _solve_piece(
                model,
                x,
                a,
                b,
                times[mask],
                u_at,
                plist,
                method,
                rtol,
                atol * scale,
                neg_limit,
                big_limit,
                rows_t,
                rows_x,
                rows_u,
                solve_ivp,
            )
        t = t_next
        if t >= t_end:
            break

    T = np.concatenate(rows_t) if rows_t else np.zeros(0)
    Xs = np.vstack(rows_x) if rows_x else np.zeros((0, len(model.states)))
    Us = np.vstack(rows_u) if rows_u else np.zeros((0, len(model.inputs)))
    frame = pd.DataFrame({"time_h": T})
    for i, s in enumerate(model.states):
        frame[s] = Xs[:, i]
    for i, name in enumerate(model.inputs):
        frame[name] = Us[:, i]
    ys = model.measure(
        [Xs[:, i] for i in range(Xs.shape[1])], [Us[:, i] for i in range(Us.shape[1])], pvec, xp=np
    )
    for name, y in zip(model.outputs, ys, strict=True):
        if name not in model.states:
            frame[name] = np.broadcast_to(np.asarray(y, dtype=float), T.shape)
    ev_frame = pd.DataFrame(fired, columns=["time_h", "event", "detail"])
    return Trajectory(model, frame, ev_frame, pvec)


def _initial_inputs(model: ProcessModel, inputs: Any) -> dict[str, _InputSpec]:
    specs = {name: _InputSpec(Constant(v), 0.0) for name, v in model.input_defaults.items()}
    if inputs is None:
        return specs
    if not isinstance(inputs, Mapping):
        inputs = {"F": inputs}
    unknown = sorted(set(inputs) - set(model.inputs))
    if unknown:
        raise InputError(
            f"unknown input(s) {', '.join(unknown)} for {model.name}",
            expected=", ".join(model.inputs),
        )
    for name, value in inputs.items():
        specs[name] = _InputSpec(_as_profile(value, f"input '{name}'"), 0.0)
    return specs


def _input_change(ev: Event) -> tuple[str, _InputSpec] | None:
    """The input ``ev`` sets and what it follows from then on (its profile runs on the
    time since the event); None for events that move no input (a bolus)."""
    if isinstance(ev, FeedStart):
        return ev.input, _InputSpec(_as_profile(ev.profile, "feed profile"), ev.t)
    if isinstance(ev, FeedStop):
        return ev.input, _InputSpec(Constant(0.0), ev.t)
    if isinstance(ev, Induction):
        return ev.input, _InputSpec(Constant(ev.level), ev.t)
    if isinstance(ev, SetInput):
        return ev.name, _InputSpec(_as_profile(ev.value, f"input '{ev.name}'"), ev.t)
    return None


def _fire(model: ProcessModel, ev: Event, x: Array, specs: dict[str, _InputSpec]) -> Array:
    change = _input_change(ev)
    if change is not None:
        specs[change[0]] = change[1]
    elif isinstance(ev, Bolus):
        x = ev.apply(model, x)
    return x


def input_schedule(
    model: ProcessModel,
    inputs: Mapping[str, Any] | Any,
    events: Sequence[Event],
    times: ArrayLike,
) -> Array:
    """Value of every input of ``model`` at ``times`` (h), shape ``(n_times, n_inputs)``
    in ``model.inputs`` order.

    The rules are :func:`simulate`'s own (the same helpers build both): ``inputs`` run
    from t = 0, unset inputs take ``model.input_defaults``, an event's profile runs on the
    time since the event, and a change at ``t`` holds from ``t`` on (right-continuous).
    Boluses move states, not inputs, and are skipped here.
    """
    _check_events(model, events)
    base = _initial_inputs(model, inputs)
    changes = [
        (ev.t, change)
        for ev in sorted(events, key=lambda e: e.t)
        if (change := _input_change(ev)) is not None
    ]
    t = np.asarray(times, dtype=float).reshape(-1)
    out = np.empty((t.size, len(model.inputs)))
    for k, tk in enumerate(t):
        current = dict(base)
        for te, (name, spec) in changes:
            if te <= tk + 1e-12:
                current[name] = spec
        out[k] = [current[name](tk) for name in model.inputs]
    if not np.all(np.isfinite(out)):
        raise InputError(f"the recipe gives non-finite inputs to {model.name}")
    return out


def _solve_piece(
    model: ProcessModel,
    x: Array,
    a: float,
    b: float,
    t_out: Array,
    u_at: Callable[[float], list[float]],
    plist: list[float],
    method: str,
    rtol: float,
    atol: Array,
    neg_limit: Array,
    big_limit: Array,
    rows_t: list[Array],
    rows_x: list[Array],
    rows_u: list[Array],
    solve_ivp: Any,
) -> Array:
    """Integrate one event-free piece [a, b]; append the outputs; return x(b)."""
    if b <= a:
        return x
    n_in = len(model.inputs)

    def f(t: float, y: Array) -> Array:
        u = u_at(t)
        try:
            dy = model.rhs(t, y.tolist(), u, plist, xp=scalar_backend)
            total = math.fsum(dy) + math.fsum(u)
        except (OverflowError, ZeroDivisionError, ValueError) as err:
            raise _blowup(model, t, y, f"rate evaluation failed ({err})") from None
        if not math.isfinite(total):
            raise _blowup(model, t, y, "non-finite rate or input")
        return np.array(dy, dtype=float)

    # b is always evaluated (then dropped unless requested) so the piece hands on x(b).
    t_all = np.union1d(t_out, [b])
    sol = solve_ivp(f, (a, b), x, method=method, t_eval=t_all, rtol=rtol, atol=atol)
    if sol.status == -1:
        # A solver that fails on its first step reports no points: blame the piece's start.
        t_fail, y_fail = (float(sol.t[-1]), sol.y[:, -1]) if sol.t.size else (a, x)
        raise _blowup(model, t_fail, y_fail, f"solver failed: {sol.message}")
    # Checked on the reported times and the piece's end, not inside the solver: its trial
    # points may overshoot and be rejected, and solver events cost more than the model.
    _check_states(model, sol.t, sol.y, neg_limit, big_limit)
    _check_inputs(model, sol.t, u_at, n_in)
    keep = np.isin(sol.t, t_out)
    if keep.any():
        tk = sol.t[keep]
        rows_t.append(tk)
        rows_x.append(sol.y[:, keep].T)
        rows_u.append(np.array([u_at(float(tt)) for tt in tk]).reshape(tk.size, -1))
    end = np.asarray(sol.y[:, -1], dtype=float)
    # Undershoots within negative_tol are solver noise; zero them so they do not grow.
    return np.where(end < 0.0, 0.0, end)


def _check_states(
    model: ProcessModel, t: Array, y: Array, neg_limit: Array, big_limit: Array
) -> None:
    names = model.states
    low = y < -neg_limit[:, None]
    high = np.abs(y) > big_limit[:, None]
    for bad, what in ((low, "negative"), (high, "huge")):
        if not bad.any():
            continue
        k = int(np.flatnonzero(bad.any(axis=0))[0])
        i = int(np.flatnonzero(bad[:, k])[0])
        unit = model.units.get(names[i], "")
        if what == "negative":
            msg = (
                f"{model.name}: state '{names[i]}' became negative ({y[i, k]:.4g} {unit}) "
                f"by t = {t[k]:.4g} h; check the feed, boluses and parameters (a consumption "
                "rate that does not vanish at zero?)"
            )
        else:
            msg = (
                f"{model.name}: state '{names[i]}' blew up ({y[i, k]:.4g} {unit}, over "
                f"{big_limit[i]:.3g}) by t = {t[k]:.4g} h; check the feed profile and parameters"
            )
        raise SimulationError(msg, time_h=float(t[k]), state=names[i], value=float(y[i, k]))


def _check_inputs(
    model: ProcessModel, t: Array, u_at: Callable[[float], list[float]], n_in: int
) -> None:
    for tt in t:
        u = u_at(float(tt))
        for name, v in zip(model.inputs, u, strict=True):
            if not math.isfinite(v) or (name == "F" and v < 0):
                raise SimulationError(
                    f"{model.name}: input '{name}' = {v} at t = {tt:.4g} h is not a valid "
                    "value (feed rates must be finite and >= 0)",
                    time_h=float(tt),
                    state=None,
                    value=float(v),
                )


def _blowup(model: ProcessModel, t: float, y: Array, why: str) -> SimulationError:
    y = np.asarray(y, dtype=float)
    finite = np.where(np.isfinite(y), np.abs(y), np.inf)
    i = int(np.argmax(finite))
    return SimulationError(
        f"{model.name}: {why} at t = {t:.4g} h (largest state '{model.states[i]}' = "
        f"{y[i]:.4g}); the scenario makes the ODE blow up — check the feed and parameters",
        time_h=t,
        state=model.states[i],
        value=float(y[i]),
    )
