"""One shared GP length-scale or one per input (ARD), chosen each round by BIC."""

from __future__ import annotations

import numpy as np
import pandas as pd

from biofab.core import Continuous, Space
from biofab.learn import AutoRecommender, GPSurrogate


def _space(d: int = 8) -> Space:
    return Space({f"x{i}": Continuous(0, 1, step=0.05) for i in range(d)})


def _measured(space: Space, n: int) -> tuple[pd.DataFrame, np.ndarray]:
    d = space.sample(n, seed=0)[space.names]
    # A smooth bump that every input moves a little: a shared length-scale suits it.
    y = -np.sum((d.to_numpy() - 0.4) ** 2, axis=1)
    return d, y[:, None]


def test_isotropic_gp_has_one_length_scale_and_survives_its_state() -> None:
    space = _space()
    d, y = _measured(space, 20)
    X = space.encode(d)
    gp = GPSurrogate(seed=0, ard=False).fit(X, y[:, 0])
    assert gp.model_.covar_module.lengthscale.numel() == 1
    ard = GPSurrogate(seed=0).fit(X, y[:, 0])
    assert ard.model_.covar_module.lengthscale.numel() == X.shape[1]
    again = GPSurrogate.from_state(gp.get_state())
    assert again.ard is False
    np.testing.assert_allclose(again.predict(X[:5])[0], gp.predict(X[:5])[0], rtol=1e-10)


def test_bic_prefers_shared_scales_when_every_input_matters_and_ard_when_few_do() -> None:
    rng = np.random.default_rng(0)
    # 20 rows, every input active: shared; 30 rows, 10 of 12 inputs inert: one per input.
    for n, inert, ard_wins in ((20, 0, False), (30, 10, True)):
        X = rng.random((n, 12))
        w = np.r_[np.ones(12 - inert), np.zeros(inert)]
        y = -((X - 0.4) ** 2 @ w) + 0.01 * rng.normal(size=n)
        per_input = GPSurrogate(seed=0).fit(X, y)
        shared = GPSurrogate(seed=0, ard=False).fit(X, y)
        assert (per_input.bic_ < shared.bic_) is ard_wins


def test_auto_picks_the_length_scales_by_bic_and_records_it() -> None:
    space = _space()
    d, y = _measured(space, 20)
    rec = AutoRecommender(isotropic=True).recommend(space, d, y, 4, seed=0)
    ls = rec.notes["gp_length_scales"]
    assert isinstance(ls, dict)
    assert ls["shared"] == (ls["bic_shared"] < ls["bic_per_input"])
    assert ("one length-scale" in rec.recommender) == ls["shared"]
    assert len(rec.designs) == 4 and np.isfinite(rec.std).all()
    # From min_rows on, the trees are cross-validated against the chosen GP as before.
    d40, y40 = _measured(space, 40)
    more = AutoRecommender(isotropic=True, min_rows=30).recommend(space, d40, y40, 4, seed=0)
    assert set(more.notes["cv_spearman"]) == {"gp", "trees"}  # type: ignore[call-overload]
    assert "gp_length_scales" in more.notes


def test_without_the_isotropic_arm_nothing_changes() -> None:
    space = _space()
    d, y = _measured(space, 20)
    a = AutoRecommender(isotropic=False).recommend(space, d, y, 4, seed=0)
    assert "cv_spearman" not in a.notes and "gp_length_scales" not in a.notes
