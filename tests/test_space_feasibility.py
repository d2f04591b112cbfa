"""A space whose constraints no design can meet is refused when it is made, not when it runs dry."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from biofab import Campaign, Continuous, Integer, Space, SumToTotal
from biofab.core import SpaceError
from biofab.core.constraints import LinearInequality

INFEASIBLE_YAML = """
parameters:
  a: {type: continuous, lo: 2, hi: 3}
  b: {type: continuous, lo: 2, hi: 3}
constraints:
  - {type: linear, coefficients: {a: 1, b: 1}, rhs: 1}
"""


def box(lo: float = 2, hi: float = 3, step: float | None = None) -> dict[str, Continuous]:
    return {"a": Continuous(lo, hi, step=step), "b": Continuous(lo, hi, step=step)}


def test_a_constraint_the_bounds_cannot_meet_is_named() -> None:
    with pytest.raises(SpaceError) as err:
        Space(box(), [LinearInequality({"a": 1, "b": 1}, 1)])
    assert str(err.value) == (
        "column 'a,b': constraint cannot hold inside the parameter bounds; "
        "expected 1*a + 1*b <= 1; found 'smallest value 4 within the bounds'"
    )
    with pytest.raises(SpaceError, match=r"a \+ b <= 3 .*smallest value 4"):
        Space(box(2, 4), [SumToTotal(("a", "b"), 3.0)])


def test_contradicting_constraints_are_named_and_only_they() -> None:
    at_most = LinearInequality({"a": 1, "b": 1}, 5.5)
    at_least = LinearInequality({"a": -1, "b": -1}, -5.8)
    harmless = LinearInequality({"a": 1}, 2.9)
    with pytest.raises(SpaceError) as err:
        Space(box(), [at_most, harmless, at_least])
    assert "constraints contradict each other" in str(err.value)
    assert err.value.found == f"{at_most.describe()}; {at_least.describe()}"


def test_a_box_point_that_no_grid_design_reaches_is_refused() -> None:
    # 0.2 <= a + b <= 0.3 holds in the box, never on a 0.5 grid.
    constraints = [
        LinearInequality({"a": 1, "b": 1}, 0.3),
        LinearInequality({"a": -1, "b": -1}, -0.2),
    ]
    with pytest.raises(SpaceError, match="no design on the grid satisfies the constraints"):
        Space(box(0, 1, step=0.5), constraints)
    # Whole numbers: 2a = 3 has a real solution, no integer one.
    with pytest.raises(SpaceError, match="no design on the grid"):
        Space(
            {"a": Integer(0, 5), "b": Integer(0, 5)},
            [LinearInequality({"a": 2}, 3), LinearInequality({"a": -2}, -3)],
        )


@pytest.mark.parametrize(
    ("constraints", "witness"),
    [
        # a thin but reachable line: a + b == 7.5 on a 0.5 grid
        (
            [
                LinearInequality({"a": 1, "b": 1}, 7.5),
                LinearInequality({"a": -1, "b": -1}, -7.5),
            ],
            (3.0, 4.5),
        ),
        # a single corner: a >= 10 and b >= 10 at the top of the box
        ([LinearInequality({"a": -1}, -10), LinearInequality({"b": -1}, -10)], (10.0, 10.0)),
        ([SumToTotal(("a", "b"), 6.0)], (1.0, 5.0)),
    ],
)
def test_feasible_spaces_are_accepted(
    constraints: list[LinearInequality | SumToTotal], witness: tuple[float, float]
) -> None:
    space = Space(box(0, 10, step=0.5), constraints)
    design = pd.DataFrame({"a": [witness[0]], "b": [witness[1]]})
    assert space.feasible(design).all()


def test_from_yaml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(INFEASIBLE_YAML)
    with pytest.raises(SpaceError, match=r"bad\.yaml, column 'a,b': constraint cannot hold"):
        Space.from_yaml(path)


def biofab(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "biofab.cli", *args],
        cwd=cwd,
        env={**os.environ, "BIOFAB_DB": f"sqlite:///{cwd / 'biofab.db'}"},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_refuses_an_infeasible_space_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "space.yaml").write_text(INFEASIBLE_YAML)
    check = biofab("space", "check", "space.yaml", cwd=tmp_path)
    create = biofab(
        "campaign", "create", "c1", "--space", "space.yaml", "--objective", "y:max", cwd=tmp_path
    )
    for r in (check, create):
        assert r.returncode == 2, r.stderr
        assert r.stderr.strip().count("\n") == 0
        assert "space.yaml, column 'a,b': constraint cannot hold" in r.stderr
        assert "1*a + 1*b <= 1" in r.stderr
    with pytest.raises(SpaceError):
        Campaign.create("c1", Space.from_yaml(tmp_path / "space.yaml"), ["y:max"])
