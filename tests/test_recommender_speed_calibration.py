"""The default recommender's calibrated error bars, its kriging-believer batch and its
speed-critical parts (issue 16 items 3-4). Real GPs and XGBoost, small data."""

from __future__ import annotations

import numpy as np
import pytest

from biofab.core import Continuous, Space
from biofab.learn import (
    AutoRecommender,
    BelieverUCB,
    GPBelieverUCB,
    GPSurrogate,
    calibrate_out_of_fold,
    coverage,
    out_of_fold,
    std_scale,
)
from biofab.learn.calibration import ONE_SIGMA, OutOfFold


def _space(d: int) -> Space:
    return Space({f"x{i}": Continuous(0, 1, step=0.1) for i in range(d)})


def _data(space: Space, n: int, noise: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = space.sample(n, seed=seed + 1)
    U = space.encode(X)
    f = np.sin(3 * U[:, 0]) + (U[:, 1] - 0.4) ** 2 - 0.5 * U[:, 2 % U.shape[1]]
    return X, U, f + noise * rng.normal(size=n)


def test_std_scale_is_the_conformal_factor() -> None:
    rng = np.random.default_rng(1)
    mean = np.zeros(400)
    y = rng.normal(0, 3.0, 400)  # the truth is 3x wider than the model says
    s = std_scale(y, mean, np.ones(400))
    assert 2.6 < s < 3.4
    # The scaled interval covers at least the nominal share of these same rows.
    assert coverage(y, mean, s * np.ones(400), ONE_SIGMA) >= ONE_SIGMA
    # Known noise that already explains the scatter leaves little for the model's std.
    assert std_scale(y, mean, np.ones(400), np.full(400, 9.0)) < 1.0
    # A model std of zero with misses needs the upper limit, not a division by zero.
    assert std_scale(y, mean, np.zeros(400)) == 20.0


def test_out_of_fold_recalibration_fixes_an_overconfident_model() -> None:
    rng = np.random.default_rng(2)
    y = rng.normal(size=200)
    fold = np.arange(200) % 5
    oof = OutOfFold(mean=np.zeros(200), std=np.full(200, 0.3), fold=fold)
    cal = calibrate_out_of_fold(y, oof)
    assert cal.coverage_68_raw < 0.35  # 0.3-sigma bars on unit noise
    assert 0.6 <= cal.coverage_68 <= 0.76
    assert cal.std_scale == pytest.approx(std_scale(y, oof.mean, oof.std), rel=1e-12)
    assert cal.folds == 5 and cal.n == 200


def test_default_reports_calibrated_std_from_out_of_fold_residuals() -> None:
    space = _space(4)
    X, U, y = _data(space, 32, noise=0.2)
    yvar = np.full((32, 1), 0.01)  # the reported noise is half the real one
    rec = AutoRecommender(min_rows=1000).recommend(space, X, y[:, None], 5, yvar=yvar, seed=0)
    cal = rec.notes["calibration"]
    assert set(cal) >= {"coverage_68_raw", "coverage_68", "std_scale"}
    # The factor is the one the out-of-fold residuals of the same GP give.
    gp = GPSurrogate(seed=0, max_iter=200)
    oof = out_of_fold(lambda: gp, U, y, yvar[:, 0])
    assert abs(cal["std_scale"] - std_scale(y, oof.mean, oof.std, yvar[:, 0])) < 0.5
    raw = rec.model.predict(space.encode(rec.designs))[1]
    np.testing.assert_allclose(rec.std[:, 0], cal["std_scale"] * raw, rtol=1e-9)
    assert 0.5 <= cal["coverage_68"] <= 0.85
    assert rec.recommender.startswith("bo (GP, UCB kriging believer)")


def test_believer_batch_spreads_where_top_n_ucb_clusters() -> None:
    """Picks conditioned on earlier ones (believed at their mean) stay apart."""
    space = _space(2)
    X, _, y = _data(space, 25, noise=0.01)
    pool = space.sample(400, seed=9, exclude=space.keys(X))
    rec = GPBelieverUCB().recommend(space, X, y, 8, candidates=pool, seed=0)
    assert len(rec) == 8 and not set(space.keys(rec.designs)) & set(space.keys(X))
    P = space.encode(rec.designs)
    d_believer = np.mean([np.linalg.norm(P[i] - P[j]) for i in range(8) for j in range(i)])

    from biofab.learn import UCB, ComposedRecommender
    from biofab.learn.recommenders import gp_factory

    top = ComposedRecommender(gp_factory, UCB((2.0,)), name="top-n")
    T = space.encode(top.recommend(space, X, y, 8, candidates=pool, seed=0).designs)
    d_top = np.mean([np.linalg.norm(T[i] - T[j]) for i in range(8) for j in range(i)])
    assert d_believer > d_top
    # Same seed, same batch.
    again = GPBelieverUCB().recommend(space, X, y, 8, candidates=pool, seed=0)
    assert space.keys(again.designs) == space.keys(rec.designs)


def test_believer_ucb_kappa_anneals_and_needs_a_model() -> None:
    acq = BelieverUCB((2.0, 1.0), horizon=4)
    assert [acq.kappa(r) for r in (0, 1, 2, 3, 9)] == [2.0, 2.0, 1.0, 1.0, 1.0]
    with pytest.raises(TypeError, match="needs a fitted surrogate"):
        acq.bind(None, None)  # type: ignore[arg-type]


def test_gp_predict_in_blocks_matches_row_by_row() -> None:
    rng = np.random.default_rng(3)
    X = rng.random((30, 3))
    gp = GPSurrogate(seed=0).fit(X, X.sum(1))
    Z = rng.random((600, 3))  # more than one block
    mean, std = gp.predict(Z)
    for i in (0, 255, 256, 599):
        m1, s1 = gp.predict(Z[i : i + 1])
        assert mean[i] == pytest.approx(m1[0], abs=1e-10)
        assert std[i] == pytest.approx(s1[0], abs=1e-10)


def test_warm_start_reaches_the_cold_fit_in_few_iterations() -> None:
    space = _space(6)
    _, U, y = _data(space, 80, noise=0.1)
    cold = GPSurrogate(seed=0).fit(U, y)
    warm = GPSurrogate(seed=0, warm_start=cold.hyperparameters(), max_iter=5).fit(U, y)
    np.testing.assert_allclose(warm.predict(U[:10])[0], cold.predict(U[:10])[0], atol=0.05)
    # Shapes that do not match (another width) are ignored, not an error.
    GPSurrogate(warm_start=cold.hyperparameters(), max_iter=5).fit(U[:, :3], y)
    assert cold.hyperparameters()["covar_module.raw_lengthscale"].shape == (1, 6)


def test_qlognei_preselects_a_short_list_on_large_pools() -> None:
    from biofab.learn import ComposedRecommender, QLogNEI

    space = _space(3)
    X, _, y = _data(space, 20, noise=0.01)
    pool = space.sample(300, seed=4, exclude=space.keys(X))
    rec = ComposedRecommender(acquisition=QLogNEI(n_mc=32, preselect=40)).recommend(
        space, X, y, 4, candidates=pool, seed=0
    )
    assert rec.notes["preselected"] == 40 and len(rec) == 4


def test_multiobjective_short_list_is_the_first_ucb_front() -> None:
    from biofab.learn.acquisition import pareto_mask, ucb_front_score

    space = _space(3)
    X, U, y = _data(space, 20, noise=0.01)
    gp = GPSurrogate(seed=0).fit(U, np.c_[y, -U[:, 0]])
    pool = space.sample(200, seed=5, exclude=space.keys(X))
    score = ucb_front_score(gp, space, pool)
    mean, std = gp.predict(space.encode(pool))
    first = pareto_mask(mean + std)
    # Every design of the first front outranks every design behind it.
    assert score[first].min() > score[~first].max()
    assert np.all(score[first] >= 0) and np.all(score[~first] < 0)
