"""Which run a live twin writes to, through the CLI on real components (an asyncua server
and the twin's own HTTP endpoint on localhost, a SQLite store):

- a source that never delivers a reading (a server nobody listens on, a node map the
  server refuses) leaves no run in the store: the run is created with its first reading;
- a session without ``--run`` always starts a new run, named and printed at start; only
  ``--run NAME`` of a stored run resumes it (the replayed file too).
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from pathlib import Path

import httpx
import pytest
import yaml

from biofab.process.scenario import Scenario
from biofab.store import Store
from opcua_reactor import beside_idle_reactor, free_port, node_map
from test_process_live_http import wait_for_endpoint

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "process" / "ecoli_fedbatch.yaml"
TWIN = ["process", "twin", "--scenario", str(EXAMPLE)]


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    from biofab.cli.main import main

    try:
        main(list(args))
        code = 0
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def _runs(db: Path) -> list[str]:
    """The run names the store holds, and fails on a create_run audit entry without one."""
    with sqlite3.connect(db) as con:
        names = [r[0] for r in con.execute("SELECT name FROM runs ORDER BY id")]
        created = [
            json.loads(r[0])["run"]
            for r in con.execute("SELECT detail FROM audit_log WHERE action = 'create_run'")
        ]
    assert created == names
    return names


def test_an_opcua_source_that_never_delivers_leaves_no_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "live.db"
    url = f"sqlite:///{db}"
    path = tmp_path / "map.yaml"
    path.write_text(yaml.safe_dump(node_map()))
    # nobody listens on the port: the run ends in one line, exit code 2, no run stored
    closed = f"opc.tcp://127.0.0.1:{free_port()}/biofab/reactor"
    code, _, err = _cli(
        capsys, *TWIN, "--source", closed, "--map", str(path), "--db", url, "--max-retries", "1"
    )
    assert code == 2 and "cannot reach the OPC UA server" in err.strip().splitlines()[-1]
    assert _runs(db) == []

    # a node the server does not have: refused when subscribing, one line, no run stored
    spec = node_map()
    spec["nodes"]["A"] = {"node": "ns=2;s=Reactor.Acetate", "unit": "g/L"}
    path.write_text(yaml.safe_dump(spec))
    port = free_port()
    args = [*TWIN, "--source", f"opc.tcp://127.0.0.1:{port}/biofab/reactor", "--map", str(path)]
    codes: list[int] = []

    def twin() -> None:
        from biofab.cli.main import main

        try:
            main([*args, "--db", url, "--run", "B-7"])
            codes.append(0)
        except SystemExit as exit_:
            codes.append(int(exit_.code or 0))

    beside_idle_reactor(port, twin)
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert codes == [2] and "refused to monitor" in err and "ns=2;s=Reactor.Acetate" in err
    assert _runs(db) == []


def _listen_session(
    capsys: pytest.CaptureFixture[str], db: str, value: float | None, *extra: str
) -> tuple[dict[str, object], str]:
    """One ``--listen`` session: two OUR readings at 0.5 and 1 h (none if ``value`` is
    None), then ``/live/end``."""
    port = free_port()
    codes: list[int] = []

    def twin() -> None:
        from biofab.cli.main import main

        try:
            main([*TWIN, "--listen", f"127.0.0.1:{port}", "--db", db, "--json", *extra])
            codes.append(0)
        except SystemExit as exit_:  # pragma: no cover - the assertion below says it
            codes.append(int(exit_.code or 0))

    thread = threading.Thread(target=twin, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}/live"
    wait_for_endpoint(base, thread.is_alive)
    if value is not None:
        one = {"variable": "OUR", "value": value, "unit": "mmol/L/h"}
        body = {"readings": [{**one, "time_h": 0.5}, {**one, "time_h": 1.0}]}
        assert httpx.post(f"{base}/readings", json=body, timeout=10).status_code == 202
    assert httpx.post(f"{base}/end", timeout=10).status_code == 200
    thread.join(60)
    assert not thread.is_alive() and codes == [0]
    out, err = capsys.readouterr()
    return json.loads(out), err


def test_each_live_session_without_run_is_a_new_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two batches on the same endpoint, no ``--run``: the second's readings were stored as
    conflicts of the first's (same run, same times); now each is its own run, named at
    start. ``--run`` of the first resumes it explicitly."""
    db = tmp_path / "live.db"
    url = f"sqlite:///{db}"
    # a session that ended before any reading came stored no run
    empty, _ = _listen_session(capsys, url, None)
    assert empty["readings"]["received"] == 0 and _runs(db) == []  # type: ignore[index]
    first, err = _listen_session(capsys, url, 12.3)
    # --json keeps stdout for the result: the name is said on stderr at start
    name = str(first["run"])
    assert re.fullmatch(r"http-127\.0\.0\.1:\d+-\d{8}T\d{6}Z", name), name
    assert f"run {name}: a new run" in err and f"--run {name}" in err
    second, _ = _listen_session(capsys, url, 20.0)
    assert second["run"] != name
    for result in (first, second):
        assert result["readings"]["accepted"] == 2 and result["readings"]["rejected"] == 0  # type: ignore[index]
    assert _runs(db) == [name, second["run"]]
    with Store(url, create=False) as store:
        assert [r.value for r in store.readings(name)] == [12.3, 12.3]
        assert [r.value for r in store.readings(str(second["run"]))] == [20.0, 20.0]

    # resuming is explicit: the first run's readings are fed first, the same ones sent
    # again are duplicates, nothing is stored twice
    resumed, err = _listen_session(capsys, url, 12.3, "--run", name)
    assert resumed["run"] == name and "resuming it" in err
    assert resumed["readings"]["resumed"] == 2 and resumed["readings"]["duplicate"] == 2  # type: ignore[index]
    assert _runs(db) == [name, second["run"]]
    with Store(url, create=False) as store:
        assert store.reading_counts(name) == {"accepted": 2, "late": 0, "rejected": 0}


def test_a_file_replayed_again_without_run_is_a_new_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A replay is named after its batch while the store does not hold that run; replayed
    again without ``--run`` it is a new run (said at start), not a resumed one."""
    scenario = Scenario.from_yaml(EXAMPLE)
    data = tmp_path / "run.csv"
    scenario.measure(scenario.simulate()).slice(0.0, 2.0).to_csv(data)
    db = tmp_path / "replay.db"
    args = [*TWIN, "--replay", str(data), "--speed", "0", "--db", f"sqlite:///{db}"]
    code, out, err = _cli(capsys, *args)
    assert code == 0 and "run ecoli_fedbatch: a new run" in err
    code, out, err = _cli(capsys, *args, "--json")
    again = json.loads(out)
    assert code == 0 and re.fullmatch(r"ecoli_fedbatch-\d{8}T\d{6}Z", again["run"])
    assert "run ecoli_fedbatch is in the store already" in err
    assert f"new run {again['run']}" in err and "--run ecoli_fedbatch resumes" in err
    assert again["readings"]["resumed"] == 0 and again["readings"]["duplicate"] == 0
    assert _runs(db) == ["ecoli_fedbatch", again["run"]]
