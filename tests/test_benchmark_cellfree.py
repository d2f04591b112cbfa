"""Smoke test of benchmarks/cellfree_loop.py: a tiny closed loop writes well-formed records."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _load_script() -> ModuleType:
    path = ROOT / "benchmarks" / "cellfree_loop.py"
    spec = importlib.util.spec_from_file_location("bench_cellfree_loop", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_cellfree_loop"] = module
    spec.loader.exec_module(module)
    return module


def test_hypervolume_is_the_union_of_rectangles() -> None:
    bench = _load_script()
    fold = np.array([1.0, 2.0, 1.5, 0.5, 3.0])
    cost = np.array([0.1, 0.3, 0.5, 0.05, 1.2])  # the last is beyond the reference point
    # by cost: (0.05, 0.5) -> 0.95*0.5; (0.1, 1.0) -> 0.9*0.5; (0.3, 2.0) -> 0.7*1.0;
    # (0.5, 1.5) is dominated
    assert bench.hypervolume(fold, cost, 1.0) == np.float64(0.475 + 0.45 + 0.7)
    assert bench.front(fold, cost).tolist() == [3, 0, 1, 4]
    assert bench.hypervolume(np.array([]), np.array([]), 1.0) == 0.0


def test_cellfree_loop_benchmark_quick(tmp_path: Path) -> None:
    bench = _load_script()
    records = bench.main(["--quick", "--jobs", "1", "--out", str(tmp_path)])
    saved = json.loads((tmp_path / "cellfree_loop.json").read_text())
    assert saved == json.loads(json.dumps(records))
    # fold {after 1, after 2 rounds} x {mean, median} x {sobol, random} + hypervolume x 2 peers
    assert len(saved) == 10
    required = {
        "metric": str, "dataset": str, "biofab": float, "peer": str, "peer_value": float,
        "ratio": float, "better": str, "seeds": int, "repeats": int, "cores": int,
        "command": str, "date": str,
    }  # fmt: skip
    for rec in saved:
        for key, kind in required.items():
            assert isinstance(rec[key], kind), (key, rec[key])
        assert rec["better"] == "higher" and rec["target_ratio"] is None
        assert rec["seeds"] == 2 and len(rec["biofab_per_seed"]) == 2
        assert abs(rec["ratio"] - rec["biofab"] / rec["peer_value"]) < 2e-3 * rec["ratio"]
        assert rec["command"].startswith("python benchmarks/cellfree_loop.py --quick")
        lo, hi = rec["biofab_range"]
        assert lo <= rec["biofab"] <= hi
    folds = [r for r in saved if r["metric"].startswith("fold_")]
    assert {r["metric"] for r in folds} == {
        f"fold_over_reference_after_{k}_rounds_{s}" for k in (1, 2) for s in ("mean", "median")
    }
    for rec in folds:
        # noise-free GFP of a picked composition over the reference's: positive, and no
        # campaign of 12 designs beats a random search of 500 by much
        assert 0.2 < rec["biofab"] < 1.2 * rec["ceiling_fold"]
        assert 0.2 < rec["peer_value"] < 1.2 * rec["ceiling_fold"]
    hv = [r for r in saved if r["metric"].startswith("yield_cost_hypervolume")]
    assert len(hv) == 2
    for rec in hv:
        assert rec["reference_point"]["fold"] == 0.0 and rec["reference_point"]["cost"] > 0
        assert 0 < rec["biofab"] < 1.2 * rec["ceiling_hv"]
    html = (tmp_path / "cellfree_loop.html").read_text()
    assert "<html" in html and "Example Pareto fronts" in html
    assert '<script src="http' not in html
