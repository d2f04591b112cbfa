"""A user's own organism and data: declared kinetics, logged inputs, overrides, predict, units.

Real simulations and real fits (SciPy least squares) of a small yeast fed-batch declared in
YAML; the commands run through :class:`typer.testing.CliRunner` with ``main()``'s handling
of a ``BiofabError`` (one line, exit code 2).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from biofab.cli.process import process_app
from biofab.cli.process_predict import register
from biofab.core.errors import InputError
from biofab.process.batchdata import ColumnMapping, LoggedInput, hold_average, read_batches
from biofab.process.kinetics import model_class, read_declaration
from biofab.process.scenario import Scenario, ScenarioError
from biofab.process.units import UnitError, convert
from test_process_cli import SMALL, refused, run  # the same `process` app; `predict` added below

if "predict" not in [c.name for c in process_app.registered_commands]:
    register(process_app)

KINETICS = """\
kinetics:
  name: yeast
  biomass: X
  substrates:
    S: {uptake: haldane, q_max: 3.5, K: 0.1, Ki: 80, yield: 0.49, maintenance: 0.01,
        feed: 400}
    E: {uptake: monod, q_max: 0.238, K: 0.1, yield: 0.72, repressed_by: S, K_repression: 0.1}
  overflow: {substrate: S, metabolite: E, q_crit: 0.6, yield: 0.48, biomass_yield: 0.05}
  inhibition: [{by: E, K: 40}]
  oxygen: {yield: 0.033, maintenance: 0.1}
  signals: {X: biomass, S: substrate, E: ethanol}
"""


def scenario_text(mu_set: float, seed: int, t_end: float = 24.0) -> str:
    """A one-minute online log (feed, OUR, volume) and offline samples every 3 h."""
    return (
        "model: kinetics\n"
        + KINETICS
        + f"""initial: {{X: 0.5, S: 5.0, E: 0.0, V: 1.0}}
t_end: {t_end}
output_every: 0.25
events:
  - {{t: 4, feed_start: {{profile: exponential, F0: 0.004, mu_set: {mu_set}, F_max: 0.05}}}}
measurements:
  seed: {seed}
  online: {{every: 0.0166666667, signals: {{OUR: 2%, V: 0.002}}}}
  offline: {{times: [0, 3, 6, 9, 12, 15, 18, 21, 24], signals: {{X: 5%, S: 0.05, E: 0.05}}}}
"""
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two simulated batches with different feeds, as long CSVs (1-minute logs)."""
    d = tmp_path_factory.mktemp("userdata")
    out = {"dir": d}
    for name, mu, seed in (("run1", 0.10, 1), ("run2", 0.16, 2)):
        s = Scenario.from_dict(
            __import__("yaml").safe_load(scenario_text(mu, seed)), source=f"{name}.yaml"
        )
        traj = s.simulate()
        s.measure(traj, batch_id=name).to_csv(d / f"{name}.csv")
        traj.frame.to_csv(d / f"{name}_truth.csv", index=False)
        (d / f"{name}.yaml").write_text(scenario_text(mu, seed))
    (d / "model.yaml").write_text(KINETICS)
    return out | {k: d / f"{k}.csv" for k in ("run1", "run2")}


# -- the declared model -------------------------------------------------------------------------


def test_declared_model_numpy_and_casadi_agree_and_conserve_volume() -> None:
    import yaml

    decl = read_declaration(yaml.safe_load(KINETICS)["kinetics"], "k.yaml")
    m = model_class(decl)()
    assert m.states == ("X", "S", "E", "V")
    assert {"qS_max", "KiS", "Sf", "qS_crit", "YES", "KIE", "KRE"} <= set(m.param_names)
    x, u, p = [2.0, 3.0, 0.5, 1.2], [0.01], m.param_vector()
    f_np = np.array(m.rhs(0.0, x, u, p))
    f_ca = np.array(m.casadi_rhs()(x, u, p)).ravel()
    np.testing.assert_allclose(f_np, f_ca, rtol=1e-12)
    assert f_np[3] == pytest.approx(0.01)  # dV/dt = F
    # Overflow: above q_crit ethanol is made; qS is Haldane.
    r = m.rates(0.0, x, u, p)
    S = 3.0
    qs = 3.5 * S / (0.1 + S + S * S / 80) * 40 / (40 + 0.5)
    assert r["qS"] == pytest.approx(qs)
    assert r["q_of"] == pytest.approx(qs - 0.6)
    # Round trip of the declaration.
    again = read_declaration(decl.to_dict(), "again")
    assert again == decl


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        ("uptake: haldane, q_max: 3.5, K: 0.1, Ki: 80", ("kinetics.substrates.S.Ki", "missing")),
        ("q_max: 0.238", ("kinetics.substrates.E.q_max", "expected")),
        ("by: E, K: 40", ("kinetics.inhibition[0].by", "expected E | S")),
    ],
)
def test_bad_kinetics_is_one_line_naming_file_and_key(
    tmp_path: Path, edit: str, words: tuple[str, ...]
) -> None:
    text = scenario_text(0.1, 1)
    bad = {
        "uptake: haldane, q_max: 3.5, K: 0.1, Ki: 80": "uptake: haldane, q_max: 3.5, K: 0.1",
        "q_max: 0.238": "q_max: -1",
        "by: E, K: 40": "by: Q, K: 40",
    }[edit]
    path = tmp_path / "bad.yaml"
    path.write_text(text.replace(edit, bad))
    with pytest.raises(ScenarioError) as err:
        Scenario.from_yaml(path)
    line = str(err.value)
    assert "bad.yaml" in line and "\n" not in line
    for w in words:
        assert w in line, line
    code, out = run("simulate", path)
    refused(code, out, "bad.yaml", words[0])


