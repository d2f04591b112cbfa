"""Expected hypervolume improvement of a batch, from one set of posterior samples.

BoTorch's qLogNEHVI, picking a batch greedily from a discrete pool, draws a new
joint posterior of every candidate with the measured and already-picked designs
at each of the ``q`` picks, and rebuilds its box decomposition each time: for 20
picks from 64 candidates at 69 factors and 200 measurements that is most of a
multi-objective round (BENCHMARKS.md, "Recommender speed"). With a discrete
short list the posterior can be sampled **once**, jointly over the measured
designs, the pending ones and every candidate (``S`` quasi-MC draws of the noise-
free utilities); each greedy pick then only needs hypervolumes of sampled points,
which for two objectives are a sort and a running maximum.

The estimate is the noisy expected hypervolume improvement of Daulton et al.
(2021, NeurIPS 34, "Parallel Bayesian optimization of multiple noisy objectives
with expected hypervolume improvement"): the improvement of the batch over the
front of each sample's own measured designs, averaged over samples, so noise in
the measurements is integrated over rather than trusted. The greedy pick adds the
candidate with the largest average improvement given the picks before it, as
BoTorch's sequential greedy does; the log smoothing of qLogNEHVI only matters for
gradients, which a discrete pool does not use.

Utilities are "higher is better"; the reference point is below every front.
"""

from __future__ import annotations

import numpy as np


def hypervolume_2d(points: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Area dominated by each set of 2-D points above ``ref``.

    ``points``: ``(..., k, 2)``; returns ``(...)``. Points below the reference in
    either utility add nothing.
    """
    p = np.maximum(np.asarray(points, dtype=float) - ref, 0.0)
    order = np.argsort(-p[..., 0], axis=-1)
    x = np.take_along_axis(p[..., 0], order, axis=-1)
    y = np.take_along_axis(p[..., 1], order, axis=-1)
    # Sorted by the first utility, descending: between x[i+1] and x[i] the height
    # is the best second utility of the points to the right.
    height = np.maximum.accumulate(y, axis=-1)
    width = x - np.concatenate([x[..., 1:], np.zeros_like(x[..., :1])], axis=-1)
    return np.asarray(np.sum(width * height, axis=-1))


def improvement_2d(candidates: np.ndarray, front: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Hypervolume each candidate point adds to a set, per sample.

    ``candidates``: ``(S, c, 2)``, ``front``: ``(S, k, 2)``; returns ``(S, c)``.
    The added area is the candidate's own box above ``ref`` minus the part of it
    the set already dominates, which is the area dominated by the set's points
    clipped to the candidate.
    """
    box = np.prod(np.maximum(candidates - ref, 0.0), axis=-1)
    clipped = np.minimum(front[:, None, :, :], candidates[:, :, None, :])
    return np.asarray(box - hypervolume_2d(clipped, ref))


def sample_front(samples: np.ndarray) -> np.ndarray:
    """Rows of ``samples`` ``(S, n, m)`` that are non-dominated in at least one sample
    (boolean ``(n,)``): the others never bound an improvement."""
    s = np.asarray(samples, dtype=float)
    ge = np.all(s[:, :, None, :] >= s[:, None, :, :], axis=-1)
    gt = np.any(s[:, :, None, :] > s[:, None, :, :], axis=-1)
    dominated = np.any(ge & gt, axis=1)  # (S, n): some row j dominates row i
    return np.asarray(np.any(~dominated, axis=0))


def greedy_batch(
    measured: np.ndarray,
    candidates: np.ndarray,
    ref: np.ndarray,
    q: int,
    tie_break: np.ndarray | None = None,
) -> tuple[list[int], np.ndarray]:
    """Pick ``q`` candidates greedily by expected hypervolume improvement.

    ``measured``: ``(S, n, 2)`` sampled utilities of the measured (and pending)
    designs; ``candidates``: ``(S, c, 2)`` of the candidates, from the same joint
    draws; ``ref``: ``(2,)``. ``tie_break``: ``(c,)``, higher first, for picks
    that improve no sample (late picks on a crowded front). Returns the picked
    columns in order and the average improvement each added ``(q,)``.
    """
    c = candidates.shape[1]
    front = measured[:, sample_front(measured), :] if measured.shape[1] else measured
    left = np.ones(c, dtype=bool)
    order = np.zeros(c) if tie_break is None else np.asarray(tie_break, dtype=float)
    picks: list[int] = []
    gains: list[float] = []
    for _ in range(min(q, c)):
        idx = np.flatnonzero(left)
        gain = improvement_2d(candidates[:, idx, :], front, ref).mean(axis=0)
        best = gain.max()
        # Equal gains (zero, typically) fall back to the tie-break order.
        tied = idx[gain >= best - 1e-12 * max(abs(best), 1.0)]
        j = int(tied[np.argmax(order[tied])])
        picks.append(j)
        gains.append(float(best))
        left[j] = False
        front = np.concatenate([front, candidates[:, j : j + 1, :]], axis=1)
    return picks, np.asarray(gains)
