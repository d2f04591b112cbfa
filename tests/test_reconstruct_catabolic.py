"""Catabolic uptake: a draft that carries (by homology) a degradation route for a
compound it cannot make gets that compound's transporter, and nothing else does.

The draft is E. coli's core model on M9 with a xylose route bolted on: xylose's
exchange, a candidate transporter (XYLt) and a kinase (XYLK, xyl__D_c -> xu5p__D_c,
the "homology evidence") into the pentose phosphate pathway."""

from __future__ import annotations

import pytest

from biofab.metabolism import get_medium, load_model
from biofab.metabolism.gapfill import catabolic_targets, gapfill_catabolic

SOURCES = {"C": ["glc__D"], "N": ["nh4"]}


def _draft(kinase_reversible: bool = False, dead_end: bool = False):
    import cobra

    m = load_model("textbook")
    xe = cobra.Metabolite("xyl__D_e", formula="C5H10O5", compartment="e")
    xc = cobra.Metabolite("xyl__D_c", formula="C5H10O5", compartment="c")
    ex = cobra.Reaction("EX_xyl__D_e", lower_bound=-1000.0, upper_bound=1000.0)
    t = cobra.Reaction("XYLt", lower_bound=0.0, upper_bound=1000.0)
    k = cobra.Reaction("XYLK", lower_bound=-1000.0 if kinase_reversible else 0.0)
    m.add_reactions([ex, t, k])
    ex.add_metabolites({xe: -1})
    t.add_metabolites({xe: -1, xc: 1})
    if dead_end:  # xylose -> a compound nothing uses: no route to biomass
        k.add_metabolites({xc: -1, cobra.Metabolite("xylend_c", formula="C5", compartment="c"): 1})
    else:
        mets = m.metabolites
        k.add_metabolites({xc: -1, mets.atp_c: -1, mets.xu5p__D_c: 1, mets.adp_c: 1, mets.h_c: 1})
    return m


def test_catabolised_compound_gets_its_transporter():
    m = _draft()
    m9 = get_medium("M9")
    assert catabolic_targets(m, {"XYLt": 1.0}, m9, SOURCES, {"XYLK"}) == ["xyl__D"]
    res = gapfill_catabolic(m, {"XYLt": 1.0}, m9, SOURCES, {"XYLK"}, time_limit=30)
    assert res.goal == "catabolic" and res.targets == ["xyl__D"]
    assert res.added == ["XYLt"] and res.cost == pytest.approx(1.0)
    # The draft's own compounds (glutamate, succinate, ...) get nothing: it makes them.
    every = {r.id for r in m.reactions}
    assert "glu__L" not in catabolic_targets(m, {"XYLt": 1.0}, m9, SOURCES, every)


@pytest.mark.parametrize(
    ("kwargs", "evidence", "why"),
    [
        ({}, set(), "no homology evidence for the route"),
        ({"dead_end": True}, {"XYLK"}, "the route does not reach biomass"),
        ({"kinase_reversible": True}, {"XYLK"}, "the cell can make the compound"),
    ],
)
def test_no_transporter_without_evidence_route_or_with_own_synthesis(kwargs, evidence, why):
    m = _draft(**kwargs)
    m9 = get_medium("M9")
    assert catabolic_targets(m, {"XYLt": 1.0}, m9, SOURCES, evidence) == [], why
    res = gapfill_catabolic(m, {"XYLt": 1.0}, m9, SOURCES, evidence, time_limit=30)
    assert res.added == [] and res.targets == [] and res.goal == "catabolic"


def test_transporter_in_the_draft_already_adds_nothing():
    m = _draft()
    # XYLt is part of the draft (not a candidate): xylose is usable already.
    res = gapfill_catabolic(m, {}, get_medium("M9"), SOURCES, {"XYLK"}, time_limit=30)
    assert res.added == [] and res.targets == []


def test_no_source_of_any_element_means_no_target():
    # A medium whose sources are unknown (or named but absent from the model) gives no
    # role to test a compound in: nothing is a target, nothing is added, no error.
    m = _draft()
    m9 = get_medium("M9")
    for sources in ({}, {"C": ["no_such_compound"]}, {"C": []}):
        assert catabolic_targets(m, {"XYLt": 1.0}, m9, sources, {"XYLK"}) == []
