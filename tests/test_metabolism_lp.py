"""Constraints added through optlang reach the HiGHS program (or are refused in one line).

Each case adds a constraint that binds on the textbook model and compares the
optimum of :class:`LinearProgram` with COBRApy's own ``model.optimize()`` on GLPK.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from cobra.flux_analysis import pfba as cobra_pfba

from biofab.core.errors import ModelError
from biofab.metabolism import load_model
from biofab.metabolism.analysis import fba, pfba
from biofab.metabolism.lp import LinearProgram

TOL = 1e-6


@pytest.fixture(scope="module")
def base_growth() -> float:
    return float(load_model("textbook").slim_optimize())


def _ratio(model: Any) -> None:
    # a flux ratio, written with net fluxes, added through the solver interface
    r = model.reactions
    model.solver.add(
        model.problem.Constraint(
            r.PGI.flux_expression - 2.0 * r.G6PDH2r.flux_expression, lb=0.0, ub=0.0, name="ratio"
        )
    )


def _total_cap(model: Any) -> None:
    # a cap on the summed flux of a few reactions (with a constant that optlang folds away)
    r = model.reactions
    expr = r.GAPD.flux_expression + r.ENO.flux_expression - r.PGK.flux_expression + 1.0
    model.add_cons_vars(model.problem.Constraint(expr, lb=-40.0, ub=41.0, name="cap"))


def _forward_only(model: Any) -> None:
    # PFK is irreversible, so its forward variable alone is its net flux
    pfk = model.reactions.PFK
    model.add_cons_vars(model.problem.Constraint(pfk.forward_variable, ub=4.0, name="pfk_cap"))


@pytest.mark.parametrize("add", [_ratio, _total_cap, _forward_only])
def test_added_constraint_gives_cobra_optimum(
    add: Callable[[Any], None], base_growth: float
) -> None:
    model = load_model("textbook")
    add(model)
    expected = model.optimize().objective_value
    assert expected < base_growth - 1e-3  # the constraint binds
    lp = LinearProgram.from_model(model)
    assert len(lp.extra_rows) == 1
    assert lp.optimize().objective == pytest.approx(expected, abs=TOL)
    assert fba(model).objective_value == pytest.approx(expected, abs=TOL)


def test_added_constraint_reaches_split_program() -> None:
    # pFBA works on a program split in forward/reverse columns; the row must follow it
    model = load_model("textbook")
    _total_cap(model)
    ours = pfba(model)
    theirs = cobra_pfba(model)
    assert ours.objective_value == pytest.approx(model.slim_optimize(), abs=TOL)
    total = float(abs(ours.fluxes).sum())
    assert total == pytest.approx(float(theirs.fluxes.abs().sum()), rel=1e-6)


def test_constraint_on_other_variable_refused_in_one_line() -> None:
    model = load_model("textbook")
    x = model.problem.Variable("x_extra", lb=0.0, ub=5.0)
    con = model.problem.Constraint(model.reactions.PGI.flux_expression - x, lb=0.0, name="uses_x")
    model.add_cons_vars([x, con])
    with pytest.raises(ModelError) as err:
        LinearProgram.from_model(model)
    line = str(err.value)
    assert "\n" not in line
    assert "uses_x" in line and "x_extra is not a reaction flux" in line


def test_directions_weighted_apart_refused() -> None:
    # PGI is reversible: its forward part alone is not a function of the net flux
    model = load_model("textbook")
    pgi = model.reactions.PGI
    model.add_cons_vars(model.problem.Constraint(pgi.forward_variable, ub=2.0, name="pgi_fwd"))
    with pytest.raises(ModelError, match=r"pgi_fwd .*reversible reaction PGI"):
        LinearProgram.from_model(model)


def test_plain_model_has_no_extra_rows() -> None:
    assert LinearProgram.from_model(load_model("textbook")).extra_rows == ()


def test_lexicographic_stages_keep_the_added_constraint() -> None:
    # dFBA's later stages run on a network split in forward/reverse columns
    from biofab.metabolism.dfba import LexicographicFBA, Stage

    model = load_model("textbook")
    _total_cap(model)
    growth = model.slim_optimize()
    point = LexicographicFBA(model, "Biomass_Ecoli_core", (Stage("EX_ac_e", "max"),)).solve()
    assert point.growth == pytest.approx(growth, abs=1e-6)
    assert point.fluxes is not None
    v = dict(zip([r.id for r in model.reactions], point.fluxes, strict=True))
    assert v["GAPD"] + v["ENO"] - v["PGK"] <= 40.0 + 1e-6
