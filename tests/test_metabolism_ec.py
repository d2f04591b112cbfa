"""Enzyme-constrained models: costs from GPRs, SBML round trip, overflow, ensembles, bad input."""

from __future__ import annotations

import json

import cobra
import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from biofab.cli.gem_ec import register
from biofab.core.errors import InputError
from biofab.metabolism import LinearProgram, load_model, save_model
from biofab.metabolism.ecmodel import (
    POOL_ID,
    POOL_REACTION,
    REV_SUFFIX,
    build_ec_model,
    calibrate_kcats,
    ensemble_scan,
    gpr_complexes,
    scale_kcats,
    scan_uptake,
)
from biofab.metabolism.kcats import (
    ecoli_kcat_table,
    kcats_from_predictor,
    protein_mass,
    protein_masses,
    read_kcat_table,
)
from conftest import shared_data

MW = {"g1": 100_000.0, "g2": 20_000.0, "g3": 30_000.0, "g4": 50_000.0}


def toy_model() -> cobra.Model:
    """A_e -> A -> B -> C -> C_e; R1 reversible with isoenzymes g1 | (g2 & g3)."""
    m = cobra.Model("toy")
    mets = {
        k: cobra.Metabolite(k, compartment="e" if k.endswith("_e") else "c")
        for k in ("A_e", "A", "B", "C", "C_e")
    }

    def rxn(rid: str, stoich: dict[str, float], lb: float, ub: float, gpr: str = "") -> None:
        r = cobra.Reaction(rid, lower_bound=lb, upper_bound=ub)
        r.add_metabolites({mets[k]: v for k, v in stoich.items()})
        m.add_reactions([r])
        r.gene_reaction_rule = gpr

    rxn("EX_A_e", {"A_e": -1}, -10, 1000)
    rxn("At", {"A_e": -1, "A": 1}, 0, 1000)
    rxn("R1", {"A": -1, "B": 1}, -1000, 1000, "g1 or (g2 and g3)")
    rxn("R2", {"B": -1, "C": 1}, 0, 1000, "g4 or s0001")
    rxn("Ct", {"C": -1, "C_e": 1}, 0, 1000)
    rxn("EX_C_e", {"C_e": -1}, 0, 1000)
    m.objective = "EX_C_e"
    return m


def test_protein_mass_uses_average_residue_masses() -> None:
    # Glycylglycine: 2 x 57.0519 + water = 132.12 g/mol.
    assert protein_mass("GG") == pytest.approx(132.119, abs=1e-3)
    assert protein_mass("GG*") == protein_mass("GG")
    with pytest.raises(InputError):
        protein_mass("GG1")


def test_gpr_complexes_and_costs_on_a_hand_made_model() -> None:
    m = toy_model()
    assert gpr_complexes(m.reactions.R1) == [frozenset({"g1"}), frozenset({"g2", "g3"})]
    assert gpr_complexes(m.reactions.R2) == [frozenset({"g4"})]  # spontaneous s0001 dropped
    ec = build_ec_model(m, {"R1": 10.0, "R2": 5.0}, MW, pool=0.01)
    costs = ec.costs.set_index("reaction")
    # The complex g2+g3 (50 kDa) is cheaper than g1 (100 kDa) at the same kcat.
    assert costs.loc["R1", "enzyme"] == "g2+g3"
    assert costs.loc["R1", "mw"] == pytest.approx(50_000.0)
    assert costs.loc["R1", "cost"] == pytest.approx(50_000 / (3600 * 1000 * 10))
    assert costs.loc["R2", "cost"] == pytest.approx(50_000 / (3600 * 1000 * 5))
    rxns = ec.model.reactions
    assert rxns.R1.lower_bound == 0 and ("R1" + REV_SUFFIX) in rxns
    assert rxns.get_by_id("R1" + REV_SUFFIX).metabolites[ec.model.metabolites.B] == -1
    assert rxns.get_by_id(POOL_REACTION).upper_bound == 0.01
    # Pool: v * (cost_R1 + cost_R2) <= 0.01 g/gDW.
    expected = 0.01 / (costs.loc["R1", "cost"] + costs.loc["R2", "cost"])
    assert ec.lp().optimize().objective == pytest.approx(expected, rel=1e-6)
    assert m.slim_optimize() == pytest.approx(10.0)  # the input model is unchanged

    # An isoenzyme-specific kcat (gene column) makes g1 the cheaper choice.
    table = pd.DataFrame(
        {"reaction": ["R1", "R1", "R2"], "gene": ["g1", None, None], "kcat": [100.0, 10.0, 5.0]}
    )
    ec2 = build_ec_model(m, table, MW, pool=0.01)
    assert ec2.costs.set_index("reaction").loc["R1", "enzyme"] == "g1"

    # A measured abundance caps its enzyme: v_R2 <= 1e-4 mmol/gDW * 3600 * 5 /h.
    ec3 = build_ec_model(m, {"R1": 10.0, "R2": 5.0}, MW, pool=1.0, proteomics={"g4": 1e-4})
    assert ec3.lp().optimize().objective == pytest.approx(1e-4 * 3600 * 5, rel=1e-6)


@pytest.fixture(scope="module")
def textbook_ec() -> tuple[cobra.Model, object]:
    m = load_model("textbook")
    kc = {r.id: 20.0 for r in m.reactions if r.genes}
    return m, build_ec_model(m, kc, pool=0.1)


def test_sbml_round_trip_keeps_growth(textbook_ec, tmp_path) -> None:
    _, ec = textbook_ec
    path = save_model(ec.model, tmp_path / "ec.xml")
    back = cobra.io.read_sbml_model(str(path))
    assert POOL_ID in back.metabolites and POOL_REACTION in back.reactions
    assert len(back.reactions) == len(ec.model.reactions)
    growth = ec.lp().optimize().objective
    assert growth < load_model("textbook").slim_optimize()  # the pool binds
    assert back.slim_optimize() == pytest.approx(growth, rel=1e-6)


