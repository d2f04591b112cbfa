"""``biofab process monitor`` on what ``biofab process twin --out`` writes: by default it
monitors the twin's state estimates, not the bookkeeping beside them (``readings``, the
``*_std`` columns: it monitored all 15 columns as process variables); ``--variables``
still chooses. The good and new batches are real twin outputs (CLI replays)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from biofab.process.monitor_workflows import default_variables
from biofab.process.scenario import Scenario
from test_process_live_runs import _cli  # main() with its exit code, stdout and stderr

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "process" / "ecoli_fedbatch.yaml"
STATES = ["X", "S", "A", "P", "V", "DO", "mu"]


@pytest.fixture(scope="module")
def estimates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six batches (aeration and inoculum varied, 6 h each) replayed through the twin's CLI;
    ``good/`` holds five ``--out`` files as written, ``new.csv`` the sixth."""
    from biofab.cli.main import main

    root = tmp_path_factory.mktemp("twin-out")
    (root / "good").mkdir()
    rng = np.random.default_rng(3)
    for i in range(6):
        data = copy.deepcopy(yaml.safe_load(EXAMPLE.read_text()))
        data["parameters"] = {"kLa": 600 * rng.uniform(0.9, 1.1)}
        data["initial"]["X"] = rng.uniform(0.17, 0.23)
        data["measurements"]["seed"] = 40 + i
        scenario = Scenario.from_dict(data)
        run = root / f"run{i}.csv"
        scenario.measure(scenario.simulate(), batch_id=f"run{i}").slice(0.0, 6.0).to_csv(run)
        out = root / "good" / f"good{i}.csv" if i < 5 else root / "new.csv"
        db = f"sqlite:///{root / 'twin.db'}"
        main(["process", "twin", "--scenario", str(EXAMPLE), "--replay", str(run),
              "--speed", "0", "--db", db, "--out", str(out), "--json"])  # fmt: skip
    return root


def test_monitor_on_twin_estimates_watches_the_states(
    estimates: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    header = (estimates / "new.csv").read_text().splitlines()[0].split(",")
    assert "readings" in header and "X_std" in header  # what the twin writes, unchanged
    good, new = str(estimates / "good"), str(estimates / "new.csv")
    code, out, err = _cli(capsys, "process", "monitor", good, new, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["model"]["variables"] == STATES
    assert [b["batch"] for b in result["batches"]] == ["new"]
    # the summary says what is monitored
    code, out, _ = _cli(capsys, "process", "monitor", good, new)
    assert code == 0 and "7 variables (X, S, A, P, V, DO, mu)" in " ".join(out.split())
    # --variables still chooses, a σ column included
    code, out, err = _cli(
        capsys, "process", "monitor", good, new, "--variables", "X,X_std,readings", "--json"
    )
    assert code == 0, err
    assert json.loads(out)["model"]["variables"] == ["X", "X_std", "readings"]


def test_default_variables_leaves_other_tables_alone() -> None:
    """Only a twin's estimates lose columns: a plain table keeps all of them, even one
    called ``readings`` or ending in ``_std`` without its partner."""
    import pandas as pd

    plain = pd.DataFrame(
        {"time_h": [0.0], "X": [1.0], "readings": [3.0], "pH_std": [0.1], "OUR": [2.0]}
    )
    assert default_variables({"b": plain}) is None
    twin = plain.assign(X_std=0.1)
    assert default_variables({"b": twin}) == ["X", "pH_std", "OUR"]
    assert default_variables({"b": twin.assign(F=1.0)}, maturity="F") == ["X", "pH_std", "OUR"]


def test_live_twin_monitors_against_a_folder_of_its_outputs(
    estimates: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``process twin --monitor good/``: the ``--out`` files kept as written, one batch
    per file (docs/process-live.md), monitored on the states the twin estimates."""
    capsys.readouterr()
    code, out, err = _cli(capsys, "process", "twin", "--scenario", str(EXAMPLE), "--replay",
                          str(estimates / "run5.csv"), "--speed", "0", "--db",
                          f"sqlite:///{estimates / 'watch.db'}", "--monitor",
                          str(estimates / "good"), "--report", str(estimates / "live.html"),
                          "--json")  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["readings"]["accepted"] > 0
    page = (estimates / "live.html").read_text(encoding="utf-8")
    assert "Monitored: X, S, A, P, V, DO, mu (twin estimates)" in page
