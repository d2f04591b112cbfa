"""Spaces: grids, constraints, sampling, validation and YAML round trips."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from biofab.core import (
    Categorical,
    Continuous,
    DesignError,
    Integer,
    LinearInequality,
    Measurement,
    Objective,
    Sequence,
    Space,
    SpaceError,
    SumToTotal,
)


@pytest.fixture
def mix() -> Space:
    """A cell-free mix: three stock volumes (µL) on a 0.5 µL grid in a 10 µL reaction."""
    return Space(
        {
            "mg": Continuous(0, 4, step=0.5, unit="uL"),
            "ntp": Continuous(0, 4, step=0.5, unit="uL"),
            "dna": Continuous(0.5, 4, step=0.5, unit="uL"),
            "lysate": Categorical(["BL21", "K12"]),
            "temp": Integer(25, 37),
        },
        [SumToTotal(("mg", "ntp", "dna"), 8.0)],
    )


def test_sample_is_on_grid_feasible_and_distinct(mix: Space) -> None:
    d = mix.sample(50, seed=3)
    assert len(d) == 50
    for name in ("mg", "ntp", "dna"):
        k = (d[name] - mix.parameters[name].lo) / 0.5  # type: ignore[union-attr]
        assert np.allclose(k, np.round(k))
    assert (d[["mg", "ntp", "dna"]].sum(axis=1) <= 8.0 + 1e-9).all()
    assert np.allclose(d["water"], 8.0 - d[["mg", "ntp", "dna"]].sum(axis=1))
    assert (d["water"] >= 0).all()
    assert len(set(mix.keys(d))) == 50
    assert set(d["temp"]) <= set(range(25, 38))
    mix.validate(d)  # every sampled design is legal


def test_sample_is_space_filling(mix: Space) -> None:
    d = mix.sample(64, seed=0, method="sobol")
    u = mix.to_unit(d[["mg", "ntp", "dna", "temp"]].assign(lysate="K12")[mix.names])
    numeric = u[:, [0, 1, 2, 4]]
    # Every numeric parameter's range is explored, not just a corner...
    assert (numeric.min(axis=0) < 0.2).all() and (numeric.max(axis=0) > 0.7).all()
    # ...and both lysates are used.
    assert set(d["lysate"]) == {"BL21", "K12"}


def test_sample_excludes_known_designs(mix: Space) -> None:
    first = mix.sample(20, seed=1)
    second = mix.sample(20, seed=1, exclude=mix.keys(first))
    assert not set(mix.keys(first)) & set(mix.keys(second))


def test_small_space_returns_all_it_has() -> None:
    s = Space({"a": Integer(0, 2), "b": Categorical(["x", "y"])})
    d = s.sample(100, seed=0)
    assert len(d) == 6


def test_linear_inequality_respected() -> None:
    s = Space(
        {"x": Continuous(0, 1, step=0.1), "y": Continuous(0, 1, step=0.1)},
        [LinearInequality({"x": 1.0, "y": 2.0}, 1.0)],
    )
    d = s.sample(30, seed=2)
    assert (d["x"] + 2 * d["y"] <= 1.0 + 1e-9).all()


def test_snap_and_log_scale() -> None:
    p = Continuous(1, 1000, log=True)
    u = p.to_unit(np.array([1.0, 10.0, 100.0, 1000.0]))
    assert np.allclose(u, [0, 1 / 3, 2 / 3, 1])
    q = Continuous(0, 1, step=0.25)
    assert list(q.snap(np.array([0.1, 0.13, 0.9, 2.0]))) == [0.0, 0.25, 1.0, 1.0]
    assert q.levels() is not None and len(q.levels()) == 5  # type: ignore[arg-type]


def test_validate_names_row_column_and_value(mix: Space) -> None:
    good = mix.sample(3, seed=0)
    bad = good.copy()
    bad.loc[1, "mg"] = 9.0
    with pytest.raises(DesignError) as e:
        mix.validate(bad, file="plate.csv")
    msg = str(e.value)
    assert "plate.csv" in msg and "row 2" in msg and "'mg'" in msg and "9.0" in msg
    off = good.copy()
    off.loc[0, "ntp"] = 0.3
    with pytest.raises(DesignError, match="off the grid"):
        mix.validate(off)
    cat = good.copy().astype({"lysate": object})
    cat.loc[2, "lysate"] = "DH5a"
    with pytest.raises(DesignError, match="not a known choice"):
        mix.validate(cat)
    over = pd.DataFrame({"mg": [4.0], "ntp": [4.0], "dna": [4.0], "lysate": ["K12"], "temp": [30]})
    with pytest.raises(DesignError, match="constraint"):
        mix.validate(over)


def test_sequence_parameter_obeys_fixed_and_forbidden_motifs() -> None:
    seq = Sequence("ACGT", 30, fixed={0: "A", 29: "G"}, forbidden_motifs=["GGTCTC"])
    s = Space({"promoter": seq})
    d = s.sample(40, seed=5)
    for x in d["promoter"]:
        assert x[0] == "A" and x[-1] == "G"
        assert "GGTCTC" not in x and "GAGACC" not in x  # BsaI site, either strand
    assert s.encode(d).shape == (40, 120)
    with pytest.raises(DesignError, match="forbidden motif"):
        s.validate(pd.DataFrame({"promoter": ["A" + "GAGACC" + "T" * 22 + "G"]}))
    moved = s.neighbours(d, 20, 0.1, np.random.default_rng(0))
    assert all(seq.problem(x) is None for x in moved["promoter"])


def test_yaml_round_trip(tmp_path, mix: Space) -> None:
    path = tmp_path / "space.yaml"
    mix.to_yaml(path)
    again = Space.from_yaml(path)
    assert again == mix
    assert again.fillers == ["water"]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("parameters: [1, 2", "malformed YAML"),
        ("params: {}", "'parameters' mapping"),
        ("parameters: {a: {type: wobbly}}", "unknown parameter type"),
        ("parameters: {a: {type: continuous, lo: 5, hi: 1}}", "lo < hi"),
        (
            "parameters: {a: {lo: 0, hi: 1}}\n"
            "constraints: [{type: sum_to_total, names: [b], total: 3}]",
            "unknown or non-numeric",
        ),
    ],
)
def test_malformed_space_yaml_names_the_problem(tmp_path, text: str, fragment: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(SpaceError) as e:
        Space.from_yaml(path)
    assert fragment in str(e.value)
    assert "bad.yaml" in str(e.value)


def test_objective_parse_and_utility() -> None:
    assert Objective.parse("yield:max").utility(np.array([1.0, 2.0])).tolist() == [1.0, 2.0]
    assert Objective.parse("cost:min").utility(np.array([1.0])).tolist() == [-1.0]
    t = Objective.parse("ph:target=7@2")
    assert t.target == 7 and t.weight == 2
    assert t.utility(np.array([6.5, 7.0])).tolist() == [-0.5, 0.0]
    with pytest.raises(Exception, match="cannot read objective"):
        Objective.parse("ph:target=seven")


def test_measurement_from_replicates() -> None:
    m = Measurement.of([1.0, 2.0, 3.0], unit="uM", source="plate1:A1")
    assert m.value == pytest.approx(2.0)
    assert m.std == pytest.approx(1.0)
    assert m.noise_variance == pytest.approx(1 / 3)
    with pytest.raises(Exception, match="finite"):
        Measurement(value=float("nan"))
