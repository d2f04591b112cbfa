"""Surrogates learn known functions, know where they are unsure, and use given noise."""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pytest
import torch

from biofab.core.errors import NotEnoughDataError
from biofab.learn.calibration import ONE_SIGMA, CalibrationReport, calibration_report, coverage
from biofab.learn.gp import GPSurrogate
from biofab.learn.mlp import MLPEnsemble
from biofab.learn.surrogate import EnsembleSurrogate, Surrogate, inverse_variance_weights
from biofab.learn.torch_threads import torch_threads
from biofab.learn.trees import TreeEnsemble

Factory = Callable[[], Surrogate]

FACTORIES: dict[str, Factory] = {
    "gp": GPSurrogate,
    "trees": TreeEnsemble,
    "mlp": MLPEnsemble,
}


def smooth(X: np.ndarray) -> np.ndarray:
    """A smooth test function on [0, 1]^3 with an interaction-free, wiggly shape."""
    return np.sin(6 * X[:, 0]) + np.cos(4 * X[:, 1]) + X[:, 2] ** 2


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(42)
    X = rng.random((150, 3))
    Xt = rng.random((400, 3))
    return X, smooth(X), Xt, smooth(Xt)


@pytest.fixture(scope="module")
def gap_data() -> tuple[np.ndarray, np.ndarray]:
    """Training rows with no x0 in (0.3, 0.7), and query rows inside that gap."""
    rng = np.random.default_rng(7)
    X = rng.random((160, 3))
    X = X[(X[:, 0] < 0.3) | (X[:, 0] > 0.7)]
    gap = rng.random((200, 3))
    gap[:, 0] = 0.4 + 0.2 * gap[:, 0]
    return X, gap


# -- every surrogate ----------------------------------------------------------
@pytest.mark.parametrize("name", FACTORIES)
def test_learns_a_smooth_function(name: str, data) -> None:
    X, y, Xt, yt = data
    model = FACTORIES[name]().fit(X, y)
    mean, std = model.predict(Xt)
    assert mean.shape == std.shape == (len(Xt),)
    rmse = np.sqrt(np.mean((mean - yt) ** 2))
    assert rmse < 0.3 * yt.std(), f"{name}: held-out RMSE {rmse:.3f} vs std {yt.std():.3f}"
    assert np.all(std >= 0) and np.all(np.isfinite(std))
    assert isinstance(model, Surrogate)


@pytest.mark.parametrize("name", FACTORIES)
def test_std_larger_in_a_gap_than_at_the_data(name: str, gap_data) -> None:
    X, gap = gap_data
    model = FACTORIES[name]().fit(X, smooth(X))
    _, std_train = model.predict(X)
    _, std_gap = model.predict(gap)
    # Trees split somewhere in the gap, so their members disagree less sharply there.
    factor = 1.2 if name == "trees" else 2.0
    assert std_gap.mean() > factor * std_train.mean()


@pytest.mark.parametrize("name", ["gp", "mlp"])
def test_std_grows_when_extrapolating(name: str) -> None:
    rng = np.random.default_rng(3)
    X = rng.random((80, 3))
    X[:, 0] *= 0.5
    near = rng.random((100, 3))
    near[:, 0] *= 0.5
    far = rng.random((100, 3))
    far[:, 0] = 0.85 + 0.15 * far[:, 0]
    model = FACTORIES[name]().fit(X, smooth(X))
    assert model.predict(far)[1].mean() > 3 * model.predict(near)[1].mean()


@pytest.mark.parametrize("name", FACTORIES)
def test_one_row_is_not_enough(name: str) -> None:
    with pytest.raises(NotEnoughDataError):
        FACTORIES[name]().fit(np.array([[0.5, 0.5]]), np.array([1.0]))


@pytest.mark.parametrize("name", FACTORIES)
def test_column_y_gives_column_predictions(name: str, data) -> None:
    X, y, Xt, _ = data
    model = FACTORIES[name]().fit(X[:40], y[:40, None])
    mean, std = model.predict(Xt[:7])
    assert mean.shape == std.shape == (7, 1)


@pytest.mark.parametrize("name", FACTORIES)
def test_rejects_bad_shapes(name: str) -> None:
    X = np.random.default_rng(0).random((10, 2))
    with pytest.raises(ValueError):
        FACTORIES[name]().fit(X, np.zeros(9))
    with pytest.raises(ValueError):
        FACTORIES[name]().fit(X, np.zeros(10), yvar=np.ones(9))
    model = FACTORIES[name]().fit(X, X.sum(axis=1))
    with pytest.raises(ValueError):
        model.predict(np.zeros((3, 5)))


