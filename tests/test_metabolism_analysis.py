"""FBA, pFBA, FVA and deletion scans on HiGHS against COBRApy + GLPK (real solvers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from biofab.cli.gem_analysis import register
from biofab.core.errors import BiofabError, ModelError
from biofab.metabolism import load_model
from biofab.metabolism.analysis import compress, fba, flux_variability, pfba
from biofab.metabolism.deletions import double_deletions, single_deletions
from biofab.metabolism.lp import LinearProgram

TOL = 1e-6


@pytest.fixture(scope="module")
def textbook() -> Any:
    return load_model("textbook")


@pytest.fixture(scope="module")
def ijo() -> Any:
    return load_model("iJO1366")


def by_ids(frame: pd.DataFrame) -> dict[frozenset[str], tuple[float, str]]:
    return {
        frozenset(i): (float(g), str(s))
        for i, g, s in zip(frame["ids"], frame["growth"], frame["status"], strict=True)
    }


def assert_same_deletions(ours: pd.DataFrame, cobra_frame: pd.DataFrame) -> None:
    a, b = by_ids(ours), by_ids(cobra_frame)
    assert a.keys() == b.keys()
    for key, (growth, status) in a.items():
        ref_growth, ref_status = b[key]
        assert status == ref_status, key
        if status == "optimal":
            assert abs(growth - ref_growth) < TOL, key
        else:
            assert np.isnan(growth)


# -- textbook against COBRApy --------------------------------------------------------


def test_fba_textbook(textbook: Any) -> None:
    res = fba(textbook)
    assert res.objective_value == pytest.approx(0.8739, abs=1e-4)
    assert abs(res.objective_value - textbook.slim_optimize()) < TOL
    # the fluxes are a steady state within bounds
    lp = LinearProgram.from_model(textbook)
    v = res.fluxes.to_numpy()
    assert np.abs(lp.S @ v).max() < 1e-8
    assert np.all(v >= lp.lb - 1e-8) and np.all(v <= lp.ub + 1e-8)


def test_pfba_textbook(textbook: Any) -> None:
    from cobra.flux_analysis import pfba as cobra_pfba

    ours = pfba(textbook)
    ref = cobra_pfba(textbook)
    assert abs(ours.total_flux - ref.objective_value) < TOL  # type: ignore[operator]
    assert abs(ours.objective_value - ref.fluxes["Biomass_Ecoli_core"]) < TOL
    assert (ours.fluxes - ref.fluxes).abs().max() < TOL
    assert pfba(textbook, fraction=0.5).total_flux < ours.total_flux  # type: ignore[operator]


@pytest.mark.parametrize("fraction", [1.0, 0.9, 0.0])
def test_fva_textbook(textbook: Any, fraction: float) -> None:
    from cobra.flux_analysis import flux_variability_analysis

    ours = flux_variability(textbook, fraction_of_optimum=fraction, workers=1)
    ref = flux_variability_analysis(textbook, fraction_of_optimum=fraction, processes=1)
    assert list(ours.columns) == ["minimum", "maximum"]
    assert list(ours.index) == list(ref.index)
    assert (ours - ref).abs().to_numpy().max() < TOL


def test_fva_subset_in_two_processes(textbook: Any) -> None:
    from cobra.flux_analysis import flux_variability_analysis

    ids = ["PGI", "EX_o2_e", "ACALD", "Biomass_Ecoli_core", "PFK"]
    ours = flux_variability(textbook, ids, 0.95, workers=2)
    ref = flux_variability_analysis(textbook, ids, fraction_of_optimum=0.95, processes=1)
    assert list(ours.index) == ids
    assert (ours - ref.loc[ids]).abs().to_numpy().max() < TOL


def test_single_deletions_textbook(textbook: Any) -> None:
    from cobra.flux_analysis import single_gene_deletion, single_reaction_deletion

    genes = single_deletions(textbook, "gene", workers=1)
    assert_same_deletions(genes, single_gene_deletion(textbook, processes=1))
    reactions = single_deletions(textbook, "reaction", workers=2)
    assert_same_deletions(reactions, single_reaction_deletion(textbook, processes=1))
    wt = genes.attrs["wild_type"]
    assert genes["lethal"].to_numpy().tolist() == (~(genes["growth"] >= 0.01 * wt)).tolist()


def test_double_deletions_textbook(textbook: Any) -> None:
    from cobra.flux_analysis import double_gene_deletion, double_reaction_deletion

    genes = sorted(g.id for g in textbook.genes)[:45]
    ours = double_deletions(textbook, genes, workers=1)
    assert len(ours) == 45 * 44 // 2 + 45  # unordered pairs plus {a, a}
    assert_same_deletions(ours, double_gene_deletion(textbook, genes, processes=1))
    # ATPM is forced to carry flux: closing it relaxes the LP, so the pair
    # {ATPM, EX_glc__D_e} grows (0) although EX_glc__D_e alone is infeasible.
    rxns = ["ATPM", "EX_glc__D_e", "PGI", "PFK", "ENO", "CS", "EX_o2_e", "ACKr"]
    ours = double_deletions(textbook, rxns, ["ATPM", "PGI", "TPI"], kind="reaction", workers=2)
    ref = double_reaction_deletion(textbook, rxns, ["ATPM", "PGI", "TPI"], processes=1)
    assert_same_deletions(ours, ref)
    assert by_ids(ours)[frozenset({"ATPM", "EX_glc__D_e"})] == (0.0, "optimal")


def test_compression_is_exact(textbook: Any) -> None:
    lp = LinearProgram.from_model(textbook)
    packed = compress(lp)
    assert packed is not None
    assert packed.lp.n_reactions < lp.n_reactions
    sol = packed.lp.optimize()
    assert sol.fluxes is not None
    v = packed.expand(sol.fluxes)
    assert abs(sol.objective - lp.optimize().objective) < 1e-9
    assert np.abs(lp.S @ v).max() < 1e-8


# -- iJO1366 -----------------------------------------------------------------------


def test_fba_ijo1366(ijo: Any) -> None:
    assert fba(ijo).objective_value == pytest.approx(0.9824, abs=1e-4)


def test_single_gene_deletion_ijo1366_matches_cobra(ijo: Any) -> None:
    from cobra.flux_analysis import single_gene_deletion

    ours = single_deletions(ijo, "gene", workers=1)
    wt = ours.attrs["wild_type"]
    lethal = {next(iter(i)) for i, dead in zip(ours["ids"], ours["lethal"], strict=True) if dead}
    assert len(lethal) == 208
    assert {"b0720", "b2780", "b0134", "b3729"} <= lethal  # gltA, pyrG, panB, glmS
    assert "b2914" not in lethal  # rpiA: rpiB (b4090) takes over
    assert ours.attrs["lp_solved"] < 300  # most knockouts are proved moot without an LP
    ref = single_gene_deletion(ijo, processes=1)
    assert_same_deletions(ours, ref)
    ref_lethal = {
        next(iter(i)) for i, g in zip(ref["ids"], ref["growth"], strict=True) if not g >= 0.01 * wt
    }
    assert lethal == ref_lethal


def test_fva_ijo1366_matches_cobra_at_tight_tolerance(ijo: Any) -> None:
    """At fraction 1.0 the optimum row leaves no slack, so micro-fluxes (the
    iron-sulfur assembly routes carry 2e-6 mmol/gDW/h) sit at the solvers'
    feasibility tolerance: GLPK at its default 1e-7 reports OPHHX3 up to 2.2e-4,
    at 1e-9 it agrees with biofab (HiGHS at 1e-10) to 1e-7."""
    from cobra.flux_analysis import flux_variability_analysis

    ids = ["I2FE2SR", "S2FE2SR", "OPHHX3"] + [r.id for r in ijo.reactions[:150]]
    ours = flux_variability(ijo, reactions=ids, workers=1)
    default = ijo.tolerance
    ijo.tolerance = 1e-9
    try:
        ref = flux_variability_analysis(ijo, reaction_list=ids, processes=1)
    finally:
        ijo.tolerance = default
    diff = (ours - ref.loc[ours.index]).abs().to_numpy().max()
    assert diff < TOL
    assert ours.loc["I2FE2SR", "minimum"] == pytest.approx(1.9647e-6, abs=1e-9)


# -- bad input -------------------------------------------------------------------------


def test_unknown_ids(textbook: Any) -> None:
    with pytest.raises(ModelError, match="nope"):
        single_deletions(textbook, "gene", ["b0008", "nope"])
    with pytest.raises(ModelError, match="XYZ"):
        flux_variability(textbook, ["PGI", "XYZ"])
    with pytest.raises(ModelError, match="kind"):
        single_deletions(textbook, "metabolite")


def infeasible_copy(model: Any) -> Any:
    broken = model.copy()
    broken.reactions.ATPM.lower_bound = 500.0
    return broken


def test_infeasible_model_one_line(textbook: Any) -> None:
    broken = infeasible_copy(textbook)
    for call in (fba, pfba, flux_variability, single_deletions):
        with pytest.raises(ModelError, match="infeasible") as err:
            call(broken)
        assert "\n" not in str(err.value)


# -- CLI -------------------------------------------------------------------------------


def cli(*args: str) -> tuple[int, str]:
    app = typer.Typer()
    register(app)
    res = CliRunner().invoke(app, list(args), standalone_mode=False)
    if isinstance(res.exception, BiofabError):
        return res.exception.exit_code, str(res.exception)
    if res.exception is not None:
        raise res.exception
    return res.exit_code, res.output


def test_cli_fba_and_pfba(tmp_path: Path) -> None:
    import json

    code, text = cli("fba", "textbook", "--json", "--out", str(tmp_path / "f.csv"))
    assert code == 0
    data = json.loads(text)
    assert data["objective_value"] == pytest.approx(0.8739, abs=1e-4)
    table = pd.read_csv(tmp_path / "f.csv")
    assert list(table.columns) == ["reaction", "flux"] and len(table) == 95
    code, text = cli("fba", "textbook", "--pfba")
    assert code == 0 and "total flux 518.42" in text


def test_cli_fva_and_deletions(tmp_path: Path) -> None:
    import json

    code, text = cli("fva", "textbook", "--fraction", "0.9", "--reactions", "PGI,PFK", "--json")
    assert code == 0
    ranges = json.loads(text)["ranges"]
    assert [r["reaction"] for r in ranges] == ["PGI", "PFK"]
    out = tmp_path / "dels.csv"
    code, text = cli(
        "deletions", "textbook", "--kind", "gene", "--limit", "10", "--workers", "1",
        "--out", str(out),
    )  # fmt: skip
    assert code == 0 and "lethal" in text
    table = pd.read_csv(out)
    assert list(table.columns) == ["ids", "growth", "status", "lethal", "relative"]
    assert len(table) == 10
    code, text = cli(
        "deletions", "textbook", "--kind", "reaction", "--double", "--ids", "PGI,G6PDH2r,GND",
        "--json",
    )  # fmt: skip
    assert code == 0
    data = json.loads(text)
    assert data["n_knockouts"] == 6 and data["double"] is True


def test_cli_bad_input_leaves_no_file(tmp_path: Path, textbook: Any) -> None:
    from cobra.io import save_json_model

    out = tmp_path / "x.csv"
    code, text = cli("deletions", "textbook", "--ids", "b0008,bogus", "--out", str(out))
    assert code == 2 and "bogus" in text and "\n" not in text
    code, text = cli("fva", "textbook", "--reactions", "PGI,NOPE", "--out", str(out))
    assert code == 2 and "NOPE" in text
    code, text = cli("deletions", "textbook", "--kind", "protein", "--out", str(out))
    assert code == 2 and "protein" in text
    code, text = cli("fva", "textbook", "--fraction", "1.5", "--out", str(out))
    assert code == 2
    broken = tmp_path / "broken.json"
    save_json_model(infeasible_copy(textbook), str(broken))
    for command in ("fba", "fva", "deletions"):
        code, text = cli(command, str(broken), "--out", str(out))
        assert code == 2 and "infeasible" in text and "\n" not in text
    assert list(tmp_path.iterdir()) == [broken]
