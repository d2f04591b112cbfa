"""Recipe spaces, backward fill, the optimisation loop and the IndPenSim testbed."""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pandas as pd
import pytest

import biofab.core as core
from biofab.core import InputError, Objective
from biofab.learn import BayesianOptimization
from biofab.process.recipe import RecipeSpace, SetpointRecipe, check_profiles, optimize_recipe

PROFILES = {
    "feed": [(5.0, 10.0), (20.0, 30.0), (60.0, 40.0), (100.0, 20.0)],
    "air": [(10.0, 1.0), (80.0, 1.5)],
    "drain": [(50.0, 0.0), (52.0, 100.0)],
}


class QuadraticRecipePlant:
    """A cheap stand-in for a twin: yield peaks at known multipliers inside the box.

    The yield (kg) falls quadratically with the distance of the *profile values*
    from a target profile, so the testbed sees recipes, not multipliers.
    """

    def __init__(self, grouping: str = "phase") -> None:
        self.recipe_space = RecipeSpace(PROFILES, grouping=grouping, phases=(40.0,))
        self.space = self.recipe_space.space
        self.objectives = [Objective("product", "max", unit="kg")]
        best = {n: 1.0 + 0.07 * (-1) ** i for i, n in enumerate(self.space.names)}
        self.target = self.recipe_space.profiles(best)

    def default_design(self) -> pd.DataFrame:
        return self.recipe_space.default_design()

    def evaluate(self, designs: pd.DataFrame) -> pd.DataFrame:
        out = []
        for row in designs.to_dict("records"):
            prof = self.recipe_space.profiles(row)
            d = sum(
                (v / tv - 1.0) ** 2
                for c in prof
                for (_, v), (_, tv) in zip(prof[c], self.target[c], strict=True)
                if tv != 0
            )
            out.append(100.0 - 1000.0 * d)
        return pd.DataFrame({"product": out})


def test_backward_fill_applies_each_setpoint_up_to_its_time():
    r = SetpointRecipe(PROFILES)
    assert r.value_at("feed", 0.0) == 10.0  # before the first: the first holds
    assert r.value_at("feed", 5.0) == 10.0  # at its own time: still that set-point
    assert r.value_at("feed", 5.2) == 30.0  # just after: the next one
    assert r.value_at("feed", 60.0) == 40.0
    assert r.value_at("feed", 150.0) == 20.0  # after the last: the last holds
    assert r.get_values_dict_at(51.0) == {"feed": 40.0, "air": 1.5, "drain": 100.0}
    traj = r.trajectory([1.0, 30.0])
    assert traj.loc[30.0, "feed"] == 40.0


def test_pensimpy_style_mappings_are_read():
    prof = check_profiles({"Fs": [{"time": 3, "value": 8}, {"time": 12, "value": 15}]})
    assert prof == {"Fs": [(3.0, 8.0), (12.0, 15.0)]}


def test_round_trip_and_bounds_per_phase_and_per_setpoint():
    for grouping, n in (("phase", 5), ("setpoint", 7)):
        rs = RecipeSpace(PROFILES, grouping=grouping, phases=(40.0,))
        assert len(rs.names) == n  # the zero drain set-point gets no multiplier
        design = dict(zip(rs.names, np.linspace(0.9, 1.1, n), strict=True))
        prof = rs.profiles(design)
        back = rs.design(prof)
        assert back == pytest.approx(design)
        for c, default in PROFILES.items():
            for (t, v), (t2, v2) in zip(default, prof[c], strict=True):
                assert t == t2 and 0.9 * abs(v) - 1e-12 <= abs(v2) <= 1.1 * abs(v) + 1e-12
    rs = RecipeSpace(PROFILES, phases=(40.0,))
    assert rs.names == ["feed:early", "feed:late", "air:early", "air:late", "drain:late"]
    assert rs.design(PROFILES) == dict.fromkeys(rs.names, 1.0)
    for p in rs.space.parameters.values():
        assert (p.lo, p.hi) == (0.9, 1.1)


def test_bad_input_is_one_line_input_error():
    with pytest.raises(InputError, match="unsorted set-point time"):
        check_profiles({"feed": [(10, 1.0), (5, 2.0)]})
    with pytest.raises(InputError, match="duplicated set-point time"):
        SetpointRecipe({"feed": [(10, 1.0), (10, 2.0)]})
    with pytest.raises(InputError, match="finite"):
        check_profiles({"feed": [(10, float("nan"))]})
    rs = RecipeSpace(PROFILES, phases=(40.0,))
    bad = dict.fromkeys(rs.names, 1.0) | {"feed:late": 1.2}
    with pytest.raises(InputError, match="outside its bounds") as err:
        rs.profiles(bad)
    assert "\n" not in str(err.value) and "feed:late" in str(err.value)
    uneven = {c: list(p) for c, p in PROFILES.items()}
    uneven["feed"][0] = (5.0, 10.5)  # feed:early scaled by 1.05 on one set-point only
    with pytest.raises(InputError, match="not scaled alike"):
        rs.design(uneven)
    with pytest.raises(InputError, match="bracket 1"):
        RecipeSpace(PROFILES, bounds=(1.0, 1.2))


def test_optimize_recipe_improves_over_the_default_in_batches():
    plant = QuadraticRecipePlant()
    assert isinstance(plant, core.Testbed)
    res = optimize_recipe(
        plant,
        budget=16,
        batch=3,
        recommender=BayesianOptimization(n_mc=32),
        seed=0,
        progress=False,
    )
    h = res.history
    assert len(h) == 16 and list(h["evaluation"]) == list(range(1, 17))
    assert h.iloc[0][plant.space.names].tolist() == [1.0] * 5  # the default goes first
    assert h["round"].max() == 4  # round 0 (4 designs), then batches of 3
    assert res.start == pytest.approx(plant.evaluate(plant.default_design())["product"][0])
    assert res.best_so_far()[-1] > res.start + 0.5 * (100 - res.start)
    assert len(res.campaign.data()) == 16


def test_optimize_recipe_rejects_a_bad_budget():
    with pytest.raises(InputError, match="budget"):
        optimize_recipe(QuadraticRecipePlant(), budget=1)


_HAS_PENSIMPY = importlib.util.find_spec("pensimpy") is not None


@pytest.mark.skipif(
    not _HAS_PENSIMPY and not os.environ.get("CI"),
    reason="pensimpy not installed (pip install --no-deps pensimpy==1.2.5); required under CI",
)
def test_pensim_default_recipe_gives_the_known_yield():
    """One 230 h IndPenSim batch (~16 s on one idle core): 3,650.19 kg on seed 1."""
    from biofab.process.pensim import PenSimTestbed

    tb = PenSimTestbed("phase", seed=1, workers=1)
    assert len(tb.space.names) == 15
    assert tb.recipe(tb.default_design().iloc[0]).value_at("discharge", 101.0) == 4000.0
    with pytest.raises(InputError):
        tb.evaluate(tb.default_design().assign(**{"Fs:early": 0.8}))
    out = tb.evaluate(tb.default_design())
    assert out["penicillin"][0] == pytest.approx(3650.19, abs=1.0)
