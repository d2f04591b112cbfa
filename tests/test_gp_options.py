"""GPSurrogate's options: ``kernel`` (RBF or Matern-5/2, same prior) and ``output_warp``."""

from __future__ import annotations

import numpy as np
import pytest
from gpytorch.kernels import MaternKernel, RBFKernel

from biofab.learn.gp import GPSurrogate, apply_warp, fit_warp, invert_warp, warp_slope
from biofab.learn.surrogate import clone


def _data(n: int = 24, d: int = 4, m: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.random((n, d))
    y = np.column_stack([np.sin(3 * X[:, 0]) + X[:, 1] * (j + 1) for j in range(m)])
    return X, y[:, 0] if m == 1 else y


def test_matern_kernel_is_used_with_the_dimension_scaled_prior() -> None:
    X, y = _data()
    rbf = GPSurrogate(seed=0).fit(X, y)
    mat = GPSurrogate(seed=0, kernel="matern52").fit(X, y)
    assert isinstance(rbf.model_.covar_module, RBFKernel)
    k = mat.model_.covar_module
    assert isinstance(k, MaternKernel) and k.nu == 2.5
    # Same prior as BoTorch's default kernel: the length-scales start from its mode.
    assert k.lengthscale_prior is not None
    mean_r, _ = rbf.predict(X[:5])
    mean_m, std_m = mat.predict(X[:5])
    assert mean_m.shape == (5,) and std_m.shape == (5,)
    assert np.all(std_m >= 0) and not np.allclose(mean_m, mean_r)


def test_matern_kernel_survives_state_and_clone() -> None:
    X, y = _data()
    gp = GPSurrogate(seed=0, kernel="matern52").fit(X, y)
    again = GPSurrogate.from_state(gp.get_state())
    assert again.kernel == "matern52"
    np.testing.assert_allclose(again.predict(X[:7])[0], gp.predict(X[:7])[0], rtol=1e-10)
    assert clone(gp).kernel == "matern52"


def test_matern_kernel_with_two_outputs_and_known_noise() -> None:
    X, y = _data(m=2)
    gp = GPSurrogate(seed=0, kernel="matern52").fit(X, y, np.full_like(y, 1e-3))
    mean, std = gp.predict(X[:3])
    assert mean.shape == (3, 2) and std.shape == (3, 2)


def test_unknown_kernel_is_one_clear_error() -> None:
    X, y = _data()
    with pytest.raises(ValueError, match="kernel must be one of"):
        GPSurrogate(kernel="periodic").fit(X, y)


@pytest.mark.parametrize("lam", [0.0, 0.5, 1.0, 1.7, 2.0])
def test_warp_is_a_bijection_with_the_right_slope(lam: float) -> None:
    warp = np.array([[0.3], [2.0], [lam]])
    Y = np.linspace(-9, 9, 37)[:, None]
    np.testing.assert_allclose(invert_warp(apply_warp(Y, warp), warp), Y, atol=1e-10)
    h = 1e-6
    numeric = (apply_warp(Y + h, warp) - apply_warp(Y - h, warp)) / (2 * h)
    np.testing.assert_allclose(warp_slope(Y, warp), numeric, rtol=1e-5)
    # Any warped value (e.g. a posterior mean beyond the data) has a pre-image.
    assert np.isfinite(invert_warp(np.array([[-50.0], [50.0]]), warp)).all()


def test_warp_power_is_fitted_and_kept_in_range() -> None:
    rng = np.random.default_rng(1)
    skewed = rng.lognormal(0, 1, size=(40, 1))
    w = fit_warp(np.hstack([skewed, -skewed, np.ones((40, 1))]))
    assert w.shape == (3, 3)
    assert 0.0 <= w[2, 0] < 1.0 < w[2, 1] <= 2.0  # a long upper tail is compressed
    assert w[2, 2] == 1.0  # a constant column is left alone


def test_warped_gp_predicts_in_y_units_and_survives_its_state() -> None:
    rng = np.random.default_rng(2)
    X = rng.random((30, 3))
    y = np.exp(2 * X[:, 0]) + 0.1 * X[:, 1]
    gp = GPSurrogate(seed=0, output_warp="yeo-johnson").fit(X, y, np.full(30, 1e-4))
    mean, std = gp.predict(X[:6])
    np.testing.assert_allclose(mean, y[:6], rtol=0.05)
    assert np.all(std > 0)
    again = GPSurrogate.from_state(gp.get_state())
    np.testing.assert_allclose(again.predict(X[:6])[1], std, rtol=1e-10)
    with pytest.raises(ValueError, match="output_warp must be"):
        GPSurrogate(output_warp="box-cox").fit(X, y)


def test_auto_recommender_passes_its_gp_options_on() -> None:
    from biofab.core import Continuous, Space
    from biofab.learn import AutoRecommender

    space = Space({f"x{i}": Continuous(0, 1, step=0.1) for i in range(3)})
    d = space.sample(16, seed=0)[space.names]
    y = np.exp(d.to_numpy().sum(axis=1))[:, None]
    rec = AutoRecommender(kernel="matern52", output_warp="yeo-johnson").recommend(
        space, d, y, 3, seed=0
    )
    assert isinstance(rec.model, GPSurrogate)
    assert rec.model.kernel == "matern52" and rec.model.output_warp == "yeo-johnson"
    assert len(rec.designs) == 3 and np.isfinite(rec.mean).all()
