"""Sampled expected hypervolume improvement (``biofab.learn.hypervolume``) and the
two-objective path of ``MultiObjective`` that uses it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from biofab.core import Continuous, Space
from biofab.learn import MultiObjective
from biofab.learn.hypervolume import (
    greedy_batch,
    hypervolume_2d,
    improvement_2d,
    sample_front,
)

REF = np.zeros(2)


def area_on_grid(points: np.ndarray, n: int = 1000) -> float:
    """The dominated area in the unit square, counted on an ``n`` x ``n`` grid."""
    centres = (np.arange(n) + 0.5) / n
    gx, gy = np.meshgrid(centres, centres)
    hit = np.zeros_like(gx, dtype=bool)
    for x, y in points:
        hit |= (gx <= x) & (gy <= y)
    return float(hit.mean())


def test_hypervolume_matches_the_area_counted_on_a_grid() -> None:
    rng = np.random.default_rng(0)
    for k in (1, 3, 8):
        pts = rng.random((k, 2))
        assert hypervolume_2d(pts, REF) == pytest.approx(area_on_grid(pts), abs=2e-3)
    # Points below the reference, or dominated, add nothing.
    base = np.array([[0.5, 0.5]])
    extra = np.array([[0.5, 0.5], [0.2, 0.3], [-1.0, 2.0]])
    assert hypervolume_2d(np.vstack([base, extra]), REF) == pytest.approx(0.25)


def test_improvement_is_the_hypervolume_a_point_adds() -> None:
    rng = np.random.default_rng(1)
    front = rng.random((1, 6, 2))
    cands = rng.random((1, 9, 2))
    gain = improvement_2d(cands, front, REF)[0]
    alone = hypervolume_2d(front[0], REF)
    added = [hypervolume_2d(np.vstack([front[0], c]), REF) - alone for c in cands[0]]
    assert gain == pytest.approx(added, abs=1e-12)
    assert (gain >= -1e-12).all()


def test_sample_front_keeps_rows_non_dominated_in_some_sample() -> None:
    s = np.array(
        [
            [[1.0, 1.0], [0.5, 0.5], [2.0, 0.0]],  # row 1 dominated by row 0
            [[0.0, 0.0], [0.5, 0.5], [2.0, 0.0]],  # row 0 dominated by row 1
        ]
    )
    assert sample_front(s).tolist() == [True, True, True]
    assert sample_front(s[:1]).tolist() == [True, False, True]


def test_greedy_batch_spreads_along_the_front() -> None:
    """One sample, known answer: the largest box first, then the two that complement
    it; a copy of a picked point adds nothing and comes last."""
    measured = np.array([[[0.1, 0.1]]])
    cands = np.array([[[0.9, 0.2], [0.2, 0.9], [0.6, 0.6], [0.6, 0.6]]])
    picks, gains = greedy_batch(measured, cands, REF, 4, tie_break=np.array([0, 0, 1, 0.0]))
    assert picks[0] == 2  # 0.36 - 0.01 beats 0.18 - 0.01; the tie goes to column 2
    assert set(picks[1:3]) == {0, 1} and picks[3] == 3
    assert gains[0] == pytest.approx(0.35)
    assert gains[1] == pytest.approx(0.3 * 0.2) and gains[3] == pytest.approx(0.0)


def test_two_objective_batch_improves_on_the_front_and_is_reproducible() -> None:
    space = Space({"a": Continuous(0, 1, step=0.05), "b": Continuous(0, 1, step=0.05)})

    def utilities(u: np.ndarray) -> np.ndarray:  # a concave trade-off, best near the corners
        return np.column_stack([u[:, 0] - 0.6 * u[:, 1] ** 2, u[:, 1] - 0.6 * u[:, 0] ** 2])

    d = space.sample(16, seed=3)
    y = utilities(space.encode(d))
    first = MultiObjective().recommend(space, d, y, 6, seed=4)
    again = MultiObjective().recommend(space, d, y, 6, seed=4)
    pd.testing.assert_frame_equal(first.designs, again.designs)
    assert len(set(space.keys(first.designs))) == 6
    assert not set(space.keys(first.designs)) & set(space.keys(d))
    ref = y.min(axis=0) - 0.1
    picked = utilities(space.encode(first.designs))
    assert hypervolume_2d(np.vstack([y, picked]), ref) > hypervolume_2d(y, ref) + 1e-3


def test_three_objectives_still_use_the_botorch_acquisition() -> None:
    space = Space({"a": Continuous(0, 1, step=0.1), "b": Continuous(0, 1, step=0.1)})
    d = space.sample(12, seed=0)
    u = space.encode(d)
    y = np.column_stack([u[:, 0], u[:, 1], 1 - u.sum(axis=1)])
    rec = MultiObjective(n_global=64).recommend(space, d, y, 3, seed=0)
    assert rec.mean.shape == (3, 3) and len(set(space.keys(rec.designs))) == 3
