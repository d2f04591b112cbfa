"""The `biofab` command: real subprocesses, a real SQLite file, exit codes and --json."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from failpoint import start_paused

SPACE = """
parameters:
  mg: {type: continuous, lo: 0, hi: 4, step: 0.5, unit: uL}
  ntp: {type: continuous, lo: 0, hi: 4, step: 0.5, unit: uL}
  lysate: {type: categorical, choices: [BL21, K12]}
constraints:
  - {type: sum_to_total, names: [mg, ntp], total: 6}
"""


def biofab(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "biofab.cli", *args],
        cwd=cwd,
        env={**os.environ, "BIOFAB_DB": f"sqlite:///{cwd / 'biofab.db'}", **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )


def fake_results(batch: pd.DataFrame) -> pd.DataFrame:
    out = batch[["mg", "ntp", "lysate"]].copy()
    out["yield"] = 2 - (out["mg"] - 2) ** 2 - 0.3 * (out["ntp"] - 1) ** 2
    out["yield_std"] = 0.1
    return out


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "space.yaml").write_text(SPACE)
    r = biofab(
        "campaign",
        "create",
        "cf1",
        "--space",
        "space.yaml",
        "--objective",
        "yield:max",
        cwd=tmp_path,
    )
    assert r.returncode == 0, r.stderr
    return tmp_path


def test_campaign_round_trip(workdir: Path) -> None:
    r = biofab("campaign", "recommend", "cf1", "-n", "8", "--out", "batch.csv", cwd=workdir)
    assert r.returncode == 0, r.stderr
    batch = pd.read_csv(workdir / "batch.csv")
    assert len(batch) == 8 and "water" in batch.columns
    fake_results(batch).to_csv(workdir / "results.csv", index=False)
    r = biofab("campaign", "ingest", "cf1", "results.csv", "--json", cwd=workdir)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["added_measurements"] == 8
    r = biofab("campaign", "ingest", "cf1", "results.csv", "--json", cwd=workdir)
    assert json.loads(r.stdout)["duplicate_file"] is True
    r = biofab("campaign", "recommend", "cf1", "-n", "4", "--json", "--seed", "1", cwd=workdir)
    assert r.returncode == 0, r.stderr
    rec = json.loads(r.stdout)
    assert rec["round"] == 2 and len(rec["designs"]) == 4
    assert all("pred_yield" in d for d in rec["designs"])
    r = biofab("campaign", "status", "cf1", "--json", cwd=workdir)
    status = json.loads(r.stdout)
    assert status["measured"] == 8 and status["pending"] == 4 and status["rounds"] == 2
    r = biofab("campaign", "explain", "cf1", "--json", cwd=workdir)
    assert r.returncode == 0, r.stderr
    explained = json.loads(r.stdout)
    assert {d["parameter"] for d in explained["importance"]} == {"mg", "ntp", "lysate"}
    assert [d["surrogate"] for d in explained["calibration"]] == ["GP", "tree ensemble"]
    assert all(0 <= d["oof_coverage_68"] <= 1 for d in explained["calibration"])
    r = biofab("campaign", "report", "cf1", "--out", "report.html", cwd=workdir)
    assert r.returncode == 0, r.stderr
    assert "Best so far per round" in (workdir / "report.html").read_text()
    r = biofab("campaign", "list", "--json", cwd=workdir)
    assert [c["name"] for c in json.loads(r.stdout)] == ["cf1"]


@pytest.mark.parametrize(
    ("name", "edit", "fragment"),
    [
        ("missing.csv", lambda d: d.drop(columns=["yield"]), "missing column"),
        (
            "text.csv",
            lambda d: (
                d.assign(yield_="x").drop(columns="yield").rename(columns={"yield_": "yield"})
            ),
            "not a number",
        ),
        ("outside.csv", lambda d: d.assign(mg=[9.0, *list(d["mg"].iloc[1:])]), "outside the space"),
        ("dup.csv", lambda d: pd.concat([d, d.iloc[[0]]]), "duplicate design"),
    ],
)
def test_bad_results_exit_2_with_one_line_and_no_change(
    workdir: Path, name: str, edit, fragment: str
) -> None:
    biofab("campaign", "recommend", "cf1", "-n", "5", "--out", "batch.csv", cwd=workdir)
    frame = edit(fake_results(pd.read_csv(workdir / "batch.csv")))
    frame.to_csv(workdir / name, index=False)
    r = biofab("campaign", "ingest", "cf1", name, cwd=workdir)
    assert r.returncode == 2
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and fragment in lines[0] and name in lines[0], r.stderr
    assert "Traceback" not in r.stderr
    status = json.loads(biofab("campaign", "status", "cf1", "--json", cwd=workdir).stdout)
    assert status["measured"] == 0


def test_duplicate_design_error_says_how_to_give_replicates(workdir: Path) -> None:
    biofab("campaign", "recommend", "cf1", "-n", "3", "--out", "batch.csv", cwd=workdir)
    frame = fake_results(pd.read_csv(workdir / "batch.csv"))
    pd.concat([frame, frame.iloc[[0]]]).to_csv(workdir / "dup.csv", index=False)
    r = biofab("campaign", "ingest", "cf1", "dup.csv", cwd=workdir)
    assert r.returncode == 2
    # the objective's own column names, not a placeholder
    assert "yield_rep1, yield_rep2" in r.stderr and "yield_std and yield_n" in r.stderr
    assert "<objective>" not in r.stderr


def test_recommend_json_is_strict_json_in_a_space_filling_round(workdir: Path) -> None:
    r = biofab("campaign", "recommend", "cf1", "-n", "3", "--json", cwd=workdir)
    assert r.returncode == 0, r.stderr

    def refuse(token: str) -> None:
        raise AssertionError(f"not JSON: {token}")

    data = json.loads(r.stdout, parse_constant=refuse)  # NaN / Infinity are not JSON
    assert "NaN" not in r.stdout and data


def test_recommend_from_a_candidate_pool(workdir: Path) -> None:
    pool = pd.DataFrame({"mg": [0.5, 1.0, 1.5, 2.0, 2.5], "ntp": [1.0] * 5, "lysate": ["K12"] * 5})
    pool.to_csv(workdir / "pool.csv", index=False)
    r = biofab("campaign", "recommend", "cf1", "-n", "3", "--candidates", "pool.csv",
               "--out", "b.csv", cwd=workdir)  # fmt: skip
    assert r.returncode == 0, r.stderr
    picked = pd.read_csv(workdir / "b.csv")
    assert len(picked) == 3 and set(picked["mg"]) <= set(pool["mg"])
    pool = pool.astype({"ntp": object})
    pool.loc[2, "ntp"] = "lots"
    pool.to_csv(workdir / "bad_pool.csv", index=False)
    r = biofab("campaign", "recommend", "cf1", "--candidates", "bad_pool.csv", cwd=workdir)
    assert r.returncode == 2 and "bad_pool.csv, row 3, column 'ntp'" in r.stderr


def test_recommend_by_registered_name_and_unknown_name(workdir: Path) -> None:
    r = biofab("campaign", "recommend", "cf1", "-n", "2", "--recommender", "lhs", "--json",
               "--seed", "0", cwd=workdir)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["recommender"] == "space-filling (lhs)"
    r = biofab("campaign", "recommend", "cf1", "--recommender", "bogus", cwd=workdir)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "unknown recommender" in lines[0] and "'bogus'" in lines[0]
    assert all(name in lines[0] for name in ("auto", "bo", "ucb", "mobo", "sequence"))
    assert "--recommender" in biofab("campaign", "recommend", "--help", cwd=workdir).stdout


def test_unknown_campaign_and_malformed_space(workdir: Path) -> None:
    r = biofab("campaign", "status", "nope", cwd=workdir)
    assert r.returncode == 2 and "unknown campaign 'nope'" in r.stderr
    (workdir / "bad.yaml").write_text("parameters: {mg: {type: continuous, lo: 3, hi: 1}}")
    r = biofab(
        "campaign", "create", "x", "--space", "bad.yaml", "--objective", "y:max", cwd=workdir
    )
    assert r.returncode == 2 and "bad.yaml" in r.stderr and "lo < hi" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    r = biofab(
        "campaign", "create", "cf1", "--space", "space.yaml", "--objective", "y:max", cwd=workdir
    )
    assert r.returncode == 2 and "already exists" in r.stderr
    r = biofab("space", "check", "space.yaml", "--json", cwd=workdir)
    assert r.returncode == 0 and "mg" in json.loads(r.stdout)["parameters"]


def test_killed_ingest_leaves_campaign_consistent(workdir: Path) -> None:
    """SIGKILL in the middle of `biofab campaign ingest`: nothing of the file is kept,
    and the same file imports completely afterwards."""
    biofab("campaign", "recommend", "cf1", "-n", "10", "--out", "batch.csv", cwd=workdir)
    fake_results(pd.read_csv(workdir / "batch.csv")).to_csv(workdir / "res.csv", index=False)
    env = {
        **os.environ,
        "BIOFAB_DB": f"sqlite:///{workdir / 'biofab.db'}",
        "BIOFAB_FAILPOINT_INGEST_SLEEP": "60",
    }
    proc = start_paused(
        [sys.executable, "-m", "biofab.cli", "campaign", "ingest", "cf1", "res.csv"],
        env,
        workdir / "stderr.txt",
        cwd=workdir,
    )
    proc.kill()  # SIGKILL inside the open transaction
    proc.wait(timeout=10)
    assert proc.returncode == -9
    status = json.loads(biofab("campaign", "status", "cf1", "--json", cwd=workdir).stdout)
    assert status["measured"] == 0 and status["designs"] == 10
    r = biofab("campaign", "ingest", "cf1", "res.csv", "--json", cwd=workdir)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["added_measurements"] == 10
