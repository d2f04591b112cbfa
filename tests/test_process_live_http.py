"""HTTP source: a real uvicorn server on localhost, readings POSTed with httpx and sent over
a WebSocket; bad batches get a 4xx with one line and nothing of them is stored. And the
``biofab process twin`` command end to end (replay), with its bad-input exit code."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from biofab.core.errors import InputError
from biofab.process.live.http import HttpSource
from biofab.process.live.loop import LiveLoop
from biofab.process.live.readings import ReadingValidator
from biofab.process.live.replay import batch_readings
from biofab.process.live.twin import LiveTwin
from biofab.process.live.writer import ReadingWriter
from biofab.process.scenario import Scenario
from biofab.store import Store

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "process" / "ecoli_fedbatch.yaml"


def wait_for_endpoint(
    base: str, alive: Callable[[], bool], what: Any = "", pause: float = 0.05
) -> None:
    """Poll ``base``/health until it answers 200 (60 s at most); fail at once when
    ``alive()`` says the twin ended first (``what``: shown then, e.g. its output)."""
    deadline = time.monotonic() + 60
    while True:
        assert alive(), f"the twin ended before its endpoint started {what}"
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the twin's HTTP endpoint did not start"
        time.sleep(pause)


def _body(readings: list[Any]) -> dict[str, Any]:
    return {
        "readings": [
            {"time_h": r.time_h, "variable": r.variable, "value": r.value, "unit": r.unit}
            for r in readings
        ]
    }


def test_http_source_validates_at_the_edge(tmp_path: Path) -> None:
    scenario = Scenario.from_yaml(EXAMPLE)
    batch = scenario.measure(scenario.simulate())
    good = batch_readings(batch.slice(0.0, 2.0))
    later = batch_readings(batch.slice(2.1, 3.0))
    url = f"sqlite:///{tmp_path / 'http.db'}"
    store = Store(url, who="tester")
    validator = ReadingValidator("ecoli", volume_max=2.0)
    source = HttpSource(validator, port=0)
    loop = LiveLoop(LiveTwin(scenario, "ekf"), validator, writer=ReadingWriter(store, "h", "ecoli"))
    thread = threading.Thread(target=lambda: asyncio.run(loop.run(source)), daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while source.started is None or not source.started.is_set():
        assert time.monotonic() < deadline, "the HTTP source did not start"
        time.sleep(0.02)
    base = f"http://127.0.0.1:{source.port}/live"

    with httpx.Client(base_url=base, timeout=10) as client:
        assert client.get("/health").json()["status"] == "ok"
        ok = client.post("/readings", json=_body(good))
        assert ok.status_code == 202 and ok.json() == {"queued": len(good)}, ok.text

        def refused(body: Any, status: int, words: str) -> None:
            content = body if isinstance(body, bytes) else json.dumps(body).encode()
            r = client.post(
                "/readings", content=content, headers={"content-type": "application/json"}
            )
            assert r.status_code == status, r.text
            detail = r.json()["detail"]
            assert isinstance(detail, str) and "\n" not in detail and words in detail, detail

        one = {"time_h": 2.5, "variable": "OUR", "value": 10.0, "unit": "mmol/L/h"}
        refused(
            {"readings": [one, {**one, "time_h": 2.6, "unit": "mmol/fortnight"}]},
            422,
            "unknown unit",
        )
        refused(
            {"readings": [one, {**one, "variable": "X", "value": -1.0, "unit": "g/L"}]},
            422,
            "negative",
        )
        refused({"readings": [one, {**one, "time_h": 2.4}]}, 422, "does not increase")
        refused(b'{"readings": [', 400, "not JSON")
        refused({"readings": [{**one, "value": "high"}]}, 422, "readings.0.value")
        refused({"readings": [{**one, "colour": "red"}]}, 422, "colour")
        refused({"readings": []}, 422, "readings")

        from websockets.sync.client import connect

        with connect(f"ws://127.0.0.1:{source.port}/live/readings/ws") as ws:
            ws.send(json.dumps(_body(later)))
            assert json.loads(ws.recv()) == {"queued": len(later)}
            ws.send("not json")
            assert "not JSON" in json.loads(ws.recv())["error"]
            ws.send(json.dumps({**one, "time_h": 2.9, "unit": "furlong"}))
            assert "unknown unit" in json.loads(ws.recv())["error"]
        assert client.post("/end").json() == {"ended": True}
    thread.join(timeout=30)
    assert not thread.is_alive()
    counts = store.reading_counts("h")
    store.close()
    # every refused batch stored nothing; the good ones all went to the twin
    assert counts == {"accepted": len(good) + len(later), "late": 0, "rejected": 0}
    assert loop.stats.rejected == 0 and loop.twin.frame()["time_h"].iloc[-1] == pytest.approx(3.0)


def test_cli_twin_replay_and_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from biofab.cli.main import main

    scenario = Scenario.from_yaml(EXAMPLE)
    data = tmp_path / "run.csv"
    scenario.measure(scenario.simulate()).slice(0.0, 4.0).to_csv(data)
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    report, out = tmp_path / "twin.html", tmp_path / "est.csv"
    args = ["process", "twin", "--scenario", str(EXAMPLE), "--replay", str(data), "--speed", "0"]
    main([*args, "--db", db, "--report", str(report), "--out", str(out), "--json"])
    result = json.loads(capsys.readouterr().out)
    assert result["readings"]["accepted"] == result["stored"]["accepted"] > 0
    assert result["final"]["time_h"] == pytest.approx(4.0)
    assert report.stat().st_size > 100_000 and "±" in report.read_text(encoding="utf-8")
    assert out.read_text().startswith("time_h,readings,X,X_std")

    with pytest.raises(SystemExit) as exit_:
        main([*args, "--listen", "127.0.0.1:9", "--db", db])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: name exactly one source") and "\n" not in err
    with pytest.raises(SystemExit) as exit_:
        main(
            ["process", "twin", "--scenario", str(EXAMPLE), "--source", "opc.tcp://h:1", "--db", db]
        )
    assert exit_.value.code == 2 and "node map" in capsys.readouterr().err


@pytest.mark.parametrize(("signame", "code", "said"), [("SIGINT", 130, "Ctrl-C"),
                                                       ("SIGTERM", 143, "SIGTERM")])  # fmt: skip
def test_cli_twin_stopped_with_ctrl_c_still_writes_its_outputs(
    tmp_path: Path, signame: str, code: int, said: str
) -> None:
    """An HTTP (or OPC UA) source may never say the batch is over: the operator ends the
    run with Ctrl-C, a service manager with SIGTERM. The readings are stored, the
    estimates CSV and the final report (which no longer reloads) are written, and the
    exit code is 128 + the signal's number."""
    import os
    import signal
    import socket
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    db, out, report = tmp_path / "live.db", tmp_path / "est.csv", tmp_path / "twin.html"
    command = [sys.executable, "-m", "biofab.cli", "process", "twin", "--scenario", str(EXAMPLE),
               "--listen", f"127.0.0.1:{port}", "--db", f"sqlite:///{db}", "--run", "B-1",
               "--out", str(out), "--report", str(report)]  # fmt: skip
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}

    def interruptible() -> None:
        # A job started in the background of a non-interactive shell (a CI script's `&`)
        # inherits SIGINT ignored, and so would the twin: give it the terminal's default.
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        preexec_fn=interruptible,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}/live"
        wait_for_endpoint(base, lambda: proc.poll() is None, proc.args, pause=0.1)
        one = {"variable": "OUR", "value": 12.0, "unit": "mmol/L/h"}
        body = {"readings": [{**one, "time_h": 0.5}, {**one, "time_h": 1.5}]}
        assert httpx.post(f"{base}/readings", json=body, timeout=10).status_code == 202
        # the twin's loop is busy with the estimator steps of those readings: on a loaded
        # machine an answer can take over a second (a 1 s timeout failed a full run here)
        while httpx.get(f"{base}/health", timeout=20).json()["queued"]:
            time.sleep(0.05)
        proc.send_signal(getattr(signal, signame))
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, stderr
    assert "Traceback" not in stderr
    assert f"stopped by {said}" in stdout and "2 readings, 2 accepted" in stdout
    assert out.read_text().startswith("time_h,readings,X,X_std")
    assert "http-equiv='refresh'" not in report.read_text(encoding="utf-8")
    with Store(f"sqlite:///{db}", create=False) as store:
        assert store.reading_counts("B-1")["accepted"] == 2


