"""``biofab process``: scenarios, simulate, fit, estimate, control, optimize, and bad input.

The commands run through :class:`typer.testing.CliRunner` on the group's own app; a
``BiofabError`` is turned into one line and exit code 2 as ``biofab.cli.main.main`` does.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from biofab.cli.process import process_app
from biofab.core.errors import BiofabError
from biofab.process.scenario import Scenario, ScenarioError

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "process" / "ecoli_fedbatch.yaml"

app = typer.Typer()
app.add_typer(process_app, name="process")


def run(*args: str | Path) -> tuple[int, str]:
    """Exit code and output, with ``main()``'s handling of BiofabError (one line, code 2)."""
    result = CliRunner().invoke(app, ["process", *map(str, args)], standalone_mode=False)
    if isinstance(result.exception, BiofabError):
        return 2, f"error: {result.exception}"
    if result.exception is not None:
        raise result.exception
    return result.exit_code, result.output


def refused(code: int, text: str, *words: str) -> None:
    assert code == 2, text
    assert "\n" not in text.strip(), text
    for w in words:
        assert w in text, (w, text)


# -- data shared by fit and estimate ------------------------------------------------------------
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
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("process")
    scenario = d / "small.yaml"
    scenario.write_text(SMALL)
    code, text = run("simulate", scenario, "--data", d / "data.csv", "--out", d / "traj.csv")
    assert code == 0, text
    return {"dir": d, "scenario": scenario, "data": d / "data.csv", "traj": d / "traj.csv"}


# -- simulate ------------------------------------------------------------------------------------
def test_simulate_example_closes_balances_and_writes_a_self_contained_report(
    tmp_path: Path,
) -> None:
    out, report, data = tmp_path / "traj.csv", tmp_path / "sim.html", tmp_path / "data.csv"
    code, text = run(
        "simulate", EXAMPLE, "--out", out, "--report", report, "--data", data, "--json"
    )
    assert code == 0, text
    summary = json.loads(text)
    assert {e["event"] for e in summary["events"]} == {"FeedStart", "Induction"}
    traj = pd.read_csv(out)
    assert {"time_h", "X", "S", "A", "P", "DO", "V", "F", "T", "ind", "OUR", "CER"} <= set(traj)
    assert np.all(np.diff(traj["time_h"]) > 0)
    # volume: V = V0 + ∫F dt; the exponential feed from 7 h integrates to F0/mu (e^(mu t) - 1)
    t, V = traj["time_h"].to_numpy(), traj["V"].to_numpy()
    fed = np.where(t > 7, 0.0045 / 0.15 * np.expm1(0.15 * np.clip(t - 7, 0, None)), 0.0)
    np.testing.assert_allclose(V, 1.0 + fed, rtol=1e-6, atol=1e-8)
    # glucose: what was consumed is what was there plus what was fed, minus what is left,
    # and the biomass made from it cannot exceed the yield on oxidised glucose (0.5 g/g)
    s = Scenario.from_yaml(EXAMPLE)
    Sf = s.build_model().params["Sf"]
    consumed = 10.0 * 1.0 + Sf * fed[-1] - traj["S"].iloc[-1] * V[-1]
    grown = traj["X"].iloc[-1] * V[-1] - 0.2 * 1.0
    assert consumed > 0 and 0 < grown <= 0.5 * consumed
    assert (traj[["X", "S", "A", "P", "V"]] >= -1e-6).all().all()
    page = report.read_text()
    assert page.count("<script") >= 2 and 'src="http' not in page  # plotly inlined once
    assert "biomass X" in page and "time (h)" in page
    long = pd.read_csv(data)
    assert {"biomass", "OUR", "feed_rate"} <= set(long["variable"])


# -- fit -----------------------------------------------------------------------------------------
def test_fit_recovers_a_parameter_within_its_interval(synthetic: dict[str, Path]) -> None:
    d = synthetic["dir"]
    start = d / "start.yaml"  # the same recipe, with a wrong starting value of qS_max
    start.write_text(SMALL.replace("model: ecoli", "model: ecoli\nparameters: {qS_max: 0.9}"))
    args = ["fit", synthetic["data"], "--model", "ecoli", "--params", "qS_max"]
    args += ["--scenario", start, "--out", d / "fit.json", "--report", d / "fit.html"]
    code, text = run(*args, "--bands", "6", "--json")
    assert code == 0, text
    row = json.loads(text)["parameters"][0]
    assert row["parameter"] == "qS_max"
    assert row["ci_low"] <= 1.25 <= row["ci_high"], row
    assert row["estimate"] == pytest.approx(1.25, rel=0.05)
    assert json.loads((d / "fit.json").read_text())["parameters"][0]["identifiable"]
    page = (d / "fit.html").read_text()
    assert "toself" in page and "measured" in page  # bands and sample markers


