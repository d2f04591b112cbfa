"""Recipe optimisation: set-point profiles as a design space, searched by a campaign.

A fed-batch *recipe* is a set of channels (feed rates, aeration, back pressure,
...), each a list of set-points ``(time, value)``: time in h from inoculation,
value in the channel's own unit (e.g. L/h, bar). A set-point applies *up to*
its time (backward fill): the value at time ``t`` is that of the first
set-point whose time is ``>= t``; after the last set-point the last value
holds. This is how the IndPenSim recipe tables read (Goldrick et al. 2019,
Comput Chem Eng 130:106471); pensimpy's own ``Recipe`` forward-fills, which
shifts every step one interval late and drains the vessel with the default
discharge profile.

:class:`RecipeSpace` turns a default recipe into a :class:`~biofab.core.Space`
of multipliers (e.g. 0.9..1.1 = ±10 % around the default), one per set-point
or one per channel and phase; :func:`optimize_recipe` runs a
:class:`~biofab.campaign.Campaign` in batch mode against any testbed whose
space is such a space (a process twin, or the IndPenSim plant in
:mod:`biofab.process.pensim`).
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from biofab.core import Continuous, InputError, Space, Testbed, TestbedExecutor

if TYPE_CHECKING:
    from biofab.campaign import Campaign
    from biofab.learn import Recommender
    from biofab.store import Store

Profile = list[tuple[float, float]]
"""Set-points of one channel: ``[(time_h, value), ...]`` with strictly increasing times."""

Grouping = Literal["setpoint", "phase"]


def check_profiles(profiles: Mapping[str, Sequence[Any]]) -> dict[str, Profile]:
    """Validate set-point profiles; return them as ``{channel: [(time_h, value), ...]}``.

    Each set-point may be a pair ``(time, value)`` or a mapping with ``time``
    and ``value`` keys (pensimpy's format). Times must be finite, >= 0 and
    strictly increasing (an unsorted or duplicated time would make "the value
    at t" ambiguous); values must be finite.
    """
    if not profiles:
        raise InputError("a recipe needs at least one channel", expected="{channel: set-points}")
    out: dict[str, Profile] = {}
    for channel, points in profiles.items():
        if len(points) == 0:
            raise InputError("a channel has no set-points", column=str(channel))
        pairs: Profile = []
        for i, sp in enumerate(points):
            try:
                t, v = (sp["time"], sp["value"]) if isinstance(sp, Mapping) else sp
                pair = (float(t), float(v))
            except (TypeError, ValueError, KeyError):
                raise InputError(
                    "cannot read a set-point",
                    column=str(channel),
                    row=i + 1,
                    expected="(time_h, value)",
                    found=sp,
                ) from None
            if not (math.isfinite(pair[0]) and math.isfinite(pair[1])) or pair[0] < 0:
                raise InputError(
                    "set-point time must be finite and >= 0, value finite",
                    column=str(channel),
                    row=i + 1,
                    found=sp,
                )
            if pairs and pair[0] <= pairs[-1][0]:
                what = "duplicated" if pair[0] == pairs[-1][0] else "unsorted"
                raise InputError(
                    f"{what} set-point time",
                    column=str(channel),
                    row=i + 1,
                    expected=f"a time > {pairs[-1][0]:g} h",
                    found=pair[0],
                )
            pairs.append(pair)
        out[str(channel)] = pairs
    return out


class SetpointRecipe:
    """Set-point profiles with backward fill, readable at any time.

    ``get_values_dict_at(time)`` is the interface pensimpy's ``PenSimEnv``
    calls every control step, so an instance can replace its ``RecipeCombo``.
    """

    def __init__(self, profiles: Mapping[str, Sequence[Any]]) -> None:
        self.profiles = check_profiles(profiles)
        self._times = {c: np.array([t for t, _ in p]) for c, p in self.profiles.items()}
        self._values = {c: np.array([v for _, v in p]) for c, p in self.profiles.items()}

    def value_at(self, channel: str, time: float) -> float:
        """The set-point in force at ``time`` (h): the first whose time is >= ``time``."""
        times = self._times[channel]
        i = min(int(np.searchsorted(times, time, side="left")), len(times) - 1)
        return float(self._values[channel][i])

    def get_values_dict_at(self, time: float) -> dict[str, float]:
        """``{channel: value}`` at ``time`` (h)."""
        return {c: self.value_at(c, time) for c in self.profiles}

    def trajectory(self, times: Sequence[float]) -> pd.DataFrame:
        """Values of every channel at ``times`` (h): one row per time, one column per channel."""
        return pd.DataFrame(
            {c: [self.value_at(c, t) for t in times] for c in self.profiles},
            index=pd.Index(list(times), name="time_h"),
        )


@dataclass(frozen=True)
class _Group:
    """One design parameter: the set-points ``[(channel, index), ...]`` it scales."""

    name: str
    members: tuple[tuple[str, int], ...]


class RecipeSpace:
    """A default recipe as a space of multipliers on its set-points.

    Parameters
    ----------
    profiles:
        The default recipe ``{channel: [(time_h, value), ...]}``.
    grouping:
        ``"setpoint"``: one multiplier per non-zero set-point (e.g. 59 for the
        IndPenSim default). ``"phase"``: one multiplier per channel and phase,
        scaling every set-point of the channel whose time falls in the phase.
    phases:
        Phase boundaries in h (``"phase"`` grouping): set-points at
        ``t <= phases[0]`` are in the first phase, and so on. Two phases are
        named ``early``/``late``, three ``early``/``mid``/``late``, others
        ``phase0``, ``phase1``, ...
    bounds:
        Multiplier range; ``(0.9, 1.1)`` keeps every set-point within ±10 %.
    channels:
        Channels to parametrise (default all); the others keep their defaults.

    Set-points whose default value is 0 get no multiplier: scaling zero changes
    nothing, and a surrogate would spend a dimension on it.
    """

    def __init__(
        self,
        profiles: Mapping[str, Sequence[Any]],
        *,
        grouping: Grouping = "phase",
        phases: Sequence[float] = (40.0, 100.0),
        bounds: tuple[float, float] = (0.9, 1.1),
        channels: Sequence[str] | None = None,
    ) -> None:
        self.defaults = check_profiles(profiles)
        if grouping not in ("setpoint", "phase"):
            raise InputError("unknown grouping", expected="setpoint or phase", found=grouping)
        lo, hi = (float(b) for b in bounds)
        if not 0 <= lo < 1 < hi:
            raise InputError(
                "multiplier bounds must bracket 1", expected="0 <= lo < 1 < hi", found=bounds
            )
        edges = [float(p) for p in phases]
        if edges != sorted(set(edges)):
            raise InputError("phase boundaries must increase", found=list(phases))
        unknown = sorted(set(channels or ()) - set(self.defaults))
        if unknown:
            raise InputError(
                "unknown channel", expected=f"one of {sorted(self.defaults)}", found=unknown
            )
        self.grouping = grouping
        self.phases = tuple(edges)
        self.bounds = (lo, hi)
        self.channels = list(channels) if channels is not None else list(self.defaults)
        self.groups = self._make_groups()
        self.space = Space({g.name: Continuous(lo, hi) for g in self.groups})

    def _phase_name(self, time: float) -> str:
        k = int(np.searchsorted(self.phases, time, side="left"))
        names = {1: ("early", "late"), 2: ("early", "mid", "late")}.get(len(self.phases))
        return names[k] if names else f"phase{k}"

    def _make_groups(self) -> list[_Group]:
        members: dict[str, list[tuple[str, int]]] = {}
        for channel in self.channels:
            for i, (t, v) in enumerate(self.defaults[channel]):
                if v == 0:
                    continue
                key = (
                    f"{channel}@{t:g}h"
                    if self.grouping == "setpoint"
                    else f"{channel}:{self._phase_name(t)}"
                )
                members.setdefault(key, []).append((channel, i))
        if not members:
            raise InputError("no non-zero set-point to vary", found=self.channels)
        return [_Group(name, tuple(m)) for name, m in members.items()]

    # -- designs <-> profiles -------------------------------------------------
    @property
    def names(self) -> list[str]:
        return self.space.names

    def default_design(self) -> pd.DataFrame:
        """The default recipe as a one-row design (every multiplier 1)."""
        return pd.DataFrame([dict.fromkeys(self.names, 1.0)])

    def _multipliers(self, design: Mapping[str, Any] | pd.Series) -> dict[str, float]:
        row = dict(design)
        missing = [n for n in self.names if n not in row]
        if missing:
            raise InputError(
                "design lacks a multiplier", column=missing[0], expected=f"columns {self.names}"
            )
        lo, hi = self.bounds
        out = {}
        for n in self.names:
            try:
                m = float(row[n])
            except (TypeError, ValueError):
                raise InputError("multiplier is not a number", column=n, found=row[n]) from None
            # a tolerance for float noise from encoding round trips, not for real excursions
            if not lo - 1e-9 <= m <= hi + 1e-9:
                raise InputError(
                    "multiplier outside its bounds", column=n, expected=f"{lo:g}..{hi:g}", found=m
                )
            out[n] = m
        return out

    def profiles(self, design: Mapping[str, Any] | pd.Series) -> dict[str, Profile]:
        """One design (a mapping or a frame row of multipliers) -> the recipe's profiles."""
        mult = self._multipliers(design)
        out = {c: list(p) for c, p in self.defaults.items()}
        for g in self.groups:
            for channel, i in g.members:
                t, v = out[channel][i]
                out[channel][i] = (t, v * mult[g.name])
        return out

    def recipe(self, design: Mapping[str, Any] | pd.Series) -> SetpointRecipe:
        """One design -> a :class:`SetpointRecipe` to run."""
        return SetpointRecipe(self.profiles(design))

    def design(
        self, profiles: Mapping[str, Sequence[Any]], *, rtol: float = 1e-9
    ) -> dict[str, float]:
        """The inverse of :meth:`profiles`: set-point profiles -> multipliers.

        The profiles must have the default's channels and times, zero set-points
        unchanged, and one common ratio to the default within each group.
        """
        given = check_profiles(profiles)
        for channel, default in self.defaults.items():
            times = [t for t, _ in given.get(channel, [])]
            if times != [t for t, _ in default]:
                raise InputError(
                    "profile times differ from the default recipe's",
                    column=channel,
                    expected=str([t for t, _ in default]),
                    found=times,
                )
        out: dict[str, float] = {}
        grouped = {m for g in self.groups for m in g.members}
        for channel, default in self.defaults.items():
            for i, (t, v) in enumerate(default):
                if (channel, i) not in grouped and not math.isclose(
                    given[channel][i][1], v, rel_tol=rtol, abs_tol=1e-12
                ):
                    raise InputError(
                        "a fixed set-point was changed",
                        column=channel,
                        expected=f"{v:g} at {t:g} h",
                        found=given[channel][i][1],
                    )
        for g in self.groups:
            ratios = [given[c][i][1] / self.defaults[c][i][1] for c, i in g.members]
            if max(ratios) - min(ratios) > rtol * max(1.0, abs(ratios[0])):
                raise InputError(
                    "set-points of one group are not scaled alike",
                    column=g.name,
                    found=[round(r, 6) for r in ratios],
                )
            out[g.name] = float(ratios[0])
        self._multipliers(out)  # the bounds check
        return out


# -- optimisation ------------------------------------------------------------------------
@dataclass
class RecipeOptimization:
    """What :func:`optimize_recipe` found.

    ``history`` has one row per evaluated design, in evaluation order:
    ``evaluation`` (1..budget), ``round`` (0 = start + space-filling batch),
    ``recommender``, the parameters and the testbed's objective column(s).
    ``start`` is the objective value(s) of the first (default) design.
    """

    history: pd.DataFrame
    campaign: Campaign
    objective: str
    direction: str
    _tmp: tempfile.TemporaryDirectory[str] | None = field(default=None, repr=False)

    @property
    def start(self) -> float:
        return float(self.history[self.objective].iloc[0])

    def best_so_far(self) -> np.ndarray:
        """Best objective value after each evaluation, shape ``(n_evaluations,)``."""
        y = self.history[self.objective].to_numpy(float)
        return np.minimum.accumulate(y) if self.direction == "min" else np.maximum.accumulate(y)

    @property
    def best(self) -> pd.Series:
        """The best evaluated design (a history row)."""
        y = self.history[self.objective].to_numpy(float)
        return self.history.iloc[int(np.argmin(y) if self.direction == "min" else np.argmax(y))]

    def last_mean(self, k: int = 10) -> float:
        """Mean objective of the last ``k`` evaluations (how good the late proposals are)."""
        return float(self.history[self.objective].iloc[-k:].mean())


def optimize_recipe(
    testbed: Testbed,
    *,
    budget: int = 40,
    batch: int = 2,
    recommender: Recommender | None = None,
    seed: int = 0,
    n_init: int | None = None,
    start: pd.DataFrame | None = None,
    store: Store | str | None = None,
    name: str = "recipe",
    progress: bool = True,
) -> RecipeOptimization:
    """Optimise a recipe against ``testbed`` with at most ``budget`` evaluations.

    Protocol: round 0 evaluates the start design (``start``, else the
    testbed's ``default_design()``, i.e. the current recipe) together with
    ``n_init - 1`` space-filling designs (scrambled Sobol); every later round
    asks ``recommender`` (default: GP with q-log noisy expected improvement,
    :class:`~biofab.learn.BayesianOptimization`) for ``batch`` designs, which
    the testbed runs in parallel (``batch`` bioreactors), and ingests them.

    ``n_init`` defaults to a quarter of the budget (at least ``batch`` and 2).
    ``store`` is a :class:`~biofab.store.Store` or URL; by default a temporary
    SQLite file that lives as long as the returned object.
    The testbed must have ``space``, ``objectives`` and ``evaluate``
    (:class:`~biofab.core.Testbed`); the first objective is the one tracked.
    """
    from biofab.campaign import Campaign
    from biofab.campaign.loop import LoopRunner, StartThenSpaceFilling
    from biofab.learn import BayesianOptimization

    if budget < 2:
        raise InputError("the budget must allow at least 2 evaluations", found=budget)
    if batch < 1:
        raise InputError("batch must be at least 1", found=batch)
    space: Space = testbed.space
    n0 = n_init if n_init is not None else max(2, batch, budget // 4)
    if not 1 <= n0 <= budget:
        raise InputError("n_init must lie in 1..budget", expected=f"1..{budget}", found=n0)
    if start is None:
        start = testbed.default_design() if hasattr(testbed, "default_design") else None
    tmp = None
    if store is None:
        tmp = tempfile.TemporaryDirectory(prefix="biofab-recipe-")
        store = f"sqlite:///{Path(tmp.name) / 'recipe.db'}"
    campaign = Campaign.create(name, space, list(testbed.objectives), store=store)
    chooser = recommender if recommender is not None else BayesianOptimization()
    objective = testbed.objectives[0]
    # Round 0 is the current recipe plus space-filling designs; then the model's
    # batches run as parallel bioreactors until the budget is spent.
    runner: LoopRunner[Recommender] = LoopRunner(
        TestbedExecutor(testbed),
        recommender=chooser,
        initial=StartThenSpaceFilling(start, n0),
    )
    # the campaign's name, unless it is the default one ("recipe recipe: ..." read oddly)
    label = "recipe batches evaluated" if name == "recipe" else f"recipe {name}: batches evaluated"
    run = runner.run(
        campaign,
        batch=batch,
        budget=budget,
        seed=seed,
        first_round=1,
        progress=progress,
        label=label,
    )
    return RecipeOptimization(run.table(), campaign, objective.name, objective.direction, tmp)