def test_cli_twin_resumes_a_run_the_store_already_holds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A twin restarted with ``--run`` on a run the store holds (after a crash or Ctrl-C, or
    the same file replayed again) resumes it: the stored readings are fed first, so the estimates
    continue instead of restarting from the initial guess, and what the source sends
    again is dropped as a duplicate instead of stored twice (it was: 480 rows of 422)."""
    import pandas as pd

    from biofab.cli.main import main

    scenario = Scenario.from_yaml(EXAMPLE)
    data = tmp_path / "run.csv"
    scenario.measure(scenario.simulate()).slice(0.0, 4.0).to_csv(data)
    base = ["process", "twin", "--scenario", str(EXAMPLE), "--replay", str(data), "--speed", "0"]
    once, twice = f"sqlite:///{tmp_path / 'once.db'}", f"sqlite:///{tmp_path / 'twice.db'}"
    main([*base, "--db", once, "--out", str(tmp_path / "once.csv")])
    main([*base, "--db", twice, "--until", "2"])  # stopped half-way
    capsys.readouterr()
    # resuming is explicit: the run's name (without it a new run starts, test_process_live_runs)
    resume = ["--run", "ecoli_fedbatch"]
    main([*base, *resume, "--db", twice, "--out", str(tmp_path / "twice.csv")])
    out, err = capsys.readouterr()
    assert "already holds" in err and "resuming it" in err
    assert "resumed from the store" in " ".join(out.split())
    # the restarted twin ends where the uninterrupted one does, on the same stored rows
    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / "twice.csv"), pd.read_csv(tmp_path / "once.csv")
    )
    with Store(once, create=False) as a, Store(twice, create=False) as b:
        assert b.reading_counts("ecoli_fedbatch") == a.reading_counts("ecoli_fedbatch")
    # the same file once more: every reading is a duplicate, nothing new is stored
    main([*base, *resume, "--db", twice, "--json"])
    result = json.loads(capsys.readouterr().out)
    assert result["readings"]["duplicate"] == result["stored"]["accepted"] > 0
    with Store(once, create=False) as a, Store(twice, create=False) as b:
        assert b.reading_counts("ecoli_fedbatch") == a.reading_counts("ecoli_fedbatch")


def test_cli_twin_rejects_an_impossible_concentration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A biomass sample of 1e6 g/L (a unit slip, a typo) is no reading of a broth, nor an
    OUR of 1e12 mmol/L/h: each is stored as rejected with its reason, and the run goes on
    (the first was accepted; the second stopped the twin, every reading lost)."""
    import pandas as pd

    from biofab.cli.main import main

    scenario = Scenario.from_yaml(EXAMPLE)
    frame = scenario.measure(scenario.simulate()).slice(0.0, 4.0).to_long()
    row = frame.index[frame["variable"] == "biomass"][1]
    frame.loc[row, "value"] = 1e6
    # an OUR of 1e12 mmol/L/h sent the filter to infinity: the twin stopped, nothing stored
    frame.loc[frame.index[frame["variable"] == "OUR"][5], "value"] = 1e12
    data = tmp_path / "run.csv"
    frame.to_csv(data, index=False)
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    main(["process", "twin", "--scenario", str(EXAMPLE), "--replay", str(data), "--speed", "0",
          "--db", db, "--run", "B-1", "--json"])  # fmt: skip
    result = json.loads(capsys.readouterr().out)
    assert result["readings"]["rejected"] == 2 and result["stored"]["rejected"] == 2
    with Store(db, create=False) as store:
        bad = {r.variable: r for r in store.readings("B-1", status="rejected")}
    assert bad["biomass"].value == 1e6 and "<= 1000 g/L" in (bad["biomass"].reason or "")
    assert "<= 2000 mmol/L/h" in (bad["OUR"].reason or "")
    assert pd.notna(result["final"]["X"]) and result["final"]["time_h"] == pytest.approx(4.0)