# -- GP -------------------------------------------------------------------------
def test_gp_uses_given_noise() -> None:
    rng = np.random.default_rng(11)
    X = rng.random((60, 3))
    y = smooth(X) + rng.normal(0, 0.3, len(X))
    exact = GPSurrogate(extra_noise=False).fit(X, y, yvar=np.full(len(X), 1e-6))
    noisy = GPSurrogate(extra_noise=False).fit(X, y, yvar=np.full(len(X), 0.09))
    assert exact.uses_yvar_ and noisy.uses_yvar_
    m_exact, s_exact = exact.predict(X)
    m_noisy, s_noisy = noisy.predict(X)
    # Near-zero noise pins the mean to every noisy value; known noise lets it smooth them.
    assert np.sqrt(np.mean((m_exact - y) ** 2)) < 0.05
    assert np.sqrt(np.mean((m_noisy - y) ** 2)) > 0.15
    assert s_noisy.mean() > 5 * s_exact.mean()
    # Smoothing the noise away brings the mean closer to the true function.
    truth = smooth(X)
    assert np.mean((m_noisy - truth) ** 2) < np.mean((m_exact - truth) ** 2)


def test_gp_learns_noise_that_replicates_miss() -> None:
    """Replicate variance says 0.01, but an unseen plate effect adds 0.09: the default
    GP learns the extra noise and tracks the truth; trusting yvar alone chases noise."""
    rng = np.random.default_rng(0)
    X = rng.random((60, 3))
    y = smooth(X) + rng.normal(0, 0.3, len(X))
    yvar = np.full(len(X), 0.01)
    Xt = rng.random((200, 3))
    errors = {}
    for extra in (False, True):
        mean, _ = GPSurrogate(extra_noise=extra).fit(X, y, yvar).predict(Xt)
        errors[extra] = np.sqrt(np.mean((mean - smooth(Xt)) ** 2))
    assert errors[True] < 0.7 * errors[False]


def test_gp_noise_modes() -> None:
    rng = np.random.default_rng(1)
    X = rng.random((20, 2))
    y = X.sum(axis=1)
    assert not GPSurrogate(fixed_noise=False).fit(X, y, np.full(20, 0.1)).uses_yvar_
    assert not GPSurrogate().fit(X, y).uses_yvar_
    with pytest.raises(ValueError, match="yvar"):
        GPSurrogate(fixed_noise=True).fit(X, y)
    # A reported variance of 0 (one replicate) is floored rather than breaking the fit.
    mean, std = GPSurrogate().fit(X, y, np.zeros(20)).predict(X)
    assert np.all(np.isfinite(mean)) and np.all(np.isfinite(std))


def test_gp_multi_output_shapes_and_posterior_model(data) -> None:
    X, y, Xt, _ = data
    Y = np.column_stack([y, 2 * y + 1])[:50]
    # The second output's noise is scaled with it, so it is the same problem in y's units.
    model = GPSurrogate().fit(X[:50], Y, yvar=np.tile([1e-3, 4e-3], (50, 1)))
    assert model.n_outputs_ == 2
    mean, std = model.predict(Xt[:9])
    assert mean.shape == std.shape == (9, 2)
    # After Standardize both outputs pose the same problem, so the fits agree.
    np.testing.assert_allclose(mean[:, 1], 2 * mean[:, 0] + 1, atol=0.02)
    np.testing.assert_allclose(std[:, 1], 2 * std[:, 0], rtol=0.05)
    post = model.posterior_model.posterior(torch.as_tensor(Xt[:4], dtype=torch.float64))
    assert post.mean.shape == (4, 2)
    np.testing.assert_allclose(post.mean.detach().numpy(), mean[:4], atol=1e-8)


def test_gp_is_seeded_and_leaves_global_rng_alone(data) -> None:
    X, y, Xt, _ = data
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = GPSurrogate(seed=5).fit(X[:30], y[:30]).predict(Xt[:5])
    after = torch.rand(1)
    b = GPSurrogate(seed=5).fit(X[:30], y[:30]).predict(Xt[:5])
    assert torch.equal(before, after)
    np.testing.assert_allclose(a[0], b[0])
    np.testing.assert_allclose(a[1], b[1])


# -- trees ------------------------------------------------------------------------
def test_trees_one_output_only(data) -> None:
    X, y, _, _ = data
    with pytest.raises(ValueError, match="one output"):
        TreeEnsemble().fit(X, np.column_stack([y, y]))


def test_trees_members_and_seed(data) -> None:
    X, y, Xt, _ = data
    model = TreeEnsemble(n_members=4, n_estimators=50).fit(X, y)
    assert isinstance(model, EnsembleSurrogate)
    assert len(model.members_) == 4
    P = model.predict_members(Xt[:6])
    assert P.shape == (4, 6)
    mean, std = model.predict(Xt[:6])
    np.testing.assert_allclose(mean, P.mean(axis=0))
    np.testing.assert_allclose(std, P.std(axis=0, ddof=1))
    again = TreeEnsemble(n_members=4, n_estimators=50).fit(X, y).predict_members(Xt[:6])
    np.testing.assert_array_equal(P, again)
    other = TreeEnsemble(n_members=4, n_estimators=50, seed=1).fit(X, y).predict_members(Xt[:6])
    assert not np.allclose(P, other)


