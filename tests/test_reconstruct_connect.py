"""Connecting a draft (CarveMe's carving objective on what the draft lacks) and the
capped gap-filling MILP, on small models whose answer is known by construction."""

from __future__ import annotations

import pytest

from biofab.core.errors import ModelError
from biofab.metabolism import get_medium, load_model
from biofab.metabolism.gapfill import gapfill, gapfill_connect


def _toy():
    """Exchanges of a, c, d, x; draft: R1 a->b, R2 b->c, R3 d->c, export of c, a sink
    of c for "growth". Candidates: transporters of a (Ta), d (Td), x (Tx) and a
    reaction x->b (R4)."""
    import cobra

    m = cobra.Model("toy")
    mets = {
        k: cobra.Metabolite(k, compartment=k[-1])
        for k in ("a_e", "a_c", "b_c", "c_c", "c_e", "d_e", "d_c", "x_e", "x_c")
    }

    def rxn(rid, stoich, lb=0.0):
        r = cobra.Reaction(rid, lower_bound=lb, upper_bound=1000.0)
        m.add_reactions([r])
        r.add_metabolites({mets[k]: v for k, v in stoich.items()})
        return r

    for e in ("a_e", "c_e", "d_e", "x_e"):
        rxn(f"EX_{e[:-2]}", {e: -1}, lb=-1000.0)
    rxn("Ta", {"a_e": -1, "a_c": 1})
    rxn("Td", {"d_e": -1, "d_c": 1})
    rxn("Tx", {"x_e": -1, "x_c": 1})
    rxn("R4", {"x_c": -1, "b_c": 1})
    rxn("R1", {"a_c": -1, "b_c": 1})
    rxn("R2", {"b_c": -1, "c_c": 1})
    rxn("R3", {"d_c": -1, "c_c": 1})
    rxn("Tc", {"c_c": -1, "c_e": 1})
    return m


def test_connect_adds_a_transporter_only_where_evidence_outweighs_cost():
    m = _toy()
    cands = {"Ta": 1.0, "Td": 1.0, "Tx": 0.9, "R4": 0.9}
    # R1 + R2 (0.9 each, blocked without a's transporter) outweigh Ta's cost 1;
    # R3 alone (0.5) does not pay for Td; b -> c through x costs 1.8 > Ta's 1.
    res = gapfill_connect(m, cands, {"R1": 0.9, "R2": 0.9, "R3": 0.5, "Tc": 0.9})
    assert res.added == ["Ta"]
    assert res.goal == "connect" and res.gap <= 1e-6
    assert res.targets == ["R1", "R2", "Tc"]
    # With more evidence behind d's route, its transporter is worth adding too.
    res = gapfill_connect(m, cands, {"R1": 0.9, "R2": 0.9, "R3": 1.5, "Tc": 0.9})
    assert res.added == ["Ta", "Td"]


def test_connect_leaves_a_connected_or_unreachable_draft_alone():
    m = _toy()
    # Ta is part of the draft here (not a candidate): nothing is blocked.
    res = gapfill_connect(m, {"Td": 1.0}, {"R1": 0.9, "R2": 0.9})
    assert res.added == [] and res.targets == [] and res.goal == "connect"
    # R3 cannot carry flux whatever is added (no transporter of d offered).
    m.reactions.Td.bounds = (0.0, 0.0)
    res = gapfill_connect(m, {"Ta": 0.1}, {"R3": 5.0})
    assert res.added == [] and res.targets == []


def test_connect_ignores_forced_fluxes_and_blocked_rewards_stay_blocked():
    m = _toy()
    # A maintenance-like forced flux on a candidate must not force it (or its route)
    # in: connecting asks what *can* carry flux.
    m.reactions.Tx.bounds = (5.0, 1000.0)
    res = gapfill_connect(m, {"Ta": 1.0, "Tx": 0.5, "R4": 0.5}, {"R1": 0.9, "R2": 0.9})
    assert res.added == ["Ta"]


def test_capped_gapfill_is_proved_optimal_and_matches_uncapped():
    core = load_model("textbook")
    m9 = get_medium("M9")
    # Closing a handful of glycolysis/TCA steps: the cheapest fix is known to be one of
    # them at a time; the capped MILP must prove its choice optimal.
    cands = {"PGK": 0.3, "ENO": 0.3, "PGM": 0.3, "CS": 0.8, "ICDHyr": 0.8}
    res = gapfill(core, cands, medium=m9, time_limit=30)
    uncapped = gapfill(core, cands, medium=m9, time_limit=30, flux_cap=1000.0)
    assert res.status == "optimal" and res.gap <= 1e-4
    assert res.added == uncapped.added and res.cost == pytest.approx(uncapped.cost)
    assert res.growth >= 0.1


def test_gapfill_impossible_says_so():
    core = load_model("textbook")
    with core:
        core.reactions.EX_glc__D_e.bounds = (0.0, 0.0)
        with pytest.raises(ModelError, match="cannot grow"):
            gapfill(core, {"PGK": 0.5}, medium=None)
