"""EKF, UKF and the soft sensor: linear equivalence, convergence, consistency, bad input."""

from __future__ import annotations

import itertools
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.integrate import solve_ivp

from biofab.core.errors import InputError
from biofab.process.ekf import (
    ExtendedKalmanFilter,
    FilterError,
    MissingMeasurementWarning,
    nis_consistency,
)
from biofab.process.softsensor import SoftSensor
from biofab.process.ukf import UnscentedKalmanFilter


class MonodFedBatch:
    """Small Monod fed-batch (X, S g/L, V L) with off-gas OUR/CER in mmol/L/h.

    Follows the :class:`biofab.process.models.ProcessModel` contract without using it, so
    the filters are tested independently of the twins.
    """

    states = ("X", "S", "V")
    inputs = ("F",)
    input_defaults = {"F": 0.0}  # noqa: RUF012
    outputs = ("OUR", "CER")
    param_names = ("mu_max", "Ks", "Yxs", "Yxo", "m_o", "RQ", "Sf")

    def __init__(self, **changes: float) -> None:
        # 1/h, g/L, g/g, g biomass/g O2, g O2/g/h maintenance, mol/mol, g/L glucose in feed
        defaults = (0.45, 0.05, 0.5, 1.0, 0.01, 1.05, 400.0)
        self.params = dict(zip(self.param_names, defaults, strict=True)) | changes

    def vector(self) -> list[float]:
        return [self.params[n] for n in self.param_names]

    def rhs(self, t: Any, x: Any, u: Any, p: Any, xp: Any = np) -> list[Any]:
        X, S, V = x[0], x[1], x[2]
        mu_max, Ks, Yxs, _, _, _, Sf = (p[i] for i in range(7))
        mu = mu_max * S / (Ks + S)
        dilution = u[0] / V
        return [mu * X - dilution * X, -mu * X / Yxs + dilution * (Sf - S), u[0] + 0.0 * X]

    def measure(self, x: Any, u: Any, p: Any, xp: Any = np) -> list[Any]:
        mu_max, Ks, _, Yxo, m_o, RQ, _ = (p[i] for i in range(7))
        mu = mu_max * x[1] / (Ks + x[1])
        our = (mu / Yxo + m_o) * x[0] * 1000.0 / 32.0  # mmol O2/L/h
        return [our, RQ * our]


def feed(t: float) -> float:
    """Batch phase to 5 h, then exponential feed at 0.15 1/h (L/h)."""
    return 0.0 if t < 5.0 else 0.004 * float(np.exp(0.15 * (t - 5.0)))


def simulate_run(seed: int, model: MonodFedBatch | None = None, hours: float = 24.0):
    """Truth and a noisy wide data frame: online every 0.1 h, offline X, S every 4 h."""
    model = model or MonodFedBatch()
    grid = np.round(np.arange(0.0, hours + 1e-9, 0.1), 6)
    truth = [np.array([0.2, 10.0, 1.0])]
    for a, b in itertools.pairwise(grid):
        sol = solve_ivp(
            model.rhs,
            (a, b),
            truth[-1],
            args=([feed(a)], model.vector()),
            rtol=1e-9,
            atol=1e-11,
        )
        truth.append(np.maximum(sol.y[:, -1], 0.0))
    states = np.array(truth)
    rng = np.random.default_rng(seed)
    our, cer = np.array([model.measure(x, [0.0], model.vector()) for x in states]).T
    data = pd.DataFrame({"time_h": grid, "F": [feed(t) for t in grid]})
    data["OUR"] = our + rng.normal(0, 1.0 + 0.03 * our)
    data["CER"] = cer + rng.normal(0, 1.0 + 0.03 * cer)
    data["V"] = states[:, 2] + rng.normal(0, 0.005, grid.size)
    sampled = np.isclose(grid % 4.0, 0.0) & (grid > 0)
    data["X_off"] = np.where(sampled, states[:, 0] + rng.normal(0, 0.2, grid.size), np.nan)
    data["S_off"] = np.where(sampled, states[:, 1] + rng.normal(0, 0.1, grid.size), np.nan)
    frame = pd.DataFrame(states, columns=list(model.states)).assign(time_h=grid)
    return frame, data


