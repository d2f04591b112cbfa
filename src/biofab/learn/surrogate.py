"""The contract every surrogate keeps: ``fit(X, y, yvar)`` then ``predict(X) -> (mean, std)``."""

from __future__ import annotations

import copy
import inspect
from typing import Protocol, Self, TypeVar, runtime_checkable

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


S = TypeVar("S")


def clone(surrogate: S) -> S:
    """A fresh, unfitted copy of ``surrogate`` with the same hyper-parameters.

    Like ``sklearn.base.clone``: the constructor is called again with deep
    copies of the values of its own parameters (read from the attributes of
    the same name, which every biofab surrogate keeps), so nothing fitted
    (attributes ending in ``_``) is carried over and the original is untouched.
    """
    cls = type(surrogate)
    params = {}
    for name, p in inspect.signature(cls.__init__).parameters.items():
        if name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if not hasattr(surrogate, name):
            raise TypeError(
                f"cannot clone {cls.__name__}: parameter {name!r} is not kept as an attribute"
            )
        params[name] = copy.deepcopy(getattr(surrogate, name))
    return cls(**params)


def check_xy(
    X: np.ndarray, y: np.ndarray, yvar: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Validate; return ``X`` ``(n, d)``, ``y`` ``(n, m)`` and ``yvar`` ``(n, m)`` or None."""
    Xa = np.asarray(X, dtype=float)
    ya = np.asarray(y, dtype=float)
    if Xa.ndim != 2:
        raise ValueError(f"X must be 2-D (n, d), got shape {Xa.shape}")
    if ya.ndim not in (1, 2) or len(ya) != len(Xa):
        raise ValueError(f"y must have shape ({len(Xa)},) or ({len(Xa)}, m), got {ya.shape}")
    Y = ya.reshape(len(ya), -1)
    if not (np.isfinite(Xa).all() and np.isfinite(Y).all()):
        raise ValueError("X and y must be finite (drop or impute missing measurements first)")
    V = None
    if yvar is not None:
        va = np.asarray(yvar, dtype=float)
        if va.shape != ya.shape:
            raise ValueError(f"yvar must have y's shape {ya.shape}, got {va.shape}")
        V = va.reshape(len(va), -1)
        if not np.isfinite(V).all() or (V < 0).any():
            raise ValueError("yvar must be finite and non-negative")
    return Xa, Y, V


def inverse_variance_weights(yvar: np.ndarray, rel_floor: float = 0.01) -> np.ndarray:
    """Weights ``(n,)`` proportional to ``1 / yvar``, scaled to mean 1.

    Variances are floored at ``rel_floor`` times their median (or used as
    equal weights when all are zero), so a reported variance of 0 does not
    give a row unbounded weight.
    """
    v = np.asarray(yvar, dtype=float)
    med = float(np.median(v))
    if med <= 0:
        positive = v[v > 0]
        if positive.size == 0:
            return np.ones_like(v)
        med = float(np.median(positive))
    w = 1.0 / np.maximum(v, rel_floor * med)
    return w / w.mean()
