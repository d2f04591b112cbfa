"""The live twin monitored against good batches: a feed pump that stops mid-batch raises
an alarm kept in the store while a normal batch raises none; the report is rewritten while
the run goes on (reloading itself) and ends with control charts and the alarm table; bad
monitoring settings are refused before anything runs."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from biofab.core.errors import InputError
from biofab.process.alarms import AlarmLog
from biofab.process.live.workflow import TwinRequest, run_twin
from biofab.process.scenario import Scenario
from biofab.store import Store

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "process" / "ecoli_fedbatch.yaml"
MONITORED = ("X", "S", "DO", "V", "mu")


def _scenario(kla: float, x0: float, seed: int, feed_stop_h: float | None = None) -> Scenario:
    data = copy.deepcopy(yaml.safe_load(EXAMPLE.read_text()))
    data["parameters"] = {"kLa": kla}
    data["initial"]["X"] = x0
    data["measurements"]["seed"] = seed
    if feed_stop_h is not None:  # the feed pump fails
        data["events"].append({"t": feed_stop_h, "feed_stop": True})
    return Scenario.from_dict(data)


def _run_file(folder: Path, name: str, scenario: Scenario) -> Path:
    path = folder / f"{name}.csv"
    scenario.measure(scenario.simulate(), batch_id=name).to_csv(path, format="wide")
    return path


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five good batches as a lab would keep them: the twin's estimates (``--out``) of
    earlier runs that varied in aeration and inoculum."""
    folder = tmp_path_factory.mktemp("good")
    rng = np.random.default_rng(0)
    frames = []
    for i in range(5):
        s = _scenario(600 * rng.uniform(0.9, 1.1), rng.uniform(0.17, 0.23), seed=10 + i)
        request = TwinRequest(
            scenario=EXAMPLE,
            replay=_run_file(folder, f"good{i}", s),
            speed=0,
            db=f"sqlite:///{folder / 'good.db'}",
            progress=False,
        )
        estimates = run_twin(request).estimates
        frame = estimates[["time_h", *MONITORED]].copy()
        frame.insert(0, "batch", f"good{i}")
        frames.append(frame)
    path = folder / "good.csv"
    pd.concat(frames).to_csv(path, index=False)
    return path


def _monitored_run(
    good: Path, folder: Path, name: str, feed_stop_h: float | None, every_s: float | None = None
) -> tuple[object, str]:
    """A monitored replay; a report rewritten every ``every_s`` s (None: no report)."""
    db = f"sqlite:///{folder / 'live.db'}"
    request = TwinRequest(
        scenario=EXAMPLE,
        replay=_run_file(folder, name, _scenario(618, 0.21, seed=5, feed_stop_h=feed_stop_h)),
        speed=0,
        db=db,
        monitor=good,
        report=None if every_s is None else folder / f"{name}.html",
        report_every_s=every_s or 0.0,
        progress=False,
    )
    return run_twin(request), db


def test_feed_failure_raises_one_stored_alarm_and_a_normal_batch_none(
    good: Path, tmp_path: Path
) -> None:
    normal, db = _monitored_run(good, tmp_path, "normal", None)
    assert normal.alarms == []  # type: ignore[attr-defined]

    failed, _ = _monitored_run(good, tmp_path, "pump", feed_stop_h=11.0)
    alarms = failed.alarms  # type: ignore[attr-defined]
    assert len(alarms) == 1
    alarm = alarms[0]
    assert alarm.alarm_id == "pump/multivariate/1" and alarm.active
    # raised within an hour of the failure (3 points of 0.25 h beyond a limit)
    assert 11.0 < alarm.raised_h <= 12.0
    with Store(db, create=False) as store:  # deduplicated: raised once, in the audit log
        kept = AlarmLog(store).states("pump")
        assert [a.alarm_id for a in kept] == ["pump/multivariate/1"]
        assert AlarmLog(store).states("normal") == []
        assert len(store.events("alarm.raised")) == 1


def test_report_is_rewritten_while_running_and_ends_with_charts(good: Path, tmp_path: Path) -> None:
    result, _ = _monitored_run(good, tmp_path, "pump", feed_stop_h=11.0, every_s=0.0)
    writes = result.report_writes  # type: ignore[attr-defined]
    steps = result.stats.steps  # type: ignore[attr-defined]
    assert writes == steps + 1  # every step (interval 0) and the final page
    page = (tmp_path / "pump.html").read_text()
    assert "Control charts" in page and "Alarms" in page and "pump/multivariate/1" in page
    assert "http-equiv='refresh'" not in page  # the final page stops reloading
    assert "(running)" not in page


def test_running_page_reloads_itself(good: Path, tmp_path: Path) -> None:
    from biofab.process.live.loop import LiveLoop
    from biofab.process.live.readings import ReadingValidator
    from biofab.process.live.report import live_page
    from biofab.process.live.twin import LiveTwin
    from biofab.process.live.watch import LiveMonitor, fit_live_monitor
    from biofab.process.live.workflow import TwinResult

    scenario = Scenario.from_yaml(EXAMPLE)
    twin = LiveTwin(scenario, "ekf")
    monitor = LiveMonitor(fit_live_monitor(good, (*twin.names, "mu")), "r")
    loop = LiveLoop(twin, ReadingValidator("ecoli"))
    result = TwinResult("r", "test", twin.frame(), loop.stats, {})
    page = live_page(twin, loop, result, "", monitor, refresh_s=5)
    assert "http-equiv='refresh' content='5'" in page and "(running)" in page
    assert "has not reached the model" in page  # (quote escaped in the page)


def test_monitor_variables_the_twin_does_not_estimate_are_refused_before_anything_runs(
    good: Path, tmp_path: Path
) -> None:
    db = tmp_path / "never.db"
    request = TwinRequest(
        scenario=EXAMPLE,
        replay=tmp_path / "missing-too.csv",
        db=f"sqlite:///{db}",
        monitor=good,
        monitor_variables=("X", "OUR"),
        progress=False,
    )
    with pytest.raises(InputError, match="must be estimated by the twin") as err:
        run_twin(request)
    assert "OUR" in str(err.value) and "\n" not in str(err.value)
    assert not db.exists()

    request = TwinRequest(
        scenario=EXAMPLE,
        replay=tmp_path / "missing-too.csv",
        db=f"sqlite:///{db}",
        monitor=good,
        monitor_variables=("X", "P"),  # estimated, but not in the good batches
        progress=False,
    )
    with pytest.raises(InputError, match="not in the good batches"):
        run_twin(request)
    assert not db.exists()


def test_cli_refuses_a_bad_monitor_setting_with_one_line_and_exit_2(
    good: Path, tmp_path: Path
) -> None:
    args = [sys.executable, "-m", "biofab.cli", "process", "twin", "--scenario", str(EXAMPLE),
            "--replay", str(good), "--db", f"sqlite:///{tmp_path / 'x.db'}",
            "--monitor", str(good), "--monitor-variables", "X,OUR"]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "BIOFAB_DB"}
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "must be estimated by the twin" in lines[0]
    assert not (tmp_path / "x.db").exists()

    args[-2:] = ["--alpha", "1.5"]
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2 and "alpha must be in (0.5, 1)" in done.stderr