def sensor(kind: str, offline: bool = True, guess: float = 0.1) -> SoftSensor:
    return SoftSensor(
        MonodFedBatch(),
        filter=kind,  # type: ignore[arg-type]
        online=("OUR", "CER", "V"),
        offline=("X", "S") if offline else (),
        x0={"X": guess, "S": 10.0, "V": 1.0},
        online_std={"OUR": 3.0, "CER": 3.0, "V": 0.005},
        offline_std={"X": 0.2, "S": 0.1},
    )


def rename_offline(data: pd.DataFrame) -> pd.DataFrame:
    return data.rename(columns={"X_off": "X", "S_off": "S"})


# -- linear Gaussian: both filters are the Kalman filter ------------------------------------
def test_linear_gaussian_matches_kalman_filter() -> None:
    A = np.array([[1.0, 0.1], [0.0, 1.0]])
    B = np.array([[0.005], [0.1]])
    C = np.array([[1.0, 0.0]])
    Q, R = np.diag([1e-3, 1e-2]), np.array([[0.5]])
    rng = np.random.default_rng(0)
    x, P = np.zeros(2), np.eye(2)
    filters = [
        cls(lambda x, u, dt: A @ x + B @ u, lambda x: C @ x, Q, R, x, P, continuous=False)
        for cls in (ExtendedKalmanFilter, UnscentedKalmanFilter)
    ]
    for k in range(40):
        u, y = np.array([np.sin(k / 5)]), np.array([rng.normal()])
        x, P = A @ x + B @ u, A @ P @ A.T + Q
        gain = P @ C.T @ np.linalg.inv(C @ P @ C.T + R)
        x, P = x + gain @ (y - C @ x), (np.eye(2) - gain @ C) @ P
        for kf in filters:
            kf.predict(u, 1.0).update(y)
    for kf in filters:
        np.testing.assert_allclose(kf.x_, x, atol=1e-10)
        np.testing.assert_allclose(kf.P_, P, atol=1e-10)
    assert len(filters[0].history_) == 81


@pytest.mark.parametrize("method", ["casadi", "complex", "fd"])
def test_jacobian_methods_agree(method: str) -> None:
    model = MonodFedBatch()
    f = lambda x, u: model.rhs(0, x, u, model.vector())  # noqa: E731
    kf = ExtendedKalmanFilter(
        f, lambda x: [x[0]], np.eye(3) * 1e-4, [[0.1]], [1, 5, 1], np.eye(3), jacobian=method
    )  # type: ignore[arg-type]
    kf.predict([0.01], 0.5)
    reference = ExtendedKalmanFilter(
        f, lambda x: [x[0]], np.eye(3) * 1e-4, [[0.1]], [1, 5, 1], np.eye(3), jacobian="fd"
    ).predict([0.01], 0.5)
    np.testing.assert_allclose(kf.P_, reference.P_, rtol=1e-5)


# -- soft sensor on the Monod fed-batch -----------------------------------------------------
@pytest.fixture(scope="module")
def run() -> tuple[pd.DataFrame, pd.DataFrame]:
    return simulate_run(seed=3)


@pytest.mark.parametrize("kind", ["ekf", "ukf"])
def test_converges_from_wrong_biomass_guess(kind: str, run: Any) -> None:
    truth, data = run
    estimates = sensor(kind, offline=False, guess=0.1).run(
        rename_offline(data).drop(columns=["X", "S"])
    )
    frame = estimates.frame
    error = np.abs(frame["X"] - np.interp(frame["time_h"], truth["time_h"], truth["X"]))
    start = 0.1  # the guess is 0.1 g/L for a true 0.2 g/L: 50 % off
    assert error.iloc[-40:].mean() < 0.02 * truth["X"].iloc[-1]
    assert error.iloc[-40:].mean() / truth["X"].iloc[-40:].mean() < 0.1 * start / 0.2
    assert {"mu", "mu_std", "X_std", "S_std"} <= set(frame.columns)
    # after the batch phase the growth rate follows the feed (0.15 1/h)
    late = frame[(frame["time_h"] > 15)]
    assert late["mu"].median() == pytest.approx(0.15, abs=0.03)


def test_nis_within_band_for_a_tuned_filter(run: Any) -> None:
    _, data = run
    estimates = sensor("ekf", guess=0.2).run(rename_offline(data))
    test = estimates.consistency["online"]
    assert test.consistent, test
    assert test.n_updates == len(data)


