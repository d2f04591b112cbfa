"""Record calibration: the next batch's std scaled by what earlier rounds' picks asked for."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from biofab import Campaign, Continuous, Space
from biofab.core import InputError
from biofab.learn import BayesianOptimization
from biofab.learn.calibration import record_scale
from biofab.report import write_report
from biofab.store import Store


def test_no_record_is_one_and_bad_records_are_skipped() -> None:
    empty = record_scale(np.array([]), np.array([]), np.array([]))
    assert empty.scale == 1.0 and empty.n == 0 and math.isnan(empty.raw)
    # NaN mean, NaN measurement, zero and negative std: skipped by the stated rule
    bad = record_scale(
        np.array([0.0, np.nan, 0.0, 0.0, 0.0]),
        np.array([1.0, 1.0, 0.0, -1.0, np.nan]),
        np.array([np.nan, 1.0, 1.0, 1.0, 1.0]),
    )
    assert bad.scale == 1.0 and bad.n == 0 and bad.skipped == 5
    with pytest.raises(ValueError, match="level"):
        record_scale(np.zeros(3), np.ones(3), np.zeros(3), level=1.5)
    with pytest.raises(ValueError, match="one entry per record"):
        record_scale(np.zeros(3), np.ones(2), np.zeros(3))


def test_factor_shrinks_toward_one_with_few_records() -> None:
    rng = np.random.default_rng(0)
    # Errors three times the std: the records ask for a factor of about 3.
    many = record_scale(np.zeros(400), np.ones(400), 3 * rng.standard_normal(400), prior_n=10)
    assert 2.7 < many.raw < 3.3 and many.scale == pytest.approx(many.raw ** (400 / 410))
    few = record_scale(np.zeros(3), np.ones(3), np.array([3.0, -3.0, 3.0]), prior_n=10)
    assert few.raw == pytest.approx(3.0) and few.scale == pytest.approx(3.0 ** (3 / 13))
    assert 1.0 < few.scale < many.scale
    # An over-wide std shrinks the bars, also toward 1.
    wide = record_scale(np.zeros(400), np.ones(400), 0.3 * rng.standard_normal(400))
    assert 0.25 < wide.scale < 0.4
    # Known measurement noise is not blamed on the model's std.
    noisy = record_scale(np.zeros(3), np.ones(3), np.full(3, 2.0), np.full(3, 3.0), prior_n=0)
    assert noisy.scale == pytest.approx(1.0)


def _results(batch: pd.DataFrame, offset: float) -> pd.DataFrame:
    out = batch[["a", "b"]].copy()
    # A sharp ridge the first plate barely sees: the model's picks are over-confident.
    out["yield"] = np.sin(3 * out["a"]) * np.cos(2 * out["b"]) + offset * out["a"]
    return out


def test_factor_comes_from_the_stored_record_and_leaves_choices_unchanged(
    db_url: str, tmp_path: Path
) -> None:
    space = Space({"a": Continuous(0, 4, step=0.25), "b": Continuous(0, 4, step=0.25)})
    store = Store(db_url)
    on = Campaign.create("on", space, ["yield:max"], store=store)
    off = Campaign.create("off", space, ["yield:max"], store=store)
    for c in (on, off):  # identical histories
        first = c.recommend(10, seed=0)
        assert first.notes["record_scale"] == {}  # a space-filling plate predicts nothing
        c.ingest(_results(first.designs, 0.3), filename="p1.csv")
        second = c.recommend(6, seed=1, recommender=BayesianOptimization())
        # no earlier round predicted anything: no factor
        assert second.notes["record_scale"] == {}
        c.ingest(_results(second.designs, 0.3), filename="p2.csv")
    assert on.record_scales()["yield"].n == 6  # the six measured picks of round 2
    expected = on.record_scales()["yield"]
    scaled = on.recommend(6, seed=2, recommender=BayesianOptimization())
    plain = off.recommend(6, seed=2, recommender=BayesianOptimization(), record_calibration=False)
    # The choice is the same; only the reported std differs, by the record's factor.
    assert space.keys(scaled.designs) == space.keys(plain.designs)
    np.testing.assert_allclose(scaled.mean, plain.mean)
    np.testing.assert_allclose(scaled.std, plain.std * expected.scale)
    assert expected.scale != pytest.approx(1.0)
    # It is the function applied to the stored predictions and measurements.
    rows = on.prediction_record()
    again = record_scale(
        np.array([r["mean"] for r in rows]),
        np.array([r["std"] for r in rows]),
        np.array([r["measured"] for r in rows]),
    )
    assert again.scale == pytest.approx(expected.scale)
    # The round's notes and every stored predicted std carry the factor.
    rounds = store.rounds("on")
    notes = rounds[rounds["number"] == 3]["notes"].iloc[0]
    assert notes["record_scale"]["yield"] == pytest.approx(expected.scale)
    assert notes["record_n"]["yield"] == 6
    assert store.rounds("off")["notes"].iloc[-1]["record_scale"] == {}
    table = store.design_table("on")
    stored = np.array([p["yield"][1] for p in table[table["round"] == 3]["predicted"]])
    np.testing.assert_allclose(np.sort(stored), np.sort(scaled.std[:, 0]))
    # The next factor divides the stored std by its round's factor: raw std pooled.
    on.ingest(_results(scaled.designs, 0.3), filename="p3.csv")
    r3 = [r for r in on.prediction_record() if r["round"] == 3]
    assert len(r3) == 6 and all(r["scale"] == pytest.approx(expected.scale) for r in r3)
    np.testing.assert_allclose(np.sort([r["std"] for r in r3]), np.sort(plain.std[:, 0]))
    # A window keeps the latest rounds only; all rounds: 12 records.
    assert on.record_scales()["yield"].n == 12
    latest = on.record_scales(window=1)["yield"]
    assert latest.n == 6
    assert latest.scale == pytest.approx(
        record_scale(
            np.array([r["mean"] for r in r3]),
            np.array([r["std"] for r in r3]),
            np.array([r["measured"] for r in r3]),
        ).scale
    )
    with pytest.raises(InputError, match="window"):
        on.record_scales(window=0)
    table_rows = on.record_calibration()
    assert list(table_rows["round"]) == [2, 3]
    assert table_rows["factor_applied"].iloc[1] == pytest.approx(expected.scale)
    # The report shows it where the held-out calibration is.
    write_report(on, tmp_path / "report.html")
    assert "Error bars on each round" in (tmp_path / "report.html").read_text()


def test_cli_shows_the_record_and_can_turn_the_factor_off(tmp_path: Path) -> None:
    space = "parameters:\n  a: {type: continuous, lo: 0, hi: 4, step: 0.25}\n"
    (tmp_path / "space.yaml").write_text(space)

    def biofab(*args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "BIOFAB_DB": f"sqlite:///{tmp_path / 'biofab.db'}"}
        return subprocess.run(
            [sys.executable, "-m", "biofab.cli", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    def measure(batch: str, results: str) -> None:
        d = pd.read_csv(tmp_path / batch)[["a"]]
        d["yield"] = np.sin(3 * d["a"]) + 0.3 * d["a"]
        d.to_csv(tmp_path / results, index=False)

    made = biofab("campaign", "create", "c", "--space", "space.yaml", "--objective", "yield:max")
    assert made.returncode == 0, made.stderr
    assert biofab("campaign", "recommend", "c", "-n", "8", "--out", "b1.csv").returncode == 0
    measure("b1.csv", "r1.csv")
    assert biofab("campaign", "ingest", "c", "r1.csv").returncode == 0
    r = biofab("campaign", "recommend", "c", "-n", "4", "--out", "b2.csv", "--json", "--seed", "0")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["record_scale"] == {}  # nothing predicted before
    measure("b2.csv", "r2.csv")
    assert biofab("campaign", "ingest", "c", "r2.csv").returncode == 0
    r = biofab("campaign", "explain", "c", "--json")
    assert r.returncode == 0, r.stderr
    explained = json.loads(r.stdout)
    (row,) = explained["record_calibration"]
    assert row["round"] == 2 and row["n"] == 4 and row["factor_applied"] == 1.0
    nxt = explained["next_record_scale"]["yield"]
    assert nxt["n"] == 4 and nxt["scale"] > 0
    r = biofab("campaign", "recommend", "c", "-n", "4", "--json", "--no-record-calibration")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["record_scale"] == {}
    r = biofab("campaign", "explain", "c")
    assert r.returncode == 0, r.stderr
    assert "own measured picks" in r.stdout and "next batch: std_yield x" in r.stdout
