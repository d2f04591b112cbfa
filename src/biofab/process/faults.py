"""Simulated fed-batch runs with normal batch-to-batch variation and injected faults.

The batches come from the process pillar's E. coli twin
(:class:`~biofab.process.models.EColiFedBatch`) run through one fixed recipe: a glucose
batch phase, an exponential feed from ``feed_start_h`` at ``mu_set`` and induction at
``induction_h``. The *recipe* is the same for every batch (its initial feed rate is set
from nominal values); what differs between good batches is what differs between real
ones (all chosen, not measured; standard deviations relative unless a unit is given):

=================  ====================================================
inoculum ``X0``    uniform 0.08-0.12 g/L
batch glucose      10 g/L ± 0.3 g/L
``qS_max``         ± 5 % (strain / pre-culture state)
``Yxs``            ± 3 %
``kLa``            ± 10 % (aeration, antifoam)
feed glucose       ± 2 % (feed preparation)
=================  ====================================================

The monitored signals (``X`` from a biomass probe, ``DO``, ``OUR``, ``CER``, feed ``F``,
volume ``V``) get measurement noise: X 3 %, DO 1 %-sat, OUR and CER 3 %, F 1 %, V 0.3 %.
End-of-batch quality is the final product titer ``P`` (g/L) with 2 % assay noise.

Faults start at a uniform time in ``[fault_from_h, fault_to_h]`` and have a random size:

- ``sensor_drift``: the off-gas oxygen reading drifts, so the OUR signal reads high by a
  ramp of 2-4 mmol/L/h per hour, about 3-6 % of the reading per hour (an analyser
  losing calibration), the process itself
  unchanged (``drift_variable`` moves it to another signal, in that signal's units per h);
- ``feed_failure``: the feed pump delivers 0 % or 50 % (equal chance) of its set point;
- ``growth_drop``: ``qS_max`` falls to 10-20 % of its value (below the uptake the feed
  demands) (contamination-like loss of
  growth capacity; the twin has no ``mu_max``, its growth is capped by glucose uptake).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from biofab.core.errors import InputError

__all__ = ["FAULTS", "Fault", "FedBatchRecipe", "simulate_batch", "simulate_batches"]

FAULTS = ("sensor_drift", "feed_failure", "growth_drop")
MONITORED = ("X", "DO", "OUR", "CER", "F", "V")
NOISE = {"X": 0.03, "OUR": 0.03, "CER": 0.03, "F": 0.01, "V": 0.003}
"""Relative measurement noise (std / value); DO has an absolute 1 %-sat std."""
DO_NOISE = 1.0


@dataclass(frozen=True)
class FedBatchRecipe:
    """The recipe every simulated batch follows (h, L, g/L, 1/h)."""

    t_end_h: float = 20.0
    dt_h: float = 0.25
    feed_start_h: float = 8.0
    induction_h: float = 13.0
    mu_set: float = 0.12
    V0: float = 1.5
    X_at_feed: float = 4.8
    """Nominal biomass at feed start (g/L), for the initial feed rate."""

    def F0(self) -> float:
        """Initial feed rate (L/h): ``(mu_set / Yxs + ms) X V / Sf`` at nominal values."""
        return (self.mu_set / 0.5 + 0.04) * self.X_at_feed * self.V0 / 500.0


@dataclass(frozen=True)
class Fault:
    """A fault of ``kind`` from ``start_h``; ``size`` is the drift rate (%-sat/h), the
    fraction of the feed delivered, or the fraction of ``qS_max`` left."""

    kind: str
    start_h: float
    size: float
    variable: str = "OUR"


@dataclass(frozen=True)
class _Feed:
    """Feed rate (L/h) at absolute time ``t + shift``: exponential from ``start``, times
    ``factor`` from ``fail_at``."""

    F0: float
    mu: float
    start: float
    fail_at: float = math.inf
    factor: float = 1.0
    shift: float = 0.0

    @property
    def breakpoints(self) -> tuple[float, ...]:
        return tuple(b - self.shift for b in (self.start, self.fail_at) if b - self.shift > 0)

    def __call__(self, t: float) -> float:
        ta = t + self.shift
        if ta < self.start:
            return 0.0
        rate = self.F0 * math.exp(self.mu * (ta - self.start))
        return rate * (self.factor if ta >= self.fail_at else 1.0)


@dataclass(frozen=True)
class _Step:
    """0 before ``at`` (absolute h), 1 from then on (induction)."""

    at: float
    shift: float = 0.0

    @property
    def breakpoints(self) -> tuple[float, ...]:
        return (self.at - self.shift,) if self.at - self.shift > 0 else ()

    def __call__(self, t: float) -> float:
        return 1.0 if t + self.shift >= self.at else 0.0


def _draw_batch(rng: np.random.Generator) -> tuple[dict[str, float], dict[str, float]]:
    from biofab.process.models import EColiFedBatch

    spec = EColiFedBatch.param_specs
    x0 = {
        "X": float(rng.uniform(0.08, 0.12)),
        "S": float(10.0 + 0.3 * rng.standard_normal()),
        "A": 0.0,
        "P": 0.0,
        "DO": 100.0,
        "V": 1.5,
    }
    p = {
        "qS_max": spec["qS_max"].value * (1 + 0.05 * rng.standard_normal()),
        "Yxs": spec["Yxs"].value * (1 + 0.03 * rng.standard_normal()),
        "kLa": spec["kLa"].value * (1 + 0.10 * rng.standard_normal()),
        "Sf": spec["Sf"].value * (1 + 0.02 * rng.standard_normal()),
    }
    return x0, p


def simulate_batch(
    seed: int, fault: Fault | None = None, recipe: FedBatchRecipe | None = None
) -> tuple[pd.DataFrame, float]:
    """One batch: the measured frame (``time_h`` and :data:`MONITORED`) and its quality
    (final titer, g/L). ``seed`` fixes the batch's variation and noise."""
    from biofab.process.models import EColiFedBatch
    from biofab.process.simulate import simulate

    r = recipe or FedBatchRecipe()
    rng = np.random.default_rng(seed)
    x0, p = _draw_batch(rng)
    model = EColiFedBatch()
    times = np.round(np.arange(0.0, r.t_end_h + 1e-9, r.dt_h), 9)
    feed = _Feed(r.F0(), r.mu_set, r.feed_start_h)
    if fault is not None and fault.kind == "feed_failure":
        feed = _Feed(r.F0(), r.mu_set, r.feed_start_h, fault.start_h, fault.size)
    ind = _Step(r.induction_h)
    # Loose tolerances keep a batch at ~0.05 s; undershoots of a few mg/L at glucose
    # exhaustion are solver noise, not a model failure.
    opts: dict[str, Any] = {"rtol": 1e-5, "atol": 1e-7, "negative_tol": 1e-3}
    if fault is not None and fault.kind == "growth_drop":
        t_f = fault.start_h
        first = simulate(
            model, x0, t_f, {"F": feed, "ind": ind}, p=p, t_eval=times[times <= t_f], **opts
        )
        state = {k: max(v, 0.0) for k, v in first.final.items()}
        later = times[times > t_f] - t_f
        p2 = {**p, "qS_max": p["qS_max"] * fault.size}
        shifted = {
            "F": _Feed(r.F0(), r.mu_set, r.feed_start_h, shift=t_f),
            "ind": _Step(r.induction_h, t_f),
        }
        second = simulate(model, state, r.t_end_h - t_f, shifted, p=p2, t_eval=later, **opts)
        tail = second.frame.assign(time_h=second.frame["time_h"] + t_f)
        frame = pd.concat([first.frame, tail], ignore_index=True)
    else:
        frame = simulate(
            model, x0, r.t_end_h, {"F": feed, "ind": ind}, p=p, t_eval=times, **opts
        ).frame
    out = pd.DataFrame({"time_h": frame["time_h"].to_numpy()})
    for name in MONITORED:
        true = frame[name].to_numpy(dtype=float)
        if name == "DO":
            out[name] = true + DO_NOISE * rng.standard_normal(true.size)
        else:
            out[name] = true * (1 + NOISE[name] * rng.standard_normal(true.size))
    if fault is not None and fault.kind == "sensor_drift":
        late = out["time_h"] > fault.start_h
        out.loc[late, fault.variable] += fault.size * (out.loc[late, "time_h"] - fault.start_h)
    quality = float(frame["P"].iloc[-1]) * (1 + 0.02 * rng.standard_normal())
    return out, quality


