"""Recommenders: legal, new, annotated designs; pool mode; model selection."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from biofab.core import Categorical, Continuous, Integer, Sequence, Space, SumToTotal
from biofab.learn import (
    AutoRecommender,
    BayesianOptimization,
    EnsembleUCB,
    GPSurrogate,
    MultiObjective,
    SpaceFilling,
    TreeEnsemble,
    cross_validate,
    default_recommender,
    pareto_mask,
)


@pytest.fixture
def space() -> Space:
    return Space(
        {
            "x": Continuous(0, 1, step=0.05),
            "y": Continuous(0, 1, step=0.05),
            "n": Integer(1, 4),
            "c": Categorical(["a", "b", "c"]),
        },
        [SumToTotal(("x", "y"), 1.2)],
    )


def f(d: pd.DataFrame) -> np.ndarray:
    return -((d["x"] - 0.6) ** 2) - (d["y"] - 0.3) ** 2 + 0.1 * (d["c"] == "b") - 0.02 * d["n"]


def measured(space: Space, n: int = 24) -> tuple[pd.DataFrame, np.ndarray]:
    d = space.sample(n, seed=0)[space.names]
    return d, np.asarray(f(d))[:, None]


@pytest.mark.parametrize("make", [BayesianOptimization, EnsembleUCB, AutoRecommender])
def test_batch_is_legal_new_and_annotated(space: Space, make) -> None:
    d, y = measured(space)
    pending = space.sample(5, seed=9, exclude=space.keys(d))[space.names]
    rec = make().recommend(space, d, y, 8, seed=0, pending=pending)
    assert len(rec) == 8
    space.validate(rec.designs)
    keys = space.keys(rec.designs)
    assert len(set(keys)) == 8
    assert not set(keys) & (set(space.keys(d)) | set(space.keys(pending)))
    assert rec.mean.shape == (8, 1) and np.isfinite(rec.mean).all() and (rec.std > 0).all()
    assert np.isfinite(rec.acquisition).all()
    # the model found the good region: predicted values beat the median measured one
    assert rec.mean.mean() > np.median(y)


def test_pool_mode_picks_only_unmeasured_pool_rows(space: Space) -> None:
    pool = space.sample(120, seed=3)[space.names]
    d = pool.iloc[:20].reset_index(drop=True)
    y = np.asarray(f(d))[:, None]
    for rec_cls in (SpaceFilling, BayesianOptimization, EnsembleUCB):
        rec = rec_cls().recommend(space, d, y, 10, candidates=pool, seed=1)
        keys = set(space.keys(rec.designs))
        assert keys <= set(space.keys(pool)) and not keys & set(space.keys(d))
        assert len(keys) == 10


def test_space_filling_spreads_out(space: Space) -> None:
    pool = space.sample(300, seed=4)[space.names]
    rec = SpaceFilling().recommend(space, pool.iloc[:0], np.zeros((0, 1)), 10, candidates=pool)
    u = space.encode(rec.designs)
    dists = np.sqrt(((u[:, None] - u[None]) ** 2).sum(-1))[np.triu_indices(10, 1)]
    rand = space.encode(pool.sample(10, random_state=0))
    rdists = np.sqrt(((rand[:, None] - rand[None]) ** 2).sum(-1))[np.triu_indices(10, 1)]
    assert dists.min() > rdists.min()


def test_multi_objective_batch_and_pareto(space: Space) -> None:
    d, y = measured(space)
    y2 = np.column_stack([y[:, 0], -np.asarray(d["x"] + d["y"])])
    rec = MultiObjective().recommend(space, d, y2, 4, seed=0)
    assert rec.mean.shape == (4, 2) and len(set(space.keys(rec.designs))) == 4
    mask = rec.notes["pareto"]
    assert mask.any() and len(mask) == len(d)


def test_pareto_mask() -> None:
    u = np.array([[1, 1], [2, 0], [0, 2], [0.5, 0.5], [2, 0]])
    assert pareto_mask(u).tolist() == [True, True, True, False, True]


def test_ucb_kappa_anneals() -> None:
    ucb = EnsembleUCB(kappa_schedule=(1.41, 1.0, 0.5), horizon=9)
    assert [ucb.kappa(r) for r in (0, 2, 3, 5, 6, 8, 20)] == [1.41, 1.41, 1.0, 1.0, 0.5, 0.5, 0.5]


def test_cross_validation_prefers_the_right_model() -> None:
    rng = np.random.default_rng(0)
    X = rng.random((80, 3))
    smooth = np.sin(3 * X[:, 0]) + X[:, 1]
    factories = {"gp": lambda: GPSurrogate(), "trees": lambda: TreeEnsemble(n_members=4)}
    cv = cross_validate(factories, X, smooth, folds=4)
    assert cv.best == "gp" and cv.scores["gp"] > 0.9
    # A step response on a few discrete levels: trees order it better.
    Xs = rng.integers(0, 4, (80, 6)) / 3.0
    step = ((Xs[:, 0] > 0.5) & (Xs[:, 1] > 0.5)).astype(float) * 2 + (Xs[:, 2] > 0.9)
    cv2 = cross_validate(factories, Xs, step + rng.normal(0, 0.05, 80), folds=4)
    assert cv2.scores["trees"] >= cv2.scores["gp"] - 0.05


def test_default_recommender_choice(space: Space) -> None:
    assert isinstance(default_recommender(space, 2), MultiObjective)
    assert isinstance(default_recommender(space, 1), AutoRecommender)
    seqs = Space({"s": Sequence("ACGT", 40)})
    assert isinstance(default_recommender(seqs, 1), EnsembleUCB)


def test_sequence_space_recommendations_obey_motifs() -> None:
    seq = Sequence("ACGT", 20, fixed={0: "A"}, forbidden_motifs=["GAATTC"])
    space = Space({"s": seq})
    d = space.sample(30, seed=0)[["s"]]
    y = np.array([s.count("G") for s in d["s"]], dtype=float)[:, None]
    rec = EnsembleUCB().recommend(space, d, y, 6, seed=0)
    for s in rec.designs["s"]:
        assert seq.problem(s) is None
    assert np.mean([s.count("G") for s in rec.designs["s"]]) > y.mean()


def test_auto_records_its_choice_and_keeps_the_gp_without_evidence(space: Space) -> None:
    d, y = measured(space, 40)
    rec = AutoRecommender(min_rows=30).recommend(space, d, y, 4, seed=0)
    scores = rec.notes["cv_spearman"]
    assert set(scores) == {"gp", "trees"}  # type: ignore[arg-type]
    assert rec.recommender.startswith("auto -> ")
    few = AutoRecommender(min_rows=30).recommend(space, d.iloc[:20], y[:20], 4, seed=0)
    assert "cv_spearman" not in few.notes and "GP" in few.recommender


def test_selection_margin_keeps_the_default() -> None:
    rng = np.random.default_rng(1)
    X = rng.random((40, 2))
    y = X[:, 0] + 0.1 * rng.normal(size=40)
    same = {"gp": lambda: GPSurrogate(), "also_gp": lambda: GPSurrogate()}
    assert cross_validate(same, X, y, folds=4).best == "gp"
