"""The metabolism workflows called directly (no CLI): kcat table and ecModel build/scan/plot."""

from __future__ import annotations

import json
from pathlib import Path

import cobra
import pandas as pd
import pytest

from biofab.core.errors import BiofabError, InputError
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


# -- the model commands: info, convert, fba, fva, deletions ------------------------------


BENCH = "metabolism/carveme_benchmark"
ANAEROBIC = {"EX_o2_e": (0.0, 1000.0)}


def test_info_counts_and_optimum() -> None:
    r = wf.info(wf.ModelRequest("textbook"))
    assert r.info["reactions"] == 95 and r.info["status"] == "optimal"
    assert r.to_dict()["objective_value"] == pytest.approx(0.8739, abs=1e-3)
    assert r.to_frame()["item"].tolist() == ["reactions", "metabolites", "genes", "exchanges"]
    anaerobic = wf.info(wf.ModelRequest("textbook", bounds=ANAEROBIC))
    assert anaerobic.info["objective_value"] < r.info["objective_value"]


def test_model_requests_bad_inputs() -> None:
    cases = {
        "unknown model name": wf.ModelRequest("nope_model"),
        "unknown reaction in --bound": wf.ModelRequest("textbook", bounds={"NOPE": (0, 1)}),
        "lower above upper": wf.ModelRequest("textbook", bounds={"EX_o2_e": (5.0, 1.0)}),
        "medium": wf.ModelRequest("textbook", medium="no_such_medium"),
    }
    for match, request in cases.items():
        with pytest.raises(BiofabError, match=match) as err:
            wf.info(request)
        assert "\n" not in str(err.value)
    assert wf.parse_bounds(["EX_o2_e=0,1000", "ATPM=1:2"]) == {
        "EX_o2_e": (0.0, 1000.0),
        "ATPM": (1.0, 2.0),
    }
    for text in ("EX_o2_e", "EX_o2_e=0", "EX_o2_e=a,b"):
        with pytest.raises(InputError, match="bad --bound"):
            wf.parse_bounds([text])


def test_convert_writes_the_model_with_its_medium(tmp_path: Path) -> None:
    out = tmp_path / "core.json"
    r = wf.convert(wf.ConvertRequest("textbook", bounds=ANAEROBIC, out=out))
    assert r.files == [str(out)] and r.to_dict()["out"] == str(out)
    back = load_model(str(out))
    assert back.reactions.EX_o2_e.lower_bound == 0.0 and len(r.to_frame()) == 95
    bad = tmp_path / "bad.json"
    with pytest.raises(BiofabError, match="NOPE"):
        wf.convert(wf.ConvertRequest("textbook", bounds={"NOPE": (0, 1)}, out=bad))
    assert not bad.exists()


def test_fba_and_pfba(tmp_path: Path) -> None:
    out = tmp_path / "fluxes.csv"
    r = wf.fba(wf.FbaRequest("textbook", out=out))
    assert r.objective_value == pytest.approx(0.8739, abs=1e-3) and r.files == [str(out)]
    assert pd.read_csv(out)["reaction"].tolist() == r.to_frame()["reaction"].tolist()
    p = wf.fba(wf.FbaRequest("textbook", pfba=True))
    assert p.to_dict()["method"] == "pfba" and p.total_flux is not None and p.files == []
    assert p.objective_value == pytest.approx(r.objective_value, rel=1e-6)
    bad = tmp_path / "bad.csv"
    with pytest.raises(BiofabError, match="infeasible"):
        wf.fba(wf.FbaRequest("textbook", bounds={"ATPM": (500.0, 1000.0)}, out=bad))
    assert not bad.exists()


def test_fva_ranges(tmp_path: Path) -> None:
    out = tmp_path / "fva.csv"
    r = wf.fva(wf.FvaRequest("textbook", fraction=0.9, reactions=("PGI", "PFK"), out=out))
    frame = r.to_frame()
    assert frame["reaction"].tolist() == ["PGI", "PFK"] and len(pd.read_csv(out)) == 2
    assert (frame["minimum"] <= frame["maximum"] + 1e-9).all()
    assert r.to_dict()["fraction_of_optimum"] == 0.9
    cases = {
        "fraction": wf.FvaRequest("textbook", fraction=1.5, out=out),
        "empty id list": wf.FvaRequest("textbook", reactions=(" ",), out=out),
        "NOPE": wf.FvaRequest("textbook", reactions=("NOPE",), out=out),
        "workers too small": wf.FvaRequest("textbook", workers=0, out=out),
    }
    out.unlink()
    for match, request in cases.items():
        with pytest.raises(BiofabError, match=match):
            wf.fva(request)
        assert not out.exists()