def draw_fault(kind: str, rng: np.random.Generator, start: tuple[float, float]) -> Fault:
    """A fault of ``kind`` with a random start in ``start`` (h) and a random size."""
    t = float(rng.uniform(*start))
    if kind == "sensor_drift":
        return Fault(kind, t, float(rng.uniform(2.0, 4.0)))
    if kind == "feed_failure":
        return Fault(kind, t, float(rng.choice([0.0, 0.5])))
    if kind == "growth_drop":
        return Fault(kind, t, float(rng.uniform(0.1, 0.2)))
    raise InputError("unknown fault", expected=" | ".join(FAULTS), found=kind)


def simulate_batches(
    n: int,
    seed: int,
    fault: str | None = None,
    *,
    recipe: FedBatchRecipe | None = None,
    fault_from_h: float = 10.0,
    fault_to_h: float = 14.0,
    prefix: str = "batch",
) -> tuple[dict[str, pd.DataFrame], pd.DataFrame, list[Fault | None]]:
    """``n`` batches (name -> frame), their quality (indexed by name, column ``P_final``
    in g/L) and their faults (None for good batches). Batch ``i`` uses seed
    ``seed * 100_000 + i``, so two sets with different ``seed`` never share a batch."""
    rng = np.random.default_rng([seed, 7])
    frames: dict[str, pd.DataFrame] = {}
    quality: dict[str, float] = {}
    faults: list[Fault | None] = []
    for i in range(n):
        f = None if fault is None else draw_fault(fault, rng, (fault_from_h, fault_to_h))
        name = f"{prefix}{seed}_{i:03d}"
        frames[name], quality[name] = simulate_batch(seed * 100_000 + i, f, recipe)
        faults.append(f)
    q = pd.DataFrame({"P_final": pd.Series(quality)})
    return frames, q, faults