def test_kinetics_block_needs_model_kinetics(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(scenario_text(0.1, 1).replace("model: kinetics", "model: ecoli"))
    code, out = run("simulate", path)
    refused(code, out, "s.yaml", "kinetics")


# -- logged inputs ------------------------------------------------------------------------------


def test_hold_average_keeps_the_fed_volume_and_logged_input_is_one_piece() -> None:
    t = np.arange(0, 72, 1 / 60)  # 3 days at one reading a minute: 4,320 readings
    y = np.where(t >= 10, 0.002 * np.exp(0.1 * (t - 10)), 0.0).clip(max=0.05)
    y = y * (1 + 0.02 * np.sin(40 * t))
    grid, means = hold_average(t, y, 0.25)
    assert len(grid) == 289
    fed = float(np.sum(y[:-1] * np.diff(t)))
    assert float(np.sum(means[:-1] * np.diff(grid))) == pytest.approx(fed, rel=1e-12)
    prof = LoggedInput(t, y, 0.25)
    assert prof.breakpoints == ()
    fine = np.linspace(0, t[-1], 20001)
    vol = np.trapezoid([prof(v) for v in fine], fine)
    assert vol == pytest.approx(fed, rel=2e-3)
    with pytest.raises(InputError):
        hold_average(t[::-1], y)


def test_fit_and_predict_a_new_batch_with_bands(runs: dict[str, Path]) -> None:
    d = runs["dir"]
    saved, report = d / "fit.json", d / "pred.html"
    # a 24 h 1-minute log (1,440 rows); its speed is measured by
    # benchmarks/process_userdata.py, not timed here
    code, out = run(
        "fit", runs["run1"], "--model", "kinetics", "--kinetics", d / "model.yaml",
        "--params", "qS_crit,YxS", "--set", "qS_crit=0.45", "--set", "YxS=0.42",
        "--set", "Sf=400", "--save", saved,
    )  # fmt: skip
    assert code == 0, out
    fit = json.loads(saved.read_text())
    assert fit["format"] == "biofab.process.saved-fit/1"
    assert fit["kinetics"]["substrates"]["S"]["uptake"] == "haldane"
    assert fit["parameters"]["qS_crit"] == pytest.approx(0.6, rel=0.15)
    assert fit["parameters"]["YxS"] == pytest.approx(0.49, rel=0.1)
    assert set(fit["discrepancy"]) == {"X", "S", "E"}
    scores = fit["discrepancy"]["X"]["scores"]  # |relative residual| of each X sample
    assert len(scores) == 9 and scores == sorted(scores) and scores[0] >= 0
    pred_csv = d / "pred.csv"
    code, out = run(
        "predict", runs["run2"], "--model", saved, "--out", pred_csv, "--report", report,
        "--bands", "8", "--json",
    )  # fmt: skip
    assert code == 0, out
    result = json.loads(out)
    cov = {r["variable"]: r for r in result["coverage"]}
    truth = pd.read_csv(d / "run2_truth.csv")
    pred = pd.read_csv(pred_csv)
    # Final biomass of the unseen batch (a faster feed) within 10 % of the truth.
    final_true = float(truth["X"].iloc[-1])
    assert float(pred["X"].iloc[-1]) == pytest.approx(final_true, rel=0.1)
    assert cov["X"]["coverage"] >= 0.75 and cov["X"]["samples"] == 9
    assert {"X_lo", "X_hi", "X_sd", "batch"} <= set(pred.columns)
    assert np.all(pred["X_hi"] >= pred["X_lo"])
    html = report.read_text()
    assert "plotly" in html.lower() and "Coverage" in html


def test_bad_overrides_and_saved_models_are_refused(runs: dict[str, Path], tmp_path: Path) -> None:
    d = runs["dir"]
    args = ["fit", runs["run1"], "--model", "kinetics", "--kinetics", d / "model.yaml"]
    code, out = run(*args, "--params", "YxS", "--set", "Nope=1")
    refused(code, out, "Nope=1", "Sf")
    code, out = run(*args, "--params", "YxS", "--set", "Sf=-3")
    refused(code, out, "--set", "Sf=-3")
    code, out = run("fit", runs["run1"], "--model", "kinetics", "--params", "YxS")
    refused(code, out, "--kinetics")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "other"}))
    out_csv = tmp_path / "p.csv"
    code, out = run("predict", runs["run2"], "--model", bad, "--out", out_csv)
    refused(code, out, "bad.json", "format")
    assert not out_csv.exists()
    bad.write_text("{not json")
    code, out = run("predict", runs["run2"], "--model", bad)
    refused(code, out, "bad.json", "JSON")


