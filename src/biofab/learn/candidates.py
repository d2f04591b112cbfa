"""Where acquisition functions look: a snapped, feasible, never-measured candidate set.

Pipetting grids, categorical choices and sum-to-volume constraints make lab
spaces discrete. Rather than optimise in a relaxed continuous space and round
afterwards (which moves the optimum and can break constraints), biofab scores a
large set of legal designs: a scrambled Sobol sample of the whole space, plus
local moves around the best designs measured so far and around the best
candidates found, at several step sizes.

A *candidate generator* turns one request and a bound acquisition (a
:class:`~biofab.learn.acquisition.Scorer`) into the batch: it builds the pool
to score and hands it to the scorer's ``select`` (or applies its own batch
rule, as the sequence search's diversity rule does). Every generator honours
a user-given pool (``candidates=``): only its unmeasured rows are scored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np
import pandas as pd

from biofab.core import Space
from biofab.learn.recommendation import BatchRequest

if TYPE_CHECKING:
    from biofab.learn.acquisition import Scorer


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


@dataclass
class Selection:
    """A generator's answer: the batch (rows of the space), the acquisition value of
    each ``(k,)``, and notes for the recommendation (e.g. the pool size)."""

    designs: pd.DataFrame
    values: np.ndarray
    notes: dict[str, object] = field(default_factory=dict)


class CandidateGenerator(Protocol):
    """Builds the pool for one request and chooses the batch with ``scorer``."""

    def search(self, req: BatchRequest, scorer: Scorer) -> Selection: ...


def user_pool(req: BatchRequest) -> pd.DataFrame:
    """The unmeasured, not pending, distinct rows of the request's own pool."""
    if req.candidates is None:
        raise ValueError("the request has no candidate pool")
    return unmeasured(req.space, req.space.complete(req.candidates), req.seen)


def _chosen(pool: pd.DataFrame, rows: list[int], values: np.ndarray) -> Selection:
    return Selection(pool.iloc[rows].reset_index(drop=True), values, {"pool": len(pool)})


class CandidateSearch:
    """The global candidate set plus local moves (:func:`candidate_set`), refined
    around the best-scoring candidates (:func:`refine`) when ``refine`` is set;
    the scorer picks the batch. With a user pool, the pool is scored as it is.

    ``n_global`` is the size of the scrambled Sobol sample of the whole space.
    """

    def __init__(self, n_global: int = 2048, refine: bool = True) -> None:
        self.n_global = n_global
        self.refine = refine

    def search(self, req: BatchRequest, scorer: Scorer) -> Selection:
        if req.candidates is not None:
            pool = user_pool(req)
        else:
            utility = req.incumbent_utility()
            found = candidate_set(req.space, req.designs, utility, req.rng, n_global=self.n_global)
            pool = unmeasured(req.space, found, req.seen)
            if self.refine:
                pool = refine(req.space, pool, req.seen, scorer.score, req.rng)
        rows, values = scorer.select(pool, req.n)
        return _chosen(pool, rows, values)


class SpaceFillingDesign:
    """A space-filling design of the whole space (``method``: ``"sobol"``,
    ``"lhs"`` or ``"random"``, seeded by the request's seed) that avoids measured
    and pending designs; with a user pool, the scorer picks from the pool."""

    def __init__(self, method: str = "sobol") -> None:
        self.method = method

    def search(self, req: BatchRequest, scorer: Scorer) -> Selection:
        if req.candidates is not None:
            pool = user_pool(req)
            rows, values = scorer.select(pool, req.n)
            return _chosen(pool, rows, values)
        seen = req.seen
        exclude = req.space.keys(seen) if len(seen) else []
        batch = req.space.sample(req.n, seed=req.seed, method=self.method, exclude=exclude)
        return Selection(batch, np.full(len(batch), np.nan))
