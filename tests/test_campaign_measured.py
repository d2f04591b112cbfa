"""The pandas-free summary of a campaign (``biofab.campaign.measured``) against the
frame rule it replaced: replicate means, standard deviations of the mean,
designs still missing an objective, and per-round best-so-far."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from biofab import Campaign, Categorical, Continuous, Space
from biofab.campaign.measured import best_so_far, measured_designs
from biofab.store import MeasurementRecord, Store


def frame_rule(records: list[MeasurementRecord], objectives: list[str]) -> pd.DataFrame:
    """The aggregation as the campaign computed it with pandas before (the reference)."""
    m = pd.DataFrame([r.__dict__ for r in records])
    m["var"] = m["std"].astype(float) ** 2 / m["n_replicates"].astype(float)
    agg = m.groupby(["design_id", "objective"]).agg(
        value=("value", "mean"), var=("var", "mean"), k=("value", "size")
    )
    agg["std"] = np.sqrt(agg["var"] / agg["k"])
    wide = (
        agg["value"].unstack("objective").join(agg["std"].unstack("objective").add_suffix("_std"))
    )
    wide = wide.dropna(subset=[o for o in objectives if o in wide.columns])
    for o in objectives:
        if o not in wide.columns:
            wide[o] = wide[f"{o}_std"] = np.nan
    return wide.sort_index()


def rec(design: int, objective: str, value: float, std: float | None = None, n: int = 1,
        rnd: int | None = 1) -> MeasurementRecord:  # fmt: skip
    return MeasurementRecord(design, rnd, {"a": design, "s": "x"}, objective, value, std, n)


RECORDS = [
    rec(3, "titer", 2.0, 0.2, 3),
    rec(3, "titer", 4.0, None),  # a replicate without a reported std
    rec(3, "rate", 1.0, 0.1),
    rec(1, "titer", 5.0, 0.5, 2, rnd=None),
    rec(1, "rate", 0.5, 0.05, 2, rnd=None),
    rec(1, "rate", 0.7, 0.05, 2, rnd=None),
    rec(2, "titer", 9.0, 0.3),  # no rate yet: not a measured design
]


def test_records_match_the_frame_rule() -> None:
    objectives = ["titer", "rate", "cost"]  # nobody measured cost
    got = measured_designs(RECORDS, ["a", "s"], objectives, numeric=["a"])
    ref = frame_rule(RECORDS, objectives)
    assert [r["design_id"] for r in got] == list(ref.index) == [1, 3]
    for row in got:
        want = ref.loc[row["design_id"]]
        for col in [*objectives, *(f"{o}_std" for o in objectives)]:
            assert row[col] == pytest.approx(want[col], nan_ok=True), col
    assert got[0]["round"] is None and got[1]["round"] == 1
    assert isinstance(got[0]["a"], float) and got[0]["s"] == "x"


def test_best_so_far_per_round() -> None:
    rows = best_so_far([None, 1, 1, 2, 3], np.array([2.0, 1.0, 3.0, 2.5, math.nan]))
    assert [(r["round"], r["n"], r["best"], r["best_so_far"]) for r in rows[:3]] == [
        (0, 1, 2.0, 2.0),
        (1, 2, 3.0, 3.0),
        (2, 1, 2.5, 3.0),
    ]
    assert math.isnan(rows[3]["best"]) and rows[3]["best_so_far"] == 3.0
    assert rows[1]["improvement"] == pytest.approx(1.5)
    assert math.isnan(best_so_far([1], np.array([-1.0]))[0]["improvement"])


def test_status_agrees_with_the_frames(tmp_path) -> None:
    space = Space({"a": Continuous(0, 4, step=0.5), "s": Categorical(["x", "y"])})
    c = Campaign.create(
        "c", space, ["titer:max", "rate:min"], store=Store(f"sqlite:///{tmp_path}/s.db")
    )
    table = space.sample(12, seed=1)[space.names]
    table["titer"] = np.linspace(1, 3, 12)
    table["rate"] = np.linspace(2, 0.5, 12) ** 2
    table["titer_std"] = 0.1
    c.ingest(table, filename="plate")
    st = c.status(history=True)
    best = c.best(1).iloc[0]
    assert st["best"] == {**{n: best[n] for n in space.names}, "titer": 3.0, "rate": 0.25}
    assert st["measured"] == st["designs"] == 12 and st["pending"] == 0
    assert pd.DataFrame(st["history"]).equals(c.history())
    assert c.data()["titer_std"].tolist() == pytest.approx([0.1] * 12)