def test_deletions_single_and_double(tmp_path: Path) -> None:
    out = tmp_path / "ko.csv"
    ids = ("PGI", "ENO", "PFK")
    r = wf.deletions(wf.DeletionsRequest("textbook", kind="reaction", ids=ids, out=out))
    frame = r.to_frame()
    assert frame["ids"].tolist() == list(ids) and len(pd.read_csv(out)) == 3
    assert bool(frame.set_index("ids").loc["ENO", "lethal"])  # glycolysis' enolase
    assert r.to_dict()["n_lethal"] >= 1 and r.wild_type_growth > 0.8
    d = wf.deletions(wf.DeletionsRequest("textbook", kind="reaction", ids=ids[:2], double=True))
    assert "ENO;PGI" in set(d.to_frame()["ids"])
    for match, request in {
        "unknown --kind": wf.DeletionsRequest("textbook", kind="protein"),
        "limit too small": wf.DeletionsRequest("textbook", limit=0),
    }.items():
        with pytest.raises(BiofabError, match=match):
            wf.deletions(request)


# -- dFBA ----------------------------------------------------------------------------------


def _scenario(tmp_path: Path, name: str = "scenario.yaml", **changes: object) -> Path:
    import yaml

    data: dict[str, object] = {
        "model": "textbook",
        "biomass": {"initial": 0.05},
        "species": {
            "glucose": {
                "exchange": "EX_glc__D_e",
                "mw": 180.16,
                "initial": 2.0,
                "uptake": {"vmax": 10.0, "km": 0.015},
            },
            "acetate": {"exchange": "EX_ac_e", "mw": 59.04, "initial": 0.0},
        },
        "t_end": 4.0,
        **changes,
    }
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def test_dfba_writes_trajectory_and_page(tmp_path: Path) -> None:
    path = _scenario(tmp_path)
    out, plot = tmp_path / "traj.csv", tmp_path / "dfba.html"
    r = wf.dfba(wf.DfbaRequest(path, out, plot))
    assert r.files == [str(out), str(plot)]
    frame = r.to_frame()
    assert len(pd.read_csv(out)) == len(frame) and frame["time_h"].iloc[-1] <= 4.0 + 1e-9
    assert frame["biomass_gDW_L"].iloc[-1] > 10 * frame["biomass_gDW_L"].iloc[0]
    assert plot.read_text().startswith("<!DOCTYPE html>")
    summary = r.to_dict()
    assert summary["out"] == str(out) and summary["plot"] == str(plot)
    euler = wf.dfba(wf.DfbaRequest(path, method="euler", dt=0.05))
    assert euler.files == [] and euler.result.final()["biomass_gDW_L"] > 0.05


def test_dfba_bad_inputs(tmp_path: Path) -> None:
    path = _scenario(tmp_path)
    out = tmp_path / "traj.csv"
    bad_yaml = _scenario(tmp_path, "bad.yaml", t_end=-1.0)
    cases = {
        "unknown --method": wf.DfbaRequest(path, out, method="rk4"),
        "--dt must be positive": wf.DfbaRequest(path, out, method="euler", dt=0.0),
        "same file": wf.DfbaRequest(path, out, out),
        "scenario file not found": wf.DfbaRequest(tmp_path / "none.yaml", out),
        "t_end": wf.DfbaRequest(bad_yaml, out),
    }
    for match, request in cases.items():
        with pytest.raises(BiofabError, match=match) as err:
            wf.dfba(request)
        assert "\n" not in str(err.value) and not out.exists()


# -- strain design ------------------------------------------------------------------------


def test_design_envelope_and_minimal_medium(tmp_path: Path) -> None:
    plot = tmp_path / "designs.html"
    r = wf.design(
        wf.DesignRequest("textbook", bounds=ANAEROBIC, target="EX_lac__D_e", designs=1, plot=plot)
    )
    (d,) = r.to_dict()["designs"]
    assert d["coupled"] and len(d["knockouts"]) <= 3 and r.files == [str(plot)]
    assert len(r.to_frame()) == 1 and plot.read_text().startswith("<!DOCTYPE html>")
    env = wf.envelope(
        wf.EnvelopeRequest(
            "textbook", bounds=ANAEROBIC, target="EX_succ_e", knockouts=("ACALD",), points=4
        )
    )
    assert set(env.curves) == {"wild type", "Δ ACALD"} and env.files == []
    assert len(env.to_frame()) == 8 and set(env.to_frame()["strain"]) == set(env.curves)
    mm = wf.minimal_medium(wf.MinimalMediumRequest("textbook"))
    assert mm.to_dict()["components"] == 3 and len(mm.to_frame()) == 3


