"""Align batches of different length and pace onto one grid before they are compared.

Batch-evolution models compare a batch with good batches *at the same stage*, so every
batch is first put on a common grid of ``K`` points:

- **time**: the grid is hours from inoculation; each variable is linearly interpolated at
  the grid times (the batches follow one recipe clock).
- **maturity**: the grid is a monotonic variable that measures progress, e.g. cumulative
  feed (L) or volume (L); each variable is interpolated against it. Two batches that fed
  the same amount are compared even when one fed later.
- **DTW**: dynamic time warping (Kassidas, MacGregor & Taylor 1998, AIChE J. 44:864-875):
  each batch's samples are matched to a reference trajectory by the warping path of least
  weighted squared distance, and the batch is re-sampled on the reference's indices
  (asymmetric synchronisation: each reference point takes the mean of the batch samples
  warped onto it). The variable weights are the inverse variance of each variable over the
  training batches, iterated with the reference as in Kassidas et al. A running batch is
  aligned with an *open end* (its last sample may fall anywhere on the reference).

Times are hours; every function here works on plain arrays ``(n_samples, n_variables)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from biofab.core.errors import InputError

__all__ = ["DTWAligner", "dtw_path", "interpolate_on", "resample_by_path"]

Array = NDArray[np.float64]


def interpolate_on(x: Array, values: Array, grid: Array) -> Array:
    """``values`` (n, J) known at increasing ``x`` (n,), linearly interpolated at ``grid``.

    Grid points past the last ``x`` are NaN (a running batch has not got there yet); grid
    points before the first ``x`` take the first value.
    """
    out = np.empty((grid.size, values.shape[1]))
    for j in range(values.shape[1]):
        out[:, j] = np.interp(grid, x, values[:, j])
    out[grid > x[-1] + 1e-9] = np.nan
    return out


def dtw_path(
    sample: Array,
    reference: Array,
    weights: Array | None = None,
    *,
    band: int | None = None,
    open_end: bool = False,
) -> tuple[list[tuple[int, int]], float]:
    """Warping path between ``sample`` (n, J) and ``reference`` (m, J) and its cost.

    Local distance: ``sum_j w_j (sample[i, j] - reference[k, j])**2``. Steps (1,0), (0,1),
    (1,1), the path starts at (0, 0) and ends at (n-1, m-1), or with ``open_end`` at the
    reference point ``k*`` that minimises the cumulative cost per path step (a running
    batch). ``band`` (points) is a Sakoe-Chiba window around the scaled diagonal.
    Returns the path as (sample index, reference index) pairs in order and the total cost.
    """
    n, m = len(sample), len(reference)
    if n == 0 or m == 0:
        raise InputError("DTW needs at least one sample in each trajectory")
    w = np.ones(sample.shape[1]) if weights is None else np.asarray(weights, dtype=float)
    diff = sample[:, None, :] - reference[None, :, :]
    local = np.einsum("nmj,j->nm", diff * diff, w)
    if band is not None:
        rows = np.arange(n)[:, None] * (m - 1) / max(n - 1, 1)
        local = np.where(np.abs(np.arange(m)[None, :] - rows) <= band, local, np.inf)
    cost = np.full((n, m), np.inf)
    steps = np.zeros((n, m), dtype=np.int64)  # path length, to normalise an open end
    cost[0, 0] = local[0, 0]
    steps[0, 0] = 1
    for i in range(n):
        for k in range(m):
            if i == 0 and k == 0:
                continue
            best, length = np.inf, 0
            if i > 0 and k > 0 and cost[i - 1, k - 1] <= best:
                best, length = cost[i - 1, k - 1], steps[i - 1, k - 1]
            if i > 0 and cost[i - 1, k] < best:
                best, length = cost[i - 1, k], steps[i - 1, k]
            if k > 0 and cost[i, k - 1] < best:
                best, length = cost[i, k - 1], steps[i, k - 1]
            cost[i, k] = local[i, k] + best
            steps[i, k] = length + 1
    end = m - 1
    if open_end:
        per_step = cost[n - 1] / np.maximum(steps[n - 1], 1)
        end = int(np.argmin(per_step))
    if not np.isfinite(cost[n - 1, end]):
        raise InputError("DTW found no path inside the band; widen it", found=band)
    path = [(n - 1, end)]
    i, k = n - 1, end
    while (i, k) != (0, 0):
        options = []
        if i > 0 and k > 0:
            options.append((cost[i - 1, k - 1], i - 1, k - 1))
        if i > 0:
            options.append((cost[i - 1, k], i - 1, k))
        if k > 0:
            options.append((cost[i, k - 1], i, k - 1))
        _, i, k = min(options, key=lambda o: o[0])
        path.append((i, k))
    path.reverse()
    return path, float(cost[n - 1, end])


def resample_by_path(sample: Array, path: Sequence[tuple[int, int]], m: int) -> Array:
    """The sample on the reference's ``m`` indices: each reference point takes the mean of
    the samples warped onto it; reference points the path did not reach are NaN."""
    out = np.full((m, sample.shape[1]), np.nan)
    sums = np.zeros((m, sample.shape[1]))
    counts = np.zeros(m)
    for i, k in path:
        sums[k] += sample[i]
        counts[k] += 1
    seen = counts > 0
    out[seen] = sums[seen] / counts[seen, None]
    return out


@dataclass
class DTWAligner:
    """Kassidas-MacGregor-Taylor alignment of batches onto a reference trajectory.

    ``fit(batches)`` takes each batch as an array (n_i, J) of raw samples; it picks the
    batch whose length is the median as the first reference, then ``n_iter`` times aligns
    every batch to the reference, sets the reference to their mean and the weights to the
    inverse of each variable's mean squared deviation from it (normalised to sum to J).
    Variables are scaled by their overall range first so that weights are comparable.
    ``transform(batch, open_end)`` returns the batch on the reference's indices.
    """

    n_iter: int = 3
    band: int | None = None

    def fit(self, batches: Sequence[Array]) -> DTWAligner:
        if len(batches) < 2:
            raise InputError("DTW alignment needs at least two batches", found=len(batches))
        stacked = np.vstack(batches)
        self.center_ = stacked.mean(axis=0)
        self.scale_ = np.maximum(stacked.std(axis=0), 1e-12)
        scaled = [(b - self.center_) / self.scale_ for b in batches]
        lengths = np.array([len(b) for b in batches])
        ref = scaled[int(np.argsort(lengths)[len(lengths) // 2])].copy()
        weights = np.ones(ref.shape[1])
        for _ in range(self.n_iter):
            aligned = np.stack([self._warp(b, ref, weights, False) for b in scaled])
            ref = np.nanmean(aligned, axis=0)
            dev = np.nanmean((aligned - ref) ** 2, axis=(0, 1))
            inv = 1.0 / np.maximum(dev, 1e-12)
            weights = inv * len(inv) / inv.sum()
        self.reference_ = ref
        self.weights_ = weights
        return self

    def _warp(self, b: Array, ref: Array, weights: Array, open_end: bool) -> Array:
        path, _ = dtw_path(b, ref, weights, band=self.band, open_end=open_end)
        return resample_by_path(b, path, len(ref))

    def transform(self, batch: Array, *, open_end: bool = False) -> Array:
        """``batch`` (n, J) in its own units -> (m, J) on the reference's indices, same units.
        With ``open_end``, reference points after the batch's matched end are NaN."""
        scaled = (batch - self.center_) / self.scale_
        warped = self._warp(scaled, self.reference_, self.weights_, open_end)
        return warped * self.scale_ + self.center_
