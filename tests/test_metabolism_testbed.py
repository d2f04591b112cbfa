"""``FluxTestbed``: a genome-scale model as a campaign's in-silico lab."""

from __future__ import annotations

import pandas as pd
import pytest

from biofab.campaign import Campaign
from biofab.core import Categorical, Continuous, Objective, Space
from biofab.core.errors import ModelError
from biofab.metabolism import load_model
from biofab.metabolism.testbed import Control, FluxTestbed


@pytest.fixture(scope="module")
def textbook():
    return load_model("textbook")


def _testbed(model, **kw) -> FluxTestbed:
    space = Space(
        {
            "glucose": Continuous(1.0, 10.0, step=0.5, unit="mmol/gDW/h"),
            "oxygen": Continuous(0.0, 30.0, step=1.0, unit="mmol/gDW/h"),
            "pfl_knockout": Categorical(("no", "yes")),
        }
    )
    return FluxTestbed(
        model,
        space,
        [Objective("growth", "max"), Objective("acetate", "max")],
        [
            Control("glucose", "EX_glc__D_e"),
            Control("oxygen", "EX_o2_e"),
            Control("pfl_knockout", "PFL", "knockout"),
        ],
        {"growth": "Biomass_Ecoli_core", "acetate": "EX_ac_e"},
        **kw,
    )


def test_fluxes_follow_the_design(textbook) -> None:
    tb = _testbed(textbook)
    designs = pd.DataFrame(
        {
            "glucose": [10.0, 10.0, 10.0, 5.0],
            "oxygen": [30.0, 0.0, 0.0, 30.0],
            "pfl_knockout": ["no", "no", "yes", "no"],
        }
    )
    out = tb.evaluate(designs)
    assert list(out.columns) == ["growth", "acetate"]
    aerobic, anaerobic, no_pfl, less_glc = out.to_dict("records")
    assert aerobic["growth"] == pytest.approx(0.8739, abs=1e-4)
    assert anaerobic["growth"] == pytest.approx(0.2117, abs=1e-3)
    assert anaerobic["acetate"] > 5.0  # mixed-acid fermentation is growth-coupled
    assert no_pfl["growth"] < anaerobic["growth"]
    assert less_glc["growth"] < aerobic["growth"]
    # the model is never modified by a design
    assert textbook.reactions.EX_o2_e.lower_bound == -1000.0
    assert textbook.reactions.PFL.upper_bound == 1000.0


def test_noise_adds_std_columns(textbook) -> None:
    tb = _testbed(textbook, noise=0.05, seed=1)
    out = tb.evaluate(pd.DataFrame({"glucose": [10.0], "oxygen": [5.0], "pfl_knockout": ["no"]}))
    assert {"growth_std", "acetate_std"} <= set(out.columns)


def test_bad_wiring_is_refused(textbook) -> None:
    space = Space({"glucose": Continuous(1.0, 10.0)})
    with pytest.raises(ModelError, match="unknown reaction"):
        FluxTestbed(
            textbook,
            space,
            [Objective("growth", "max")],
            [Control("glucose", "EX_glucose")],
            {"growth": "Biomass_Ecoli_core"},
        )
    with pytest.raises(ModelError, match="has no control"):
        FluxTestbed(textbook, space, [Objective("growth", "max")], [], {"growth": "ATPM"})


def test_campaign_runs_against_the_model(textbook, tmp_path) -> None:
    tb = _testbed(textbook)
    c = Campaign.create(
        "acetate", tb.space, tb.objectives[1:], store=f"sqlite:///{tmp_path / 'c.db'}"
    )
    tb.objectives = tb.objectives[1:]
    hist = c.run(tb, rounds=3, batch=6, progress=False)
    assert len(c.data()) == 18
    assert hist["best_so_far"].iloc[-1] >= hist["best_so_far"].iloc[0] > 0
