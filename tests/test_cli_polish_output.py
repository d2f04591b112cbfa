"""What a user of the command line reads: progress of long fits, whole table cells and
lines when the output is piped, readable job results, and the progress labels' wording.

Real components throughout: the commands run through the root app (CliRunner, stdout and
stderr apart) or as ``python -m biofab`` in a subprocess with no terminal at all.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from biofab.cli.main import app
from biofab.core.errors import BiofabError
from test_process_cli import SMALL  # the small E. coli scenario the process CLI tests share

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "process"


def run(*args: str | Path) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of ``biofab ARGS`` (a BiofabError: code 2, one line)."""
    result = CliRunner().invoke(app, list(map(str, args)), standalone_mode=False)
    if isinstance(result.exception, BiofabError):
        return 2, "", f"error: {result.exception}"
    if result.exception is not None:
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def module(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m biofab ARGS`` with this checkout's sources, no terminal, no COLUMNS."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "BIOFAB_DB")}
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT / "src"), os.environ.get("PYTHONPATH")) if p
    )
    env["BIOFAB_DB"] = f"sqlite:///{cwd / 'jobs.db'}"
    return subprocess.run(
        [sys.executable, "-m", "biofab", *map(str, args)],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(autouse=True)
def _no_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)  # the piped width is what is tested


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("polish")
    scenario = d / "small.yaml"
    scenario.write_text(SMALL)
    code, _, err = run("process", "simulate", scenario, "--data", d / "data.csv")
    assert code == 0, err
    return {"dir": d, "scenario": scenario, "data": d / "data.csv"}


def test_hybrid_fit_reports_its_training_steps_and_refits_on_stderr(
    batch: dict[str, Path],
) -> None:
    d = batch["dir"]
    args: list[str | Path] = ["process", "fit", batch["data"], "--model", "hybrid"]
    args += ["--scenario", batch["scenario"]]
    args += ["--epochs", "2", "--ensemble", "1"]
    code, out, err = run(*args, "--save", d / "h.json", "--band-calibration", "forecast")
    assert code == 0, err
    lines = err.splitlines()
    steps = [line for line in lines if line.startswith("hybrid: training step ")]
    # the first and the last step always (the ones between at most every 10 s)
    assert steps[0].startswith("hybrid: training step 1/2 ("), err
    assert steps[-1].startswith("hybrid: training step 2/2 ("), err
    assert " loss " in steps[-1] and "(lowest " in steps[-1] and "1 members" in steps[-1]
    refit = [line for line in lines if line.startswith("hybrid band-calibration refit: ")]
    assert refit and refit[-1].startswith("hybrid band-calibration refit: training step 2/2")
    assert any(line.startswith("hybrid band calibration: refit 1/1") for line in lines), err
    assert "training step" not in out and "training RMSE per state" in out  # stdout: result
    # --json: stdout is the result alone and nothing reports progress (as `process fit`
    # of a mechanistic model and `process optimize` do)
    code, out, err = run(*args, "--json")
    assert code == 0, err
    assert json.loads(out)["epochs"] == 2
    assert "training step" not in err


def test_optimize_progress_names_the_recipe_once_and_its_summary_is_one_line(
    tmp_path: Path,
) -> None:
    scenario = EXAMPLES / "ecoli_fedbatch.yaml"
    code, out, err = run("process", "optimize", scenario, "--budget", "2", "--batch", "2")
    assert code == 0, err
    assert "recipe batches evaluated 2/2" in err and "recipe recipe" not in err, err
    # the summary is one line (it used to wrap at 80 columns when not on a terminal)
    best = [line for line in out.splitlines() if line.startswith("best product_mass = ")]
    assert len(best) == 1 and "induction_t = " in best[0], out


def test_piped_wide_table_keeps_every_cell_whole(tmp_path: Path) -> None:
    r = module("process", "control", EXAMPLES / "ecoli_control.yaml", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    # before: 80 columns, every header and the controller names cut to "c…"
    assert "…" not in r.stdout, r.stdout
    assert "exponential mu_set=0.15" in r.stdout
    for header in ("controller", "feed_reversals_near_vmax", "solve_time_median_s"):
        assert header in r.stdout, header
    title = "closed loop (product in g, DO deficit in %-points, volume over in L)"
    assert title in r.stdout


def test_jobs_show_prints_the_result_indented_and_says_where_it_is_cut(tmp_path: Path) -> None:
    request = '{"model": "textbook", "kind": "reaction", "limit": 40}'
    submitted = module("jobs", "submit", "deletions", "--request", request, cwd=tmp_path)
    assert submitted.returncode == 0, submitted.stderr
    job = submitted.stdout.strip()
    ran = module("jobs", "run-worker", "--max-jobs", "1", "--folder", "out", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    shown = module("jobs", "show", job, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    start = lines.index("result:")
    assert lines[start + 1] == "{" and '  "n_knockouts": 40,' in lines, shown.stdout
    assert len(lines) - start - 2 == 200  # the first 200 lines, then where the rest is
    assert lines[-1].startswith("... ") and "--json prints the whole job" in lines[-1]
    whole = module("jobs", "show", job, "--json", cwd=tmp_path)
    assert len(json.loads(whole.stdout)["result"]["results"]) == 40  # machine-readable


def test_jobs_show_of_an_unknown_job_is_one_line_and_exit_code_2(tmp_path: Path) -> None:
    module("jobs", "submit", "deletions", "--request", '{"model": "textbook"}', cwd=tmp_path)
    r = module("jobs", "show", "999", cwd=tmp_path)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1, r.stderr
