"""Campaigns end to end: recommend, ingest, history, report, on a real SQLite store."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from biofab import Campaign, Categorical, Continuous, Space, SumToTotal
from biofab.core import CampaignExistsError, DesignError, InputError, UnknownCampaignError
from biofab.learn import BayesianOptimization, EnsembleUCB, MultiObjective
from biofab.report import write_report
from biofab.store import Store
from biofab.testbeds import SyntheticCellFree


@pytest.fixture
def store(db_url: str) -> Store:
    """Every campaign test runs on SQLite and on a real PostgreSQL server."""
    return Store(db_url)


@pytest.fixture
def space() -> Space:
    return Space(
        {
            "a": Continuous(0, 4, step=0.5, unit="uL"),
            "b": Continuous(0, 4, step=0.5, unit="uL"),
            "strain": Categorical(["x", "y"]),
        },
        [SumToTotal(("a", "b"), 6.0)],
    )


def truth(d: pd.DataFrame) -> np.ndarray:
    """A smooth response with an interior optimum at a=2.5, b=1.5, strain y."""
    bonus = np.where(d["strain"] == "y", 0.5, 0.0)
    return 3 - (d["a"] - 2.5) ** 2 - 0.5 * (d["b"] - 1.5) ** 2 + bonus


def results(batch: pd.DataFrame) -> pd.DataFrame:
    out = batch[["a", "b", "strain"]].copy()
    out["yield"] = truth(out)
    out["yield_std"] = 0.05
    out["yield_n"] = 3
    return out


def test_loop_recommends_legal_new_designs_and_improves(store: Store, space: Space) -> None:
    c = Campaign.create("loop", space, ["yield:max"], store=store)
    first = c.recommend(8, seed=0)
    assert first.recommender.startswith("space-filling")
    c.ingest(results(first.designs), filename="plate1.csv")
    seen = set(space.keys(first.designs))
    for r in range(3):
        rec = c.recommend(6, seed=r, recommender=BayesianOptimization())
        d = rec.designs
        space.validate(d)  # on grid and inside the constraint
        keys = set(space.keys(d))
        assert len(keys) == 6 and not keys & seen
        seen |= keys
        frame = rec.to_frame()
        assert {"pred_yield", "std_yield", "acquisition", "water"} <= set(frame.columns)
        assert np.isfinite(frame["pred_yield"]).all() and (frame["std_yield"] > 0).all()
        c.ingest(results(d), filename=f"plate{r + 2}.csv")
    hist = c.history()
    assert list(hist["round"]) == [1, 2, 3, 4]
    assert hist["best_so_far"].is_monotonic_increasing
    # the optimum (3.5) is found to within a grid step or two
    assert hist["best_so_far"].iloc[-1] > 3.0
    assert c.status()["measured"] == 26 and c.status()["pending"] == 0
    imp = c.explain()
    assert imp.index[0] == "a"  # the steepest direction of the truth
    cal = c.calibration()
    assert list(cal["surrogate"]) == ["GP", "tree ensemble"]
    assert cal["coverage_95"].between(0, 1).all() and (cal["n_test"] > 0).all()
    # Out-of-fold coverage, raw and recalibrated (the factor from the other folds).
    assert cal["oof_coverage_68"].between(0, 1).all() and (cal["std_scale"] > 0).all()
    assert cal["oof_coverage_68_raw"].between(0, 1).all()


def test_pending_designs_are_not_recommended_again(store: Store, space: Space) -> None:
    c = Campaign.create("pending", space, ["yield:max"], store=store)
    a = c.recommend(5, seed=0)
    b = c.recommend(5, seed=0)  # nothing measured yet: must not repeat round 1
    assert not set(space.keys(a.designs)) & set(space.keys(b.designs))
    assert c.status()["pending"] == 10


def test_ingest_is_idempotent_and_atomic(tmp_path, store: Store, space: Space) -> None:
    c = Campaign.create("ingest", space, ["yield:max"], store=store)
    batch = c.recommend(6, seed=1).designs
    path = tmp_path / "results.csv"
    results(batch).to_csv(path, index=False)
    first = c.ingest(path)
    assert first.added_measurements == 6
    again = c.ingest(path)
    assert again.duplicate_file and again.added_measurements == 0
    assert len(c.data()) == 6
    bad = results(batch)
    bad["yield"] = bad["yield"].astype(object)
    bad.loc[4, "yield"] = "n/a"
    bad_path = tmp_path / "bad.csv"
    bad.to_csv(bad_path, index=False)
    with pytest.raises(InputError, match=r"bad.csv, row 5, column 'yield': not a number"):
        c.ingest(bad_path)
    assert len(c.store.measurement_table("ingest")) == 6  # nothing of bad.csv


def test_bad_results_tables_name_the_problem(tmp_path, store: Store, space: Space) -> None:
    c = Campaign.create("bad", space, ["yield:max"], store=store)
    good = results(space.sample(4, seed=0))
    cases = {
        "missing.csv": (good.drop(columns=["yield"]), r"missing column.*'yield'"),
        "outside.csv": (good.assign(a=[0.5, 1.0, 9.0, 1.5]), r"row 3, column 'a'.*outside"),
        "dup.csv": (pd.concat([good, good.iloc[[0]]]), r"row 5.*duplicate design"),
        "strain.csv": (good.assign(strain=["x", "y", "z", "x"]), r"row 3, column 'strain'"),
    }
    for name, (frame, pattern) in cases.items():
        path = tmp_path / name
        frame.to_csv(path, index=False)
        with pytest.raises((InputError, DesignError), match=pattern):
            c.ingest(path)
    assert len(c.store.measurement_table("bad")) == 0


def test_create_load_and_unknown(store: Store, space: Space) -> None:
    Campaign.create("one", space, ["yield:max", "cost:min"], store=store)
    with pytest.raises(CampaignExistsError):
        Campaign.create("one", space, ["yield:max"], store=store)
    loaded = Campaign.load("one", store=store)
    assert loaded.space == space
    assert [str(o) for o in loaded.objectives] == ["yield:max", "cost:min"]
    with pytest.raises(UnknownCampaignError):
        Campaign.load("nope", store=store)


def test_multi_objective_returns_pareto_set(store: Store, space: Space, tmp_path) -> None:
    c = Campaign.create("mo", space, ["yield:max", "cost:min"], store=store)
    batch = c.recommend(10, seed=0).designs
    res = results(batch).assign(cost=batch["a"] + 2 * batch["b"])
    c.ingest(res, filename="mo1.csv")
    rec = c.recommend(4, seed=0, recommender=MultiObjective())
    assert rec.mean.shape == (4, 2) and list(rec.outputs) == ["yield", "cost"]
    # predictions come back in the measured units: cost (minimised) is positive here
    predicted_cost = rec.to_frame()["pred_cost"]
    assert (predicted_cost > 0).all()
    assert predicted_cost.sub(rec.designs["a"] + 2 * rec.designs["b"]).abs().max() < 2.0
    front = c.pareto()
    assert 1 <= len(front) <= 10
    # nothing measured dominates a point on the front
    data = c.data()
    for _, p in front.iterrows():
        dominated = (data["yield"] >= p["yield"]) & (data["cost"] <= p["cost"])
        strictly = (data["yield"] > p["yield"]) | (data["cost"] < p["cost"])
        assert not (dominated & strictly).any()
    html = write_report(c, tmp_path / "mo.html").read_text()
    assert "Pareto front" in html


def test_closed_loop_on_testbed_and_report(store: Store, tmp_path) -> None:
    tb = SyntheticCellFree(seed=0)
    c = Campaign.create("sim", tb.space, list(tb.objectives), store=store)
    hist = c.run(tb, rounds=3, batch=10, seed=0, progress=False)
    assert len(hist) == 3 and hist["improvement"].iloc[-1] >= 1.0
    path = write_report(c, tmp_path / "report.html")
    html = path.read_text()
    for section in (
        "Best so far per round",
        "Predicted vs measured",
        "Parameter importance",
        "Calibration of the error bars",
    ):
        assert section in html
    # self-contained: plotly.js inlined, nothing fetched from the network
    assert "Plotly.newPlot" in html and '<script src="http' not in html
    assert len(html) > 1_000_000


def test_ensemble_ucb_recommends_on_grid(store: Store, space: Space) -> None:
    c = Campaign.create("ucb", space, ["yield:max"], store=store)
    c.ingest(results(c.recommend(10, seed=0).designs), filename="p1.csv")
    rec = c.recommend(5, seed=0, recommender=EnsembleUCB())
    space.validate(rec.designs)
    assert rec.notes["kappa"] == pytest.approx(1.41)


def test_replicate_columns_become_mean_std_and_count(tmp_path, store: Store, space: Space) -> None:
    c = Campaign.create("reps", space, ["yield:max"], store=store)
    designs = space.sample(3, seed=2)[space.names]
    table = designs.assign(yield_rep1=[1.0, 2.0, 4.0], yield_rep2=[3.0, 2.0, 5.0])
    table["yield_rep3"] = ["", 2.0, 6.0]  # a missing well is skipped
    path = tmp_path / "plate.csv"
    table.to_csv(path, index=False)
    c.ingest(path)
    m = c.store.measurement_table("reps").sort_values("design_id")
    assert m["value"].tolist() == [2.0, 2.0, 5.0]
    assert m["n_replicates"].tolist() == [2, 3, 3]
    assert m["std"].tolist() == pytest.approx([2**0.5, 0.0, 1.0])
    bad = table.astype({"yield_rep2": object})
    bad.loc[1, "yield_rep2"] = "bubble"
    bad.to_csv(tmp_path / "bad_reps.csv", index=False)
    with pytest.raises(InputError, match=r"bad_reps.csv, row 2, column 'yield_rep2'"):
        c.ingest(tmp_path / "bad_reps.csv")


def test_source_column_records_plate_and_wells(tmp_path, store: Store, space: Space) -> None:
    c = Campaign.create("provenance", space, ["yield:max"], store=store)
    table = results(space.sample(2, seed=5)[space.names])
    table["source"] = ["reads.csv: plate P1 wells A1,B7", ""]
    c.ingest(table, filename="plate1")
    sources = sorted(c.store.measurement_table("provenance")["source"])
    assert sources == ["plate1:row 2", "reads.csv: plate P1 wells A1,B7"]


def test_missing_std_in_a_frame_is_empty_not_an_error(store: Store, space: Space) -> None:
    c = Campaign.create("single-well", space, ["yield:max"], store=store)
    table = results(space.sample(2, seed=6)[space.names])
    table["yield_std"] = [0.1, float("nan")]  # a design measured in one well
    table["yield_n"] = [3, None]
    c.ingest(table, filename="plate")
    m = c.store.measurement_table("single-well").sort_values("design_id")
    assert m["n_replicates"].tolist() == [3, 1]
    assert m["std"].isna().tolist() == [False, True]
