"""Model loading and saving, media, and the HiGHS LP core of the metabolism pillar."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from biofab.core.errors import InputError, ModelError
from biofab.metabolism import (
    LinearProgram,
    Medium,
    apply_medium,
    get_medium,
    load_media,
    load_model,
    model_info,
    save_model,
)
from conftest import shared_data


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "biofab.cli", *args], capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def textbook():
    return load_model("textbook")


def _snapshot(model):
    return {
        r.id: (
            r.lower_bound,
            r.upper_bound,
            r.gene_reaction_rule,
            {m.id: c for m, c in r.metabolites.items()},
            {k: v for k, v in r.annotation.items() if k != "sbo"},
        )
        for r in model.reactions
    }


@pytest.mark.parametrize("suffix", [".xml", ".xml.gz", ".json", ".mat", ".yml"])
def test_round_trip_keeps_reactions_bounds_gprs(textbook, tmp_path: Path, suffix: str) -> None:
    path = save_model(textbook, tmp_path / f"model{suffix}")
    back = load_model(path)
    before, after = _snapshot(textbook), _snapshot(back)
    assert before.keys() == after.keys()
    for rid, (lb, ub, gpr, mets, ann) in before.items():
        lb2, ub2, gpr2, mets2, ann2 = after[rid]
        assert (lb, ub) == (lb2, ub2), rid
        assert gpr.replace("(", "").replace(")", "") == gpr2.replace("(", "").replace(")", "")
        assert mets == pytest.approx(mets2)
        if suffix.startswith(".xml"):  # only SBML carries annotations losslessly
            assert ann == ann2, rid
    assert back.slim_optimize() == pytest.approx(0.8739215, abs=1e-6)
    assert not list(tmp_path.glob(".*")), "temporary file left behind"


def test_shipped_models_and_info() -> None:
    ijo = load_model("iJO1366")
    info = model_info(ijo)
    assert (info["reactions"], info["metabolites"], info["genes"]) == (2583, 1805, 1367)
    assert info["objective"] == {"BIOMASS_Ec_iJO1366_core_53p95M": 1.0}
    assert LinearProgram.from_model(ijo).solve().objective == pytest.approx(0.9823718, abs=1e-6)


def test_bad_models(tmp_path: Path, textbook) -> None:
    with pytest.raises(ModelError, match="model file not found"):
        load_model(tmp_path / "absent.xml")
    with pytest.raises(ModelError, match="unknown model name"):
        load_model("iJO1367")
    odd = tmp_path / "model.txt"
    odd.write_text("x")
    with pytest.raises(ModelError, match="unknown model format"):
        load_model(odd)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ModelError, match="cannot read model"):
        load_model(broken)
    with textbook:
        textbook.objective = {}
        no_obj = save_model(textbook, tmp_path / "noobj.json")
    with pytest.raises(ModelError, match="no objective"):
        load_model(no_obj)


def test_sbml_without_fbc_is_refused(tmp_path: Path) -> None:
    import libsbml

    doc = libsbml.SBMLDocument(3, 1)
    m = doc.createModel()
    m.setId("plain")
    c = m.createCompartment()
    c.setId("c")
    c.setConstant(True)
    path = tmp_path / "plain.xml"
    libsbml.writeSBMLToFile(doc, str(path))
    with pytest.raises(ModelError, match="without the FBC package"):
        load_model(path)
    r = _cli("gem", "info", str(path))
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "FBC" in r.stderr


def test_save_never_half_writes(textbook, tmp_path: Path) -> None:
    target = tmp_path / "m.xml"
    target.write_text("previous")
    with pytest.raises(ModelError, match="unknown model format"):
        save_model(textbook, tmp_path / "m.docx")
    assert target.read_text() == "previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.xml"]


def test_media_table_and_apply(textbook) -> None:
    media = load_media(shared_data("metabolism/carveme_benchmark/media_db.tsv"))
    assert {"M9", "LB", "M9[-O2]"} <= set(media)
    assert "o2" in media["M9"].compounds and "o2" not in media["M9[-O2]"].compounds
    glucose = Medium("glc", ("glc__D", "nh4", "pi", "h2o", "h", "co2"), uptake=10.0)
    with textbook:
        apply_medium(textbook, glucose, strict=False)
        anaerobic = textbook.slim_optimize()
        assert textbook.reactions.EX_o2_e.lower_bound == 0.0
        assert textbook.reactions.EX_glc__D_e.lower_bound == -10.0
    assert textbook.reactions.EX_o2_e.lower_bound == -1000.0, "medium leaked out of `with`"
    assert anaerobic == pytest.approx(0.2117, abs=1e-3)  # textbook anaerobic on glucose
    with pytest.raises(ModelError, match="without an exchange"):
        apply_medium(textbook, media["M9"])


def test_bad_media_tables(tmp_path: Path) -> None:
    bad = tmp_path / "media.tsv"
    bad.write_text("medium\tcompound\nM9\tglc__D\n\tnh4\n")
    with pytest.raises(InputError, match=r"row 2.*column 'medium'"):
        load_media(bad)
    bad.write_text("name\tcpd\nM9\tglc__D\n")
    with pytest.raises(InputError, match="missing column"):
        load_media(bad)
    with pytest.raises(InputError, match="unknown medium"):
        get_medium("M10", None)


def test_linear_program_warm_changes_and_pickle(textbook) -> None:
    import pickle

    lp = LinearProgram.from_model(textbook)
    base = lp.solve()
    assert base.ok and base.objective == pytest.approx(0.8739215, abs=1e-7)
    glc = lp.indices(["EX_glc__D_e"])
    with lp.bounds(glc, 0.0, 0.0):  # no carbon cannot pay the ATP maintenance
        assert lp.solve().status == "infeasible"
    with lp.bounds(lp.indices(["PGI"]), 0.0, 0.0):
        assert lp.solve().objective == pytest.approx(0.8631, abs=1e-4)
    assert lp.solve().objective == pytest.approx(base.objective, abs=1e-9)
    with lp.row(lp.indices(["Biomass_Ecoli_core"]), [1.0], 10.0, 1e3):
        assert lp.solve().status == "infeasible"
    with pytest.raises(ModelError, match="infeasible"), lp.bounds(lp.indices(["ATPM"]), 500, 500):
        lp.optimize()
    clone = pickle.loads(pickle.dumps(lp))
    assert clone.solve().objective == pytest.approx(base.objective, abs=1e-9)
    c = np.zeros(lp.n_reactions)
    c[lp.index["EX_ac_e"]] = 1.0
    with lp.objective(c, "max"):
        assert lp.solve().objective > 0
    assert lp.solve().objective == pytest.approx(base.objective, abs=1e-9)
    with pytest.raises(ModelError, match="unknown reaction"):
        lp.indices(["NOPE"])


def test_unbounded_is_reported(textbook) -> None:
    lp = LinearProgram.from_model(textbook)
    lp.set_bounds(np.arange(lp.n_reactions), -np.inf, np.inf)  # no reaction is capped
    assert lp.solve().status == "unbounded"
    with pytest.raises(ModelError, match="unbounded"):
        lp.optimize(label="textbook")


def test_cli_info_json_and_medium() -> None:
    r = _cli("gem", "info", "textbook", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)  # nothing but JSON on stdout (HiGHS banner silenced)
    assert data["reactions"] == 95 and data["objective_value"] == pytest.approx(0.87392, 1e-4)
    r = _cli("gem", "info", "textbook", "--medium", "M9")
    assert r.returncode == 2 and "without an exchange reaction" in r.stderr
    assert r.stderr.strip().count("\n") == 0
    r = _cli("gem", "info", "no_such_model")
    assert r.returncode == 2 and "unknown model name" in r.stderr


def test_cli_convert(tmp_path: Path) -> None:
    target = tmp_path / "tb.json"
    r = _cli("gem", "convert", "textbook", str(target), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(target.read_text())["id"] == "e_coli_core"
