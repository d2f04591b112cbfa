"""Live twin: the reading validator, the late/duplicate/out-of-order rule, buffered store
writes (SQLite and PostgreSQL), replay at N× speed and the estimator loop."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import numpy as np
import pytest

from biofab.core.errors import InputError
from biofab.process.live.loop import LiveLoop
from biofab.process.live.ordering import ReorderBuffer
from biofab.process.live.readings import Reading, ReadingError, ReadingValidator
from biofab.process.live.replay import ReplaySource, batch_readings
from biofab.process.live.twin import LiveTwin
from biofab.process.live.writer import ReadingWriter
from biofab.process.scenario import Scenario
from biofab.store import ReadingRecord, Store
from biofab.store.schema import utcnow

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "process" / "ecoli_fedbatch.yaml"


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return Scenario.from_yaml(EXAMPLE)


@pytest.fixture(scope="module")
def run(scenario: Scenario):  # type: ignore[no-untyped-def]
    traj = scenario.simulate()
    return traj, scenario.measure(traj, batch_id="run1")


# ------------------------------------------------------------------- validator


def test_validator_converts_units_to_the_twin() -> None:
    v = ReadingValidator("ecoli", volume_max=2.0)
    glucose = v.check(Reading(1.0, "substrate", 55.5, "mM"))
    assert glucose.variable == "S" and glucose.unit == "g/L"
    assert glucose.value == pytest.approx(55.5 * 180.156 / 1000)
    assert v.check(Reading(1.0, "V", 1200, "mL")).value == pytest.approx(1.2)
    assert v.check(Reading(1.0, "feed_rate", 10, "mL/h")).value == pytest.approx(0.01)
    assert v.check(Reading(1.0, "T", 310.15, "K")).value == pytest.approx(37.0)


@pytest.mark.parametrize(
    ("reading", "words"),
    [
        (Reading(1.0, "OUR", 5.0, "mmol/fortnight"), "unknown unit 'mmol/fortnight'"),
        # a vendor's per-vessel rate needs the vessel's volume, which a reading lacks
        (Reading(1.0, "OUR", 5.0, "mmol/h"), "converting 'mmol/h' to 'mmol/L/h' needs a volume"),
        (Reading(1.0, "X", 5.0, "mL"), "cannot convert 'mL' (volume) to 'g/L'"),
        (Reading(1.0, "X", 5.0, ""), "unit missing"),
        (Reading(1.0, "X", -0.5, "g/L"), "physically impossible value (negative)"),
        (Reading(1.0, "V", 3.5, "L"), "0 < value <= 2 L"),
        (Reading(1.0, "V", 0.0, "L"), "volume"),
        (Reading(1.0, "T", 180.0, "degC"), "outside its range"),
        (Reading(1.0, "X", math.nan, "g/L"), "not a finite number"),
        (Reading(1.0, "X", "abc", "g/L"), "not a finite number"),  # type: ignore[arg-type]
        (Reading(math.inf, "X", 1.0, "g/L"), "bad time"),
        (Reading(-1.0, "X", 1.0, "g/L"), "bad time"),
        (Reading(1.0, "glucoze", 1.0, "g/L"), "unknown variable"),
        # no broth holds 1000 g/L of anything; no reactor transfers 2000 mmol O2/L/h
        (Reading(1.0, "X", 1e6, "g/L"), "0 <= value <= 1000 g/L"),
        (Reading(1.0, "OUR", 1e12, "mmol/L/h"), "-2000 <= value <= 2000 mmol/L/h"),
    ],
)
def test_validator_refuses_in_one_line(reading: Reading, words: str) -> None:
    v = ReadingValidator("ecoli", volume_max=2.0)
    with pytest.raises(ReadingError) as err:
        v.check(reading)
    text = str(err.value)
    assert words in text and "\n" not in text
    assert "expected" in text and "found" in text


def test_validator_bad_settings() -> None:
    with pytest.raises(InputError, match="unknown model"):
        ReadingValidator("yeast")
    with pytest.raises(InputError, match="unknown variable"):
        ReadingValidator("ecoli", ranges={"Q": (0, 1)})


# ------------------------------------------------------------ ordering rule


def _checked(t: float, variable: str = "OUR", value: float = 1.0):  # type: ignore[no-untyped-def]
    return ReadingValidator("ecoli").check(Reading(t, variable, value, "mmol/L/h"))


def test_out_of_order_within_window_is_sorted_late_is_kept_out() -> None:
    buf = ReorderBuffer(0.0, step_h=1.0, window_h=1.0)
    assert buf.offer(_checked(0.5)) == "accepted"
    assert buf.offer(_checked(0.2)) == "accepted"  # out of order, inside the window
    assert list(buf.ready()) == []  # step (0, 1] waits for the watermark to pass 2 h
    assert buf.offer(_checked(1.5)) == "accepted"
    assert buf.offer(_checked(2.0)) == "accepted"
    steps = list(buf.ready())
    assert [(s.start, s.end) for s in steps] == [(0.0, 1.0)]
    assert [r.time_h for r in steps[0].readings] == [0.2, 0.5]  # sorted
    assert buf.offer(_checked(0.9)) == "late"  # its step is closed
    assert buf.offer(_checked(1.0)) == "late"  # the closed step's end counts too
    assert buf.offer(_checked(1.2)) == "accepted"  # step (1, 2] still open
    rest = list(buf.drain())
    assert [r.time_h for r in rest[0].readings] == [1.2, 1.5, 2.0]


def test_duplicates_dropped_conflicts_rejected() -> None:
    buf = ReorderBuffer(0.0, step_h=1.0)
    assert buf.offer(_checked(0.5, value=2.0)) == "accepted"
    assert buf.offer(_checked(0.5, value=2.0)) == "duplicate"
    with pytest.raises(ReadingError, match="second, different value"):
        buf.offer(_checked(0.5, value=3.0))
    assert buf.offer(_checked(0.5, variable="CER", value=3.0)) == "accepted"  # other variable


def test_ordering_settings_refused() -> None:
    with pytest.raises(InputError, match="step must be positive"):
        ReorderBuffer(0.0, step_h=0.0)
    with pytest.raises(InputError, match="window"):
        ReorderBuffer(0.0, step_h=1.0, window_h=-1.0)


# ------------------------------------------------------------------- store


def test_store_round_trip_and_buffered_writer(db_url: str) -> None:
    with Store(db_url, who="tester") as store:
        now = utcnow()
        ticks = iter(range(1000))
        writer = ReadingWriter(
            store, "run-7", "ecoli", flush_every=3, flush_seconds=5.0, clock=lambda: next(ticks)
        )
        writer.add(Reading(0.0, "OUR", 1.5, "mmol/L/h", "opc"), "accepted", received_at=now)
        writer.add(Reading(0.25, "X", -1.0, "g/L", "opc"), "rejected", "negative")
        # nothing written yet: the run is created with its first write, not before
        with pytest.raises(InputError, match="no such run"):
            store.reading_counts("run-7")
        writer.add(Reading(0.1, "OUR", math.inf, "mmol/L/h"), "late")  # third: flush
        assert writer.pending == 0 and writer.written == 3
        writer.add(Reading(0.5, "OUR", 2.0, "mmol/L/h"), "accepted")
        # six clock ticks later the buffer is old enough to flush on the next add
        for _ in range(6):
            writer.flush_if_due()
        assert writer.pending == 0
        records = store.readings("run-7")
        assert [r.status for r in records] == ["accepted", "rejected", "late", "accepted"]
        first = records[0]
        assert (first.time_h, first.variable, first.value, first.unit, first.source) == (
            0.0,
            "OUR",
            1.5,
            "mmol/L/h",
            "opc",
        )
        assert first.received_at == now.replace(microsecond=first.received_at.microsecond)
        assert records[1].reason == "negative"
        assert records[2].value is None  # infinity is not stored as a number
        assert store.reading_counts("run-7") == {"accepted": 2, "late": 1, "rejected": 1}
        assert len(store.readings("run-7", status="accepted")) == 2
        # reopening a run appends; another twin kind is refused
        assert store.open_run("run-7", "ecoli").name == "run-7"
        with pytest.raises(InputError, match="another twin"):
            store.open_run("run-7", "cho")
        with pytest.raises(InputError, match="no such run"):
            store.readings("nope")
        # a bad batch writes nothing
        bad = ReadingRecord(1.0, "X", 1.0, "g/L", None, now, "maybe")
        good = ReadingRecord(1.0, "X", 1.0, "g/L", None, now, "accepted")
        with pytest.raises(InputError, match="bad reading status"):
            store.add_readings("run-7", [good, bad])
        assert len(store.readings("run-7")) == 4
        assert "create_run" in set(store.audit()["action"])
        # a crash (no close) loses only the unflushed buffer: 5 added, 3 flushed
        crashing = ReadingWriter(store, "run-8", "ecoli", flush_every=3, flush_seconds=60.0)
        for k in range(5):
            crashing.add(Reading(k * 0.1, "OUR", 1.0, "mmol/L/h"), "accepted")
        assert len(store.readings("run-8")) == 3 and crashing.pending == 2


# ------------------------------------------------------------- replay + twin


def _truth_errors(twin: LiveTwin, traj, names=("X", "S")):  # type: ignore[no-untyped-def]
    frame, truth = twin.frame().iloc[1:], traj.frame  # step ends, not the prior
    out = {}
    for name in names:
        ref = np.interp(frame["time_h"], truth["time_h"], truth[name])
        err = frame[name].to_numpy() - ref
        cover = np.mean(np.abs(err) <= 2 * frame[f"{name}_std"].to_numpy())
        out[name] = (float(np.sqrt(np.mean(err**2))), float(cover))
    return out


def test_replay_equals_direct_feed_and_tracks_truth(
    scenario: Scenario, run, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    traj, batch = run
    path = tmp_path / "run.csv"
    batch.to_csv(path, format="wide")

    from biofab.process.batchdata import read_batches

    # the same readings (as the file holds them: %.8g) fed directly, without the source
    (from_file,) = read_batches(path)
    direct = LiveTwin(scenario, "ekf")
    LiveLoop(direct, ReadingValidator("ecoli"), step_h=0.25).feed(batch_readings(from_file))

    replayed = LiveTwin(scenario, "ekf")
    with Store(f"sqlite:///{tmp_path / 'replay.db'}", who="tester") as store:
        writer = ReadingWriter(store, "run1", "ecoli", flush_every=50)
        loop = LiveLoop(replayed, ReadingValidator("ecoli"), step_h=0.25, writer=writer)
        source = ReplaySource(path, speed=0)
        stats = asyncio.run(loop.run(source))
        assert stats.received == len(source.readings) == store.reading_counts("run1")["accepted"]
    a, b = direct.frame(), replayed.frame()
    assert len(a) == 65 and np.allclose(a.to_numpy(), b.to_numpy(), rtol=0, atol=1e-12)
    errors = _truth_errors(replayed, traj)
    # X reaches 18 g/L, S 10 g/L; the band is the filter's own +-2 sigma
    assert errors["X"][0] < 0.6 and errors["S"][0] < 0.1
    assert errors["X"][1] >= 0.8 and errors["S"][1] >= 0.8


def test_replay_speed_paces_and_bad_file(tmp_path: Path, run) -> None:  # type: ignore[no-untyped-def]
    _, batch = run
    path = tmp_path / "run.csv"
    batch.slice(0.0, 1.0).to_csv(path)
    source = ReplaySource(path, speed=3600.0 * 4)  # 1 h in 0.25 s
    loop = asyncio.new_event_loop()

    async def collect() -> tuple[int, float]:
        start = loop.time()
        count = 0
        async for _ in source:
            count += 1
        return count, loop.time() - start

    count, elapsed = loop.run_until_complete(collect())
    loop.close()
    assert count == len(source.readings) and 0.2 <= elapsed < 2.0
    with pytest.raises(InputError, match="replay speed"):
        ReplaySource(path, speed=-1)
    broken = tmp_path / "broken.csv"
    broken.write_text("batch,time_h,variable,value,unit\nb,0,biomass,abc,g/L\n")
    with pytest.raises(InputError, match=r"broken\.csv"):
        ReplaySource(broken)


def test_bad_readings_never_stop_the_loop(scenario: Scenario, run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, batch = run
    good = batch_readings(batch.slice(0.0, 4.0))
    bad = [
        Reading(1.1, "OUR", 3.0, "furlongs"),
        Reading(1.2, "X", -2.0, "g/L"),
        Reading(1.3, "Q", 1.0, "g/L"),
        Reading(1.4, "X", math.nan, "g/L"),
    ]
    mixed = (
        good[:40] + bad + [good[0], good[1]] + good[40:] + [Reading(0.6, "OUR", 9.0, "mmol/L/h")]
    )
    with Store(f"sqlite:///{tmp_path / 's.db'}", who="tester") as store:
        twin = LiveTwin(scenario, "ukf")
        writer = ReadingWriter(store, "r", "ecoli")
        stats = LiveLoop(twin, ReadingValidator("ecoli"), writer=writer).feed(mixed)
        counts = store.reading_counts("r")
        rejected = store.readings("r", status="rejected")
    assert stats.rejected == 4 and stats.duplicate == 2 and stats.late == 1
    assert counts == {"accepted": len(good), "late": 1, "rejected": 4}
    assert {r.variable for r in rejected} == {"OUR", "X", "Q"}
    assert all(r.reason and "\n" not in r.reason for r in rejected)
    assert len(twin.frame()) == 17  # the prior, then 4 h in 0.25 h steps


def test_a_failing_estimator_step_keeps_the_readings(
    scenario: Scenario, run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """A step the filter cannot process stops the run with one line that says where, and
    the readings received are still written (finish flushed nothing when a step raised)."""
    from biofab.core.errors import BiofabError

    _, batch = run
    readings = batch_readings(batch.slice(0.0, 2.0))
    twin = LiveTwin(scenario, "ekf")
    real = twin.step

    def spoiled(step):  # type: ignore[no-untyped-def]
        if step.end > 1.0:
            raise InputError("Q has non-finite entries", expected="finite numbers")
        return real(step)

    monkeypatch.setattr(twin, "step", spoiled)
    with Store(f"sqlite:///{tmp_path / 's.db'}", who="tester") as store:
        writer = ReadingWriter(store, "r", "ecoli", flush_every=10_000)
        with pytest.raises(BiofabError) as err:
            LiveLoop(twin, ReadingValidator("ecoli"), writer=writer).feed(readings)
        counts = store.reading_counts("r")
    text = str(err.value)
    assert "the estimator failed in the step ending at 1.25 h" in text and "\n" not in text
    assert "Q has non-finite entries" in text and "readings received are stored" in text
    assert counts["accepted"] > 0
