"""Choosing a surrogate from the campaign's own data, by cross-validation.

No single model family wins every lab data set: smooth responses suit a GP,
threshold effects and interactions between discrete levels suit boosted trees.
Out-of-fold rank correlation tells which one orders the measured designs
better, which is what choosing the next batch depends on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from scipy.stats import spearmanr

from biofab.learn.surrogate import Surrogate


@dataclass(frozen=True)
class CrossValidation:
    """Out-of-fold Spearman correlation per candidate model, and the winner."""

    scores: dict[str, float]
    best: str
    folds: int


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
    n = len(y)
    k = max(2, min(folds, n // 4))
    fold = np.random.default_rng(seed).permutation(n) % k
    scores: dict[str, float] = {}
    for name, make in factories.items():
        pred = np.empty(n)
        for f in range(k):
            test, train = fold == f, fold != f
            model = make().fit(X[train], y[train], None if yvar is None else yvar[train])
            pred[test] = np.asarray(model.predict(X[test])[0]).reshape(-1)
        rho = spearmanr(pred, y).statistic if np.ptp(pred) > 0 else 0.0
        scores[name] = float(np.nan_to_num(rho))
    default = next(iter(scores))
    best = max(scores, key=lambda m: scores[m])
    if scores[best] <= scores[default] + margin:
        best = default
    return CrossValidation(scores, best, k)
