"""Replay and synthetic testbeds answer designs as documented."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from biofab.cellfree import load_metis
from biofab.core import Continuous, DesignError, InputError, Objective, PoolTestbed, Space
from biofab.core import Testbed as AnyTestbed
from biofab.testbeds import ReplayTestbed, SyntheticCellFree


def _small() -> ReplayTestbed:
    space = Space({"a": Continuous(0, 1), "b": Continuous(0, 10)})
    table = pd.DataFrame(
        {"a": [0.0, 0.5, 1.0], "b": [1.0, 2.0, 3.0], "y": [1.0, 2.0, 3.0], "y_std": [0.1, 0.2, 0.3]}
    )
    return ReplayTestbed(space, table, [Objective("y")])


# -- replay ----------------------------------------------------------------------


def test_replay_answers_pool_designs_in_order() -> None:
    tb = _small()
    assert isinstance(tb, PoolTestbed) and isinstance(tb, AnyTestbed)
    pool = tb.pool()
    assert list(pool.columns) == ["a", "b"] and len(pool) == 3 == len(tb)
    out = tb.evaluate(pool.iloc[[2, 0]])
    assert list(out.columns) == ["y", "y_std"]
    assert out["y"].tolist() == [3.0, 1.0]
    assert out["y_std"].tolist() == [0.3, 0.1]
    # Values that differ only in float noise are the same design.
    assert tb.evaluate(pd.DataFrame({"a": [0.1 + 0.4], "b": [2.0000000000001]}))["y"].item() == 2.0


def test_replay_unknown_design_raises() -> None:
    tb = _small()
    with pytest.raises(InputError, match="not in the replayed pool") as err:
        tb.evaluate(pd.DataFrame({"a": [0.0, 0.25], "b": [1.0, 1.0]}))
    assert err.value.row == 2
    with pytest.raises(InputError, match="missing parameter column"):
        tb.evaluate(pd.DataFrame({"a": [0.0]}))


def test_replay_refuses_a_bad_table() -> None:
    space = Space({"a": Continuous(0, 1)})
    with pytest.raises(InputError, match="missing column") as err:
        ReplayTestbed(space, pd.DataFrame({"a": [0.0]}), Objective("y"))
    assert err.value.column == "y"
    with pytest.raises(InputError, match="twice") as err:
        ReplayTestbed(space, pd.DataFrame({"a": [0.0, 1.0, 0.0], "y": [1, 2, 3]}), Objective("y"))
    assert err.value.row == 3
    with pytest.raises(InputError, match="finite") as err:
        ReplayTestbed(space, pd.DataFrame({"a": [0.0, 1.0], "y": [1, np.nan]}), Objective("y"))
    assert (err.value.row, err.value.column) == (2, "y")


def test_replay_noise_is_seeded_and_scaled_by_the_measured_std() -> None:
    tb = _small()
    space, table = tb.space, tb.table
    a = ReplayTestbed(space, table, [Objective("y")], noise=1.0, seed=3)
    b = ReplayTestbed(space, table, [Objective("y")], noise=1.0, seed=3)
    pool = tb.pool().iloc[[0] * 2000]
    ya, yb = a.evaluate(pool)["y"], b.evaluate(pool)["y"]
    assert ya.tolist() == yb.tolist()
    assert ya.std() == pytest.approx(0.1, rel=0.1)
    assert ya.mean() == pytest.approx(1.0, abs=0.02)


def test_replay_from_metis(metis_dir: Path) -> None:
    data = load_metis(metis_dir)
    tb = ReplayTestbed.from_data(data)
    assert tb.space is data.space and tb.objectives == [Objective("yield", "max")]
    pool = tb.pool()
    assert len(pool) == 200
    out = tb.evaluate(pool.sample(frac=1.0, random_state=0))
    expected = data.table["yield"].to_numpy()[pool.sample(frac=1.0, random_state=0).index]
    assert np.array_equal(out["yield"].to_numpy(), expected)
    assert out["yield"].max() == pytest.approx(6.5491)


# -- synthetic -------------------------------------------------------------------


def _at(tb: SyntheticCellFree, **changes: float) -> pd.DataFrame:
    best, _ = tb.optimum()
    return pd.DataFrame([{**best, **changes}])


def test_synthetic_space_is_a_dispensing_grid() -> None:
    tb = SyntheticCellFree()
    assert isinstance(tb, AnyTestbed)
    assert len(tb.space.names) == 8
    for p in tb.space.parameters.values():
        assert isinstance(p, Continuous) and p.step is not None and p.unit is not None
    assert tb.objectives == [Objective("yield", "max", unit="mg/mL")]
    with pytest.raises(DesignError, match="off the grid"):
        tb.evaluate(_at(tb, mg_glutamate=8.3))


def test_synthetic_optimum_is_interior_in_magnesium() -> None:
    tb = SyntheticCellFree(noise=0.0)
    best, value = tb.optimum()
    mg = tb.space.parameters["mg_glutamate"]
    assert isinstance(mg, Continuous)
    assert mg.lo < best["mg_glutamate"] < mg.hi
    assert 0.5 < value < 3.0  # mg/mL, a plausible cell-free GFP yield
    assert tb.true_yield(_at(tb))[0] == pytest.approx(value)
    # No design on any one-component line through the optimum beats it.
    for name, p in tb.space.parameters.items():
        grid = p.levels()  # type: ignore[union-attr]
        designs = pd.concat([_at(tb, **{name: float(v)}) for v in grid], ignore_index=True)
        assert tb.true_yield(designs).max() <= value + 1e-12
    # Both sides of the Mg optimum inhibit.
    mg_best = best["mg_glutamate"]
    low, high = (
        tb.true_yield(_at(tb, mg_glutamate=mg_best - 4)),
        tb.true_yield(_at(tb, mg_glutamate=mg_best + 6)),
    )
    assert low[0] < 0.8 * value and high[0] < 0.8 * value


def test_synthetic_shapes_dna_saturates_ntp_inhibits_and_chelates_mg() -> None:
    tb = SyntheticCellFree(noise=0.0)
    dna = tb.true_yield(pd.concat([_at(tb, dna=d) for d in (1, 5, 10, 20, 30)]))
    assert np.all(np.diff(dna) > 0)
    gains = np.diff(dna) / np.diff([1, 5, 10, 20, 30])
    assert np.all(np.diff(gains) < 0)  # diminishing returns
    # Excess NTPs inhibit even when the magnesium is raised to keep free Mg constant.
    best, value = tb.optimum()
    excess = _at(tb, ntp=5.75, mg_glutamate=best["mg_glutamate"] + 5.75 - best["ntp"])
    assert tb.true_yield(excess)[0] < 0.6 * value
    # Chelation: the best magnesium moves up with the NTPs.
    mg_grid = np.arange(0, 20.5, 0.5)

    def best_mg(ntp: float) -> float:
        designs = pd.concat([_at(tb, ntp=ntp, mg_glutamate=m) for m in mg_grid])
        return float(mg_grid[np.argmax(tb.true_yield(designs))])

    assert best_mg(4.0) - best_mg(1.0) == pytest.approx(3.0)


def test_synthetic_noise_is_multiplicative_and_seeded() -> None:
    designs = pd.concat([_at(SyntheticCellFree())] * 3000, ignore_index=True)
    a = SyntheticCellFree(seed=7, noise=0.1).evaluate(designs)
    b = SyntheticCellFree(seed=7, noise=0.1).evaluate(designs)
    c = SyntheticCellFree(seed=8, noise=0.1).evaluate(designs)
    assert a["yield"].tolist() == b["yield"].tolist() != c["yield"].tolist()
    _, value = SyntheticCellFree().optimum()
    logs = np.log(a["yield"] / value)
    assert logs.mean() == pytest.approx(0.0, abs=0.01)
    assert logs.std() == pytest.approx(0.1, rel=0.05)
    assert a["yield_std"].iloc[0] == pytest.approx(a["yield"].std(), rel=0.1)
    exact = SyntheticCellFree(noise=0.0).evaluate(designs.head(2))
    assert exact["yield"].tolist() == pytest.approx([value, value])
    assert exact["yield_std"].tolist() == [0.0, 0.0]
    with pytest.raises(ValueError):
        SyntheticCellFree(noise=-1)