def test_strain_design_bad_inputs(tmp_path: Path) -> None:
    plot = tmp_path / "p.html"
    cases = {
        "EX_nope_e": (wf.design, wf.DesignRequest("textbook", target="EX_nope_e", plot=plot)),
        "knockouts too small": (
            wf.design,
            wf.DesignRequest("textbook", target="EX_succ_e", max_knockouts=0, plot=plot),
        ),
        "b9999": (
            wf.envelope,
            wf.EnvelopeRequest("textbook", target="EX_succ_e", knockouts=("b9999",), plot=plot),
        ),
        "points too small": (
            wf.envelope,
            wf.EnvelopeRequest("textbook", target="EX_succ_e", points=1, plot=plot),
        ),
        "cost": (wf.minimal_medium, wf.MinimalMediumRequest("textbook", minimize="cost")),
    }
    for match, (call, request) in cases.items():
        with pytest.raises(BiofabError, match=match):
            call(request)  # type: ignore[operator]
        assert not plot.exists()


# -- reconstruction and phenotypes ---------------------------------------------------------


def test_reconstruct_a_small_draft(tmp_path: Path) -> None:
    from biofab.metabolism.homology import read_fasta

    bsub = read_fasta(shared_data(f"{BENCH}/fasta/Bsubtilis_168.faa"))
    small = tmp_path / "bsub_small.faa"
    small.write_text("".join(f">{k}\n{v}\n" for k, v in list(bsub.items())[::40]))
    ecoli = shared_data(f"{BENCH}/fasta/Ecoli_K12_MG1655.faa")
    out = tmp_path / "draft.json"
    r = wf.reconstruct(wf.ReconstructRequest(small, (("textbook", ecoli),), out, cpus=1))
    assert r.files == [str(out)] and load_model(str(out)).id == "bsub_small"
    # The benchmark's configuration is the default: connect, growth, medium and
    # catabolic uptake (connect is listed in the summary, not in this table).
    frame = r.to_frame()
    assert frame["step"].tolist() == ["growth", "uptake", "catabolic"]
    assert frame["medium"].tolist() == ["M9"] * 3
    assert any(g.goal == "connect" for g in r.reconstruction.gapfilled)
    summary = r.to_dict()
    assert summary["out"] == str(out) and summary["reactions"] > 0
    plain = wf.reconstruct(
        wf.ReconstructRequest(
            small, (("textbook", ecoli),), tmp_path / "plain.json", cpus=1,
            medium_uptake=False, connect=False, catabolic_uptake=False,
        )
    )  # fmt: skip
    assert plain.to_frame()["step"].tolist() == ["growth"]


def test_reconstruct_bad_inputs(tmp_path: Path) -> None:
    ecoli = shared_data(f"{BENCH}/fasta/Ecoli_K12_MG1655.faa")
    bad = tmp_path / "bad.faa"
    bad.write_text(">p1\nMKVLA\n>p2\nMKV#LA\n")
    other = tmp_path / "other.faa"
    other.write_text(">x1\nMKVLA\n")
    out = tmp_path / "draft.xml"
    cases = {
        "'#'": wf.ReconstructRequest(bad, (("textbook", ecoli),), out),
        "no template": wf.ReconstructRequest(other, (), out),
        "no FASTA id is a gene": wf.ReconstructRequest(other, (("textbook", other),), out),
        "medium": wf.ReconstructRequest(other, (("textbook", ecoli),), out, media=("nope",)),
    }
    for match, request in cases.items():
        with pytest.raises(BiofabError, match=match):
            wf.reconstruct(request)
        assert not out.exists()


def test_essentiality_and_biolog_scores(tmp_path: Path) -> None:
    truth = shared_data(f"{BENCH}/essentiality/ecol.tsv")
    e = wf.essentiality(wf.EssentialityRequest("textbook", truth, medium="M9"))
    assert e.to_dict()["genes_scored"] > 10 and int(e.to_frame()["n"].iloc[0]) > 10
    b = wf.biolog(wf.BiologRequest("textbook", shared_data(f"{BENCH}/biolog/ecol")))
    assert b.to_dict()["without_exchange"] > 0 and 0 <= b.to_frame()["accuracy"].iloc[0] <= 1
    empty = tmp_path / "truth.tsv"
    empty.write_text("")
    cases = {
        "threshold": (wf.essentiality, wf.EssentialityRequest("textbook", truth, threshold=2.0)),
        "truth.tsv": (wf.essentiality, wf.EssentialityRequest("textbook", empty)),
        "none": (wf.biolog, wf.BiologRequest("textbook", tmp_path / "none")),
    }
    for match, (call, request) in cases.items():
        with pytest.raises(BiofabError, match=match) as err:
            call(request)  # type: ignore[operator]
        assert "\n" not in str(err.value)
