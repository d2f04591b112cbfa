"""Where acquisition functions look: a snapped, feasible, never-measured candidate set.

Pipetting grids, categorical choices and sum-to-volume constraints make lab
spaces discrete. Rather than optimise in a relaxed continuous space and round
afterwards (which moves the optimum and can break constraints), biofab scores a
large set of legal designs: a scrambled Sobol sample of the whole space, plus
local moves around the best designs measured so far and around the best
candidates found, at several step sizes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from biofab.core import Space


def unmeasured(space: Space, pool: pd.DataFrame, measured: pd.DataFrame) -> pd.DataFrame:
    """Rows of ``pool`` whose design is not in ``measured`` (and not repeated in ``pool``)."""
    seen = set(space.keys(measured)) if len(measured) else set()
    keep = []
    for i, k in enumerate(space.keys(pool)):
        if k not in seen:
            seen.add(k)
            keep.append(i)
    return pool.iloc[keep].reset_index(drop=True)


def candidate_set(
    space: Space,
    measured: pd.DataFrame,
    utilities: np.ndarray,
    rng: np.random.Generator,
    *,
    n_global: int = 2048,
    n_local: int = 1024,
    n_incumbents: int = 8,
) -> pd.DataFrame:
    """Legal, distinct, never-measured designs to score.

    ``utilities`` has shape ``(n_obs,)`` (higher is better) and picks the
    incumbents that local moves start from.
    """
    exclude = space.keys(measured) if len(measured) else []
    parts = [space.sample(n_global, seed=int(rng.integers(2**31)), exclude=exclude)]
    if len(measured):
        order = np.argsort(-np.asarray(utilities, dtype=float))[:n_incumbents]
        best = measured.iloc[order].reset_index(drop=True)
        for scale in (0.02, 0.05, 0.15):
            parts.append(space.neighbours(best, n_local // 3, scale, rng))
    return unmeasured(space, pd.concat(parts, ignore_index=True), measured)


def refine(
    space: Space,
    candidates: pd.DataFrame,
    measured: pd.DataFrame,
    score: Callable[[pd.DataFrame], np.ndarray],
    rng: np.random.Generator,
    *,
    rounds: int = 2,
    n_top: int = 32,
    n_local: int = 512,
) -> pd.DataFrame:
    """Add local moves around the best-scoring candidates, ``rounds`` times.

    ``score`` maps designs to a one-point acquisition value (higher is better).
    """
    pool = candidates
    scores = score(pool)
    for r in range(rounds):
        top = pool.iloc[np.argsort(-scores)[:n_top]].reset_index(drop=True)
        moves = space.neighbours(top, n_local, 0.1 / (r + 1), rng)
        moves = unmeasured(space, moves, pd.concat([measured, pool], ignore_index=True))
        if len(moves) == 0:
            break
        pool = pd.concat([pool, moves], ignore_index=True)
        scores = np.concatenate([scores, score(moves)])
    return pool
