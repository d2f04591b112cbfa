"""The one loop runner: testbeds, a folder lab adapter, budgets, hooks and bad input."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from biofab import Campaign
from biofab.campaign.lab import FolderLab
from biofab.campaign.loop import LoopRound, LoopRunner, StartThenSpaceFilling
from biofab.core import Execution, InputError
from biofab.core import TestbedExecutor as AnswerNow
from biofab.learn import Recommender
from biofab.testbeds import SyntheticCellFree


def _campaign(tmp_path: Path, name: str, tb: SyntheticCellFree) -> Campaign:
    return Campaign.create(name, tb.space, tb.objectives, store=f"sqlite:///{tmp_path / 'c.db'}")


def test_rounds_are_recommended_executed_ingested_and_hooked(tmp_path: Path) -> None:
    tb = SyntheticCellFree(seed=1)
    c = _campaign(tmp_path, "tb", tb)
    seen: list[tuple[int, int]] = []

    def hook(campaign: object, done: LoopRound) -> None:
        seen.append((done.round, len(done.results)))

    runner: LoopRunner[Recommender] = LoopRunner(AnswerNow(tb), hooks=[hook])
    result = runner.run(c, batch=6, rounds=3, seed=2, progress=False)
    assert [r.round for r in result.rounds] == [0, 1, 2]
    assert seen == [(0, 6), (1, 6), (2, 6)]
    assert result.evaluations == 18 and len(c.data()) == 18
    assert result.history is not None and len(result.history) == 3
    table = result.table()
    assert table["evaluation"].tolist() == list(range(1, 19))
    assert set(table.columns) >= {"round", "recommender", *tb.space.names, tb.objectives[0].name}


def test_same_seed_same_choices(tmp_path: Path) -> None:
    tb = SyntheticCellFree(seed=1)
    picks = []
    for name in ("a", "b"):
        c = _campaign(tmp_path, name, tb)
        runner: LoopRunner[Recommender] = LoopRunner(AnswerNow(tb))
        run = runner.run(c, batch=5, rounds=2, seed=7, progress=False)
        picks.append(pd.concat([r.designs for r in run.rounds], ignore_index=True))
    pd.testing.assert_frame_equal(picks[0], picks[1])


def test_budget_with_a_start_design_spends_exactly_the_budget(tmp_path: Path) -> None:
    tb = SyntheticCellFree(seed=0)
    c = _campaign(tmp_path, "budget", tb)
    start = tb.space.sample(1, seed=3)
    runner: LoopRunner[Recommender] = LoopRunner(
        AnswerNow(tb), initial=StartThenSpaceFilling(start, 4)
    )
    run = runner.run(c, batch=3, budget=11, seed=0, first_round=1, progress=False)
    assert run.evaluations == 11
    assert [len(r.designs) for r in run.rounds] == [4, 3, 3, 1]
    assert run.rounds[0].round == 0 and run.rounds[0].labels[0] == "start"
    pd.testing.assert_frame_equal(
        run.rounds[0].designs.iloc[:1][tb.space.names].reset_index(drop=True),
        start[tb.space.names].reset_index(drop=True),
        check_dtype=False,
    )


def test_progress_is_one_line_per_round_off_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tb = SyntheticCellFree(seed=0)
    c = _campaign(tmp_path, "talk", tb)
    c.run(tb, rounds=2, batch=5, progress=True)
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("campaign talk")]
    assert len(lines) == 2 and lines[-1].startswith("campaign talk round 2/2")


def test_folder_lab_waits_for_the_lab_results(tmp_path: Path) -> None:
    """A lab thread answers each designs.csv; the runner waits, then ingests."""
    tb = SyntheticCellFree(seed=0)
    c = _campaign(tmp_path, "lab", tb)
    lab = FolderLab(tmp_path / "lab", poll_s=0.05, timeout_s=60)
    stop = threading.Event()

    def technician() -> None:
        answered: set[Path] = set()
        while not stop.is_set():
            for designs in (tmp_path / "lab").glob("round_*/designs.csv"):
                if designs in answered:
                    continue
                batch = pd.read_csv(designs)
                table = pd.concat([batch, tb.evaluate(batch[tb.space.names])], axis=1)
                table.to_csv(designs.with_name("results.csv"), index=False)
                answered.add(designs)
            time.sleep(0.02)

    worker = threading.Thread(target=technician, daemon=True)
    worker.start()
    try:
        runner: LoopRunner[Recommender] = LoopRunner(lab)
        run = runner.run(c, batch=4, rounds=2, seed=0, progress=False)
    finally:
        stop.set()
        worker.join(5)
    assert len(c.data()) == 8
    assert [p.name for p in run.rounds[1].execution.files] == ["designs.csv", "results.csv"]
    assert run.rounds[1].execution.source.endswith("round_01/results.csv")


def test_folder_lab_times_out_in_one_line_and_ingests_nothing(tmp_path: Path) -> None:
    tb = SyntheticCellFree(seed=0)
    c = _campaign(tmp_path, "slow", tb)
    runner: LoopRunner[Recommender] = LoopRunner(
        FolderLab(tmp_path / "lab", poll_s=0.01, timeout_s=0.1)
    )
    with pytest.raises(InputError, match="no results from the lab in time"):
        runner.run(c, batch=3, rounds=1, progress=False)
    assert len(c.data()) == 0
    assert (tmp_path / "lab" / "round_00" / "designs.csv").exists()


def test_bad_lab_results_are_refused_whole(tmp_path: Path) -> None:
    tb = SyntheticCellFree(seed=0)
    c = _campaign(tmp_path, "bad", tb)
    folder = tmp_path / "lab" / "round_00"
    folder.mkdir(parents=True)
    (folder / "results.csv").write_text("mg_glutamate,gfp\nabc,1\n")
    runner: LoopRunner[Recommender] = LoopRunner(FolderLab(tmp_path / "lab", poll_s=0.01))
    with pytest.raises(InputError):
        runner.run(c, batch=3, rounds=1, progress=False)
    assert len(c.data()) == 0


class _Short:
    """An executor that loses a row: the runner must not ingest half a batch."""

    def __init__(self, tb: SyntheticCellFree) -> None:
        self.inner = AnswerNow(tb)

    def execute(self, designs: pd.DataFrame, round_index: int) -> Execution:
        return self.inner.execute(designs.iloc[:-1], round_index)


def test_limits_and_executors_are_checked(tmp_path: Path) -> None:
    tb = SyntheticCellFree(seed=0)
    c = _campaign(tmp_path, "limits", tb)
    runner: LoopRunner[Recommender] = LoopRunner(AnswerNow(tb))
    with pytest.raises(InputError, match="exactly one of rounds and budget"):
        runner.run(c, batch=3, progress=False)
    with pytest.raises(InputError, match="exactly one of rounds and budget"):
        runner.run(c, batch=3, rounds=1, budget=3, progress=False)
    with pytest.raises(InputError, match="at least 1"):
        runner.run(c, batch=0, rounds=1, progress=False)

    class _Wrong:
        space, objectives = tb.space, tb.objectives

        def evaluate(self, designs: pd.DataFrame) -> pd.DataFrame:
            return tb.evaluate(designs).iloc[:-1]

    bad: LoopRunner[Recommender] = LoopRunner(AnswerNow(_Wrong()))
    with pytest.raises(InputError, match="different number of designs"):
        bad.run(c, batch=3, rounds=1, progress=False)
    assert len(c.data()) == 0
    short: LoopRunner[Recommender] = LoopRunner(_Short(tb))
    short.run(c, batch=3, rounds=1, progress=False)
    assert len(c.data()) == 2  # what was measured, no more
