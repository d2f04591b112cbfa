"""The metabolism workflows called directly (no CLI): kcat table and ecModel build/scan/plot."""

from __future__ import annotations

import json
from pathlib import Path

import cobra
import pandas as pd
import pytest

from biofab.core.errors import InputError
from biofab.metabolism import load_model
from biofab.metabolism import workflows as wf
from biofab.metabolism.ecmodel import POOL_ID
from conftest import shared_data


@pytest.fixture(scope="module")
def kcats(tmp_path_factory: pytest.TempPathFactory) -> Path:
    m = load_model("textbook")
    path = tmp_path_factory.mktemp("ec") / "kcats.csv"
    pd.DataFrame({"reaction": [r.id for r in m.reactions if r.genes], "kcat": 20.0}).to_csv(
        path, index=False
    )
    return path


def test_ec_model_builds_scans_samples_and_plots(kcats: Path, tmp_path: Path) -> None:
    out, plot = tmp_path / "ec.xml", tmp_path / "overflow.html"
    r = wf.ec_model(
        wf.EcModelRequest(
            "textbook",
            kcats,
            out,
            pool=0.1,
            ensemble=2,
            log10_std=0.3,
            uptakes=(2.0, 6.0, 10.0),
            plot=plot,
        )
    )
    assert r.files == [str(out), str(plot)]
    frame = r.to_frame()
    assert list(frame["uptake_cap"]) == [2.0, 6.0, 10.0]
    assert {"growth", "product", "plain_growth", "plain_product"} <= set(frame)
    assert (frame["growth"] <= frame["plain_growth"] + 1e-9).all()  # the pool only takes away
    assert r.ensemble is not None and r.ensemble["growth"].shape == (2, 3)
    band = r.product_band()
    assert band is not None and len(band) == 3 and all(lo <= hi for lo, hi in band)
    summary = json.loads(r.to_json())
    assert summary["out"] == str(out) and summary["plot"] == str(plot)
    assert len(summary["scan"]["growth"]) == 3 and "threshold" in summary["onset"]
    back = cobra.io.read_sbml_model(str(out))  # what was written is the model scanned
    assert POOL_ID in back.metabolites
    assert back.slim_optimize() == pytest.approx(r.growth, rel=1e-6)
    assert plot.read_text().startswith("<!DOCTYPE html>")


def test_ec_model_without_scan_gives_enzyme_costs(kcats: Path, tmp_path: Path) -> None:
    r = wf.ec_model(wf.EcModelRequest("textbook", kcats, tmp_path / "ec.json", pool=0.1))
    assert r.scan is None and r.files == [str(tmp_path / "ec.json")]
    costs = r.to_frame()
    assert len(costs) == len(r.ec.costs) and "reaction" in costs
    assert "scan" not in r.to_dict() and r.to_dict()["growth"] == r.growth


def test_bad_ec_requests_write_nothing(kcats: Path, tmp_path: Path) -> None:
    out = tmp_path / "ec.xml"
    with pytest.raises(InputError, match="uptake caps"):
        wf.ec_model(wf.EcModelRequest("textbook", kcats, out, uptakes=(), plot=tmp_path / "p"))
    with pytest.raises(InputError, match="pool"):
        wf.ec_model(wf.EcModelRequest("textbook", kcats, out, pool=0.0))
    with pytest.raises(InputError, match="same file"):
        wf.ec_model(wf.EcModelRequest("textbook", kcats, out, plot=out))
    assert list(tmp_path.iterdir()) == []


def test_kcat_table_from_catpred(tmp_path: Path) -> None:
    catpred = tuple(shared_data(f"enzymes/catpred_kcat_random_{s}.csv") for s in ("test", "val"))
    out = tmp_path / "kcats.csv"
    r = wf.kcat_table(wf.KcatTableRequest("textbook", catpred, out))
    table = r.to_frame()
    assert (table["kcat"] > 0).all() and set(table["source"]) <= {"uniprot", "ec", "default"}
    assert pd.read_csv(out)["reaction"].tolist() == table["reaction"].tolist()
    summary = r.to_dict()
    assert summary["reactions"] == len(table) and sum(summary["sources"].values()) == len(table)
    assert summary["out"] == str(out) and r.files == [str(out)]


def test_kcat_table_calibrated_through_the_cli(tmp_path: Path) -> None:
    import typer
    from typer.testing import CliRunner

    from biofab.cli.gem_ec import register

    app = typer.Typer()
    register(app)
    catpred = [shared_data(f"enzymes/catpred_kcat_random_{s}.csv") for s in ("test", "val")]
    out = tmp_path / "kcats.csv"
    args = ["kcats", "textbook", "--out", str(out), "--calibrate", "0.8"]
    for path in catpred:
        args += ["--catpred", str(path)]
    res = CliRunner().invoke(app, [*args, "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["calibrated_reactions"] > 0 and summary["calibrated_growth"] >= 0.8 - 1e-6
    assert summary["out"] == str(out) and len(pd.read_csv(out)) == summary["reactions"]
