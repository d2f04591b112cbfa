"""Strain design: OptKnock designs verified by COBRApy FVA, envelopes, minimal media, CLI.

Reference case: COBRApy's ``textbook`` (E. coli core) anaerobic on glucose
(EX_o2_e lower bound 0, glucose uptake 10 mmol/gDW/h). Minimum growth of a
design: 10 % of the wild type's maximum (0.0212 1/h).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from cobra.flux_analysis import flux_variability_analysis
from typer.testing import CliRunner

from biofab.cli.gem_design import register
from biofab.core.errors import BiofabError, InputError, ModelError
from biofab.metabolism import load_model
from biofab.metabolism.design import _cut_sets, gene_knockouts, optknock
from biofab.metabolism.envelope import production_envelope
from biofab.metabolism.minimal_medium import minimal_medium

BIOMASS = "Biomass_Ecoli_core"


@pytest.fixture(scope="module")
def anaerobic():
    m = load_model("textbook")
    m.reactions.EX_o2_e.lower_bound = 0.0
    m.reactions.EX_glc__D_e.lower_bound = -10.0
    return m


def cobra_min_production(model, knockouts, target):
    """Maximal growth and minimal target flux at it, by COBRApy + GLPK (independent check)."""
    with model:
        for r in knockouts:
            model.reactions.get_by_id(r).knock_out()
        mu = model.slim_optimize()
        fva = flux_variability_analysis(model, [target], fraction_of_optimum=1.0)
    return mu, float(fva.loc[target, "minimum"])


@pytest.mark.parametrize("target", ["EX_succ_e", "EX_etoh_e", "EX_lac__D_e"])
def test_growth_coupled_designs_verified_by_cobra_fva(anaerobic, target):
    wt = anaerobic.slim_optimize()
    res = optknock(anaerobic, target, max_knockouts=3, min_growth=0.1, n_designs=2)
    assert len(res.designs) == 2
    assert res.wild_type_growth == pytest.approx(wt, rel=1e-6)
    seen = []
    for d in res.designs:
        assert 1 <= len(d.knockouts) <= 3
        assert set(d.knockouts) <= set(res.candidates)
        mu, pmin = cobra_min_production(anaerobic, d.knockouts, target)
        assert mu == pytest.approx(d.max_growth, abs=1e-6)
        assert mu >= 0.1 * wt - 1e-9
        assert pmin > 0.1  # guaranteed production at maximal growth, mmol/gDW/h
        assert pmin == pytest.approx(d.min_production, abs=1e-4)
        # the tilted inner objective makes the MILP's value the guaranteed one
        assert d.milp_objective == pytest.approx(d.min_production, abs=1e-3)
        # integer cuts: no design repeats or contains an earlier one
        assert not any(set(s) <= set(d.knockouts) for s in seen)
        seen.append(d.knockouts)
    best = res.designs[0].min_production
    assert best > res.wild_type_production[0] + 1.0  # far above the wild type's guarantee


def test_wild_type_is_not_coupled_and_candidates_are_sane(anaerobic):
    res = optknock(anaerobic, "EX_succ_e", max_knockouts=1, n_designs=1)
    assert res.wild_type_production[0] == pytest.approx(0.0, abs=1e-6)
    banned = {"ATPM", BIOMASS, "EX_succ_e", "EX_glc__D_e", "PYRt2", "SUCCt3"}
    assert not banned & set(res.candidates)
    # essential reactions are not candidates: e.g. glycolysis' enolase
    assert "ENO" not in res.candidates and "PFL" in res.candidates


def test_gene_cut_sets_and_gene_designs(anaerobic):
    pfl = anaerobic.reactions.PFL
    cuts = _cut_sets(pfl.gpr.body)
    # (b0902 and b3114) or ... or (b3951 and b3952): one subunit of each isoenzyme
    assert frozenset({"b0902", "b3951"}) in cuts and len(cuts) == 4
    for cut in cuts:
        assert not pfl.gpr.eval(set(cut))
    genes, extra = gene_knockouts(anaerobic, ["ACALD", "LDH_D", "THD2"])
    assert genes is not None and extra == ()
    with anaerobic:
        for g in genes:
            anaerobic.genes.get_by_id(g).knock_out()
        for r in ("ACALD", "LDH_D", "THD2"):
            assert anaerobic.reactions.get_by_id(r).bounds == (0.0, 0.0)
    assert gene_knockouts(anaerobic, ["ATPM"]) == (None, ())


def test_envelope_shape(anaerobic):
    wt = production_envelope(anaerobic, "EX_succ_e", points=6)
    ko = production_envelope(anaerobic, "EX_succ_e", ["ACALD", "LDH_D", "THD2"], points=6)
    mu = anaerobic.slim_optimize()
    for env in (wt, ko):
        assert len(env) == 6 and env["growth"].iloc[0] == 0.0
        assert env["growth"].is_monotonic_increasing
        assert (env["min_production"] <= env["max_production"] + 1e-9).all()
        assert env["max_production"].is_monotonic_decreasing  # growth costs carbon
    assert wt["growth"].iloc[-1] == pytest.approx(mu, rel=1e-6)
    assert wt["min_production"].abs().max() < 1e-6  # the wild type need not secrete it
    assert ko["growth"].iloc[-1] < mu
    assert ko["min_production"].iloc[-1] > 9.0  # coupled: forced at maximal growth
    # the design's envelope lies within the wild type's (a deletion only removes options)
    assert ko["max_production"].iloc[0] <= wt["max_production"].iloc[0] + 1e-6
    # same numbers as COBRApy's envelope at the same growth rates
    from cobra.flux_analysis import production_envelope as cobra_envelope

    ref = cobra_envelope(anaerobic, [BIOMASS], objective="EX_succ_e", points=6)
    ref = ref.sort_values(BIOMASS)
    for (_, a), (_, b) in zip(wt.iterrows(), ref.iterrows(), strict=True):
        assert a["growth"] == pytest.approx(b[BIOMASS], rel=1e-6, abs=1e-6)
        assert a["max_production"] == pytest.approx(b["flux_maximum"], abs=1e-5)
        assert a["min_production"] == pytest.approx(b["flux_minimum"], abs=1e-5)


def test_minimal_medium_matches_cobra():
    from cobra.medium import minimal_medium as cobra_minimal_medium

    m = load_model("textbook")  # aerobic, its default medium
    wt = m.slim_optimize()
    ours = minimal_medium(m, 0.1, minimize="components")
    ref = cobra_minimal_medium(m, 0.1 * wt, minimize_components=True)
    assert set(ours.index) == set(ref.index) == {"EX_glc__D_e", "EX_nh4_e", "EX_pi_e"}
    with m:
        m.medium = {k: max(v, 1e-6) for k, v in ours.items()}
        assert m.slim_optimize() >= 0.1 * wt - 1e-6
    ours_f = minimal_medium(m, 0.1, minimize="flux")
    ref_f = cobra_minimal_medium(m, 0.1 * wt, minimize_components=False)
    assert ours_f.sum() == pytest.approx(ref_f.sum(), rel=1e-6)
    absolute = minimal_medium(m, 0.5, relative=False, minimize="flux")
    assert absolute.sum() > ours_f.sum()
    with pytest.raises(InputError):
        minimal_medium(m, 0.1, minimize="cost")
    with pytest.raises(InputError):
        minimal_medium(m, 5.0, relative=False)


def test_bad_input_in_the_api(anaerobic):
    with pytest.raises(ModelError, match="unknown target"):
        optknock(anaerobic, "EX_nope_e")
    with pytest.raises(InputError, match="max-knockouts"):
        optknock(anaerobic, "EX_succ_e", max_knockouts=0)
    with pytest.raises(ModelError, match="unknown knockout"):
        production_envelope(anaerobic, "EX_succ_e", ["NOPE"])
    with anaerobic:
        anaerobic.reactions.ATPM.lower_bound = 500.0  # cannot be met: infeasible
        with pytest.raises(ModelError, match="infeasible"):
            optknock(anaerobic, "EX_succ_e")


# -- CLI ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def app():
    a = typer.Typer()
    register(a)
    return a


def cli(app, args):
    """Invoke like ``biofab.cli.main.main``: a BiofabError means its exit code (2)."""
    res = CliRunner().invoke(app, args, standalone_mode=False)
    if isinstance(res.exception, BiofabError):
        return res.exception.exit_code, str(res.exception)
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise res.exception
    return res.exit_code, res.output


ANAEROBIC = ["--bound", "EX_o2_e=0,1000"]


def test_cli_design_json_and_plot(app, tmp_path: Path):
    plot = tmp_path / "env.html"
    args = ["design", "textbook", "--target", "EX_lac__D_e", "--max-knockouts", "3"]
    code, text = cli(app, args + ANAEROBIC + ["--designs", "1", "--plot", str(plot), "--json"])
    assert code == 0, text
    data = json.loads(text)
    (d,) = data["designs"]
    assert d["coupled"] and d["min_production"] > 1.0 and len(d["knockouts"]) <= 3
    html = plot.read_text()
    assert html.startswith("<!DOCTYPE html>") and "plotly" in html and "wild type" in html


def test_cli_envelope_and_minimal_medium(app, tmp_path: Path):
    plot = tmp_path / "e.html"
    args = ["envelope", "textbook", "--target", "EX_succ_e", "--knockouts", "ACALD,LDH_D,THD2"]
    code, text = cli(app, args + ANAEROBIC + ["--points", "4", "--plot", str(plot), "--json"])
    assert code == 0, text
    env = json.loads(text)["envelopes"]
    assert set(env) == {"wild type", "Δ ACALD, LDH_D, THD2"}
    assert plot.exists()
    code, text = cli(app, ["minimal-medium", "textbook", "--json"])
    assert code == 0 and json.loads(text)["components"] == 3


@pytest.mark.parametrize(
    ("args", "word"),
    [
        (["design", "textbook", "--target", "EX_nope_e"], "EX_nope_e"),
        (["design", "textbook", "--target", "EX_succ_e", "--max-knockouts", "0"], "knockouts"),
        (["design", "textbook", "--target", "EX_succ_e", "--bound", "ATPM=500,1000"], "infeasible"),
        (["design", "textbook", "--target", "EX_succ_e", "--bound", "NOPE=0,1"], "NOPE"),
        (["envelope", "textbook", "--target", "EX_succ_e", "--knockouts", "b9999"], "b9999"),
        (["minimal-medium", "textbook", "--minimize", "cost"], "cost"),
    ],
)
def test_cli_bad_input_one_line_exit_2_no_file(app, tmp_path: Path, args, word):
    plot = tmp_path / "out.html"
    extra = ["--plot", str(plot)] if args[0] != "minimal-medium" else []
    code, text = cli(app, args + extra)
    assert code == 2
    assert word in text and "\n" not in text.strip()
    assert not plot.exists() and list(tmp_path.iterdir()) == []
