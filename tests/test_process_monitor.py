"""Batch monitoring: DTW on a known warp, limit calibration, fault detection on the twin."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from biofab.core.errors import InputError
from biofab.process.alignment import DTWAligner, dtw_path, resample_by_path
from biofab.process.faults import FAULTS, simulate_batches
from biofab.process.monitor import BatchMonitor, alarm_points

# -- alignment ------------------------------------------------------------------------


def test_dtw_recovers_a_known_warp() -> None:
    # The sample is the reference played slower in its first half (every point twice)
    # and at the reference's pace after: the path must map each sample to its source.
    ref = np.sin(np.linspace(0, 3, 40))[:, None] + np.linspace(0, 1, 40)[:, None]
    source = [k for k in range(20) for _ in range(2)] + list(range(20, 40))
    sample = ref[source]
    path, cost = dtw_path(sample, ref)
    assert cost == pytest.approx(0.0, abs=1e-12)
    assert [k for _, k in path] == source
    back = resample_by_path(sample, path, len(ref))
    np.testing.assert_allclose(back, ref)


def test_dtw_open_end_stops_where_a_running_batch_is() -> None:
    ref = np.linspace(0, 10, 50)[:, None] ** 1.5
    running = ref[:30:2]  # half of the batch, at double speed
    path, _ = dtw_path(running, ref, open_end=True)
    assert path[-1][1] in (27, 28, 29)


def test_dtw_aligner_puts_warped_batches_on_the_reference() -> None:
    t = np.linspace(0, 1, 60)
    batches = [np.column_stack([np.tanh(8 * (t**p - 0.5))]) for p in (0.8, 1.0, 1.25)]
    aligner = DTWAligner().fit(batches)
    aligned = [aligner.transform(b) for b in batches]
    spread_before = np.std(np.stack(batches), axis=0).mean()
    spread_after = np.std(np.stack(aligned), axis=0).mean()
    assert spread_after < 0.3 * spread_before


# -- limits -----------------------------------------------------------------------------


def _gaussian_frames(X3: np.ndarray, prefix: str) -> dict[str, pd.DataFrame]:
    n, K, J = X3.shape
    t = np.arange(K, dtype=float)
    return {
        f"{prefix}{i}": pd.DataFrame({"time_h": t, **{f"v{j}": X3[i, :, j] for j in range(J)}})
        for i in range(n)
    }


def test_t2_and_spe_limits_hold_their_level_on_gaussian_batches() -> None:
    rng = np.random.default_rng(0)
    K, J, A = 5, 3, 2
    loadings = rng.normal(size=(K * J, A))

    def draw(n: int) -> np.ndarray:
        x = 2 * rng.normal(size=(n, A)) @ loadings.T + 0.5 * rng.normal(size=(n, K * J))
        return x.reshape(n, K, J)

    monitor = BatchMonitor(n_components=A, window=0).fit(_gaussian_frames(draw(60), "g"))
    assert monitor.n_components_ == A
    new = _gaussian_frames(draw(1500), "n")
    t2_over = np.zeros(K)
    spe_over = np.zeros(K)
    for name, frame in new.items():
        s = monitor.score(frame, name)
        t2_over += s.t2 > s.t2_limit
        spe_over += s.spe > s.spe_limit
    # 99 % limits: 1 % of new good points beyond, within the sampling error of 60
    # training batches (the F limit is slightly conservative, PCA's eigenvalue bias).
    assert 0.001 <= (t2_over / len(new)).mean() <= 0.02
    assert 0.003 <= (spe_over / len(new)).mean() <= 0.03


def test_components_chosen_by_cross_validation_find_the_true_rank() -> None:
    rng = np.random.default_rng(1)
    K, J = 5, 3
    loadings = rng.normal(size=(K * J, 2))
    x = 2 * rng.normal(size=(40, 2)) @ loadings.T + 0.5 * rng.normal(size=(40, K * J))
    monitor = BatchMonitor().fit(_gaussian_frames(x.reshape(40, K, J), "g"))
    assert monitor.n_components_ == 2
    assert len(monitor.cv_) == monitor.max_components


def test_alarm_needs_consecutive_flags() -> None:
    flags = np.array([1, 1, 0, 1, 1, 1, 1, 0], dtype=bool)
    assert alarm_points(flags, 3).tolist() == [0, 0, 0, 0, 0, 1, 1, 0]


# -- the twin with faults -------------------------------------------------------------------


@pytest.fixture(scope="module")
def fitted() -> tuple[BatchMonitor, dict[str, pd.DataFrame], pd.DataFrame]:
    train, quality, _ = simulate_batches(20, 1)
    test, test_quality, _ = simulate_batches(20, 2)
    return BatchMonitor().fit(train, quality), test, test_quality


def test_few_false_alarms_on_unseen_good_batches(fitted: tuple) -> None:
    monitor, test, _ = fitted
    alarms = [monitor.score(f, n).first_alarm is not None for n, f in test.items()]
    assert np.mean(alarms) <= 0.05  # alarm rule: 3 consecutive points beyond a 99 % limit


@pytest.mark.parametrize("kind", FAULTS)
def test_each_fault_is_detected(fitted: tuple, kind: str) -> None:
    monitor = fitted[0]
    batches, _, faults = simulate_batches(10, 20 + FAULTS.index(kind), kind)
    delays = []
    for (name, frame), fault in zip(batches.items(), faults, strict=True):
        s = monitor.score(frame, name)
        late = s.alarm & (s.time_h >= fault.start_h)
        if late.any():
            delays.append(float(s.time_h[np.flatnonzero(late)[0]] - fault.start_h))
    assert len(delays) >= 9  # >= 90 % detected after the fault started
    limit = {"sensor_drift": 6.0, "feed_failure": 1.5, "growth_drop": 1.5}[kind]
    assert np.median(delays) <= limit


def test_contributions_name_the_faulty_variable(fitted: tuple) -> None:
    monitor = fitted[0]
    batches, _, _ = simulate_batches(5, 30, "sensor_drift")
    named = []
    for name, frame in batches.items():
        s = monitor.score(frame, name)
        k = s.first_alarm
        assert k is not None
        named.append("OUR" in s.drivers(k, top=2))
        # contributions add up to the statistics
        np.testing.assert_allclose(s.contrib_spe.sum(axis=1), s.spe, rtol=1e-8)
        np.testing.assert_allclose(s.contrib_t2.sum(axis=1), s.t2, rtol=1e-6, atol=1e-9)
    assert np.mean(named) >= 0.8


def test_quality_prediction_on_unseen_batches(fitted: tuple) -> None:
    monitor, test, quality = fitted
    pred, low, high, truth = [], [], [], []
    for name, frame in test.items():
        s = monitor.score(frame, name)
        assert s.quality is not None and s.quality_low is not None and s.quality_high is not None
        pred.append(s.quality[-1, 0])
        low.append(s.quality_low[-1, 0])
        high.append(s.quality_high[-1, 0])
        truth.append(quality.loc[name, "P_final"])
    err = np.array(pred) - np.array(truth)
    rmse = float(np.sqrt(np.mean(err**2)))
    assert rmse < np.std(truth)  # better than predicting the mean
    inside = (np.array(truth) >= np.array(low)) & (np.array(truth) <= np.array(high))
    assert inside.mean() >= 0.8  # a 95 % interval, 20 batches


def test_partial_batch_is_scored_up_to_where_it_is(fitted: tuple) -> None:
    monitor, test, _ = fitted
    name, frame = next(iter(test.items()))
    s = monitor.score(frame[frame["time_h"] <= 9.0], name)
    assert s.time_h[-1] == pytest.approx(9.0)
    assert len(s.t2) == len(s.spe) == int(9.0 / 0.25) + 1


def test_maturity_and_dtw_alignment_fit_and_score(fitted: tuple) -> None:
    train, _, _ = simulate_batches(8, 3)

    def fed(f: pd.DataFrame) -> pd.DataFrame:  # cumulative feed (L): the pump's totaliser
        increments = np.diff(f["time_h"]) * (f["F"].to_numpy()[1:] + f["F"].to_numpy()[:-1]) / 2
        return f.assign(feed_total=np.concatenate([[0.0], np.cumsum(increments)]))

    frames = {n: fed(f) for n, f in train.items()}
    by_maturity = BatchMonitor(align="maturity", maturity="feed_total", n_components=2)
    by_maturity.fit(frames)
    assert "time_h" in by_maturity.summary()["variables"]
    name, frame = next(iter(frames.items()))
    s = by_maturity.score(frame, name)
    assert s.t2.size > 10 and s.time_h[-1] == pytest.approx(20.0, abs=0.5)
    by_dtw = BatchMonitor(align="dtw", n_components=2).fit(train)
    assert by_dtw.score(train[name], name).spe.size > 10


def test_bad_batches_are_refused(fitted: tuple) -> None:
    monitor, test, _ = fitted
    frame = next(iter(test.values()))
    with pytest.raises(InputError, match="lacks monitored variable"):
        monitor.score(frame.drop(columns=["OUR"]))
    with pytest.raises(InputError, match="too few good batches"):
        BatchMonitor().fit(dict(list(test.items())[:3]))
    with pytest.raises(InputError, match="unknown alignment"):
        BatchMonitor(align="banana").fit(test)
    with pytest.raises(InputError, match="maturity variable decreases"):
        BatchMonitor(align="maturity", maturity="DO").fit(test)
