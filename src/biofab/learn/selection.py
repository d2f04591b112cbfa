"""Choosing a surrogate from the campaign's own data, by cross-validation.

No single model family wins every lab data set: smooth responses suit a GP,
threshold effects and interactions between discrete levels suit boosted trees.
Out-of-fold rank correlation tells which one orders the measured designs
better, which is what choosing the next batch depends on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy.stats import spearmanr

from biofab.learn.calibration import OutOfFold, out_of_fold
from biofab.learn.surrogate import Surrogate


@dataclass(frozen=True)
class CrossValidation:
    """Out-of-fold Spearman correlation per candidate model, the winner, and each
    model's out-of-fold predictions (which also calibrate its error bars)."""

    scores: dict[str, float]
    best: str
    folds: int
    oof: dict[str, OutOfFold] = field(default_factory=dict, repr=False)


def cross_validate(
    factories: Mapping[str, Callable[[], Surrogate]],
    X: np.ndarray,
    y: np.ndarray,
    yvar: np.ndarray | None = None,
    *,
    folds: int = 5,
    seed: int | None = 0,
    margin: float = 0.05,
) -> CrossValidation:
    """Score each model by the Spearman correlation of its out-of-fold predictions.

    ``X`` ``(n, d)``, ``y`` ``(n,)``, ``yvar`` ``(n,)`` or None. The first model
    in ``factories`` is the default; another wins only when it beats the
    default by more than ``margin`` (out-of-fold scores on small data are
    noisy, and a wrong switch costs a whole batch).
    """
    scores: dict[str, float] = {}
    oof: dict[str, OutOfFold] = {}
    for name, make in factories.items():
        oof[name] = out_of_fold(make, X, y, yvar, folds=folds, seed=seed)
        pred = oof[name].mean
        rho = spearmanr(pred, y).statistic if np.ptp(pred) > 0 else 0.0
        scores[name] = float(np.nan_to_num(rho))
    default = next(iter(scores))
    best = max(scores, key=lambda m: scores[m])
    if scores[best] <= scores[default] + margin:
        best = default
    k = len(np.unique(next(iter(oof.values())).fold))
    return CrossValidation(scores, best, k, oof)
