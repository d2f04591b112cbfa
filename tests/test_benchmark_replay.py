"""Smoke test of benchmarks/replay.py: a tiny METIS replay writes well-formed records."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_replay", ROOT / "benchmarks" / "replay.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_replay"] = module
    spec.loader.exec_module(module)
    return module


def test_replay_benchmark_quick_metis(metis_dir: Path, tmp_path: Path) -> None:
    bench = _load_script()
    data = metis_dir.parents[1]
    argv = ["--quick", "--pools", "metis", "--budget", "60", "--jobs", "1"]
    records = bench.main([*argv, "--data", str(data), "--out", str(tmp_path)])
    saved = json.loads((tmp_path / "replay.json").read_text())
    assert saved == json.loads(json.dumps(records))
    # one record per peer (gp, METIS-style, random) + the published campaign
    assert len(saved) == 4
    published = saved.pop()
    assert published["metric"] == "experiments_to_90pct_of_best_median"
    # METIS's own campaign first reached 90 % of its best in round 9 (9 x 20 designs).
    assert published["peer_value"] == 180
    assert 20 <= published["biofab"] <= 60
    required = {
        "metric": str, "dataset": str, "biofab": float, "peer": str, "peer_value": float,
        "ratio": float, "better": str, "target_ratio": float, "seeds": int, "repeats": int,
        "cores": int, "command": str, "date": str,
    }  # fmt: skip
    for rec in saved:
        for key, kind in required.items():
            assert isinstance(rec[key], kind), (key, rec[key])
        assert rec["better"] == "lower"
        assert rec["seeds"] == 3
        assert rec["ratio"] == round(rec["peer_value"] / rec["biofab"], 3)
        assert 20 <= rec["biofab"] <= 60 and 20 <= rec["peer_value"] <= 60
        assert rec["command"].startswith("python benchmarks/replay.py --quick")
        p = rec["paired"]
        assert p["wins"] + p["ties"] + p["losses"] == 3
    assert {r["method"] for r in saved} == {"gp", "metis", "random"}
    assert {r["target_ratio"] for r in saved} == {1.0, 2.0}
    assert {r["metric"] for r in saved} == {"experiments_to_top_0.5pct_mean"}
    html = (tmp_path / "replay.html").read_text()
    # Self-contained: plotly.js is inlined, nothing is fetched from a CDN.
    assert "<html" in html and len(html) > 1_000_000
    assert '<script src="http' not in html
    runs = json.loads((tmp_path / "replay_runs.json").read_text())
    # every method x 3 seeds
    assert len(runs["runs"]) == 3 * len(bench.rs.METHODS)
    assert sorted({r["seed"] for r in runs["runs"]}) == [0, 1, 2]


def test_replay_benchmark_first_seed_and_bad_seed_options(metis_dir: Path, tmp_path: Path) -> None:
    bench = _load_script()
    data = metis_dir.parents[1]
    argv = ["--pools", "metis", "--methods", "random", "--seeds", "2", "--first-seed", "100"]
    bench.main(
        [*argv, "--budget", "60", "--jobs", "1", "--data", str(data), "--out", str(tmp_path)]
    )
    runs = json.loads((tmp_path / "replay_runs.json").read_text())
    # development seeds, never the reported 0..N-1
    assert sorted({r["seed"] for r in runs["runs"]}) == [100, 101]
    for bad in (["--first-seed", "-1"], ["--seeds", "0"]):
        try:
            bench.parse_args(bad)
        except SystemExit as exit_:
            assert exit_.code == 2
        else:
            raise AssertionError(f"{bad} was accepted")