def test_offline_fusion_reduces_error(run: Any) -> None:
    truth, data = run
    with_samples = sensor("ekf").run(rename_offline(data))
    without = sensor("ekf", offline=False).run(rename_offline(data))
    a = with_samples.rmse(truth, ["X", "S"])
    b = without.rmse(truth, ["X", "S"])
    assert a["X"] < b["X"]
    assert (with_samples.nis["label"] == "offline").sum() == 6


def test_parameter_random_walk_tracks_mu_max() -> None:
    _, data = simulate_run(seed=5, model=MonodFedBatch(mu_max=0.35))
    soft = SoftSensor(
        MonodFedBatch(),
        "ukf",
        online=("OUR", "CER", "V"),
        offline=("X", "S"),
        estimate=("mu_max",),
        x0={"X": 0.2, "S": 10.0, "V": 1.0},
        initial_std={"mu_max": 0.1},
        process_std={"mu_max": 1e-3},
        online_std={"OUR": 3.0, "CER": 3.0, "V": 0.005},
        offline_std={"X": 0.2, "S": 0.1},
    )
    frame = soft.run(rename_offline(data)).frame
    assert frame["mu_max"].iloc[-1] == pytest.approx(0.35, abs=0.05)


# -- consistency test itself ----------------------------------------------------------------
def test_nis_consistency_band() -> None:
    rng = np.random.default_rng(1)
    good = nis_consistency(rng.chisquare(2, 500), np.full(500, 2))
    assert good.consistent and good.lower < 2 < good.upper
    assert not nis_consistency(rng.chisquare(2, 500) * 3, np.full(500, 2)).consistent


# -- bad input ------------------------------------------------------------------------------
def basic_filter() -> ExtendedKalmanFilter:
    return ExtendedKalmanFilter(
        lambda x, u: [-0.1 * x[0]], lambda x: [x[0]], [[1e-3]], [[0.1]], [1.0], [[1.0]]
    )


def test_nan_reading_is_skipped_with_a_warning() -> None:
    kf = basic_filter().predict(None, 1.0)
    before = kf.x_.copy()
    with pytest.warns(MissingMeasurementWarning):
        kf.update([np.nan])
    np.testing.assert_array_equal(kf.x_, before)
    with pytest.raises(InputError, match="infinite"):
        kf.update([np.inf])


def test_covariance_that_is_not_positive_definite_is_refused() -> None:
    with pytest.raises(InputError, match="P0 is not positive definite"):
        ExtendedKalmanFilter(
            lambda x, u: x, lambda x: x, np.eye(2), np.eye(2), [1, 1], [[1.0, 2.0], [2.0, 1.0]]
        )
    with pytest.raises(InputError, match="R is not positive definite"):
        basic_filter().update([1.0], R=[[-1.0]])
    with pytest.raises(InputError, match="symmetric"):
        ExtendedKalmanFilter(
            lambda x, u: x, lambda x: x, np.eye(2), np.eye(2), [1, 1], [[1.0, 0.5], [0.0, 1.0]]
        )


