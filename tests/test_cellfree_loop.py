"""The cell-free loop end to end: recommend, plan, read plates, import, ingest, report."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from biofab.cellfree.stocks import StockTable
from biofab.cli.cellfree import cellfree_app
from biofab.demo import run_cellfree, run_demo

runner = CliRunner()


def _app() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(cellfree_app, name="cellfree")
    return app


def _invoke(*args: str) -> tuple[int, str]:
    """Run like ``biofab.cli.main.main``: a BiofabError is one line and exit code 2."""
    from biofab.core import BiofabError

    result = runner.invoke(_app(), list(args))
    if isinstance(result.exception, BiofabError):
        return 2, str(result.exception)
    return result.exit_code, result.stdout


@pytest.fixture(scope="module")
def loop_run(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("loop")
    return run_cellfree(out=out, rounds=3, batch=6, seed=1, progress=False)


def test_rounds_write_every_lab_file_and_improve(loop_run) -> None:
    rounds = loop_run.result.rounds
    assert [r.round for r in rounds] == [1, 2, 3]
    for r in rounds:
        names = {p.name for p in r.directory.iterdir()}
        assert {"layout.csv", "echo_picklist.csv", "source_plate_map.csv", "cost.csv"} <= names
        assert {"plate_reader.csv", "results.csv", "transfers.csv"} <= names
        layout = pd.read_csv(r.layout)
        # controls on every plate, replicates of each design
        assert set(layout["role"]) == {"sample", "reference", "blank"}
        assert (layout[layout.role == "sample"].groupby("design").size() == 2).all()
        picklist = pd.read_csv(r.directory / "echo_picklist.csv")
        assert (picklist["Transfer Volume"] % 2.5 == 0).all()
        assert (r.qc["z_prime"] > 0.5).all()  # a usable assay window on simulated plates
    history = loop_run.campaign.history()
    assert history["n"].tolist() == [6, 6, 6]
    # provenance: each measurement names the plate-reader file, plate and wells
    sources = loop_run.campaign.store.measurement_table(loop_run.campaign.name)["source"]
    assert sources.str.contains("plate P1 wells").all()
    html = loop_run.report.read_text()
    assert "GFP time course" in html and "Plate QC per round" in html
    assert '<script src="http' not in html


def test_designs_are_on_the_dispenser_grid(loop_run) -> None:
    space = loop_run.loop.space
    data = loop_run.campaign.data()
    for name, p in space.parameters.items():
        steps = data[name] / p.step
        assert (abs(steps - steps.round()) < 1e-6).all(), name


def test_cost_mode_is_two_objective(tmp_path: Path) -> None:
    run = run_cellfree(out=tmp_path, rounds=2, batch=4, cost=True, progress=False)
    assert run.campaign.objective_names == ["relative_yield", "cost"]
    front = run.campaign.pareto()
    assert len(front) >= 1 and (front["cost"] > 0).all()


def test_cli_run_plan_import_and_bad_input(tmp_path: Path) -> None:
    code, text = _invoke(
        "cellfree", "run", "--rounds", "1", "--batch", "3", "--out", str(tmp_path / "run"),
        "--dispenser", "opentrons", "--volume", "50", "--json",
    )  # fmt: skip
    assert code == 0, text
    report = json.loads(text)
    assert Path(report["report"]).is_file()
    round_dir = tmp_path / "run" / "round_01"
    assert (round_dir / "opentrons" / "P1.py").is_file()

    # the lab path: plan from a designs CSV, then import the plate-reader file
    designs = pd.read_csv(round_dir / "results.csv")
    names = StockTable.default().varied_names
    designs[names].to_csv(tmp_path / "designs.csv", index=False)
    code, text = _invoke(
        "cellfree", "plan", str(tmp_path / "designs.csv"), "--out", str(tmp_path / "plan")
    )
    assert code == 0, text
    assert (tmp_path / "plan" / "echo_picklist.csv").is_file()
    code, text = _invoke(
        "cellfree", "import", str(round_dir / "plate_reader.csv"),
        "--layout", str(round_dir / "layout.csv"), "--out", str(tmp_path / "res.csv"),
    )  # fmt: skip
    assert code == 0, text
    assert len(pd.read_csv(tmp_path / "res.csv")) == 3

    # a reader file for another plan: wells do not match, nothing written
    code, text = _invoke(
        "cellfree", "import", str(round_dir / "plate_reader.csv"),
        "--layout", str(tmp_path / "plan" / "layout.csv"), "--out", str(tmp_path / "bad.csv"),
    )  # fmt: skip
    if code == 0:  # same wells by chance: drop one reading instead
        reads = pd.read_csv(round_dir / "plate_reader.csv").iloc[1:]
        reads.to_csv(tmp_path / "short.csv", index=False)
        code, text = _invoke(
            "cellfree", "import", str(tmp_path / "short.csv"),
            "--layout", str(round_dir / "layout.csv"), "--out", str(tmp_path / "bad.csv"),
        )  # fmt: skip
    assert code == 2 and "\n" not in text.strip() and "no reading" in text
    assert not (tmp_path / "bad.csv").exists()

    # a stock too dilute to reach its range
    stocks = StockTable.default().to_frame()
    stocks.loc[stocks["component"] == "dna", "stock"] = 20.0
    stocks.to_csv(tmp_path / "dilute.csv", index=False)
    code, text = _invoke(
        "cellfree", "plan", str(tmp_path / "designs.csv"), "--stocks", str(tmp_path / "dilute.csv"),
        "--out", str(tmp_path / "plan2"),
    )  # fmt: skip
    assert code == 2 and "dna" in text
    assert not (tmp_path / "plan2").exists()

    # a batch that overflows the plate
    many = pd.concat([designs[names]] * 30, ignore_index=True)
    many.to_csv(tmp_path / "many.csv", index=False)
    code, text = _invoke(
        "cellfree", "plan", str(tmp_path / "many.csv"), "--out", str(tmp_path / "plan3"),
        "--max-plates", "1",
    )  # fmt: skip
    assert code == 2 and "wells" in text


def test_demo_runs_the_txtl_loop(tmp_path: Path) -> None:
    result = run_demo(rounds=2, batch=4, out=tmp_path / "report.html", progress=False)
    assert result.report.is_file()
    assert (tmp_path / "report_rounds" / "round_02" / "plate_reader.csv").is_file()
    assert "TX-TL" in result.testbed
