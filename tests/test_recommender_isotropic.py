"""The default recommender's isotropic GP arm: one shared length-scale, chosen by
out-of-fold cross-validation against the ARD GP (and the trees from ``min_rows``)."""

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


def test_auto_cross_validates_the_isotropic_arm_and_records_it() -> None:
    space = _space()
    d, y = _measured(space, 20)
    rec = AutoRecommender(isotropic=True).recommend(space, d, y, 4, seed=0)
    scores = rec.notes["cv_spearman"]
    assert set(scores) == {"gp", "gp-iso"}  # type: ignore[call-overload]
    assert rec.recommender.startswith("auto -> ")
    assert len(rec.designs) == 4 and np.isfinite(rec.std).all()
    # From min_rows on, the trees join; the ARD GP stays the default arm.
    d40, y40 = _measured(space, 40)
    more = AutoRecommender(isotropic=True, min_rows=30).recommend(space, d40, y40, 4, seed=0)
    assert set(more.notes["cv_spearman"]) == {"gp", "gp-iso", "trees"}  # type: ignore[call-overload]


def test_without_the_isotropic_arm_nothing_changes() -> None:
    space = _space()
    d, y = _measured(space, 20)
    a = AutoRecommender(isotropic=False).recommend(space, d, y, 4, seed=0)
    assert "cv_spearman" not in a.notes