def test_ensemble_shapes_and_predictor(textbook_ec) -> None:
    m, ec = textbook_ec
    res = ensemble_scan(ec, [2.0, 5.0, 10.0], 3, seed=1, log10_std=0.5)
    assert res["growth"].shape == (3, 3) and res["product"].shape == (3, 3)
    assert res["factors"].shape == (3, len(ec.costs))
    assert np.all(np.isfinite(res["growth"])) and res["growth"].std(axis=0).max() > 0

    def predict(reactions):  # any callable giving log10 kcat means and stds
        return np.full(len(reactions), 1.0), np.full(len(reactions), 0.4)

    table = kcats_from_predictor(m, predict)
    assert len(table) == len(ec.costs) and set(table["log10_std"]) == {0.4}
    assert np.allclose(table["kcat"], 10.0)


@pytest.fixture(scope="module")
def ijo_ec():
    m = load_model("iJO1366")
    catpred = [shared_data(f"enzymes/catpred_kcat_random_{s}.csv") for s in ("test", "val")]
    table = ecoli_kcat_table(m, catpred)
    mw = protein_masses(shared_data("metabolism/carveme_benchmark/fasta/Ecoli_K12_MG1655.faa"))
    ec = build_ec_model(m, table, mw, pool=0.095)
    factors, _ = calibrate_kcats(ec, 0.7, uptake_cap=10.0)
    table = scale_kcats(table, list(ec.costs["reaction"]), factors)
    return m, table, build_ec_model(m, table, mw, pool=0.095)


def test_ecoli_kcat_table_sources(ijo_ec) -> None:
    _, table, _ = ijo_ec
    counts = table["source"].value_counts()
    assert set(counts.index) == {"uniprot", "ec", "default"}
    assert counts["uniprot"] > 200 and counts["ec"] > 300
    assert (table["kcat"] > 0).all()


def test_overflow_ecmodel_secretes_acetate_above_a_threshold(ijo_ec) -> None:
    m, _, ec = ijo_ec
    grid = [1.0, 3.0, 5.0, 7.0, 9.0, 11.0, 13.0, 15.0]
    plain = scan_uptake(LinearProgram.from_model(m), grid)
    scan = scan_uptake(ec.lp(), grid)
    assert plain["product"].abs().max() < 1e-6  # no acetate without the enzyme pool
    low = scan[scan["uptake_cap"] <= 5.0]
    high = scan[scan["uptake_cap"] >= 11.0]
    assert low["product"].abs().max() < 1e-6
    assert (high["product"] > 1.0).all()
    assert (np.diff(scan["growth"]) >= -1e-9).all()  # growth never falls with more glucose


def test_recalibrated_ensemble_members_keep_the_measured_growth(ijo_ec) -> None:
    _, _, ec = ijo_ec
    res = ensemble_scan(ec, [5.0, 10.0], 2, seed=3, calibrate=(0.7, 10.0))
    assert (res["growth"][:, 1] >= 0.7 - 1e-6).all()  # every member calibrated at 10
    assert (res["product"][:, 0] < 1e-6).all()  # no overflow at low uptake in any member


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.callback()
    def _root() -> None:  # keep subcommand names
        pass

    return app


@pytest.mark.parametrize(("kcat", "column"), [("-3", "kcat"), ("", "kcat"), ("abc", "kcat")])
def test_bad_kcat_table_exits_2_without_output(tmp_path, kcat, column) -> None:
    table = tmp_path / "kcats.csv"
    table.write_text(f"reaction,kcat\nPGI,10\nPFK,{kcat}\n")
    with pytest.raises(InputError) as err:
        read_kcat_table(table)
    assert "row 2" in str(err.value) and f"column '{column}'" in str(err.value)
    out = tmp_path / "ec.xml"
    # biofab's entry point (biofab.cli.main.main) prints str(err) and exits with
    # err.exit_code for a BiofabError; the command must raise one before writing.
    res = CliRunner().invoke(
        _app(),
        ["ec", "textbook", "--kcats", str(table), "--out", str(out)],
        standalone_mode=False,
    )
    assert isinstance(res.exception, InputError), res.output
    assert res.exception.exit_code == 2 and "\n" not in str(res.exception)
    assert not out.exists()


def test_kcat_table_without_a_required_column_names_it(tmp_path) -> None:
    table = tmp_path / "kcats.csv"
    table.write_text("reaction,turnover\nPGI,10\n")
    with pytest.raises(InputError) as err:
        read_kcat_table(table)
    text = str(err.value)
    # the missing column is named as the column, the file's own columns as found
    assert "column 'kcat'" in text and "turnover" in text and "\n" not in text


def test_cli_ec_writes_model_and_plot(tmp_path) -> None:
    m = load_model("textbook")
    table = tmp_path / "kcats.csv"
    pd.DataFrame({"reaction": [r.id for r in m.reactions if r.genes], "kcat": 20.0}).to_csv(
        table, index=False
    )
    out, plot = tmp_path / "ec.xml", tmp_path / "overflow.html"
    res = CliRunner().invoke(
        _app(),
        [
            "ec",
            "textbook",
            "--kcats",
            str(table),
            "--out",
            str(out),
            "--pool",
            "0.1",
            "--ensemble",
            "2",
            "--log10-std",
            "0.3",
            "--uptakes",
            "2:10:4",
            "--plot",
            str(plot),
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["enzymatic_reactions"] > 50 and len(data["scan"]["growth"]) == 3
    assert out.exists() and plot.read_text().startswith("<!DOCTYPE html>")
