"""Which parameters matter: permutation importance on a fitted surrogate."""

from __future__ import annotations

import numpy as np
import pandas as pd

from biofab.core import Space
from biofab.learn.surrogate import Surrogate


def permutation_importance(
    surrogate: Surrogate,
    space: Space,
    designs: pd.DataFrame,
    values: np.ndarray,
    *,
    n_repeats: int = 10,
    seed: int | None = 0,
) -> pd.DataFrame:
    """Per-parameter importance: how much shuffling a parameter hurts the fit.

    For each parameter, its encoded columns are permuted together across the
    measured designs and the increase in mean squared error of the surrogate's
    predictions against the measured ``values`` ``(n,)`` (or ``(n, m)``, then
    each output scaled by its std) is recorded. Returns a
    frame indexed by parameter with ``importance`` (mean MSE increase, in the
    objective's units squared), ``std`` over repeats and ``share`` (importance
    normalised to sum to 1 over positive values), sorted descending.
    """
    rng = np.random.default_rng(seed)
    X = space.encode(designs)
    y = np.asarray(values, dtype=float)
    y = y.reshape(len(y), -1)
    # Several outputs: errors are measured in units of each output's spread.
    scale = np.where(y.std(axis=0) > 0, y.std(axis=0), 1.0) if y.shape[1] > 1 else np.ones(1)

    def loss(Xq: np.ndarray) -> float:
        pred = np.asarray(surrogate.predict(Xq)[0], dtype=float).reshape(y.shape)
        return float(np.mean(((pred - y) / scale) ** 2))

    base = loss(X)
    rows = []
    for name, cols in space.encoded_groups().items():
        losses = []
        for _ in range(n_repeats):
            Xp = X.copy()
            Xp[:, cols] = X[rng.permutation(len(X))][:, cols]
            losses.append(loss(Xp) - base)
        rows.append((name, float(np.mean(losses)), float(np.std(losses))))
    out = pd.DataFrame(rows, columns=["parameter", "importance", "std"]).set_index("parameter")
    positive = out["importance"].clip(lower=0)
    out["share"] = positive / positive.sum() if positive.sum() > 0 else 0.0
    return out.sort_values("importance", ascending=False)
