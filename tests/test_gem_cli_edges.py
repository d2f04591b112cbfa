"""Rough edges of ``biofab gem`` found by using it (issue 15, item 6), each through the
command line: user strings print as written, media tables are found from anywhere and an
unknown medium says where they were looked for, a truth table of essential genes only is
flagged, per-gene / per-well tables are written without ``--out``, ``gem fba`` opens with
pathway fluxes rather than loops, and a parsed model is cached by the file's hash."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import typer
from cobra.io import model_to_dict
from typer.testing import CliRunner

from biofab.core.errors import BiofabError
from biofab.metabolism import get_medium, load_model, save_model
from biofab.metabolism.io import cache_entry
from conftest import shared_data

BENCH = "metabolism/carveme_benchmark"


def _app() -> typer.Typer:
    from biofab.cli import gem, gem_analysis, gem_phenotypes

    gem_analysis.register(gem.gem_app)
    gem_phenotypes.register(gem.gem_app)
    return gem.gem_app


def cli(*args: str | Path) -> tuple[int, str]:
    """Exit code and output (an error: its one line, code 2, as the real CLI prints)."""
    res = CliRunner().invoke(_app(), [str(a) for a in args])
    if isinstance(res.exception, BiofabError):
        return 2, str(res.exception)
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise res.exception
    return res.exit_code, res.output


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_user_strings_print_as_written(in_tmp: Path) -> None:
    model = load_model("textbook")
    model.id, model.name = "core[succ]", "strain [bold]B[/bold]"
    path = save_model(model, in_tmp / "odd.json")
    code, text = cli("info", path)
    assert code == 0, text
    assert "core[succ] strain [bold]B[/bold]" in text
    assert "compartments  c (cytosol), e (extracellular)" in text  # a space after the key
    code, text = cli("biolog", "textbook", "--truth", shared_data(f"{BENCH}/biolog/ecol"),
                     "--medium", "M9[succ]")  # fmt: skip
    assert code == 0, text
    assert "on M9[succ]" in text and "carbon succ;" in text


def test_media_tables_found_from_anywhere(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BIOFAB_MEDIA_DB", raising=False)
    config = in_tmp / "config"
    (config / "biofab").mkdir(parents=True)
    (config / "biofab" / "media_db.tsv").write_text("medium\tcompound\nMine\tglc__D\nMine\to2\n")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    (in_tmp / "elsewhere").mkdir()
    monkeypatch.chdir(in_tmp / "elsewhere")  # no table in or beside the working directory
    assert get_medium("Mine").compounds == ("glc__D", "o2")
    code, line = cli("fba", "textbook", "--medium", "M9[nope]")
    assert code == 2 and "\n" not in line
    assert "unknown medium" in line and "--media-db" in line and "M9[nope]" in line
    assert str(config / "biofab" / "media_db.tsv") in line  # where it looked
    code, line = cli("fba", "textbook", "--medium", "LB", "--media-db", in_tmp / "none.tsv")
    assert code == 2 and "media table not found" in line and "none.tsv" in line


def test_essential_only_truth_table_warns(in_tmp: Path) -> None:
    truth = in_tmp / "ess.tsv"
    truth.write_text("bigg_id\tphenotype\nb2779\tE\nb1779\tE\nb0720\tE\n")
    code, text = cli("essentiality", "textbook", "--truth", truth)
    assert code == 0, text
    warning = next(ln for ln in text.splitlines() if ln.startswith("warning:"))
    assert "only essential genes" in warning and "--unlisted-nonessential" in warning
    table = pd.read_csv(in_tmp / "textbook.essentiality.csv")  # written without --out
    assert set(table["gene"]) == {"b2779", "b1779", "b0720"}
    assert {"growth", "predicted_essential", "essential", "agree"} <= set(table.columns)
    assert "wrote textbook.essentiality.csv" in text
    code, text = cli("essentiality", "textbook", "--truth", truth, "--unlisted-nonessential",
                     "--json")  # fmt: skip
    data = json.loads(text)
    assert data["warnings"] == [] and data["genes_scored"] == 137 and data["files"] == []


def test_biolog_writes_per_well_table_and_takes_sources(in_tmp: Path) -> None:
    folder = in_tmp / "plates"
    folder.mkdir()
    (folder / "biolog_carbon.tsv").write_text(
        "bigg_id\tcompound\tgrowth\nglc__D\tglucose\t+\nfor\tformate\t-\nac\tacetate\t+\n"
    )
    code, text = cli("biolog", "textbook", "--truth", folder, "--medium", "M9[DL-lac]",
                     "--out", in_tmp / "wells.csv")  # fmt: skip
    assert code == 0, text
    assert "carbon lac__D" in text and "MCC 1.000" in text
    wells = pd.read_csv(in_tmp / "wells.csv")
    assert list(wells["compound"]) == ["glc__D", "for", "ac"] and wells["agree"].all()
    # Named: only L-lactate is replaced, D-lactate stays, so formate "grows" (on lactate).
    code, text = cli("biolog", "textbook", "--truth", folder, "--medium", "M9[DL-lac]",
                     "--carbon-source", "lac__L")  # fmt: skip
    assert code == 0 and "carbon lac__L" in text and "wrote textbook.biolog.csv" in text
    wells = pd.read_csv(in_tmp / "textbook.biolog.csv")
    assert wells.set_index("compound")["predicted"].to_dict() == {
        "glc__D": True, "for": True, "ac": True
    }  # fmt: skip
    (in_tmp / "textbook.biolog.csv").unlink()
    code, text = cli("biolog", "textbook", "--truth", folder, "--carbon-source", "succ")
    assert code == 2 and "carbon source is not in the base medium 'M9'" in text
    assert not (in_tmp / "textbook.biolog.csv").exists()  # nothing half-written


def test_fba_table_opens_with_pathway_fluxes(in_tmp: Path) -> None:
    code, text = cli("fba", "iJO1366")
    assert code == 0, text
    rows = [ln for ln in text.splitlines() if ln.startswith("│")]
    first = float(rows[0].split("│")[2])
    assert "pfba" in text and abs(first) < 999  # pFBA: no +-1000 loop
    code, text = cli("fba", "iJO1366", "--fba")
    assert code == 0 and "of the +-1000 bound (loops) are listed last" in text
    rows = [ln for ln in text.splitlines() if ln.startswith("│")]
    assert abs(float(rows[0].split("│")[2])) < 999


def test_parsed_model_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BIOFAB_CACHE", str(tmp_path / "cache"))
    src = save_model(load_model("textbook"), tmp_path / "core.xml")
    entry = cache_entry(src)
    assert entry is not None and not entry.exists()
    env = {**os.environ, "BIOFAB_CACHE": str(tmp_path / "cache")}
    runs = [
        subprocess.run([sys.executable, "-m", "biofab.cli", "gem", "fba", str(src), "--json"],
                       capture_output=True, text=True, timeout=300, env=env, check=True)
        for _ in range(2)
    ]  # fmt: skip
    assert entry.is_file()  # the one-off command left the parsed model behind
    assert (
        json.loads(runs[0].stdout)["objective_value"]
        == json.loads(runs[1].stdout)["objective_value"]
    )
    # A load reads the entry, not the file: plant another valid model there.
    other = load_model("mini")
    entry.write_text(json.dumps(model_to_dict(other)))
    assert load_model(src).id == other.id
    # A corrupt entry, or JSON that is not a model, is dropped and the file parsed again;
    # an entry is data (JSON), never code: a pickled object is not a readable entry.
    for junk in (b"not json", b"[1, 2]", pickle.dumps(other)):
        entry.write_bytes(junk)
        assert len(load_model(src).reactions) == 95 and entry.stat().st_size > 1000
        assert json.loads(entry.read_text())["id"] == load_model(src).id
    # Changed bytes: another key, so the old entry can never be served for them.
    model = load_model(src)
    model.reactions.ATPM.lower_bound = 0.0
    save_model(model, src)
    assert cache_entry(src) != entry and load_model(src).reactions.ATPM.lower_bound == 0.0
    monkeypatch.setenv("BIOFAB_CACHE", "off")
    assert cache_entry(src) is None and len(load_model(src).reactions) == 95
