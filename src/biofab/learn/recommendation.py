"""``Recommendation``: a batch of designs with what the model expects of each."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np

from biofab.core import Design, Space
from biofab.learn.surrogate import Surrogate

if TYPE_CHECKING:
    import pandas as pd

#: What a recommender learns from: ``"single"`` one utility column (a campaign
#: with several objectives passes its weighted score), ``"multi"`` one column
#: per objective, ``"any"`` either (it does not model them).
Outputs = Literal["single", "multi", "any"]


@dataclass
class Recommendation:
    """A batch chosen by ``recommender``.

    ``designs`` has one row per design (parameters, then filler columns);
    ``mean`` and ``std`` have shape ``(n, m)`` for ``m`` outputs (NaN when the
    recommender had no model, e.g. the space-filling start); ``acquisition`` has
    shape ``(n,)``. ``outputs`` names the ``m`` columns. ``model`` is the
    surrogate fitted for this batch (None without a model): the recommender
    keeps no fitted state, so this is the one place to find it.
    """

    designs: pd.DataFrame
    mean: np.ndarray
    std: np.ndarray
    acquisition: np.ndarray
    recommender: str
    outputs: list[str] = field(default_factory=lambda: ["y"])
    notes: dict[str, object] = field(default_factory=dict)
    model: Surrogate | None = None

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


def as_2d(values: np.ndarray) -> np.ndarray:
    """``(n,)`` -> ``(n, 1)``; 2-D arrays pass through (as float)."""
    v = np.asarray(values, dtype=float)
    return v[:, None] if v.ndim == 1 else v


def seen_designs(designs: pd.DataFrame, pending: pd.DataFrame | None) -> pd.DataFrame:
    """Measured plus pending designs: neither may be recommended again."""
    import pandas as pd

    if pending is None or len(pending) == 0:
        return designs
    if len(designs) == 0:
        # Concatenating onto an empty frame is deprecated in pandas (its dtypes would
        # start to count); the result is the pending rows on the designs' columns.
        return pending.reindex(columns=designs.columns).reset_index(drop=True)
    return pd.concat(
        [designs, pending[designs.columns.intersection(pending.columns)]], ignore_index=True
    )


@dataclass
class BatchRequest:
    """One call's inputs, checked: ``y`` ``(n_obs, m)`` utilities (higher better),
    ``yvar`` like ``y`` or None, and ``rng``, the one generator seeded from
    ``seed`` that every random step of the call draws from, in a fixed order."""

    space: Space
    designs: pd.DataFrame
    y: np.ndarray
    yvar: np.ndarray | None
    n: int
    candidates: pd.DataFrame | None
    round_index: int
    seed: int | None
    pending: pd.DataFrame | None
    rng: np.random.Generator

    @property
    def seen(self) -> pd.DataFrame:
        """Measured plus pending designs."""
        return seen_designs(self.designs, self.pending)

    def incumbent_utility(self) -> np.ndarray:
        """One number per measured design ``(n_obs,)`` that ranks the incumbents local
        moves start from: the utility, or the sum of standardised utilities."""
        if self.y.shape[1] == 1:
            return self.y[:, 0]
        spread = self.y.std(0)
        z = (self.y - self.y.mean(0)) / np.where(spread > 0, spread, 1.0)
        return z.sum(1)


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

    Capabilities, which callers ask instead of testing the class:
    ``outputs`` (see :data:`Outputs`), ``supports_pending`` (pending designs
    are conditioned on, not only excluded), ``needs_model`` (a surrogate is
    fitted) and ``min_data`` (fewest measured designs it accepts).
    """

    name: str

    @property
    def outputs(self) -> Outputs: ...

    @property
    def supports_pending(self) -> bool: ...

    @property
    def needs_model(self) -> bool: ...

    @property
    def min_data(self) -> int: ...

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