def test_diverging_model_raises_filter_error() -> None:
    kf = ExtendedKalmanFilter(
        lambda x, u: [x[0] ** 3], lambda x: [x[0]], [[1e-3]], [[0.1]], [1e3], [[1.0]]
    )
    with pytest.raises(FilterError, match="diverged"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        kf.predict(None, 10.0)


def test_unsorted_times_and_missing_columns_are_refused(run: Any) -> None:
    _, data = run
    shuffled = rename_offline(data).iloc[[0, 2, 1, 3]]
    with pytest.raises(InputError, match="time is not strictly increasing"):
        sensor("ekf").run(shuffled)
    with pytest.raises(InputError, match="batch lacks columns"):
        sensor("ekf").run(data.drop(columns=["OUR"]))
    with pytest.raises(InputError, match="x0 lacks states"):
        SoftSensor(MonodFedBatch(), x0={"X": 1.0}, online=())
    with pytest.raises(InputError, match="unknown filter"):
        SoftSensor(MonodFedBatch(), "pf", x0={"X": 1, "S": 1, "V": 1})  # type: ignore[arg-type]


# -- the E. coli twin of biofab.process.models ----------------------------------------------
def test_soft_sensor_on_the_ecoli_twin() -> None:
    from biofab.process.models import EColiFedBatch
    from biofab.process.simulate import Exponential, FeedStart, simulate

    model = EColiFedBatch()
    x0 = {"X": 0.2, "S": 10.0, "A": 0.0, "P": 0.0, "DO": 100.0, "V": 2.0}
    grid = np.round(np.arange(0.0, 12.0 + 1e-9, 0.1), 6)
    profile = Exponential.for_growth(0.15, X0=4.5, V0=2.0, S_feed=500.0, Yxs=0.5)
    truth = simulate(model, x0, 12.0, events=[FeedStart(6.0, profile)], t_eval=grid).to_frame()
    rng = np.random.default_rng(0)
    data = truth[["time_h", "F", "T", "ind"]].copy()
    for name in ("OUR", "CER"):
        data[name] = truth[name] + rng.normal(0, 0.5 + 0.05 * truth[name].abs())
    data["DO"] = truth["DO"] + rng.normal(0, 1.0, grid.size)
    data["volume"] = truth["V"]  # BatchData's standard name, mapped to the state V
    sampled = np.isclose(grid % 4.0, 0.0) & (grid > 0)
    data["biomass"] = np.where(sampled, truth["X"] * 1.02, np.nan)
    for kind in ("ekf", "ukf"):
        soft = SoftSensor(
            EColiFedBatch(),
            kind,  # type: ignore[arg-type]
            online=("OUR", "CER", "DO", "V"),
            offline=("X",),
            x0=dict(x0, X=0.1, S=13.0),
            initial_std={"A": 0.05, "P": 0.01, "DO": 5.0, "V": 0.01},
            process_std={"A": 0.01, "P": 0.01, "DO": 2.0, "V": 1e-3},
            online_std={"OUR": 3.0, "CER": 3.0, "DO": 1.0, "V": 0.005},
            offline_std={"X": 0.5},
        )
        frame = soft.run(data.drop(columns=["T", "ind"])).frame  # inputs from defaults
        last = frame.iloc[-10:]
        relative = np.abs(last["X"].to_numpy() / truth["X"].iloc[-10:].to_numpy() - 1)
        assert relative.mean() < 0.1, (kind, relative)  # from 50 % off at the start
        # true mu at 10-12 h is 0.13-0.14 1/h; the UKF reports the (wider) spread of mu
        # over its sigma points, so it is held to its own standard deviation
        middle = last.median()
        assert abs(middle["mu"] - 0.135) < max(0.03, 2 * middle["mu_std"]), (kind, middle)


# -- issue 13: quasi-steady DO, state-scaled process noise, off-gas noise from the spec ------
def _ecoli_run(hours: float, every: float = 0.1) -> tuple[Any, pd.DataFrame]:
    """The E. coli twin fed exponentially from 6 h, induced at 14 h (oxygen limited ~19 h)."""
    from biofab.process.models import EColiFedBatch
    from biofab.process.simulate import Exponential, FeedStart, Induction, simulate

    model = EColiFedBatch()
    x0 = {"X": 0.2, "S": 10.0, "A": 0.0, "P": 0.0, "DO": 100.0, "V": 2.0}
    grid = np.round(np.arange(0.0, hours + 1e-9, every), 6)
    profile = Exponential.for_growth(0.15, X0=4.5, V0=2.0, S_feed=500.0, Yxs=0.5)
    events = [FeedStart(6.0, profile), Induction(14.0)]
    return model, simulate(model, x0, hours, events=events, t_eval=grid).to_frame()


def test_quasi_steady_do_is_the_full_twins_equilibrium() -> None:
    from biofab.process.quasisteady import EColiQuasiSteadyDO

    full, truth = _ecoli_run(24.0, every=0.5)
    reduced = EColiQuasiSteadyDO()
    p = full.param_vector()
    for _, row in truth.iloc[1:].iterrows():  # from 0.5 h: the DO transient is seconds long
        x = row[list(full.states)].to_numpy(float)
        u = row[list(full.inputs)].to_numpy(float)
        slow = np.delete(x, 4)
        oxygen = reduced.dissolved_oxygen(slow, u, p)
        # the full twin's DO balance is at rest there, and the plant sits on it
        assert abs(full.rhs(0.0, [*slow[:4], oxygen, slow[4]], u, p)[4]) < 1e-6
        assert oxygen == pytest.approx(row["DO"], abs=0.02 + 0.01 * row["DO"])
        np.testing.assert_allclose(
            reduced.rhs(0.0, slow, u, p), np.delete(full.rhs(0.0, x, u, p), 4), rtol=0.02, atol=0.02
        )
    assert truth["DO"].iloc[-1] < 1.0  # the oxygen-limited phase was covered
    # CasADi traces it (the EKF's Jacobians) and agrees with NumPy
    f = reduced.casadi_rhs()
    last = truth.iloc[-1]
    slow = np.delete(last[list(full.states)].to_numpy(float), 4)
    u = last[list(full.inputs)].to_numpy(float)
    np.testing.assert_allclose(np.asarray(f(slow, u, p)).ravel(), reduced.rhs(0, slow, u, p))


def test_state_dependent_process_noise() -> None:
    """Q(x) is evaluated at the mean before each prediction: P grows with the state."""
    rate = 0.3
    kf = ExtendedKalmanFilter(
        lambda x, u: [rate * x[0]],
        lambda x: [x[0]],
        lambda x, u: np.diag([(0.1 * x[0]) ** 2]),
        [[1.0]],
        [10.0],
        [[1e-6]],
    )
    kf.predict(None, 1e-3)
    assert kf.P_[0, 0] == pytest.approx(1e-6 + 1.0 * 1e-3, rel=1e-3)
    bad = ExtendedKalmanFilter(
        lambda x, u: [x[0]], lambda x: [x[0]], lambda x, u: [[-1.0]], [[1.0]], [1.0], [[1.0]]
    )
    with pytest.raises(InputError, match="Q is not positive semi-definite"):
        bad.predict(None, 0.1)


def test_relative_noise_settings_are_checked() -> None:
    base: dict[str, Any] = dict(x0={"X": 0.1, "S": 10.0, "V": 1.0}, online=("OUR",))
    base["online_std"] = {"OUR": 1.0}
    with pytest.raises(InputError, match="process_relative names unknown"):
        SoftSensor(MonodFedBatch(), process_relative={"Q": 0.1}, **base)
    with pytest.raises(InputError, match="online_relative must be finite and >= 0"):
        SoftSensor(MonodFedBatch(), online_relative={"OUR": -0.1}, **base)
    with pytest.raises(InputError, match="online_relative names unknown"):
        SoftSensor(MonodFedBatch(), online_relative={"CER": 0.1}, **base)
    with pytest.raises(InputError, match="offline_relative names unknown"):
        SoftSensor(MonodFedBatch(), offline_relative={"X": 0.05}, **base)
    with pytest.raises(InputError, match="process_rate must be finite and >= 0"):
        SoftSensor(MonodFedBatch(), process_rate={"X": float("nan")}, **base)


@pytest.mark.parametrize("kind", ["ekf", "ukf"])
def test_filters_beat_the_open_loop_through_oxygen_limitation(kind: str) -> None:
    """The issue-13 failure: acetate made once DO runs out. With DO quasi-steady, the
    off-gas noise as the analyser states it and the benchmark's process noise, the filter
    tracks 16 g/L of acetate to within 1 g/L, beats the open-loop twin from the same wrong
    start on X, S and P, keeps its bands honest and its NIS near its expected value."""
    from biofab.process.models import EColiFedBatch
    from biofab.process.quasisteady import EColiQuasiSteadyDO
    from biofab.process.simulate import Exponential, FeedStart, Induction, simulate

    _, truth = _ecoli_run(24.0, every=0.2)
    rng = np.random.default_rng(7)
    grid = truth["time_h"].to_numpy()
    data = truth[["time_h", "F", "T", "ind"]].copy()
    for name in ("OUR", "CER"):
        data[name] = truth[name] + rng.normal(0, 0.5 + 0.05 * truth[name].abs())
    data["DO"] = truth["DO"] + rng.normal(0, 1.0, grid.size)
    data["V"] = truth["V"] + rng.normal(0, 0.005, grid.size)
    sampled = np.isclose(grid % 4.0, 0.0) & (grid > 0)
    data["X"] = np.where(sampled, truth["X"] * (1 + rng.normal(0, 0.05, grid.size)), np.nan)
    data["S"] = np.where(
        sampled, np.maximum(truth["S"] + rng.normal(0, 0.05, grid.size), 0), np.nan
    )
    guess = {"X": 0.1, "S": 13.0, "A": 0.0, "P": 0.0, "V": 2.0}
    soft = SoftSensor(
        EColiQuasiSteadyDO(),
        kind,  # type: ignore[arg-type]
        online=("OUR", "CER", "DO", "V"),
        offline=("X", "S"),
        x0=guess,
        initial_std={"A": 0.05, "P": 0.01, "V": 0.01},
        process_std={"A": 0.01, "P": 0.005, "V": 1e-3},
        process_relative={"X": 0.0025, "S": 0.0025, "A": 0.0025, "P": 0.0025},
        process_rate={"A": 0.05},
        online_std={"OUR": 0.5, "CER": 0.5, "DO": 1.0, "V": 0.005},
        online_relative={"OUR": 0.05, "CER": 0.05},
        offline_std={"X": 0.1, "S": 0.05},
        offline_relative={"X": 0.05},
        filter_options={"sigma_bounds": "evaluate"} if kind == "ukf" else None,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimates = soft.run(data)
    profile = Exponential.for_growth(0.15, X0=4.5, V0=2.0, S_feed=500.0, Yxs=0.5)
    open_loop = simulate(
        EColiFedBatch(),
        {**guess, "DO": 100.0},
        24.0,
        events=[FeedStart(6.0, profile), Induction(14.0)],
        t_eval=grid,
    ).to_frame()
    mine = estimates.rmse(truth, ["X", "S", "A", "P"])
    for state, error in mine.items():
        peer = float(np.sqrt(np.mean((open_loop[state] - truth[state]) ** 2)))
        # acetate: the benchmark's setting wins on its 5 seeds (1.4x, 1.2x) but not on this
        # sparser variant (readings every 0.2 h, no qS_max tracking): 0.18 vs 0.14 g/L, a
        # sub-1 % biomass bias delays the oxygen limit (BENCHMARKS.md, soft sensors)
        assert error < (1.5 if state == "A" else 1.0) * peer, (kind, state, error, peer)
    late = estimates.frame["time_h"] > 20  # acetate builds up 0.4 -> 16 g/L here
    acetate = estimates.frame.loc[late, "A"].to_numpy()
    assert np.abs(acetate - truth.loc[late.to_numpy(), "A"].to_numpy()).max() < 1.0
    # honest bands: the truth inside ±2σ most of the time on every state (nominal 95 %; the
    # EKF's acetate band is 79 % here, lagging the onset of the oxygen limit; the issue-6
    # filters held acetate to ±0.01 g/L through it)
    frame = estimates.frame
    for state in ("X", "S", "A", "P"):
        inside = np.abs(frame[state] - truth[state]) <= 2 * frame[f"{state}_std"] + 1e-9
        assert inside.mean() > 0.75, (kind, state, inside.mean())
    assert 2.0 < estimates.consistency["online"].nis_mean < 8.0  # 4 readings per update


def test_ukf_bounds_on_evaluation_keep_a_state_resting_at_zero() -> None:
    """A product at zero before induction: clipped sigma points ratchet its mean upwards;
    bounds applied only where f and h are evaluated leave it at zero with its full spread."""

    def make(mode: str) -> UnscentedKalmanFilter:
        return UnscentedKalmanFilter(
            lambda x, u: [0.0 * x[0], -0.1 * x[1]],
            lambda x: [x[1]],
            np.diag([1e-4, 1e-4]),
            [[0.01]],
            [0.0, 1.0],
            np.diag([1e-4, 0.01]),
            lower=0.0,
            sigma_bounds=mode,  # type: ignore[arg-type]
        )

    clipped, evaluated = make("clip"), make("evaluate")
    for _ in range(50):
        clipped.predict(None, 0.1)
        evaluated.predict(None, 0.1)
    assert clipped.x_[0] > 0.5 * np.sqrt(clipped.P_[0, 0])  # pushed off its bound
    assert evaluated.x_[0] == pytest.approx(0.0, abs=1e-12)
    assert evaluated.P_[0, 0] == pytest.approx(1e-4 + 50 * 0.1 * 1e-4)
    with pytest.raises(InputError, match="unknown sigma_bounds"):
        make("project")
