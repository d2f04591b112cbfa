"""``FluxTestbed``: a genome-scale model answering a campaign's designs with fluxes.

Each design sets reaction bounds (a medium's uptake rates, an enzyme's flux cap
as a stand-in for its expression level, a knockout); the model answers with
the growth rate and the flux of each product at that growth. A campaign
rehearses on it before the lab: the same ``evaluate(designs)`` signature as a
lab import.

A product's flux is read pessimistically by default: its *minimum* over the
optimal-growth face (``FVA`` at fraction 1), because a cell that can grow as
fast without making the product should not be credited with it (the
growth-coupling argument of Burgard et al. 2003, Biotechnol Bioeng 84:647).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from biofab.core import Objective, Space
from biofab.core.errors import DesignError, ModelError
from biofab.metabolism.lp import LinearProgram

if TYPE_CHECKING:
    import cobra

BOUNDS = ("uptake", "upper", "lower", "knockout")


@dataclass(frozen=True)
class Control:
    """How a design parameter acts on a reaction.

    ``bound``: ``uptake`` sets the lower bound to ``-value`` (mmol/gDW/h taken
    up), ``upper``/``lower`` set that bound to ``value``, ``knockout`` closes the
    reaction when the value is truthy (1, "yes", True).
    """

    parameter: str
    reaction: str
    bound: str = "uptake"


class FluxTestbed:
    """Designs set bounds on ``model``; FBA answers with growth and product fluxes.

    Parameters
    ----------
    model : COBRApy model (not modified: the LP is a copy of its polytope).
    space : design space; every parameter must be named by a ``Control``.
    objectives : campaign objectives; each name is a key of ``readouts``.
    controls : how each parameter acts on a reaction.
    readouts : objective name -> reaction id whose flux (mmol/gDW/h) it reads;
        the model's objective reaction reads the optimum itself.
    pessimistic : read products as their minimum at optimal growth.
    noise : relative standard deviation of a simulated assay (0 = exact).
    seed : seed of that noise.
    """

    def __init__(
        self,
        model: cobra.Model,
        space: Space,
        objectives: Sequence[Objective],
        controls: Sequence[Control],
        readouts: Mapping[str, str],
        *,
        pessimistic: bool = True,
        noise: float = 0.0,
        seed: int | None = None,
    ) -> None:
        self.space = space
        self.objectives = list(objectives)
        self.controls = list(controls)
        self.readouts = dict(readouts)
        self.pessimistic = pessimistic
        self.noise = noise
        self._rng = np.random.default_rng(seed)
        self._lp = LinearProgram.from_model(model)
        self._check()

    def _check(self) -> None:
        named = {c.parameter for c in self.controls}
        for p in self.space.names:
            if p not in named:
                raise ModelError("parameter has no control", column=p, expected="a Control")
        for c in self.controls:
            if c.bound not in BOUNDS:
                raise ModelError(
                    "unknown bound", column=c.parameter, expected=", ".join(BOUNDS), found=c.bound
                )
            self._lp.indices([c.reaction])
        for o in self.objectives:
            if o.name not in self.readouts:
                raise ModelError("objective has no readout", column=o.name, expected="a reaction")
        self._lp.indices(list(self.readouts.values()))

    def _bounds(self, design: Mapping[str, object]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        idx = self._lp.indices([c.reaction for c in self.controls])
        lo, hi = self._lp.lb[idx].copy(), self._lp.ub[idx].copy()
        for k, c in enumerate(self.controls):
            v = design[c.parameter]
            if c.bound == "uptake":
                lo[k] = -float(v)  # type: ignore[arg-type]
            elif c.bound == "upper":
                hi[k] = float(v)  # type: ignore[arg-type]
            elif c.bound == "lower":
                lo[k] = float(v)  # type: ignore[arg-type]
            elif str(v).lower() in {"1", "1.0", "true", "yes"}:
                lo[k] = hi[k] = 0.0
        if np.any(lo > hi + 1e-12):
            raise DesignError("design gives a lower bound above an upper bound", found=dict(design))
        return idx, lo, hi

    def _measure(self, design: Mapping[str, object]) -> dict[str, float]:
        lp = self._lp
        idx, lo, hi = self._bounds(design)
        with lp.bounds(idx, lo, hi):
            sol = lp.solve()
            if not sol.ok:
                return {o.name: 0.0 for o in self.objectives}  # no growth is a result
            growth = sol.objective
            out = {}
            for name, rid in self.readouts.items():
                j = lp.index[rid]
                if lp.c[j] != 0 or not self.pessimistic:
                    out[name] = float(sol.fluxes[j]) if sol.fluxes is not None else 0.0
                    continue
                out[name] = self._min_at_optimum(j, growth)
        return out

    def _min_at_optimum(self, j: int, growth: float) -> float:
        lp = self._lp
        nz = np.flatnonzero(lp.c)
        c = np.zeros(lp.n_reactions)
        c[j] = 1.0
        with lp.row(nz, lp.c[nz], growth * (1 - 1e-9), np.inf), lp.objective(c, "min"):
            sol = lp.solve()
        return sol.objective if sol.ok else 0.0

    def evaluate(self, designs: pd.DataFrame) -> pd.DataFrame:
        """One row per design: each objective's flux (mmol/gDW/h or 1/h for growth)."""
        rows = [
            self._measure({str(k): v for k, v in d.items()}) for d in designs.to_dict("records")
        ]
        frame = pd.DataFrame(rows, index=designs.index)[[o.name for o in self.objectives]]
        if self.noise > 0:
            scale = self.noise * np.abs(frame.to_numpy())
            frame = frame + self._rng.normal(0.0, 1.0, frame.shape) * scale
            for o in self.objectives:
                frame[f"{o.name}_std"] = self.noise * np.abs(frame[o.name])
        return frame
