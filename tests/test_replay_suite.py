"""`biofab replay` and the replay protocol the benchmark suite shares: paired seeds,
the stop rule, the records, and one-line errors for bad pools."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from biofab.campaign import replay_suite as rs
from biofab.cli.main import main
from biofab.core import Continuous, InputError, Objective, Space
from biofab.testbeds import ReplayTestbed
from biofab.testbeds.functions import grid_pool


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def pool_csv(tmp_path: Path) -> Path:
    """150 Hartmann-6 designs on a 10-level grid, noisy, minimised, with a std column."""
    fp = grid_pool("hartmann6", 6, 150, noise=0.1, seed=3)
    frame = fp.designs.copy()
    frame["f"] = np.round(fp.values, 6)
    frame["f_std"] = round(fp.noise_sd, 6)
    path = tmp_path / "hartmann.csv"
    frame.to_csv(path, index=False)
    return path


def edit(path: Path, row: int, column: str, value: str) -> Path:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[row - 1, column] = value
    out = path.with_name(f"edited_{path.name}")
    frame.to_csv(out, index=False)
    return out


def test_replay_command_on_a_small_pool(
    pool_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # One std cell is missing; --missing-std treats it as missing rather than refusing.
    data = edit(pool_csv, 7, "f_std", "NaN")
    space = tmp_path / "space.yaml"  # the user's route: infer, edit if need be, replay
    code, _, err = cli(
        capsys, "space", "infer", str(data), "--objective", "f:min", "--out", str(space)
    )
    assert code == 0, err
    out = tmp_path / "out"
    args = ["replay", str(data), "--objective", "f:min", "--seeds", "2", "--budget", "60"]
    code, stdout, err = cli(
        capsys, *args, "--space", str(space), "--missing-std", "--out", str(out)
    )
    assert code == 0, err
    assert "biofab wins/ties/losses" in stdout
    recs = json.loads((out / "replay.json").read_text())
    assert [r["method"] for r in recs] == ["gp", "metis", "random"]  # one record per peer
    for rec in recs:
        assert rec["ratio"] == round(rec["peer_value"] / rec["biofab"], 3)
        assert sum(rec["paired"].values()) == 2
        assert 20 <= rec["biofab"] <= 60 and 20 <= rec["peer_value"] <= 60
        assert rec["seeds"] == 2 and rec["better"] == "lower" and rec["cap"] == 60
        assert rec["target_ratio"] == rs.TARGETS[rec["method"]]
    detail = json.loads((out / "replay_runs.json").read_text())
    runs = detail["runs"]
    assert len(runs) == 4 * 2
    for seed in (0, 1):
        firsts = {r["curve"][0] for r in runs if r["seed"] == seed}
        assert len(firsts) == 1  # paired: every method starts from the same 20 designs
    for r in runs:
        assert r["spent"] in (20, 40, 60) and r["spent"] == 20 * len(r["curve"])
        assert r["hit_at"] is None or r["hit_at"] % 20 == 0
    html = (out / "replay.html").read_text()
    assert "Experiments to a top-0.5 % design" in html and "plotly" in html


def test_the_stop_rule_and_the_summaries() -> None:
    assert rs.top_count(200) == 2 and rs.top_count(1007) == 6 and rs.top_count(1000) == 5
    space = Space({"x": Continuous(0.0, 99.0, step=1.0)})
    designs = pd.DataFrame({"x": np.arange(100.0)})
    pool = rs.Pool("line", "line", space, designs, np.arange(100.0) + 1.0, budget=100)
    assert pool.top_k == 2 and pool.threshold == 99.0 and pool.cap == 100
    assert pool.score(90.0) == pytest.approx(0.9)  # yields: a fraction of the best
    run = rs.run_campaign(pool, "random", seed=4)
    x = rs.steps(pool)[: len(run.curve)]
    hit = [n for n, best in zip(x, run.curve, strict=True) if best >= pool.threshold]
    assert run.hit_at == (hit[0] if hit else None)
    assert run.spent == x[-1] and (run.hit_at is None) == (run.spent == 100)
    # A minimised pool: 90 % of the way from the median design to the best.
    cost = rs.Pool("cost", "cost", space, designs, np.arange(100.0) - 50, Objective("c", "min"))
    assert cost.score(cost.utility.max()) == 1.0
    assert cost.score(float(np.median(cost.utility))) == 0.0
    mine = {"seeds": [0, 1, 2], "per_run": [40, 60, 80]}
    theirs = {"seeds": [0, 1, 2], "per_run": [60, 60, 40]}
    assert rs.paired(mine, theirs) == {"wins": 1, "ties": 1, "losses": 1}


def test_published_round_order_is_replayed() -> None:
    space = Space({"x": Continuous(0.0, 49.0, step=1.0)})
    values = np.arange(50.0) + 1
    pool = rs.Pool(
        "p", "p", space, pd.DataFrame({"x": np.arange(50.0)}), values, rounds=np.arange(50) // 10
    )
    # The best (50) arrives in the last round of 10; 90 % of it (45) too.
    assert rs.published_to_near_best(pool) == 50


@pytest.mark.parametrize(
    ("change", "extra", "message"),
    [
        ((7, "f_std", "NaN"), [], "row 7, column 'f_std': not a number"),
        ((3, "f_std", "n/a"), [], "or pass --missing-std"),
        ((3, "f_std", "-0.1"), ["--missing-std"], "row 3, column 'f_std': negative spread"),
        ((5, "f", "high"), [], "row 5, column 'f': not a number"),
        ((2, "x1", "0.05"), ["--space", "SPACE"], "row 2, column 'x1'"),
        (None, ["--std-column", "sd"], "column 'sd': no such std column"),
        (None, ["--methods", "biofab,tpe"], "unknown method"),
        (None, ["--objective", "titre:max"], "column 'titre': no objective column"),
    ],
)
def test_bad_pools_are_one_line_and_write_nothing(
    pool_csv: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    change: tuple[int, str, str] | None,
    extra: list[str],
    message: str,
) -> None:
    data = pool_csv if change is None else edit(pool_csv, *change)
    space = tmp_path / "space.yaml"
    space.write_text(grid_pool("hartmann6", 6, 30, seed=3).space.to_yaml())
    extra = [str(space) if e == "SPACE" else e for e in extra]
    objective = [] if "--objective" in extra else ["--objective", "f:min"]
    out = tmp_path / "out"
    code, _, err = cli(capsys, "replay", str(data), *objective, *extra, "--out", str(out))
    assert code == 2
    assert message in err, err
    assert err.strip().count("\n") == 0
    assert not out.exists()


def test_duplicates_too_few_rows_and_a_missing_folder(
    pool_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frame = pd.read_csv(pool_csv)
    twice = tmp_path / "twice.csv"
    pd.concat([frame, frame.iloc[[4]]]).to_csv(twice, index=False)
    code, _, err = cli(capsys, "replay", str(twice), "--objective", "f:min", "--out", "x")
    assert code == 2 and "row 151: the same design appears twice" in err
    assert "repeat of row 5" in err and str(twice) in err
    small = tmp_path / "small.csv"
    frame.iloc[:15].to_csv(small, index=False)
    code, _, err = cli(capsys, "replay", str(small), "--objective", "f:min", "--out", "x")
    assert code == 2 and "too few designs to replay" in err
    out = tmp_path / "no" / "out"
    code, _, err = cli(capsys, "replay", str(pool_csv), "--objective", "f:min", "--out", str(out))
    assert code == 2 and "create it first" in err and not out.parent.exists()


def test_replay_testbed_refuses_a_text_spread_in_one_line() -> None:
    space = Space({"x": Continuous(0.0, 2.0, step=1.0)})
    table = pd.DataFrame({"x": [0.0, 1.0, 2.0], "y": [1.0, 2.0, 3.0], "y_std": ["0.1", "", "?"]})
    with pytest.raises(InputError, match="row 3, column 'y_std': not a valid spread"):
        ReplayTestbed(space, table, Objective("y"))
    table["y_std"] = ["0.1", "", "nan"]  # empty and NaN cells are missing spreads
    got = ReplayTestbed(space, table, Objective("y")).evaluate(table[["x"]])
    assert got["y_std"].iloc[0] == 0.1 and got["y_std"].iloc[1:].isna().all()
