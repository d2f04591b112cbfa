"""Interpretation: in-silico saturation mutagenesis maps, HTML report and `parts explain`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from biofab.cli.parts import parts_app
from biofab.core.errors import InputError
from biofab.parts.datasets import load_lafleur
from biofab.parts.interpret import mutagenesis_report, saturation_mutagenesis, write_report
from biofab.parts.models import KmerRidge
from conftest import shared_data

LAFLEUR = "parts/promoters/lafleur2022_supp_data3.csv"


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    return load_lafleur(shared_data(LAFLEUR)).iloc[:300].reset_index(drop=True)


@pytest.fixture(scope="module")
def model(rows: pd.DataFrame) -> KmerRidge:
    est = KmerRidge(k=3, n_members=4, seed=0)
    return est.fit(rows["sequence"].tolist(), rows["target"].to_numpy())


@pytest.fixture(scope="module")
def model_dir(model: KmerRidge, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return model.save(tmp_path_factory.mktemp("ism") / "model.dir")


def test_map_shape_zero_at_wild_type_and_matches_model(
    model: KmerRidge, rows: pd.DataFrame
) -> None:
    seq = rows["sequence"].iloc[0]
    m = saturation_mutagenesis(model.predict, seq, name=rows["id"].iloc[0])
    assert m.delta.shape == (len(seq), 4) and m.std.shape == (len(seq), 4)
    wt = np.array(["ACGT".index(c) for c in seq])
    assert np.all(m.delta[np.arange(len(seq)), wt] == 0.0)
    # An entry is the model's own difference for that mutant.
    i, j = 10, (wt[10] + 1) % 4
    mutant = seq[:i] + "ACGT"[j] + seq[i + 1 :]
    mean, _ = model.predict([seq, mutant])
    assert m.delta[i, j] == pytest.approx(mean[1] - mean[0])
    assert m.reference == pytest.approx(mean[0])
    assert np.allclose(m.importance, np.abs(m.delta).max(axis=1))
    assert m.importance.max() > 0
    avg = saturation_mutagenesis(model.predict, seq, how="mean")
    assert np.allclose(avg.importance, np.abs(m.delta).sum(axis=1) / 3)
    top = m.top(5)
    assert len(top) == 5 and (top["letter"] != top["wild_type"]).all()


def test_report_is_self_contained_and_written_atomically(
    model: KmerRidge, rows: pd.DataFrame, tmp_path: Path
) -> None:
    maps = [
        saturation_mutagenesis(model.predict, s, name=n)
        for n, s in zip(rows["id"].iloc[:2], rows["sequence"].iloc[:2], strict=True)
    ]
    html = mutagenesis_report(maps)
    assert "Plotly.newPlot" in html and '<script src="http' not in html
    assert all(m.name in html for m in maps)
    target = tmp_path / "ism.html"
    target.write_text("old report")
    out = write_report(target, maps)
    text = out.read_text()
    assert text.startswith("<!DOCTYPE html>") and text.endswith("</html>")
    assert abs(len(text) - len(html)) < 100  # same page (figure div ids are random)
    assert [p.name for p in tmp_path.iterdir()] == ["ism.html"]  # no temporary left behind


def test_bad_input_raises_one_line_input_error(model: KmerRidge) -> None:
    with pytest.raises(InputError, match="non-DNA letter 'N' at position 3") as err:
        saturation_mutagenesis(model.predict, "ACNGT" * 20)
    assert "\n" not in str(err.value)
    with pytest.raises(InputError, match="unknown importance"):
        saturation_mutagenesis(model.predict, "ACGT" * 20, how="median")


def test_cli_explain_sequence_and_file(model_dir: Path, rows: pd.DataFrame, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "one.html"
    seq = rows["sequence"].iloc[3]
    res = runner.invoke(
        parts_app,
        ["explain", "--model", str(model_dir), "--sequence", seq, "--out", str(out), "--json"],
    )
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["sequences"][0]["length"] == len(seq) and out.is_file()
    fasta = tmp_path / "in.fasta"
    many = ["explain", "--model", str(model_dir), "--in", str(fasta)]
    fasta.write_text("".join(f">p{i}\n{s}\n" for i, s in enumerate(rows["sequence"].iloc[:3])))
    res = runner.invoke(
        parts_app,
        [*many, "--out", str(tmp_path / "many.html"), "--limit", "2", "--json"],
    )
    assert res.exit_code == 0, res.output
    assert [s["name"] for s in json.loads(res.stdout)["sequences"]] == ["p0", "p1"]


def test_cli_explain_bad_input_exits_2_without_output(model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "bad.html"
    base = ["explain", "--model", str(model_dir), "--out", str(out)]
    runner = CliRunner()
    cases = {
        "non-DNA letter 'U'": ["--sequence", "ACGU" * 20],
        "exactly one of a sequence and a file of sequences": [],
        "length out of range": ["--sequence", "ACGT" * 5],
        "unknown summary": ["--sequence", "ACGT" * 20, "--importance", "median"],
    }
    for message, extra in cases.items():
        res = runner.invoke(parts_app, base + extra)
        assert isinstance(res.exception, InputError), (message, res.output)
        assert res.exception.exit_code == 2 and message in str(res.exception)
        assert not out.exists()
