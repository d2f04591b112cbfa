"""The contract every surrogate keeps: ``fit(X, y, yvar)`` then ``predict(X) -> (mean, std)``."""

from __future__ import annotations

from typing import Protocol, Self, runtime_checkable

import numpy as np


@runtime_checkable
class Surrogate(Protocol):
    """A model of measurements with uncertainty.

    ``X`` is the space's encoding, shape ``(n, d)`` with values in [0, 1];
    ``y`` has shape ``(n,)`` (one output) or ``(n, m)``; ``yvar`` has ``y``'s
    shape and holds the known observation-noise variance of each value, or is
    None. ``predict`` returns ``(mean, std)``, each shaped like ``y`` for the
    given rows, in ``y``'s units.
    """

    def fit(self, X: np.ndarray, y: np.ndarray, yvar: np.ndarray | None = None) -> Self: ...

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


@runtime_checkable
class EnsembleSurrogate(Surrogate, Protocol):
    """A surrogate made of members whose spread is its uncertainty."""

    def predict_members(self, X: np.ndarray) -> np.ndarray:
        """Each member's prediction, shape ``(k, n)`` for one output."""
        ...
