"""The process workflows called directly (no CLI): request in, typed result out, files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from biofab.core.errors import InputError
from biofab.process import workflows as wf
from biofab.process.hybrid import HybridModel
from biofab.process.scenario import Scenario

SMALL = """\
model: ecoli
initial: {X: 0.2, S: 8.0, A: 0.0, P: 0.0, DO: 100.0, V: 1.0}
t_end: 9
output_every: 0.25
events:
  - {t: 6, feed_start: {profile: exponential, F0: 0.003, mu_set: 0.15, F_max: 0.05}}
  - {t: 6.5, induction: 1}
measurements:
  seed: 3
  online: {every: 0.25, signals: {OUR: 1.0, CER: 1.0, DO: 1.0, V: 0.002}}
  offline: {every: 1, signals: {X: 5%, S: 0.05, P: 5%}}
"""


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("workflows")
    scenario = d / "small.yaml"
    scenario.write_text(SMALL)
    r = wf.simulate(wf.SimulateRequest(scenario, out=d / "traj.csv", data=d / "data.csv"))
    assert r.files == [str(d / "traj.csv"), str(d / "data.csv")]
    return {"dir": d, "scenario": scenario, "data": d / "data.csv", "traj": d / "traj.csv"}


def test_simulate_returns_the_trajectory_and_its_summary(tmp_path: Path) -> None:
    s = Scenario.from_dict({**yaml.safe_load(SMALL), "name": "direct"}, source="small.yaml")
    r = wf.simulate(wf.SimulateRequest(s, report=tmp_path / "sim.html"))
    frame = r.to_frame()
    assert {"time_h", "X", "S", "V", "F", "OUR"} <= set(frame)
    assert frame["time_h"].iloc[-1] == pytest.approx(9.0)
    assert r.measurements is not None and "biomass" in r.measurements.offline
    summary = json.loads(r.to_json())
    assert summary["scenario"] == "direct" and summary["files"] == [str(tmp_path / "sim.html")]
    assert {e["event"] for e in summary["events"]} == {"FeedStart", "Induction"}
    assert summary["final"]["V"] == pytest.approx(frame["V"].iloc[-1])


def test_fit_recovers_qs_max(batch: dict[str, Path]) -> None:
    start = batch["dir"] / "start.yaml"  # the same recipe with a wrong qS_max to start from
    start.write_text(SMALL.replace("model: ecoli", "model: ecoli\nparameters: {qS_max: 0.9}"))
    out = batch["dir"] / "fit.json"
    r = wf.fit(wf.FitRequest(batch["data"], "ecoli", ("qS_max",), scenario=start, out=out))
    row = r.to_frame().set_index("parameter").loc["qS_max"]
    assert row["ci_low"] <= 1.25 <= row["ci_high"]
    assert row["estimate"] == pytest.approx(1.25, rel=0.05)
    saved = json.loads(out.read_text())
    assert saved["parameters"][0]["parameter"] == "qS_max" and "files" not in saved
    assert r.to_dict()["files"] == [str(out)] and r.batches == ["small"]


def test_fit_hybrid_uses_the_library_default_rates(batch: dict[str, Path]) -> None:
    r = wf.fit_hybrid(
        wf.HybridFitRequest(
            batch["data"], "ecoli", scenario=batch["scenario"], epochs=2, ensemble=1
        )
    )
    assert r.hybrid.learned == HybridModel().learned == ("qS", "qS_of", "qA_cons")
    table = r.to_frame()
    assert {"X", "S"} <= set(table["state"]) and np.isfinite(table["rmse"]).all()
    assert json.loads(r.to_json())["learned"] == ["qS", "qS_of", "qA_cons"]
    assert r.files == []


def test_estimate_tracks_biomass(batch: dict[str, Path]) -> None:
    out = batch["dir"] / "est.csv"
    r = wf.estimate(
        wf.EstimateRequest(
            batch["data"], "ecoli", scenario=batch["scenario"], offline=("X",), out=out
        )
    )
    est = r.to_frame()
    assert {"batch", "time_h", "X", "X_std", "mu", "mu_std"} <= set(est)
    assert set(r.consistency["updates"]) == {"all", "online", "offline"}
    truth = pd.read_csv(batch["traj"])
    late = est[est["time_h"] >= 7]
    x_true = np.interp(late["time_h"], truth["time_h"], truth["X"])
    assert np.mean(np.abs(late["X"] / x_true - 1)) < 0.1
    assert len(pd.read_csv(out)) == len(est) and r.files == [str(out)]


def test_measurement_stds_default_and_floor() -> None:
    wide = pd.DataFrame({"OUR": [10.0, -10.0], "S": [0.0, 0.0]})
    stds = wf.measurement_stds(None, wide, ["OUR", "S"])
    assert stds["OUR"] == pytest.approx(wf.DEFAULT_RELATIVE_NOISE * 10.0)
    assert stds["S"] == wf.MIN_STD


def test_control_runs_mpc_and_reference(tmp_path: Path) -> None:
    scenario = tmp_path / "ctl.yaml"
    scenario.write_text(
        "model: ecoli\ninitial: {X: 10.0, S: 0.05, A: 0.0, P: 0.0, DO: 60.0, V: 1.0}\n"
        "t_end: 1.5\ncontrol: {dt: 0.75, horizon: 2, compare_mu_set: 0.15}\n"
    )
    r = wf.control(wf.ControlRequest(scenario, out=tmp_path / "ctl.csv"))
    assert list(r.metrics["controller"]) == ["MPC", "exponential mu_set=0.15"]
    frame = r.to_frame()
    assert set(frame["controller"]) == set(r.metrics["controller"])
    assert (r.metrics["product_g"] >= 0).all()
    assert json.loads(r.to_json())["files"] == [str(tmp_path / "ctl.csv")]


def test_optimize_small_budget(tmp_path: Path) -> None:
    scenario = tmp_path / "opt.yaml"
    scenario.write_text(
        SMALL.split("measurements:")[0]
        + "optimize:\n  batch: 2\n  parameters:\n    mu_set: [0.1, 0.3]\n"
        "    induction_t: [6.2, 8]\n"
    )
    r = wf.optimize(wf.OptimizeRequest(scenario, budget=4, workers=1))
    history = r.to_frame()
    assert len(history) == 4 and history["recommender"].iloc[0] == "start"
    assert r.best_value == pytest.approx(history["product_mass"].max())
    assert r.start_value is not None and r.best_value >= r.start_value
    assert set(r.best) == {"mu_set", "induction_t"} and r.files == []


def test_bad_requests_fail_before_writing(batch: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "x.json"
    with pytest.raises(InputError, match="at least one parameter"):
        wf.fit(wf.FitRequest(batch["data"], "ecoli", (), out=out))
    with pytest.raises(InputError, match="unknown model"):
        wf.fit(wf.FitRequest(batch["data"], "yeast", ("mu",), out=out))
    with pytest.raises(InputError, match="bad initial value"):
        wf.fit(wf.FitRequest(batch["data"], "ecoli", ("qS_max",), x0={"Q": 1.0}, out=out))
    with pytest.raises(InputError, match="same file"):
        wf.simulate(wf.SimulateRequest(batch["scenario"], out=out, report=out))
    with pytest.raises(InputError, match="no control section"):
        wf.control(wf.ControlRequest(batch["scenario"], out=out))
    with pytest.raises(InputError, match="budget"):
        wf.optimize(wf.OptimizeRequest(batch["scenario"], budget=1))
    assert list(tmp_path.iterdir()) == []
