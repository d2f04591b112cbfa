"""OPC UA round trip: a real asyncua server on localhost publishes a simulated fed-batch
run (the pillar's simulator with noise, 1 simulated hour per 20 ms); the live twin reads it
through OpcUaSource, the server is stopped mid-run and restarted, and the twin must track
the simulated truth with no received reading lost."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from biofab.core.errors import InputError
from biofab.process.live.loop import LiveLoop
from biofab.process.live.opcua import NodeMap, OpcUaSource
from biofab.process.live.readings import ReadingValidator
from biofab.process.live.twin import LiveTwin
from biofab.process.live.writer import ReadingWriter
from biofab.process.scenario import Scenario, batch_frames
from biofab.store import Store
from opcua_reactor import Reactor, beside_idle_reactor, free_port, node_map, samples

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "process" / "ecoli_fedbatch.yaml"
SECONDS_PER_HOUR = 0.02
OUTAGE = (8.0, 9.0)  # h of the run during which the server is down


def test_twin_tracks_a_real_opcua_server_through_a_restart(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    example = Scenario.from_yaml(EXAMPLE)
    assert example.measurements is not None
    # another noise draw than the example's seed 1, on which the process noise was chosen
    scenario = replace(example, measurements=replace(example.measurements, seed=7))
    truth = scenario.simulate()
    online, offline = batch_frames("ecoli", scenario.measure(truth))
    run = samples(online, offline)

    async def main() -> tuple[Reactor, OpcUaSource, LiveLoop]:
        reactor = Reactor(free_port())
        await reactor.start()
        await reactor.publish(*run[0])
        source = OpcUaSource(
            reactor.url, node_map(), backoff_s=0.05, backoff_max_s=0.2, check_s=0.2
        )
        store = Store(f"sqlite:///{tmp_path / 'live.db'}", who="tester")
        writer = ReadingWriter(store, "opc-run", "ecoli", flush_every=50)
        # at 20 ms per hour one 20 ms publish spans an hour of the run: widen the window
        loop = LiveLoop(
            LiveTwin(scenario, "ekf"),
            ReadingValidator("ecoli", volume_max=2.0),
            window_h=2.0,
            writer=writer,
        )
        runner = asyncio.create_task(loop.run(source, flush_seconds=0.1))

        async def reconnected() -> None:
            while source.connects < 2:
                await asyncio.sleep(0.01)

        await reactor.subscribed()
        await reactor.play(run, SECONDS_PER_HOUR, outage=OUTAGE, reconnected=reconnected)
        await asyncio.wait_for(runner, timeout=30)
        await reactor.stop()
        return reactor, source, loop

    reactor, source, loop = asyncio.run(main())
    with Store(f"sqlite:///{tmp_path / 'live.db'}", create=False) as store:
        counts = store.reading_counts("opc-run")
        stored = store.readings("opc-run")

    # the connection dropped once and came back
    assert source.connects == 2 and source.drops == 1
    # ... said in one line by the source, not in asyncua's warnings and tracebacks
    # ("Publish iteration crashed" with 15 lines of traceback, on the command's stderr)
    assert any("OPC UA connection lost" in r.getMessage() for r in caplog.records)
    client = [r.getMessage() for r in caplog.records if r.name.startswith("asyncua.client")]
    assert not client, client
    # every value published while connected was received and stored; none twice, none late
    assert len(reactor.published) == counts["accepted"] == len(stored)
    assert counts == {"accepted": len(reactor.published), "late": 0, "rejected": 0}
    before = [r for r in stored if r.time_h is not None and r.time_h < OUTAGE[0]]
    assert len(before) == sum(1 for t, _ in reactor.published if t < OUTAGE[0])
    assert not any(r.time_h is not None and OUTAGE[0] <= r.time_h < OUTAGE[1] for r in stored)
    assert loop.stats.duplicate == source.received - len(stored) > 0  # restart repeats values
    # volume came in mL and feed in mL/h: stored as sent, converted for the twin
    assert {r.unit for r in stored if r.variable == "V"} == {"mL"}

    frame, reference = loop.twin.frame().iloc[1:], truth.frame  # step ends, not the prior
    assert frame["time_h"].iloc[-1] == pytest.approx(16.0)
    for name, bound in (("X", 0.8), ("S", 0.1)):  # g/L; X reaches 18, S starts at 10
        ref = np.interp(frame["time_h"], reference["time_h"], reference[name])
        err = frame[name].to_numpy() - ref
        rmse = float(np.sqrt(np.mean(err**2)))
        cover = float(np.mean(np.abs(err) <= 2 * frame[f"{name}_std"].to_numpy()))
        print(f"OPC UA twin {name}: RMSE {rmse:.3f} g/L, +-2 sigma coverage {cover:.2f}")
        assert rmse < bound
        assert cover >= 0.8


def test_node_map_and_unreachable_server(tmp_path: Path) -> None:
    bad = tmp_path / "map.yaml"
    bad.write_text("nodes:\n  OUR: {node: 'ns=2;s=OUR'}\n")
    with pytest.raises(InputError, match=r"map\.yaml, key nodes\.OUR\.unit: missing key"):
        NodeMap.from_yaml(bad)
    with pytest.raises(InputError, match="time without a zone"):
        NodeMap.from_dict(
            {"start": "2026-12-04T08:00:00", "nodes": {"X": {"node": "a", "unit": "g/L"}}}
        )
    with pytest.raises(InputError, match="not an OPC UA URL"):
        OpcUaSource("http://localhost:4840", node_map())
    source = OpcUaSource(
        f"opc.tcp://127.0.0.1:{free_port()}", node_map(), backoff_s=0.01, max_retries=2
    )

    async def drain() -> None:
        async for _ in source:
            pass

    with pytest.raises(InputError, match="cannot reach the OPC UA server") as err:
        asyncio.run(drain())
    assert "\n" not in str(err.value)


def test_cli_workflow_reads_an_opcua_server(tmp_path: Path) -> None:
    """``run_twin`` (what ``biofab process twin --source --map`` calls) on a live server."""
    import threading

    import yaml

    from biofab.process.live.workflow import TwinRequest, TwinResult, run_twin

    scenario = Scenario.from_yaml(EXAMPLE)
    online, offline = batch_frames("ecoli", scenario.measure(scenario.simulate()))
    run = [s for s in samples(online, offline) if s[0] <= 4.0]
    mapping = tmp_path / "map.yaml"
    mapping.write_text(yaml.safe_dump(node_map()))
    results: list[TwinResult] = []
    port = free_port()
    request = TwinRequest(
        scenario=EXAMPLE,
        source=f"opc.tcp://127.0.0.1:{port}/biofab/reactor",
        node_map=mapping,
        window_h=2.0,
        db=f"sqlite:///{tmp_path / 'cli.db'}",
        run="B-1",
        report=tmp_path / "twin.html",
        progress=False,
    )

    async def main() -> None:
        reactor = Reactor(port)
        await reactor.start()
        await reactor.publish(*run[0])
        thread = threading.Thread(target=lambda: results.append(run_twin(request)), daemon=True)
        thread.start()
        await reactor.subscribed()
        await reactor.play(run, SECONDS_PER_HOUR)
        while thread.is_alive():
            await asyncio.sleep(0.05)
        await reactor.stop()
        assert len(reactor.published) == results[0].store_counts["accepted"]

    asyncio.run(main())
    (result,) = results
    assert result.run == "B-1" and result.stats.rejected == 0
    assert result.estimates["time_h"].iloc[-1] == pytest.approx(4.0)
    assert (tmp_path / "twin.html").stat().st_size > 100_000


def test_cli_refuses_a_map_the_twin_or_the_server_cannot_use(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A map unit the twin cannot convert, or a variable it does not know, is one line and
    exit code 2 before anything is connected or stored (every reading of that node was
    rejected, all run long). A node the server lacks ends the run with one line (the
    source reconnected and was refused again, for ever)."""

    import yaml

    from biofab.cli.main import main
    from biofab.process.live.workflow import TwinRequest, run_twin

    db = tmp_path / "none.db"
    base = ["process", "twin", "--scenario", str(EXAMPLE), "--source", "opc.tcp://127.0.0.1:9/x",
            "--db", f"sqlite:///{db}"]  # fmt: skip
    for change, words in (
        ({"OUR": {"node": "ns=2;s=Reactor.OUR", "unit": "mmol/h"}}, "key nodes.OUR.unit"),
        ({"pH": {"node": "ns=2;s=Reactor.pH", "unit": "pH"}}, "key nodes.pH: pH: unknown"),
    ):
        spec = node_map()
        spec["nodes"].update(change)
        path = tmp_path / "map.yaml"
        path.write_text(yaml.safe_dump(spec))
        with pytest.raises(SystemExit) as exit_:
            main([*base, "--map", str(path)])
        err = capsys.readouterr().err.strip()
        assert exit_.value.code == 2 and "\n" not in err and words in err, err
        assert not db.exists()

    # nobody listens: --max-retries ends the run (it retried for ever) in one line
    path.write_text(yaml.safe_dump(node_map()))
    with pytest.raises(SystemExit) as exit_:
        main([*base, "--map", str(path), "--max-retries", "1"])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert exit_.value.code == 2 and "cannot reach the OPC UA server" in err and "2 tries" in err

    spec = node_map()
    spec["nodes"]["A"] = {"node": "ns=2;s=Reactor.Acetate", "unit": "g/L"}  # not served
    path = tmp_path / "map.yaml"
    path.write_text(yaml.safe_dump(spec))
    port = free_port()
    request = TwinRequest(
        scenario=EXAMPLE,
        source=f"opc.tcp://127.0.0.1:{port}/biofab/reactor",
        node_map=path,
        db=f"sqlite:///{tmp_path / 'served.db'}",
        progress=False,
    )
    errors: list[BaseException] = []

    def twin() -> None:
        try:
            run_twin(request)
        except BaseException as err:  # the test reads it
            errors.append(err)

    beside_idle_reactor(port, twin)
    (refusal,) = errors
    assert isinstance(refusal, InputError) and "refused to monitor" in str(refusal)
    assert "ns=2;s=Reactor.Acetate" in str(refusal) and "\n" not in str(refusal)
