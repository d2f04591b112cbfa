"""Standard optimisation test functions as lab-like pools: coarse grids, noisy readings.

A lab rarely explores a continuum: each factor comes on a few levels (stock dilutions,
a dispenser's steps), a campaign picks among designs it could make, and every reading
is noisy. :func:`grid_pool` draws such a pool from a test function:

* every factor on a grid of ``levels`` values across the function's usual domain
  (chosen so the optimum lies on the grid);
* ``n`` distinct designs drawn uniformly over the grid (each factor's level independently);
* each design read once as ``f(x) + e``, ``e ~ N(0, s^2)`` with ``s = noise x`` the
  robust spread of ``f`` over the pool (interquartile range / 1.349, so Rosenbrock's
  heavy tail does not make the noise drown its best designs); ``f`` is *minimised*.

Functions (Surjanovic & Bingham, *Virtual Library of Simulation Experiments*, Simon
Fraser University; the formulas are the standard ones):

* ``hartmann6``: Hartmann 6-D on [0, 1]^6 (min -3.32237);
* ``ackley``: Ackley (a = 20, b = 0.2, c = 2 pi), any dimension, min 0 at 0;
* ``rosenbrock``: Rosenbrock, any dimension, min 0 at (1, ..., 1);
* ``levy``: Levy, any dimension, min 0 at (1, ..., 1).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from biofab.core import Continuous, Space

_H_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_H_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
_H_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)


def hartmann6(x: np.ndarray) -> np.ndarray:
    """Hartmann 6-D, ``x`` of shape ``(n, 6)`` in [0, 1]."""
    inner = ((x[:, None, :] - _H_P[None]) ** 2 * _H_A[None]).sum(axis=2)
    return np.asarray(-(np.exp(-inner) * _H_ALPHA).sum(axis=1))


def ackley(x: np.ndarray) -> np.ndarray:
    d = x.shape[1]
    a = -20.0 * np.exp(-0.2 * np.sqrt((x**2).sum(axis=1) / d))
    return np.asarray(a - np.exp(np.cos(2 * np.pi * x).sum(axis=1) / d) + 20.0 + np.e)


def rosenbrock(x: np.ndarray) -> np.ndarray:
    return np.asarray((100.0 * (x[:, 1:] - x[:, :-1] ** 2) ** 2 + (1 - x[:, :-1]) ** 2).sum(axis=1))


def levy(x: np.ndarray) -> np.ndarray:
    w = 1 + (x - 1) / 4
    head = np.sin(np.pi * w[:, 0]) ** 2
    mid = ((w[:, :-1] - 1) ** 2 * (1 + 10 * np.sin(np.pi * w[:, :-1] + 1) ** 2)).sum(axis=1)
    tail = (w[:, -1] - 1) ** 2 * (1 + np.sin(2 * np.pi * w[:, -1]) ** 2)
    return np.asarray(head + mid + tail)


@dataclass(frozen=True)
class TestFunction:
    """A function, its domain per factor and the number of grid levels (optimum on it)."""

    name: str
    fn: Callable[[np.ndarray], np.ndarray]
    lo: float
    hi: float
    levels: int
    fixed_dim: int | None = None


FUNCTIONS: dict[str, TestFunction] = {
    # 10 levels on [0, 1]: the optimum (0.20, 0.15, 0.48, 0.28, 0.31, 0.66) lies between
    # levels, as a real optimum lies between a lab's stock dilutions.
    "hartmann6": TestFunction("hartmann6", hartmann6, 0.0, 1.0, 10, fixed_dim=6),
    "ackley": TestFunction("ackley", ackley, -2.0, 2.0, 9),  # 0 on the grid
    "rosenbrock": TestFunction("rosenbrock", rosenbrock, -2.0, 2.0, 9),  # 1 on the grid
    "levy": TestFunction("levy", levy, -3.0, 5.0, 9),  # 1 on the grid
}


@dataclass
class FunctionPool:
    """Designs (``x1 .. xd``), noisy readings ``f``, and the noise-free values ``clean``."""

    space: Space
    designs: pd.DataFrame
    values: np.ndarray
    clean: np.ndarray
    noise_sd: float


def grid_pool(
    name: str, dim: int, n: int = 1000, *, noise: float = 0.1, seed: int = 0
) -> FunctionPool:
    """``n`` distinct random grid designs of ``name`` in ``dim`` dimensions, read once with
    Gaussian noise of sd ``noise x`` the pool's robust spread of ``f`` (module docstring)."""
    spec = FUNCTIONS[name]
    if spec.fixed_dim is not None and dim != spec.fixed_dim:
        raise ValueError(f"{name} is defined in {spec.fixed_dim} dimensions, not {dim}")
    step = (spec.hi - spec.lo) / (spec.levels - 1)
    names = [f"x{i + 1}" for i in range(dim)]
    space = Space({c: Continuous(spec.lo, spec.hi, step=step) for c in names})
    rng = np.random.default_rng(seed)
    grid = np.round(spec.lo + step * np.arange(spec.levels), 9)
    rows: list[np.ndarray] = []
    seen: set[bytes] = set()
    while len(rows) < n:
        idx = rng.integers(0, spec.levels, dim)
        key = idx.astype(np.int8).tobytes()
        if key not in seen:
            seen.add(key)
            rows.append(grid[idx])
    x = np.vstack(rows)
    clean = spec.fn(x)
    q25, q75 = np.percentile(clean, [25, 75])
    sd = float(noise * (q75 - q25) / 1.349)  # robust: a heavy tail must not drown the top
    values = clean + rng.normal(0.0, sd, len(clean)) if sd > 0 else clean.copy()
    return FunctionPool(space, pd.DataFrame(x, columns=names), values, clean, sd)