def test_fit_hybrid_through_the_cli(synthetic: dict[str, Path]) -> None:
    d = synthetic["dir"]
    args = ["fit", synthetic["data"], "--model", "hybrid", "--scenario", synthetic["scenario"]]
    code, text = run(*args, "--epochs", "1", "--ensemble", "1", "--out", d / "h.json", "--json")
    assert code == 0, text
    result = json.loads(text)
    assert result["learned"] == ["qS", "qS_of", "qA_cons"]  # the library default
    assert result["files"] == [str(d / "h.json")] and "X" in result["rmse"]
    refused(*run(*args, "--base", "yeast"), "--base", "yeast")


# -- estimate ------------------------------------------------------------------------------------
def test_estimate_writes_bands_and_consistency(synthetic: dict[str, Path]) -> None:
    d = synthetic["dir"]
    args = ["estimate", synthetic["data"], "--model", "ecoli", "--filter", "ekf"]
    args += ["--scenario", synthetic["scenario"], "--offline", "X"]
    code, text = run(*args, "--out", d / "est.csv", "--report", d / "est.html", "--json")
    assert code == 0, text
    result = json.loads(text)
    labels = {r["updates"] for r in result["consistency"]}
    assert labels == {"all", "online", "offline"}
    est = pd.read_csv(d / "est.csv")
    assert {"X", "X_std", "S_std", "mu", "mu_std"} <= set(est)
    assert (est["X_std"] > 0).all()
    truth = pd.read_csv(synthetic["traj"])
    late = est[est["time_h"] >= 7]
    x_true = np.interp(late["time_h"], truth["time_h"], truth["X"])
    assert np.mean(np.abs(late["X"] / x_true - 1)) < 0.1
    assert "2σ" in (d / "est.html").read_text()


# -- control and optimize ---------------------------------------------------------------------
def test_control_short_closed_loop(tmp_path: Path) -> None:
    scenario = tmp_path / "ctl.yaml"
    scenario.write_text(
        "model: ecoli\ninitial: {X: 10.0, S: 0.05, A: 0.0, P: 0.0, DO: 60.0, V: 1.0}\n"
        "t_end: 1.5\ncontrol: {dt: 0.75, horizon: 2, compare_mu_set: 0.15}\n"
    )
    code, text = run("control", scenario, "--report", tmp_path / "c.html", "--json")
    assert code == 0, text
    metrics = json.loads(text)["metrics"]
    assert metrics[0]["controller"] == "MPC" and len(metrics) == 2
    assert all(m["product_g"] >= 0 for m in metrics)
    assert (tmp_path / "c.html").exists()


def test_optimize_small_budget(tmp_path: Path) -> None:
    scenario = tmp_path / "opt.yaml"
    scenario.write_text(
        SMALL.split("measurements:")[0]
        + "optimize:\n  batch: 2\n  parameters:\n    mu_set: [0.1, 0.3]\n"
        "    induction_t: [6.2, 8]\n"
    )
    out = tmp_path / "opt.csv"
    code, text = run(
        "optimize", scenario, "--budget", "4", "--workers", "1", "--out", out, "--json"
    )
    assert code == 0, text
    result = json.loads(text)
    history = pd.read_csv(out)
    assert len(history) == 4 and result["evaluations"] == 4
    assert history["recommender"].iloc[0] == "start"  # the scenario's own recipe first
    assert result["best"]["value"] == pytest.approx(history["product_mass"].max())
    assert result["best"]["value"] >= result["start"]["value"]


