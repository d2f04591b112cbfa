"""``Recommendation``: a batch of designs with what the model expects of each."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd

from biofab.core import Design, Space


@dataclass
class Recommendation:
    """A batch chosen by ``recommender``.

    ``designs`` has one row per design (parameters, then filler columns);
    ``mean`` and ``std`` have shape ``(n, m)`` for ``m`` outputs (NaN when the
    recommender had no model, e.g. the space-filling start); ``acquisition`` has
    shape ``(n,)``. ``outputs`` names the ``m`` columns.
    """

    designs: pd.DataFrame
    mean: np.ndarray
    std: np.ndarray
    acquisition: np.ndarray
    recommender: str
    outputs: list[str] = field(default_factory=lambda: ["y"])
    notes: dict[str, object] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.designs)

    def to_frame(self) -> pd.DataFrame:
        """Designs plus ``pred_<output>``, ``std_<output>`` and ``acquisition`` columns."""
        out = self.designs.reset_index(drop=True).copy()
        for j, name in enumerate(self.outputs):
            out[f"pred_{name}"] = self.mean[:, j]
            out[f"std_{name}"] = self.std[:, j]
        out["acquisition"] = self.acquisition
        return out

    def to_designs(self, space: Space) -> list[Design]:
        rows = self.designs[space.names].to_dict("records")
        return [
            Design(
                values={str(k): v for k, v in row.items()},
                predicted={
                    name: (float(self.mean[i, j]), float(self.std[i, j]))
                    for j, name in enumerate(self.outputs)
                },
                acquisition=float(self.acquisition[i]),
            )
            for i, row in enumerate(rows)
        ]


class Recommender(Protocol):
    """Turns what has been measured into the next batch.

    ``designs`` are the measured designs (rows of the space), ``values`` their
    utilities, shape ``(n_obs, m)`` with higher always better (see
    ``Objective.utility``), ``yvar`` the matching noise variances or None.
    ``candidates``, when given, is the finite pool to choose from (a replayed
    data set, a plate of pre-mixed stocks); otherwise the recommender searches
    the whole space. ``pending`` are designs recommended earlier whose
    results have not arrived: they are treated as in flight (never proposed
    again; conditioned on where the acquisition supports it). Designs already
    measured are never recommended again.
    """

    name: str

    def recommend(
        self,
        space: Space,
        designs: pd.DataFrame,
        values: np.ndarray,
        n: int,
        *,
        yvar: np.ndarray | None = None,
        candidates: pd.DataFrame | None = None,
        round_index: int = 0,
        seed: int | None = None,
        pending: pd.DataFrame | None = None,
    ) -> Recommendation: ...