def test_forecast_calibration_adds_held_out_errors(runs: dict[str, Path]) -> None:
    d = runs["dir"]
    args = [
        "fit", runs["run1"], "--model", "kinetics", "--kinetics", d / "model.yaml",
        "--params", "qS_crit,YxS", "--set", "qS_crit=0.45", "--set", "YxS=0.42",
        "--set", "Sf=400",
    ]  # fmt: skip
    saved = d / "fit_forecast.json"
    code, out = run(*args, "--save", saved, "--calibration-holdout", "0.3")
    assert code == 0, out
    disc = json.loads(saved.read_text())["discrepancy"]["X"]
    # 9 in-sample X residuals plus the forecast's on the last 30 % (t > 16.8 h: 18, 21, 24 h)
    assert len(disc["scores"]) == 12
    code, out = run(*args, "--save", d / "never.json", "--calibration-holdout", "1.5")
    refused(code, out, "calibration holdout", "1.5")
    assert not (d / "never.json").exists()
    code, out = run(*args, "--calibration-holdout", "0.3")  # nothing saved to widen
    refused(code, out, "calibration holdout", "--save")


def test_model_discrepancy_is_a_conformal_quantile_and_old_files_still_read() -> None:
    from scipy.stats import norm

    from biofab.learn.calibration import conformal_quantile
    from biofab.process.saved import SavedFit, model_sd

    scores = [0.01 * k for k in range(1, 20)]  # 19 scores: the 95 % rank is the largest
    assert conformal_quantile(np.array(scores), 0.95) == pytest.approx(0.19)
    assert conformal_quantile(np.array(scores), 0.5) == pytest.approx(0.10)
    y = np.array([0.0, 2.0, 10.0])
    sd = model_sd({"relative": 0.3, "floor": 1.0, "scores": scores}, y, 0.95)
    np.testing.assert_allclose(sd, 0.19 / norm.ppf(0.975) * np.array([1.0, 2.0, 10.0]))
    # a file written before scores were saved: the RMS scale, as before
    np.testing.assert_allclose(model_sd({"relative": 0.3, "floor": 1.0}, y, 0.95), [0.3, 0.6, 3])
    base = {"format": "biofab.process.saved-fit/1", "model": "ecoli", "parameters": {"a": 1.0},
            "fitted": ["a"], "cov_log": [[0.01]]}  # fmt: skip
    SavedFit.from_dict({**base, "discrepancy": {"X": {"relative": 0.1, "floor": 0.5}}})
    with pytest.raises(InputError, match="scores"):
        SavedFit.from_dict(
            {**base, "discrepancy": {"X": {"relative": 0.1, "floor": 0.5, "scores": [-1]}}}
        )


# -- vendor units -------------------------------------------------------------------------------


