"""Saved hybrid bands calibrated out of sample (``process fit --model hybrid
--band-calibration``): what the saved file records, that leave-one-batch-out residuals widen
the band, and bad input refused in one line before any training.

Real (tiny) hybrids trained on simulated E. coli fed-batches whose feed is logged, around a
mechanistic model with deliberately wrong kinetics (so the networks have something to learn).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from biofab.process import workflows as w
from biofab.process.batchdata import BatchData, write_batches
from biofab.process.models import EColiFedBatch
from biofab.process.saved import model_sd
from biofab.process.simulate import FeedStart, simulate
from test_process_cli import refused, run

X0 = {"X": 0.2, "S": 8.0, "A": 0.0, "P": 0.0, "DO": 100.0, "V": 1.0}
X0_TEXT = ",".join(f"{k}={v:g}" for k, v in X0.items())
WRONG = {"qS_crit": 1e4, "Kis": 1e6, "Kia": 1e6}  # Monod uptake, no overflow
# Cheap settings: no settled DO, coarse steps, one small member.
CHEAP = {"hidden": (8,), "dt": 0.25, "lr": 3e-2}


def _batch(F: float, seed: int) -> BatchData:
    """10 h, feed F (L/h) from 4 h logged every 0.1 h, X, S, A sampled hourly (3 % noise)."""
    t = np.arange(0.0, 10.0 + 1e-9, 1.0)
    f = simulate(EColiFedBatch(), X0, 10.0, events=[FeedStart(4.0, F)], t_eval=t).frame
    rng = np.random.default_rng(seed)
    off = pd.DataFrame(
        {
            name: np.clip(f[s].to_numpy() * (1 + 0.03 * rng.standard_normal(t.size)), 0, None)
            for s, name in (("X", "biomass"), ("S", "substrate"), ("A", "acetate"))
        },
        index=t,
    )
    tl = np.arange(0.0, 10.0 + 1e-9, 0.1)
    online = pd.DataFrame({"feed_rate": np.where(tl >= 4.0 - 1e-9, F, 0.0)}, index=tl)
    return BatchData.from_frames(f"F={F:g}", online, off)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("predband")
    two, one = d / "two.csv", d / "one.csv"
    write_batches([_batch(0.006, 1), _batch(0.012, 2)], two)
    write_batches([_batch(0.008, 3)], one)
    return {"dir": d, "two": two, "one": one}


def _fit(data: Path, save: Path, method: str, epochs: int = 40) -> dict:
    w.fit_hybrid(
        w.HybridFitRequest(
            data,
            "ecoli",
            x0=X0,
            set=WRONG,
            epochs=epochs,
            ensemble=1,
            quasi_steady=(),
            save=save,
            band_calibration=method,
            options=CHEAP,
        )
    )
    return json.loads(save.read_text())


def test_lobo_band_is_recorded_and_wider_than_the_in_sample_one(data: dict[str, Path]) -> None:
    config = _fit(data["two"], data["dir"] / "lobo.json", "lobo")
    assert config["band_calibration"] == "lobo"
    assert config["left_out"] == ["F=0.006", "F=0.012"] and config["refits"] == 2
    terms = config["discrepancy_by_calibration"]
    assert set(terms) == {"training", "lobo", "upward"}
    assert config["discrepancy"] == terms["lobo"]
    # The most-fed batch is the upward fold's.
    assert config["fed_volume_L"]["F=0.012"] > config["fed_volume_L"]["F=0.006"]
    # Residuals of batches the hybrid never saw are larger than those it was trained on: the
    # band's discrepancy σ at the same prediction is wider, state by state.
    y = np.array([1.0, 5.0])
    wider = [
        float(model_sd(terms["lobo"][v], y, 0.95)[1] > model_sd(terms["training"][v], y, 0.95)[1])
        for v in ("X", "S", "A")
    ]
    assert all(wider), terms
    # The saved file still predicts (the band it carries is the LOBO one).
    new = data["dir"] / "new.csv"
    write_batches([_batch(0.009, 9)], new)
    r = w.predict(w.PredictRequest(new, data["dir"] / "lobo.json", x0=X0))
    assert np.all(r.predictions["X_hi"] >= r.predictions["X_lo"])


def test_forecast_calibration_with_one_batch(data: dict[str, Path]) -> None:
    config = _fit(data["one"], data["dir"] / "fc.json", "forecast", epochs=2)
    assert config["band_calibration"] == "forecast" and config["holdout"] == 0.25
    assert set(config["discrepancy_by_calibration"]) == {"training", "forecast"}


def test_default_with_one_batch_is_not_a_refusal(data: dict[str, Path]) -> None:
    saved = data["dir"] / "default1.json"
    w.fit_hybrid(
        w.HybridFitRequest(
            data["one"], "ecoli", x0=X0, set=WRONG, epochs=1, ensemble=1, quasi_steady=(),
            save=saved, options=CHEAP,
        )
    )  # fmt: skip
    config = json.loads(saved.read_text())
    default = w.DEFAULT_BAND_CALIBRATION
    expected = "forecast" if default in ("lobo", "upward") else default
    assert config["band_calibration"] == expected


def test_bad_band_calibration_is_refused_before_training(data: dict[str, Path]) -> None:
    d = data["dir"]
    base = ("fit", data["two"], "--model", "hybrid", "--x0", X0_TEXT, "--epochs", "1")
    code, out = run(*base, "--band-calibration", "jackknife", "--save", d / "bad.json")
    refused(code, out, "--band-calibration", "jackknife")
    code, out = run(
        "fit", data["one"], "--model", "hybrid", "--x0", X0_TEXT, "--epochs", "1",
        "--band-calibration", "lobo", "--save", d / "bad.json",
    )  # fmt: skip
    refused(code, out, "lobo", ">= 2 training batches")
    code, out = run(
        *base, "--band-calibration", "forecast", "--calibration-holdout", "1.5",
        "--save", d / "bad.json",
    )  # fmt: skip
    refused(code, out, "forecast", "(0, 1)")
    code, out = run(*base, "--band-calibration", "upward")  # nothing saved: nothing to widen
    refused(code, out, "--save")
    code, out = run(
        "fit", data["two"], "--model", "ecoli", "--params", "qS_max", "--x0", X0_TEXT,
        "--band-calibration", "lobo",
    )  # fmt: skip
    refused(code, out, "--band-calibration", "hybrid")
    assert not (d / "bad.json").exists() and not (d / "bad.pt").exists()
