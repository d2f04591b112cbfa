"""``biofab process monitor`` and ``biofab process alarms`` through the real entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from biofab.cli.main import main
from biofab.process.faults import simulate_batches
from biofab.store import Store


def _long(batches: dict[str, pd.DataFrame]) -> pd.DataFrame:
    return pd.concat([f.assign(batch=n) for n, f in batches.items()])[
        ["batch", "time_h", "X", "DO", "OUR", "CER", "F", "V"]
    ]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("monitor")
    good, quality, _ = simulate_batches(10, 1)
    _long(good).to_csv(d / "good.csv", index=False)
    quality.rename_axis("batch").to_csv(d / "quality.csv")
    ok, _, _ = simulate_batches(1, 2, prefix="ok")
    bad, _, _ = simulate_batches(1, 3, "feed_failure", prefix="pump")
    _long({**ok, **bad}).to_csv(d / "new.csv", index=False)
    return {"dir": d, "good": d / "good.csv", "quality": d / "quality.csv", "new": d / "new.csv"}


def cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_monitor_end_to_end(files: dict[str, Path], tmp_path: Path, capsys) -> None:
    db = f"sqlite:///{tmp_path / 'alarms.db'}"
    report, scores = tmp_path / "monitor.html", tmp_path / "scores.csv"
    args = ["process", "monitor", files["good"], files["new"], "--quality", files["quality"]]
    code, out, err = cli(
        capsys, *args, "--report", report, "--out", scores, "--db", db, "--who", "ana",
        "--low", "DO=5:critical", "--json",
    )  # fmt: skip
    assert code == 0, err
    result = json.loads(out)
    by_batch = {b["batch"]: b for b in result["batches"]}
    assert by_batch["ok2_000"]["first_alarm_h"] is None
    pump = by_batch["pump3_000"]
    assert pump["first_alarm_h"] is not None and "F" in pump["drivers"]
    assert set(pump["quality"]["P_final"]) == {"predicted", "low", "high"}
    page = report.read_text()
    for part in ("Batch monitoring", "golden-batch envelopes", "contributions", "Alarms"):
        assert part in page
    assert page.count("plotly.js") >= 1 and "<script" in page
    table = pd.read_csv(scores)
    assert set(table["batch"]) == {"ok2_000", "pump3_000"}
    assert {"T2", "T2_limit", "SPE", "SPE_limit", "alarm"} <= set(table.columns)
    alarm_id = next(a["alarm_id"] for a in result["alarms"] if a["batch"] == "pump3_000")

    # The alarms are in the store's audit log; acknowledging one records who and a note.
    code, out, err = cli(
        capsys, "process", "alarms", "--db", db, "--ack", alarm_id, "--note", "pump reset",
        "--who", "ben", "--json",
    )  # fmt: skip
    assert code == 0, err
    acked = json.loads(out)["acknowledged"]
    assert acked["acknowledged_by"] == "ben" and acked["note"] == "pump reset"
    actions = [e.action for e in Store(db).events("alarm.")]
    assert actions.count("alarm.raised") >= 1 and actions[-1] == "alarm.acknowledged"

    # The table a person reads the ids from (80 columns, as on a terminal): every id whole
    # on one line, to be typed back to --ack (it was cut to 'pump3_000/mu…').
    code, out, err = cli(capsys, "process", "alarms", "--db", db)
    assert code == 0, err
    ids = [a["alarm_id"] for a in result["alarms"]]
    assert ids and all(any(f"│ {i} " in line for line in out.splitlines()) for i in ids), out
    assert "ben" in out and "active" in out

    # Scoring the same batch again raises nothing new (deduplicated through the log).
    code, _, err = cli(capsys, *args, "--db", db, "--batch", "pump3_000", "--json")
    assert code == 0, err
    assert [e.action for e in Store(db).events("alarm.")] == actions


def _refused(code: int, err: str, *words: str) -> None:
    assert code == 2, err
    assert err.strip().count("\n") == 0, err
    for w in words:
        assert w in err, (w, err)


def test_bad_input_is_one_line_and_writes_nothing(files: dict[str, Path], tmp_path, capsys) -> None:
    d = tmp_path
    good = pd.read_csv(files["good"])
    report = d / "r.html"
    base = ["process", "monitor"]

    good.drop(columns=["time_h"]).to_csv(d / "no_time.csv", index=False)
    code, _, err = cli(capsys, *base, d / "no_time.csv", files["new"], "--report", report)
    _refused(code, err, "no_time.csv", "missing time column")

    swapped = good.copy()
    swapped.loc[3, "time_h"] = 0.1
    swapped.to_csv(d / "unsorted.csv", index=False)
    code, _, err = cli(capsys, *base, d / "unsorted.csv", files["new"], "--report", report)
    _refused(code, err, "unsorted.csv", "row 4", "not strictly increasing")

    text = good.astype(str)
    text.loc[5, "DO"] = "n/a"
    text.to_csv(d / "text.csv", index=False)
    code, _, err = cli(capsys, *base, d / "text.csv", files["new"], "--report", report)
    _refused(code, err, "row 6", "column 'DO'", "n/a")

    code, _, err = cli(capsys, *base, files["good"], files["new"], "--batch", "nope")
    _refused(code, err, "unknown batch", "nope")

    few = good[good["batch"].isin(good["batch"].unique()[:3])]
    few.to_csv(d / "few.csv", index=False)
    code, _, err = cli(capsys, *base, d / "few.csv", files["new"], "--report", report)
    _refused(code, err, "too few good batches", ">= 5")

    pd.read_csv(files["new"]).drop(columns=["OUR"]).to_csv(d / "lacks.csv", index=False)
    lacks_db = d / "lacks.db"
    code, _, err = cli(
        capsys, *base, files["good"], d / "lacks.csv", "--report", report,
        "--db", f"sqlite:///{lacks_db}",
    )  # fmt: skip
    # the line names the file the batch came from, not only the batch; no store is made
    _refused(code, err, "lacks.csv", "lacks monitored variable", "OUR")
    assert not lacks_db.exists()

    code, _, err = cli(capsys, *base, files["good"], files["new"], "--low", "DO<5")
    _refused(code, err, "--low", "VARIABLE=VALUE")

    code, _, err = cli(capsys, *base, files["good"], files["new"], "--align", "maturity")
    _refused(code, err, "maturity")

    quality = pd.read_csv(files["quality"]).iloc[2:]
    quality.to_csv(d / "q.csv", index=False)
    code, _, err = cli(capsys, *base, files["good"], files["new"], "--quality", d / "q.csv")
    _refused(code, err, "quality table lacks good batch")

    code, _, err = cli(capsys, "process", "alarms", "--db", f"sqlite:///{d / 'none.db'}")
    _refused(code, err, "no biofab store")
    assert not report.exists()


def test_watch_follows_a_growing_batch(files: dict[str, Path], tmp_path: Path) -> None:
    from biofab.process import monitor_workflows as wf

    full = pd.read_csv(files["new"])
    pump = full[full["batch"] == "pump3_000"]
    live = tmp_path / "live.csv"
    pump[pump["time_h"] <= 9.0].to_csv(live, index=False)  # the pump fails after 10 h
    db = f"sqlite:///{tmp_path / 'live.db'}"
    report = tmp_path / "live.html"
    seen: list[tuple[int, float | None, int]] = []
    pages: list[str] = []

    def on_poll(poll: int, result: wf.MonitorResult | None, error: str | None) -> None:
        assert result is not None and error is None
        s = result.scores[0]
        seen.append((poll, s.first_alarm_time_h, len(Store(db).events("alarm."))))
        pages.append(report.read_text())
        if poll == 1:  # the logger writes the rest of the run
            pump.to_csv(live, index=False)

    request = wf.MonitorRequest(files["good"], live, db=db, report=report, watch_s=0.01, polls=3)
    wf.monitor(request, on_poll)
    assert seen[0] == (1, None, 0)
    assert seen[1][1] is not None and seen[1][2] >= 1  # raised when the data arrived
    assert seen[2][2] == seen[1][2]  # the same data again: nothing new recorded
    refresh = "http-equiv='refresh' content='1'"
    # the page reloads while polls follow, and stops after the last one
    assert refresh in pages[0] and refresh in pages[1] and refresh not in pages[2]


def test_watch_through_the_cli_ends_with_a_page_that_stops_reloading(
    files: dict[str, Path], tmp_path: Path, capsys
) -> None:
    report = tmp_path / "watch.html"
    code, out, err = cli(
        capsys, "process", "monitor", files["good"], files["new"], "--watch", "0.01",
        "--polls", "2", "--report", report,
    )  # fmt: skip
    assert code == 0, err
    assert "poll 2" in out and "pump3_000" in out
    assert "http-equiv='refresh'" not in report.read_text()


def test_watch_settings_are_checked(files: dict[str, Path], capsys) -> None:
    args = ["process", "monitor", files["good"], files["new"]]
    code, _, err = cli(capsys, *args, "--watch", "0")
    _refused(code, err, "watch interval")
    code, _, err = cli(capsys, *args, "--watch", "1", "--polls", "0")
    _refused(code, err, "polls must be >= 1")
