"""IndPenSim as a testbed: the 100,000 L penicillin fed-batch plant, run by pensimpy.

IndPenSim (Goldrick et al. 2015, J Biotechnol 193:70-82; Goldrick et al. 2019,
Comput Chem Eng 130:106471) is an independent, published mechanistic model of an
industrial *Penicillium chrysogenum* fed-batch (230 h, 0.2 h control steps, PID
loops for pH and temperature, Raman-based PAA control). ``pensimpy`` 1.2.5 is its
Python port. biofab did not write it, which makes it an honest test of recipe
optimisation.

How it is driven here:

* Install: ``pip install --no-deps pensimpy==1.2.5`` (the package pins numpy
  1.18; its pure-Python code runs on current numpy and SciPy).
* ``pensimpy.peni_env_setup`` imports ``fastodeint``, a compiled accelerator
  that is not on PyPI, at module top. We always run ``PenSimEnv(..., fast=False)``,
  the pure-Python ``scipy.integrate.odeint`` path, which never calls it; so an
  empty placeholder module is registered under that name *only when the real
  one is absent*, before pensimpy is imported.
* The recipe is read with backward fill (:class:`~biofab.process.recipe.SetpointRecipe`),
  not pensimpy's forward-filling ``Recipe``: with backward fill the default recipe
  gives 3,650.19 kg of penicillin on seed 1.
* The yield is pensimpy's batch yield: penicillin in the vessel at 230 h plus
  what the discharges removed (kg).

``Fpaa`` is not parametrised by default: with ``Raman_spec = 2`` (pensimpy's
default) a PID loop on the Raman-predicted PAA concentration overrides the PAA
feed set-points from 10 h on, so its multipliers would change almost nothing.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Sequence
from typing import Any

import pandas as pd

from biofab.core import InputError, Objective
from biofab.process.recipe import Grouping, Profile, RecipeSpace, SetpointRecipe

CHANNELS = ("Fs", "Foil", "Fg", "pressure", "discharge", "Fw", "Fpaa")
"""pensimpy's recipe channels: sugar feed (L/h), soybean oil feed (L/h), aeration
(m³/min), back pressure (bar), discharge (L/h), water (L/h), PAA feed (L/h)."""

DEFAULT_YIELD_SEED1 = 3650.19
"""kg penicillin of the default recipe, backward fill, ``random_seed=1``."""


def _import_pensimpy() -> Any:
    """Import pensimpy's environment class (see the module docstring for the placeholder)."""
    if "fastodeint" not in sys.modules:
        try:
            import fastodeint  # noqa: F401
        except ImportError:
            sys.modules["fastodeint"] = types.ModuleType("fastodeint")
    try:
        from pensimpy.peni_env_setup import PenSimEnv
    except ImportError as err:
        raise InputError(
            "pensimpy is not installed",
            expected="pip install --no-deps pensimpy==1.2.5",
            found=str(err),
        ) from None
    return PenSimEnv


def default_profiles() -> dict[str, Profile]:
    """pensimpy's default recipe, ``{channel: [(time_h, value), ...]}`` (69 set-points)."""
    _import_pensimpy()
    from pensimpy.data import constants as c

    tables = (
        c.FS_DEFAULT_PROFILE,
        c.FOIL_DEFAULT_PROFILE,
        c.FG_DEFAULT_PROFILE,
        c.PRESS_DEFAULT_PROFILE,
        c.DISCHARGE_DEFAULT_PROFILE,
        c.WATER_DEFAULT_PROFILE,
        c.PAA_DEFAULT_PROFILE,
    )
    return {
        ch: [(float(sp["time"]), float(sp["value"])) for sp in table]
        for ch, table in zip(CHANNELS, tables, strict=True)
    }


def run_batch(profiles: dict[str, Profile], seed: int = 1) -> float:
    """Simulate one 230 h batch; return the penicillin yield (kg).

    Module-level so a process pool can pickle it. ``seed`` is pensimpy's
    ``random_seed`` (initial conditions, kLa, PAA concentration, disturbances).
    """
    env_class = _import_pensimpy()
    env = env_class(recipe_combo=SetpointRecipe(profiles), fast=False)
    _, batch_yield = env.get_batches(random_seed=seed, include_raman=False)
    return float(batch_yield)


def _run_job(job: tuple[dict[str, Profile], int]) -> float:
    return run_batch(*job)


class PenSimTestbed:
    """IndPenSim plant answering recipe designs (multipliers on the default set-points).

    Parameters
    ----------
    parametrisation:
        ``"phase"`` (default: one multiplier per channel and phase, early
        ``t <= 40 h``, mid ``<= 100 h``, late) or ``"setpoint"`` (one per
        non-zero set-point), or a ready :class:`RecipeSpace`.
    seed:
        pensimpy's ``random_seed`` for every batch (same plant, same disturbances).
    workers:
        Batches simulated in parallel (processes); one batch takes ~16 s on one core.
    bounds:
        Multiplier range (default ±10 %).
    channels:
        Channels to vary (default all but ``Fpaa``, see the module docstring).
    cache:
        Remember yields by design, so a design run before (e.g. the default
        recipe in every optimiser run) is not simulated twice. The simulation
        is deterministic for a given seed, so this changes no number.
    """

    def __init__(
        self,
        parametrisation: Grouping | RecipeSpace = "phase",
        *,
        seed: int = 1,
        workers: int = 2,
        bounds: tuple[float, float] = (0.9, 1.1),
        channels: Sequence[str] = ("Fs", "Foil", "Fg", "pressure", "discharge", "Fw"),
        cache: bool = True,
    ) -> None:
        if isinstance(parametrisation, RecipeSpace):
            self.recipe_space = parametrisation
        else:
            self.recipe_space = RecipeSpace(
                default_profiles(), grouping=parametrisation, bounds=bounds, channels=channels
            )
        self.seed = int(seed)
        self.workers = int(workers)
        self.space = self.recipe_space.space
        self.objectives = [Objective("penicillin", "max", unit="kg")]
        self.cache = cache
        self._cache: dict[str, float] = {}
        self.n_simulated_ = 0

    def default_design(self) -> pd.DataFrame:
        """The default recipe (every multiplier 1), one row."""
        return self.recipe_space.default_design()

    def recipe(self, design: Any) -> SetpointRecipe:
        """One design (mapping or frame row) -> the recipe the plant runs."""
        return self.recipe_space.recipe(design)

    def evaluate(self, designs: pd.DataFrame) -> pd.DataFrame:
        """Run one batch per design (in parallel); column ``penicillin`` in kg."""
        from biofab.compute import parallel_map

        valid = self.space.validate(designs.reset_index(drop=True))
        profiles = [self.recipe_space.profiles(row) for _, row in valid.iterrows()]
        keys = self.space.keys(valid)
        todo = [i for i, k in enumerate(keys) if not (self.cache and k in self._cache)]
        todo_keys: dict[str, int] = {}
        for i in todo:  # a design repeated within the call runs once
            todo_keys.setdefault(keys[i], i)
        jobs = [(profiles[i], self.seed) for i in todo_keys.values()]
        results = parallel_map(
            _run_job, jobs, workers=self.workers, description=f"IndPenSim x{len(jobs)}"
        )
        self.n_simulated_ += len(jobs)
        fresh = dict(zip(todo_keys, results, strict=True))
        if self.cache:
            self._cache.update(fresh)
        values = [fresh.get(k, self._cache.get(k)) for k in keys]
        return pd.DataFrame({"penicillin": values})