def test_vendor_rate_and_feed_units_convert() -> None:
    assert convert([1.0], "%/L/h", "mmol/L/h")[0] == pytest.approx(1000 / 100 / 22.414)
    assert convert([3.2], "g/L/h", "mmol/L/h", molar_mass=31.998)[0] == pytest.approx(100.006, 1e-4)
    assert convert([0.5], "mol/h", "mmol/L/h", volume=2.0)[0] == pytest.approx(250.0)
    assert convert([6.0], "mmol/L/min", "mmol/L/h")[0] == pytest.approx(360.0)
    assert convert([120.0], "g/h", "L/h", density=1.2)[0] == pytest.approx(0.1)
    with pytest.raises(UnitError, match="needs a volume"):
        convert([1.0], "mol/h", "mmol/L/h")
    with pytest.raises(UnitError, match="unknown unit"):
        convert([1.0], "furlong/fortnight", "mmol/L/h")


def test_mapping_reads_vendor_units_and_refuses_bad_ones(tmp_path: Path) -> None:
    data = tmp_path / "vendor.csv"
    data.write_text("Time,OUR,CER,Feed,X\n0,10,0.5,0,0.5\n1,20,1.0,12,\n2,30,1.5,24,2.0\n")
    mapping = tmp_path / "map.yaml"
    mapping.write_text(
        "time: {column: Time, unit: h}\n"
        "columns:\n"
        "  OUR: {signal: OUR, unit: '%/L/h'}\n"
        "  CER: {signal: CER, unit: mol/h, volume: 2.0}\n"
        "  Feed: {signal: feed_rate, unit: g/h, density: 1.2}\n"
        "  X: biomass\n"
    )
    (b,) = read_batches(data, ColumnMapping.from_yaml(mapping))
    np.testing.assert_allclose(b["OUR"].to_numpy(), np.array([10, 20, 30]) * 10 / 22.414)
    np.testing.assert_allclose(b["CER"].to_numpy(), [250.0, 500.0, 750.0])
    np.testing.assert_allclose(b["feed_rate"].to_numpy(), [0.0, 0.01, 0.02])
    mapping.write_text(
        "time: Time\ncolumns:\n  OUR: OUR\n  CER: {signal: CER, unit: mol/h}\n  X: biomass\n"
    )
    with pytest.raises(InputError) as err:
        read_batches(data, ColumnMapping.from_yaml(mapping))
    assert "CER" in str(err.value) and "volume" in str(err.value)
    mapping.write_text("time: Time\ncolumns:\n  OUR: {signal: OUR, unit: 'furlong/h'}\n")
    with pytest.raises(InputError, match="unknown unit 'furlong/h'"):
        read_batches(data, ColumnMapping.from_yaml(mapping))


# -- saved hybrid -------------------------------------------------------------------------------

ECOLI = SMALL  # the CLI tests' short E. coli fed-batch


def test_saved_hybrid_round_trip_predicts_the_same(tmp_path: Path) -> None:
    import torch

    from biofab.process import workflows as w
    from biofab.process.saved_hybrid import load_hybrid

    scenario = tmp_path / "s.yaml"
    scenario.write_text(ECOLI)
    data = tmp_path / "d.csv"
    code, out = run("simulate", scenario, "--data", data)
    assert code == 0, out
    saved = tmp_path / "h.json"
    r = w.fit_hybrid(
        w.HybridFitRequest(data, "ecoli", scenario=scenario, epochs=2, ensemble=2, save=saved)
    )
    assert saved.with_suffix(".pt").is_file() and str(saved) in r.files
    config = json.loads(saved.read_text())
    assert config["format"] == "biofab.process.saved-hybrid/1"
    assert config["hyper"]["ensemble"] == 2 and "params_" not in config["hyper"]
    assert config["hyper"]["quasi_steady"] == ["DO"]  # E. coli default: DO settled
    e = r.hybrid  # the trained one, against the one rebuilt from files
    exp = w.experiments("ecoli", read_batches(data), Scenario.from_yaml(scenario))[0]
    t = np.linspace(0, 9, 19)
    m0, s0 = e.predict(exp.x0, exp.inputs, t, exp.events)
    loaded = load_hybrid(config, saved, r.model)
    m1, s1 = loaded.predict(exp.x0, exp.inputs, t, exp.events)
    np.testing.assert_allclose(m1.to_numpy(), m0.to_numpy(), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(s1.to_numpy(), s0.to_numpy(), rtol=1e-6, atol=1e-9)
    # Weights that do not fit the settings, or a pickle in disguise: one line, no load.
    torch.save({"p0": torch.zeros(3)}, saved.with_suffix(".pt"))
    code, out = run("predict", data, "--model", saved)
    refused(code, out, "h.pt", "weights")
    saved.with_suffix(".pt").write_bytes(b"\x80\x04not a tensor file")
    code, out = run("predict", data, "--model", saved)
    refused(code, out, "h.pt", "cannot read")