@pytest.mark.parametrize("name", ["trees", "mlp"])
def test_ensembles_down_weight_high_variance_rows(name: str) -> None:
    rng = np.random.default_rng(5)
    X = rng.random((120, 2))
    truth = np.sin(5 * X[:, 0]) + X[:, 1]
    # A third of the rows are badly off, and their reported variance says so.
    bad = rng.random(len(X)) < 0.33
    y = truth + np.where(bad, rng.normal(0, 1.5, len(X)), 0.0)
    yvar = np.where(bad, 1.5**2, 0.01)
    Xt = rng.random((300, 2))
    yt = np.sin(5 * Xt[:, 0]) + Xt[:, 1]
    factory = FACTORIES[name]
    weighted = factory().fit(X, y, yvar).predict(Xt)[0]
    unweighted = factory().fit(X, y).predict(Xt)[0]
    assert np.mean((weighted - yt) ** 2) < 0.5 * np.mean((unweighted - yt) ** 2)


def test_inverse_variance_weights() -> None:
    w = inverse_variance_weights(np.array([1.0, 1.0, 4.0, 0.0]))
    assert w.mean() == pytest.approx(1.0)
    assert w[0] == pytest.approx(4 * w[2])
    # A zero variance is floored at 1 % of the median (1.0), not infinite weight.
    assert w[3] == pytest.approx(100 * w[0])
    np.testing.assert_allclose(inverse_variance_weights(np.zeros(3)), 1.0)


# -- MLP --------------------------------------------------------------------------
def test_mlp_is_reproducible_per_seed(data) -> None:
    X, y, Xt, _ = data

    def run(seed: int) -> np.ndarray:
        model = MLPEnsemble(n_members=3, hidden=(32, 32), epochs=100, seed=seed)
        return model.fit(X[:60], y[:60]).predict_members(Xt[:10])

    a, b, c = run(3), run(3), run(4)
    assert a.shape == (3, 10)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    assert not np.allclose(a, c, atol=1e-3)
    # Members differ from one another: different initialisations and resamples.
    assert np.ptp(a, axis=0).mean() > 1e-3


def test_mlp_multi_output_and_device(data) -> None:
    X, y, Xt, _ = data
    Y = np.column_stack([y, -y])[:60]
    model = MLPEnsemble(n_members=3, epochs=100).fit(X[:60], Y)
    assert isinstance(model, EnsembleSurrogate)
    assert model.predict_members(Xt[:5]).shape == (3, 5, 2)
    mean, std = model.predict(Xt[:5])
    assert mean.shape == std.shape == (5, 2)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert model.device_.type == expected
    assert model.weights_[0].device.type == expected


def test_torch_threads_restores_setting() -> None:
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


# -- calibration ------------------------------------------------------------------
def test_coverage_counts_entries_inside_the_interval() -> None:
    mean = np.zeros(4)
    std = np.full(4, 2.0)
    y = std * np.array([0.5, 1.5, -0.9, 2.5])
    assert coverage(y, mean, std, ONE_SIGMA) == pytest.approx(0.5)
    assert coverage(y, mean, std, 0.95) == pytest.approx(0.75)
    assert coverage(y, mean, std, 0.999) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        coverage(y, mean, std, 1.5)


def test_gp_is_calibrated_on_noisy_data() -> None:
    rng = np.random.default_rng(21)
    X = rng.random((160, 3))
    noise_sd = 0.05 + 0.35 * X[:, 2]  # heteroscedastic, and reported as such
    y = smooth(X) + rng.normal(0, noise_sd)
    report = calibration_report(GPSurrogate, X, y, noise_sd**2, test_fraction=0.25, seed=0)
    assert isinstance(report, CalibrationReport)
    assert (report.n_train, report.n_test) == (120, 40)
    assert 0.45 <= report.coverage_68 <= 0.9
    assert 0.8 <= report.coverage_95 <= 1.0
    assert report.z.shape == (40,)
    assert np.mean(report.z**2) == pytest.approx(1.0, abs=0.6)
    # The predictive std includes the reported noise, so it is at least the noise.
    assert report.mean_std >= noise_sd[report.test_index].mean() - 1e-12
    assert report.rmse < 0.5
    d = report.to_dict()
    assert d["n_test"] == 40 and len(d["z"]) == 40
    json.dumps(d)
    line = report.summary()
    assert "\n" not in line and "RMSE" in line


def test_calibration_flags_an_overconfident_model() -> None:
    class Overconfident:
        def fit(self, X, y, yvar=None):
            self.inner = GPSurrogate().fit(X, y)
            return self

        def predict(self, X):
            mean, std = self.inner.predict(X)
            return mean, std / 20

    rng = np.random.default_rng(2)
    X = rng.random((80, 2))
    y = np.sin(6 * X[:, 0]) + rng.normal(0, 0.3, len(X))
    report = calibration_report(Overconfident, X, y, seed=1)
    assert report.coverage_95 < 0.5


def test_calibration_report_needs_rows_and_one_output() -> None:
    X = np.random.default_rng(0).random((4, 2))
    with pytest.raises(NotEnoughDataError):
        calibration_report(GPSurrogate, X[:2], np.arange(2.0))
    with pytest.raises(ValueError, match="one output"):
        calibration_report(GPSurrogate, X, np.zeros((4, 2)))