def test_cli_twin_rejects_a_reading_stamped_far_ahead(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A reading 5000 h after inoculation (a clock slip, milliseconds read as hours) is
    rejected by the horizon rule (default 10 × the scenario's t_end) and the run goes on;
    it crashed the twin (the recipe's exponential feed overflowed after 18,955 steps)."""
    import pandas as pd

    from biofab.cli.main import main

    scenario = Scenario.from_yaml(EXAMPLE)
    frame = scenario.measure(scenario.simulate()).slice(0.0, 4.0).to_long()
    slip = frame[frame["variable"] == "OUR"].tail(1).assign(time_h=5000.0)
    data = tmp_path / "run.csv"
    pd.concat([frame, slip]).to_csv(data, index=False)
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    main(["process", "twin", "--scenario", str(EXAMPLE), "--replay", str(data), "--speed", "0",
          "--db", db, "--run", "B-1", "--json"])  # fmt: skip
    result = json.loads(capsys.readouterr().out)
    assert result["readings"]["rejected"] == 1 and result["final"]["time_h"] == pytest.approx(4.0)
    with Store(db, create=False) as store:
        (bad,) = store.readings("B-1", status="rejected")
    assert bad.time_h == 5000.0 and "<= 160 h" in (bad.reason or "")
    with pytest.raises(SystemExit) as exit_:
        main(["process", "twin", "--scenario", str(EXAMPLE), "--replay", str(data),
              "--time-max", "0", "--db", db])  # fmt: skip
    assert exit_.value.code == 2 and "time max" in capsys.readouterr().err


def test_a_port_in_use_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--listen`` on a port another process holds: one line and exit code 2, no store
    (it was uvicorn's SystemExit escaping the event loop: 81 lines, exit code 1, an empty
    run left in the store). The source itself says it in one line too."""
    import socket

    from biofab.cli.main import main

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = int(busy.getsockname()[1])
        db = tmp_path / "none.db"
        with pytest.raises(SystemExit) as exit_:
            main(["process", "twin", "--scenario", str(EXAMPLE), "--listen",
                  f"127.0.0.1:{port}", "--db", f"sqlite:///{db}"])  # fmt: skip
        err = capsys.readouterr().err.strip()
        assert exit_.value.code == 2 and "\n" not in err, err
        assert f"cannot listen on 127.0.0.1:{port}" in err and not db.exists()

        source = HttpSource(ReadingValidator("ecoli"), port=port)

        async def drain() -> None:
            async for _ in source:
                pass

        with pytest.raises(InputError, match=f"cannot listen on 127.0.0.1:{port}") as refusal:
            asyncio.run(drain())
        assert "\n" not in str(refusal.value)


def test_cli_twin_ukf_prints_no_numpy_warnings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--filter ukf``: the sigma points may reach V = 0 when mu is evaluated; that printed
    a NumPy RuntimeWarning ("invalid value encountered in scalar divide") on stderr."""
    import warnings

    from biofab.cli.main import main

    scenario = Scenario.from_yaml(EXAMPLE)
    data = tmp_path / "run.csv"
    scenario.measure(scenario.simulate()).slice(0.0, 2.0).to_csv(data)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        db = f"sqlite:///{tmp_path / 'u.db'}"
        main(["process", "twin", "--scenario", str(EXAMPLE), "--replay", str(data), "--speed",
              "0", "--filter", "ukf", "--db", db, "--json"])  # fmt: skip
    assert json.loads(capsys.readouterr().out)["final"]["time_h"] == pytest.approx(2.0)


def test_cli_twin_replays_one_batch_of_a_multi_batch_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The replay refused a multi-batch file with 'name one', but the command had no way
    to name one: ``--batch``. An unknown name is one line, nothing stored."""
    import pandas as pd

    from biofab.cli.main import main

    scenario = Scenario.from_yaml(EXAMPLE)
    one = scenario.measure(scenario.simulate()).slice(0.0, 2.0).to_long()
    data = tmp_path / "two.csv"
    pd.concat([one, one.assign(batch="B-2")]).to_csv(data, index=False)
    db = tmp_path / "two.db"
    base = ["process", "twin", "--scenario", str(EXAMPLE), "--replay", str(data), "--speed", "0",
            "--db", f"sqlite:///{db}"]  # fmt: skip
    for extra, words in (([], "name one (--batch)"), (["--batch", "B-9"], "no such batch")):
        with pytest.raises(SystemExit) as exit_:
            main([*base, *extra])
        err = capsys.readouterr().err.strip()
        assert exit_.value.code == 2 and "\n" not in err and words in err and "B-2" in err
        assert not db.exists()
    main([*base, "--batch", "B-2", "--json"])
    result = json.loads(capsys.readouterr().out)
    assert result["run"] == "B-2" and result["final"]["time_h"] == pytest.approx(2.0)
