"""Genome-scale strain design machinery, checked on E. coli core (``textbook``).

Network compression (blocked reactions against COBRApy's own finder, coupled
groups against LP optima of the uncompressed network), candidate reduction
(lumping never changes the best design: same optimum with and without it),
OptKnock on an sMOMENT ecModel (designs verified by COBRApy FVA on the
ecModel), the minimal-yield check of plain designs under enzyme constraints,
and bad input. Medium: anaerobic glucose (EX_o2_e lower bound 0, glucose
uptake 10 mmol/gDW/h). Genome-scale runs (iJO1366) live in
``benchmarks/strain_design.py``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import typer
from cobra.flux_analysis import find_blocked_reactions, flux_variability_analysis
from typer.testing import CliRunner

from biofab.cli.gem_design import register
from biofab.core.errors import BiofabError, InputError, ModelError
from biofab.metabolism import load_model
from biofab.metabolism.compression import blocked_reactions, compress, coupled_groups
from biofab.metabolism.design import optknock, select_candidates, verify_design
from biofab.metabolism.ecmodel import REV_SUFFIX, build_ec_model
from biofab.metabolism.lp import LinearProgram

BIOMASS = "Biomass_Ecoli_core"


@pytest.fixture(scope="module")
def anaerobic():
    m = load_model("textbook")
    m.reactions.EX_o2_e.lower_bound = 0.0
    m.reactions.EX_glc__D_e.lower_bound = -10.0
    return m


@pytest.fixture(scope="module")
def anaerobic_ec(anaerobic):
    kc = {r.id: 20.0 for r in anaerobic.reactions if r.genes}
    # a pool small enough to bind anaerobically (enzyme-limited growth)
    return build_ec_model(anaerobic, kc, pool=0.1).model


def test_blocked_reactions_match_cobra(anaerobic):
    lp = LinearProgram.from_model(anaerobic)
    ours = set(blocked_reactions(lp))
    ref = set(find_blocked_reactions(anaerobic, open_exchanges=False))
    assert ours == ref
    assert "EX_o2_e" in ours  # anaerobic: oxygen uptake cannot run


def test_coupled_groups_hold_in_every_lp_optimum(anaerobic):
    lp = LinearProgram.from_model(anaerobic)
    comp = compress(lp, representatives=[BIOMASS, "EX_succ_e"])
    assert comp.n_groups < lp.n_reactions - len(comp.blocked)  # something was lumped
    assert comp.members[comp.group_of[BIOMASS]][0] == BIOMASS
    # the compressed program has the same optimum and expands to a steady state
    full = lp.optimize().objective
    small = comp.lp.optimize()
    assert small.objective == pytest.approx(full, rel=1e-9)
    assert small.fluxes is not None
    v = comp.expand(small.fluxes, lp.reaction_ids)
    assert np.abs(lp.S @ v).max() < 1e-8
    assert np.all(v >= lp.lb - 1e-8) and np.all(v <= lp.ub + 1e-8)
    # every group's ratios hold in optima of random objectives on the uncompressed LP
    rng = np.random.default_rng(0)
    multi = [(m, r) for m, r in zip(comp.members, comp.ratios, strict=True) if len(m) > 1]
    assert multi
    for _ in range(5):
        with lp.objective(rng.normal(size=lp.n_reactions), "max"):
            sol = lp.solve()
        assert sol.ok and sol.fluxes is not None
        for members, ratios in multi:
            f = sol.fluxes[lp.indices(members)]
            assert f == pytest.approx(ratios * f[0], abs=1e-7)


def test_coupled_groups_of_a_chain():
    # A -> B -> C -> (out) with a 2:1 step; D is a dead end (structurally zero)
    S = np.array(
        [
            [1, -1, 0, 0, 0],  # A
            [0, 2, -1, 0, 0],  # B
            [0, 0, 1, -1, 0],  # C
            [0, 0, 0, 0, 1],  # D: only made
        ],
        dtype=float,
    )
    groups = {tuple(g.tolist()): r.tolist() for g, r in coupled_groups(S)}
    assert groups[(0, 1, 2, 3)] == pytest.approx([1.0, 1.0, 2.0, 2.0])
    assert groups[(4,)] == [1.0]


def test_lumping_reduces_candidates_but_not_the_optimum(anaerobic):
    wt = anaerobic.slim_optimize()
    cand = select_candidates(anaerobic, "EX_succ_e", min_growth=0.1 * wt)
    n = cand.counts
    assert n["reactions"] == len(anaerobic.reactions)
    assert n["eligible"] >= n["unblocked"] >= n["non_essential"] > n["lumped"] == len(cand.units)
    # a coupled alternative is deleted with the same effect as its representative
    rep, alts = next((r, a) for r, a in cand.coupled.items() if a)
    for other in alts:
        assert verify_design(anaerobic, "EX_succ_e", [other]) == pytest.approx(
            verify_design(anaerobic, "EX_succ_e", [rep]), abs=1e-7
        )
    kw = dict(max_knockouts=2, n_designs=1, mip_gap=0.0)
    lumped = optknock(anaerobic, "EX_lac__D_e", **kw)
    plain = optknock(anaerobic, "EX_lac__D_e", lump=False, **kw)
    assert lumped.milp_size["binaries"] < plain.milp_size["binaries"]
    assert lumped.milp_size["columns"] < plain.milp_size["columns"]
    (a,), (b,) = lumped.designs, plain.designs
    assert a.milp_status == b.milp_status == "optimal" and a.milp_gap == pytest.approx(0, abs=1e-9)
    assert a.min_production == pytest.approx(b.min_production, abs=1e-5)
    assert a.min_production > 1.0


@pytest.mark.parametrize("target", ["EX_succ_e", "EX_etoh_e"])
def test_exact_search_matches_the_proved_milp(anaerobic, target):
    kw = dict(max_knockouts=3, n_designs=1)
    milp = optknock(anaerobic, target, mip_gap=0.0, **kw)
    search = optknock(anaerobic, target, method="search", **kw)
    assert search.status == "optimal" and milp.designs[0].milp_status == "optimal"
    (a,), (b,) = milp.designs, search.designs
    assert b.min_production == pytest.approx(a.min_production, abs=1e-5)
    assert b.milp_gap == 0.0 and len(b.knockouts) <= 3
    mu, pmin = _cobra_ec_check(anaerobic, b.knockouts, target)  # plain model: no _REV halves
    assert mu == pytest.approx(b.max_growth, abs=1e-6) and pmin == pytest.approx(
        b.min_production, abs=1e-4
    )
    assert search.milp_size["search_nodes"] > 1


def _cobra_ec_check(ec, knockouts, target):
    """Max growth and min target flux at it on the ecModel, by COBRApy + GLPK."""
    with ec:
        for r in knockouts:
            for rid in (r, r + REV_SUFFIX):
                if rid in ec.reactions:
                    ec.reactions.get_by_id(rid).knock_out()
        mu = ec.slim_optimize()
        fva = flux_variability_analysis(ec, [target], fraction_of_optimum=1.0)
    return mu, float(fva.loc[target, "minimum"])


def test_optknock_on_the_ecmodel_is_growth_coupled(anaerobic, anaerobic_ec):
    ec = anaerobic_ec
    wt_ec = ec.slim_optimize()
    assert wt_ec < anaerobic.slim_optimize() - 1e-3  # the enzyme pool binds
    res = optknock(ec, "EX_succ_e", max_knockouts=2, n_designs=2, mip_gap=0.0)
    assert res.designs and res.status in ("optimal", "no further coupled design")
    assert res.candidate_counts["lumped"] < res.candidate_counts["non_essential"]
    assert not any(c.endswith(REV_SUFFIX) for c in res.candidates)  # one unit per reaction
    for d in res.designs:
        mu, pmin = _cobra_ec_check(ec, d.knockouts, "EX_succ_e")
        assert mu == pytest.approx(d.max_growth, abs=1e-6) and mu >= 0.1 * wt_ec - 1e-9
        assert pmin == pytest.approx(d.min_production, abs=1e-4) and pmin > 0.5
        assert d.milp_objective == pytest.approx(d.min_production, abs=1e-3)
        assert d.genes is not None  # every knockout maps to a gene deletion
    assert res.designs[0].milp_gap == pytest.approx(0.0, abs=1e-9)


def test_plain_designs_checked_under_enzyme_constraints(anaerobic, anaerobic_ec):
    plain = optknock(anaerobic, "EX_etoh_e", max_knockouts=2, n_designs=2)
    assert plain.designs
    for d in plain.designs:
        mu, lo, hi = verify_design(anaerobic_ec, "EX_etoh_e", d.knockouts)
        ref_mu, ref_lo = _cobra_ec_check(anaerobic_ec, d.knockouts, "EX_etoh_e")
        assert mu == pytest.approx(ref_mu, abs=1e-6) and lo == pytest.approx(ref_lo, abs=1e-4)
        assert lo <= hi + 1e-9
    # a gene id stands for the reactions its GPR loses (both halves of a reversible one)
    rxn = next(
        r
        for r in anaerobic.reactions
        if len(r.genes) == 1 and r.id + REV_SUFFIX in anaerobic_ec.reactions
    )
    (g,) = [x.id for x in rxn.genes]
    assert verify_design(anaerobic_ec, "EX_lac__D_e", [g]) == pytest.approx(
        verify_design(anaerobic_ec, "EX_lac__D_e", [rxn.id]), abs=1e-7
    )


def test_bad_input(anaerobic, anaerobic_ec):
    with pytest.raises(ModelError, match="unknown knockout"):
        verify_design(anaerobic_ec, "EX_succ_e", ["NOPE"])
    with pytest.raises(ModelError, match="unknown target"):
        verify_design(anaerobic, "EX_nope_e", ["PFL"])
    with pytest.raises(ModelError, match="unknown candidate"):
        optknock(anaerobic, "EX_succ_e", candidates=["PFL", "NOPE"])
    with pytest.raises(InputError, match="design method"):
        optknock(anaerobic, "EX_succ_e", method="guess")


# -- CLI ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def app():
    a = typer.Typer()
    register(a)
    return a


def cli(app, args):
    res = CliRunner().invoke(app, args, standalone_mode=False)
    if isinstance(res.exception, BiofabError):
        return res.exception.exit_code, str(res.exception)
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise res.exception
    return res.exit_code, res.output


ANAEROBIC = ["--bound", "EX_o2_e=0,1000"]


def test_cli_design_reports_reduction_and_gap(app):
    args = ["design", "textbook", "--target", "EX_succ_e", "--max-knockouts", "2"]
    code, text = cli(app, args + ANAEROBIC + ["--designs", "1", "--mip-gap", "0", "--json"])
    assert code == 0, text
    data = json.loads(text)
    counts = data["candidate_counts"]
    assert counts["lumped"] == data["n_candidates"] < counts["non_essential"]
    (d,) = data["designs"]
    assert d["coupled"] and d["milp_gap"] == pytest.approx(0.0, abs=1e-9)
    code, text = cli(app, args + ANAEROBIC + ["--designs", "1", "--no-lump"])
    assert code == 0, text
    flat = " ".join(text.split())  # Rich wraps lines at the terminal width
    assert "non-essential (no lumping)" in flat and "after lumping" not in flat


@pytest.mark.parametrize(
    ("extra", "word"),
    [
        (["--mip-gap", "-0.1"], "mip-gap"),
        (["--mip-gap", "2"], "mip-gap"),
        (["--method", "guess"], "guess"),
    ],
)
def test_cli_bad_gap_one_line_exit_2(app, extra, word):
    args = ["design", "textbook", "--target", "EX_succ_e", *ANAEROBIC, *extra]
    code, text = cli(app, args)
    assert code == 2 and word in text and "\n" not in text.strip()