# -- bad input -----------------------------------------------------------------------------------
BAD_SCENARIOS = {
    "unknown key": (SMALL + "feed: 1\n", ["key feed", "unknown key"]),
    "negative initial": (SMALL.replace("S: 8.0", "S: -1.0"), ["key initial.S", "-1.0"]),
    "negative mu_set": (
        SMALL.replace("mu_set: 0.15", "mu_set: -0.1"),
        ["key events[0].feed_start.mu_set", "expected a number > 0, found -0.1"],
    ),
    "unsorted events": (SMALL.replace("t: 6.5", "t: 5.5"), ["key events[1].t", "out of order"]),
    "wrong type": (SMALL.replace("t_end: 9", "t_end: nine"), ["key t_end", "'nine'"]),
    "blow-up": (
        SMALL.split("events:")[0] + "inputs:\n  F: {profile: exponential, F0: 1.0, mu_set: 3.0}\n",
        ["blew up", "'V'"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_SCENARIOS))
def test_bad_scenario_is_one_line_exit_2_and_no_output(tmp_path: Path, case: str) -> None:
    text, words = BAD_SCENARIOS[case]
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    out, report = tmp_path / "traj.csv", tmp_path / "sim.html"
    code, message = run("simulate", path, "--out", out, "--report", report)
    refused(code, message, *words)
    assert not out.exists() and not report.exists()
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left either


def test_scenario_error_names_file_and_key() -> None:
    with pytest.raises(ScenarioError) as info:
        Scenario.from_dict(
            {
                "model": "ecoli",
                "initial": {"X": 1, "S": 1, "A": 0, "P": 0, "DO": 100, "V": 1},
                "t_end": 5,
                "inputs": {"F": {"profile": "exponential", "F0": 0.01, "mu_set": -0.1}},
            },
            source="scenario.yaml",
        )
    assert re.fullmatch(
        r"scenario\.yaml, key inputs\.F\.mu_set: .*expected a number > 0, found -0\.1",
        str(info.value),
    )


@pytest.mark.parametrize(
    ("rows", "words"),
    [
        (["0,5,90,0.2", "1,6,80,", "0.5,7,85,0.4"], ["unsorted", "time"]),
        (["0,5,90,0.2", "0.5,6,80,0.3", "0.5,7,85,0.4"], ["duplicated"]),
        (["0,5,90,0.2", "0.5,,80,0.3", "1,7,85,0.4"], ["NaN", "OUR"]),
    ],
    ids=["unsorted", "duplicated", "nan"],
)
def test_bad_data_is_refused_without_output(
    tmp_path: Path, synthetic: dict[str, Path], rows: list[str], words: list[str]
) -> None:
    data = tmp_path / "bad.csv"
    data.write_text("\n".join(["time_h,OUR [mmol/L/h],DO [%],biomass [g/L]", *rows]) + "\n")
    for command in (
        ["fit", data, "--model", "ecoli", "--params", "qS_max", "--out", tmp_path / "o.json"],
        ["estimate", data, "--model", "ecoli", "--out", tmp_path / "o.csv"],
    ):
        code, message = run(*command, "--scenario", synthetic["scenario"])
        refused(code, message, *words)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv"]


def test_bad_options_are_refused(synthetic: dict[str, Path], tmp_path: Path) -> None:
    data = synthetic["data"]
    refused(*run("fit", data, "--model", "yeast", "--params", "mu"), "--model", "yeast")
    refused(*run("fit", data, "--model", "ecoli", "--params", "mu_max"), "unknown parameter")
    refused(*run("estimate", data, "--model", "ecoli", "--filter", "pf"), "--filter")
    refused(*run("control", synthetic["scenario"]), "no control section")
    refused(*run("optimize", synthetic["scenario"], "--budget", "4"), "no optimize section")
    cho = tmp_path / "cho.yaml"
    cho.write_text(SMALL.replace("model: ecoli", "model: cho"))
    refused(*run("simulate", cho), "key initial.", "unknown key")


def test_shipped_dataset_reads_with_its_mapping(tmp_path: Path) -> None:
    folder = ROOT / "examples" / "process"
    args = ["estimate", folder / "ecoli_run1.csv", "--mapping", folder / "ecoli_mapping.yaml"]
    args += ["--model", "ecoli", "--online", "OUR,CER,DO,V", "--offline", "X"]
    code, text = run(*args, "--x0", "X=0.3,S=10,A=0,P=0", "--out", tmp_path / "e.csv", "--json")
    assert code == 0, text
    rmse = {r["state"]: r["rmse"] for r in json.loads(text)["rmse_offline"]}
    assert rmse["X"] < 1.0  # g/L, biomass grows to ~18 g/L
