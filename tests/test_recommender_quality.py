"""Closed-loop quality of the default recommender on a small pool (issue 16 item 2):
the replay protocol of :mod:`biofab.campaign.replay_suite` (20 random starts, batches of
20, stop at a top pick), paired seeds, against random selection and the METIS-style
ensemble. The suite in ``benchmarks/replay.py --suite`` is the real measure; this
keeps a regression from slipping through ``make test``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from biofab.campaign.replay_suite import Pool, run_campaign
from biofab.core import Continuous, Objective, Space


def _pool() -> Pool:
    """400 designs of a 5-factor grid; a smooth optimum with one interaction, 2 % noise."""
    rng = np.random.default_rng(11)
    space = Space({f"x{i}": Continuous(0, 1, step=0.125) for i in range(5)})
    U = np.unique(rng.integers(0, 9, size=(900, 5)) / 8, axis=0)[:400]
    f = -((U - [0.7, 0.3, 0.5, 0.6, 0.2]) ** 2).sum(1) + 0.3 * U[:, 0] * U[:, 1]
    y = f + 0.02 * np.ptp(f) * rng.normal(size=len(f))
    designs = pd.DataFrame(U, columns=space.names)
    return Pool("smooth5", "smooth 5-D", space, designs, y, Objective("y", "max"), budget=200)


def test_default_needs_fewer_experiments_than_random_and_metis_style() -> None:
    pool = _pool()
    seeds = (0, 1, 2)
    spent = {
        m: np.array([run_campaign(pool, m, s).hit_at or pool.cap for s in seeds], float)
        for m in ("biofab", "metis", "random")
    }
    assert spent["biofab"].mean() * 1.5 <= spent["random"].mean(), spent
    assert spent["biofab"].mean() <= spent["metis"].mean(), spent
