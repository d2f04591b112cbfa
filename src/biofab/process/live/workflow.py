"""The live-twin workflow: a typed request in, the estimates, counts and files out.

:func:`run_twin` connects one source (an OPC UA server, an HTTP listener or a replayed
file), validates every reading, writes them to the store in buffered transactions, runs
the scenario's twin and EKF/UKF each estimator step, reports progress (one line per
step: time, estimates ± σ, rejected count, active alarms), optionally monitors the
estimates against good batches (T², SPE, alarms in the store), keeps an HTML report
current while the run goes on (trends with ±2σ bands and the raw readings, control
charts, alarms; the browser reloads it), and at the end writes the estimates CSV and
the final report (also when the run is stopped with Ctrl-C). Bad settings raise a
one-line :class:`~biofab.core.errors.BiofabError` before anything is connected or
written; bad readings never stop the run (they are counted and stored as rejected).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from biofab.core.errors import InputError
from biofab.process.alarms import AlarmState
from biofab.process.live.loop import LiveLoop, LiveStats
from biofab.process.live.readings import ReadingValidator
from biofab.process.live.twin import LiveTwin
from biofab.process.scenario import Scenario

__all__ = ["TwinRequest", "TwinResult", "parse_listen", "run_twin"]


@dataclass(frozen=True)
class TwinRequest:
    """Run the live twin on one source.

    Exactly one of ``source`` (``opc.tcp://`` URL, with ``node_map``), ``replay`` (run
    CSV, optional ``mapping``, ``batch`` of a multi-batch file, at ``speed``× real time;
    0 = as fast as possible) or
    ``listen`` (``HOST:PORT`` of the HTTP/WebSocket endpoint). ``scenario``: twin,
    initial state, recipe for unlogged inputs, noise. ``filter``: ekf | ukf; ``step_h``
    and ``window_h``: estimator step and reorder window (h). ``db``: store URL (None: the
    default store); ``run``: run name (an existing run is resumed; default: a new run,
    see :func:`_new_run_name`);
    ``volume_max``: largest believable volume (L; default 10 × the initial volume);
    ``time_max_h``: latest believable reading time (h; default 10 × the scenario's
    ``t_end``); ``max_retries``: failed OPC UA connects in a row before the run ends
    (None: never);
    ``until_h``: stop after this much process time (h). ``out``: estimates CSV;
    ``report``: HTML page, rewritten every ``report_every_s`` seconds while the run
    goes on (the browser reloads it) and once at the end. ``monitor``: good batches
    (CSV or folder) to monitor the twin's estimates against (T², SPE, alarms kept in the
    store; see :mod:`biofab.process.live.watch`), on ``monitor_variables`` (default:
    every column of the good batches the twin estimates), limits at ``alpha``, an alarm
    after ``run_length`` consecutive points beyond a limit. ``progress``: print one line
    per step to stderr.
    """

    scenario: str | Path | Scenario
    source: str | None = None
    node_map: Path | None = None
    replay: Path | None = None
    mapping: Path | None = None
    batch: str | None = None
    speed: float = 60.0
    listen: str | None = None
    filter: str = "ekf"
    step_h: float = 0.25
    window_h: float | None = None
    db: str | None = None
    run: str | None = None
    volume_max: float | None = None
    time_max_h: float | None = None
    max_retries: int | None = None
    until_h: float | None = None
    flush_every: int = 500
    flush_seconds: float = 2.0
    out: Path | None = None
    report: Path | None = None
    report_every_s: float = 5.0
    monitor: Path | None = None
    monitor_variables: tuple[str, ...] | None = None
    alpha: float = 0.99
    run_length: int = 3
    progress: bool = True
    command: str = ""


@dataclass
class TwinResult:
    """Estimates per step, what became of the readings, and the files written."""

    run: str
    source: str
    estimates: pd.DataFrame
    stats: LiveStats
    store_counts: dict[str, int]
    files: list[str] = field(default_factory=list)
    alarms: list[AlarmState] = field(default_factory=list)
    report_writes: int = 0
    interrupted: bool = False  # stopped by Ctrl-C (SIGINT) or SIGTERM, not by the source
    stopped_by: str | None = None  # "SIGINT" or "SIGTERM" when interrupted

    def to_frame(self) -> pd.DataFrame:
        """``time_h``, ``readings`` (fed that step), each state and ``mu`` ± ``_std``."""
        return self.estimates.copy()

    def to_dict(self) -> dict[str, Any]:
        final = self.estimates.tail(1).to_dict("records")
        return {
            "run": self.run,
            "source": self.source,
            "readings": self.stats.to_dict(),
            "stored": self.store_counts,
            "final": final[0] if final else {},
            "alarms": [a.to_dict() for a in self.alarms],
            "files": self.files,
            "interrupted": self.interrupted,
            "stopped_by": self.stopped_by,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=float)


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` -> ``(host, port)``; one-line error otherwise."""
    host, _, port = str(text).rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError(
            "bad --listen address", expected="HOST:PORT, e.g. 127.0.0.1:8765", found=text
        )
    return host, int(port)


def _can_listen(host: str, port: int) -> None:
    """Refuse an address that cannot be bound before the store holds a run for it."""
    import socket

    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # as uvicorn binds: SO_REUSEADDR, so a port in TIME_WAIT is free, a listening one not
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host.strip("[]"), port))
        except OSError as err:
            raise InputError(
                f"cannot listen on {host}:{port} ({err.strerror or err})",
                expected="a free port on an address of this machine",
                found=f"{host}:{port}",
            ) from None


def _check(request: TwinRequest) -> None:
    chosen = [
        n
        for n, v in (
            ("--source", request.source),
            ("--replay", request.replay),
            ("--listen", request.listen),
        )
        if v is not None
    ]
    if len(chosen) != 1:
        raise InputError(
            "name exactly one source",
            expected="--source opc.tcp://… (with --map) | --replay FILE | --listen HOST:PORT",
            found=", ".join(chosen) or "none",
        )
    if request.batch is not None and request.replay is None:
        raise InputError("--batch names a batch of a replayed file", expected="--replay FILE")
    if request.source is not None and request.node_map is None:
        raise InputError("an OPC UA source needs a node map", expected="--map map.yaml")
    if request.filter not in ("ekf", "ukf"):
        raise InputError("unknown filter", expected="ekf | ukf", found=request.filter)
    if math.isnan(request.speed) or request.speed < 0:
        raise InputError("replay speed must be >= 0", expected=">= 0", found=request.speed)
    if request.time_max_h is not None and not (
        math.isfinite(request.time_max_h) and request.time_max_h > 0
    ):
        raise InputError("time max must be positive", expected="> 0 h", found=request.time_max_h)
    if request.max_retries is not None and request.max_retries < 0:
        raise InputError("max retries must be >= 0", expected=">= 0", found=request.max_retries)
    if request.until_h is not None and not request.until_h > 0:
        raise InputError("until must be positive", expected="> 0 h", found=request.until_h)
    if request.listen is not None:
        _can_listen(*parse_listen(request.listen))
    if not (math.isfinite(request.report_every_s) and request.report_every_s >= 0):
        raise InputError(
            "report interval must be >= 0 s", expected=">= 0 s", found=request.report_every_s
        )
    if not 0.5 < request.alpha < 1:
        raise InputError("alpha must be in (0.5, 1)", expected="(0.5, 1)", found=request.alpha)
    if request.run_length < 1:
        raise InputError("run length must be >= 1", expected=">= 1", found=request.run_length)
    outputs = [p for p in (request.out, request.report) if p is not None]
    if len({Path(p).resolve() for p in outputs}) != len(outputs):
        raise InputError("--out and --report name the same file", found=str(outputs[0]))
    for path in outputs:
        if not Path(path).resolve().parent.is_dir():
            raise InputError("output folder does not exist", file=str(path))


def _source(request: TwinRequest, validator: ReadingValidator) -> tuple[Any, str]:
    """The source object and the base of a new run's default name."""
    if request.replay is not None:
        from biofab.process.live.replay import ReplaySource

        replay = ReplaySource(
            request.replay, mapping=request.mapping, speed=request.speed, batch=request.batch
        )
        return replay, replay.batch_id
    if request.source is not None:
        from biofab.process.live.opcua import NodeMap, OpcUaSource

        assert request.node_map is not None
        node_map = NodeMap.from_yaml(request.node_map)
        _check_map(node_map, request.node_map, validator)
        opc = OpcUaSource(request.source, node_map, max_retries=request.max_retries)
        from urllib.parse import urlparse

        return opc, "opcua-" + (urlparse(request.source).netloc or request.source)
    from biofab.process.live.http import HttpSource

    assert request.listen is not None
    host, port = parse_listen(request.listen)
    http = HttpSource(validator, host=host, port=port)
    return http, f"http-{host}:{port}"


def _check_map(node_map: Any, path: Path, validator: ReadingValidator) -> None:
    """Refuse a map whose variable or unit the twin cannot use, before anything is
    connected or stored: each of that node's readings would be rejected, all run long."""
    from biofab.core.scenario_yaml import ScenarioError
    from biofab.process.live.readings import ReadingError

    for variable, unit in node_map.nodes.values():
        try:
            validator.check_unit(variable, unit)
        except ReadingError as err:
            key = f"nodes.{variable}" + (".unit" if err.column == "unit" else "")
            raise ScenarioError(
                err.message, file=str(path), key=key, expected=err.expected, found=err.found
            ) from None


class _Until:
    """Stop a source after ``until_h`` of process time."""

    def __init__(self, source: Any, until_h: float | None) -> None:
        self.source, self.until_h, self.name = source, until_h, source.name

    async def __aiter__(self) -> Any:
        async for reading in self.source:
            if self.until_h is not None:
                try:
                    late = float(reading.time_h) > self.until_h
                except (TypeError, ValueError):
                    late = False
                if late:
                    stop = getattr(self.source, "stop", None)
                    if callable(stop):
                        stop()
                    break
            yield reading


def run_twin(request: TwinRequest) -> TwinResult:
    """Run the live twin until the source ends (module docstring)."""
    from biofab.core.progress import progress
    from biofab.process.live.writer import ReadingWriter
    from biofab.store import Store

    _check(request)
    scenario = (
        request.scenario
        if isinstance(request.scenario, Scenario)
        else Scenario.from_yaml(request.scenario)
    )
    volume_max = request.volume_max
    if volume_max is None:
        volume_max = 10.0 * float(scenario.initial.get("V", math.inf))
    time_max = request.time_max_h
    if time_max is None:
        time_max = 10.0 * float(scenario.t_end)
    validator = ReadingValidator(scenario.model, volume_max=volume_max, time_max=time_max)
    twin = LiveTwin(scenario, request.filter)  # type: ignore[arg-type]
    fitted = None
    if request.monitor is not None:  # refused here, before a source or the store opens
        from biofab.process.live.watch import fit_live_monitor

        fitted = fit_live_monitor(
            request.monitor,
            (*twin.names, *twin.sensor.report_outputs, "mu"),
            request.monitor_variables,
            alpha=request.alpha,
            run_length=request.run_length,
        )
    source, default_run = _source(request, validator)
    store = Store(request.db)
    try:
        if request.run:
            run, resumed = request.run, _stored_counts(store, request.run) is not None
            if resumed:  # refuses a run of another twin; writes nothing to an existing run
                store.open_run(run, scenario.model)
        else:
            run, resumed = _new_run_name(store, default_run, request), False
        writer = ReadingWriter(
            store,
            run,
            scenario.model,
            flush_every=request.flush_every,
            flush_seconds=request.flush_seconds,
        )
        watcher = None
        if fitted is not None:
            from biofab.process.alarms import AlarmLog
            from biofab.process.live.watch import LiveMonitor

            watcher = LiveMonitor(fitted, run, AlarmLog(store), run_length=request.run_length)
        page = _LivePage(request, run, source.name, twin, store, watcher)
        biomass = "X" if "X" in twin.names else "Xv"
        interrupted = False
        substrate = "S" if "S" in twin.names else "Glc"
        with progress(f"twin {run}", enabled=request.progress) as bar:

            def shown(row: dict[str, float], stats: LiveStats) -> None:
                if watcher is not None:
                    watcher.step(twin.frame())
                page.maybe_write(loop)
                alarms = sum(a.active for a in watcher.states_) if watcher is not None else 0
                bar.advance(
                    note=(
                        f"t={row['time_h']:.2f} h  {biomass}={row[biomass]:.3g}±"
                        f"{row[biomass + '_std']:.2g}  {substrate}={row[substrate]:.3g}±"
                        f"{row[substrate + '_std']:.2g}  mu={row['mu']:.3g}/h  "
                        f"readings {stats.accepted}  late {stats.late}  "
                        f"rejected {stats.rejected}" + (f"  alarms {alarms}" if alarms else "")
                    )
                )

            loop = LiveLoop(
                twin,
                validator,
                step_h=request.step_h,
                window_h=request.window_h,
                writer=writer,
                on_step=shown,
            )
            if resumed:
                _resume(loop, store, run)
            terminated: list[str] = []
            try:
                with _terminate_as_interrupt(terminated):
                    asyncio.run(loop.run(_Until(source, request.until_h)))
            except KeyboardInterrupt:
                # Ctrl-C is how an operator ends a run whose source has no end signal:
                # the loop has closed its open steps and flushed the store buffer, so
                # finish like a source that ended (estimates CSV, final report) and let
                # the caller say it was interrupted.
                interrupted = True
        if watcher is not None:
            watcher.update(twin.frame())
        counts = _stored_counts(store, run) or dict.fromkeys(_STATUSES, 0)
    finally:
        store.close()
    estimates = twin.frame()
    result = TwinResult(run, source.name, estimates, loop.stats, counts, interrupted=interrupted)
    if interrupted:
        result.stopped_by = "SIGTERM" if terminated else "SIGINT"
    result.alarms = list(watcher.states_) if watcher is not None else []
    result.files = _write(request, result, twin, loop, watcher)
    result.report_writes = page.writes + (request.report is not None)
    return result


@contextlib.contextmanager
def _terminate_as_interrupt(seen: list[str]) -> Iterator[None]:
    """SIGTERM (``kill``, ``systemctl stop``, ``docker stop``) ends the run as Ctrl-C does:
    open steps closed, the store buffer flushed, the estimates and report written. By
    default it would kill the process at once and lose the buffered readings. Left alone
    where SIGINT is ignored (a job started in the background of a shell), since turning
    SIGTERM into an ignored signal would make the twin unstoppable."""
    import signal
    import threading

    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    ):
        yield
        return

    def terminate(signum: int, frame: Any) -> None:
        seen.append("SIGTERM")
        signal.raise_signal(signal.SIGINT)  # whatever handles Ctrl-C now handles this

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


_STATUSES = ("accepted", "late", "rejected")


def _stored_counts(store: Any, run: str) -> dict[str, int] | None:
    """The run's stored readings per status; None when the store does not hold the run
    (the writer creates it with its first reading)."""
    try:
        return dict(store.reading_counts(run))
    except InputError:  # "no such run"
        return None


def _new_run_name(store: Any, base: str, request: TwinRequest) -> str:
    """The name of a new run when none is given: a new session never appends to an
    earlier batch (only ``--run NAME`` resumes one). A replayed batch is named after its
    batch id while the store does not hold that run; otherwise, and for a live source
    (``opcua-HOST:PORT``, ``http-HOST:PORT``), the base gets the start time in UTC
    (``-20261205T140312Z``, then ``-2``, ``-3`` ... should that be taken too)."""
    import itertools
    from datetime import UTC, datetime

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    stem = f"{base[:170]}-{stamp}"  # the store's names are at most 200 characters

    def names() -> Iterator[str]:
        if request.replay is not None:
            yield base[:200]
        yield stem
        for k in itertools.count(2):
            yield f"{stem}-{k}"

    run = next(n for n in names() if _stored_counts(store, n) is None)
    # said at start also with --json (stderr): a live batch may run for days, and this is
    # the name an operator needs to resume it or to list its alarms
    if request.replay is not None and run != base:
        said = (
            f"run {base} is in the store already: this replay starts a new run {run} "
            f"(--run {base} resumes that one instead)"
        )
    else:
        said = (
            f"run {run}: a new run (stored from its first reading; a later session "
            f"continues it only with --run {run})"
        )
    print(said, file=sys.stderr, flush=True)
    return run


def _resume(loop: LiveLoop, store: Any, run: str) -> None:
    """A run the store already holds, named with ``--run`` (a restarted twin, the same
    file replayed again), is resumed: its stored readings are fed first
    (:meth:`LiveLoop.resume`). Said on stderr also with ``--json``, as a new run's name
    is."""
    from biofab.process.live.readings import Reading

    stored = [
        Reading(r.time_h, r.variable, r.value, r.unit or "", r.source or "")
        for r in store.readings(run)
        if r.status in ("accepted", "late") and r.time_h is not None and r.value is not None
    ]
    if not stored:
        return
    last = max(r.time_h for r in stored)
    print(
        f"run {run} already holds {len(stored)} readings (to {last:g} h): resuming it "
        "(they are fed to the twin first; a new batch needs its own --run name)",
        file=sys.stderr,
        flush=True,
    )
    loop.resume(stored)


class _LivePage:
    """The report rewritten while the run goes on, at most every ``report_every_s``."""

    def __init__(
        self, request: TwinRequest, run: str, source: str, twin: LiveTwin, store: Any, watcher: Any
    ) -> None:
        self.request, self.run, self.source = request, run, source
        self.twin, self.store, self.watcher = twin, store, watcher
        self.writes = 0
        self._last = -math.inf

    def maybe_write(self, loop: LiveLoop) -> None:
        if self.request.report is None:
            return
        now = time.monotonic()
        if now - self._last < self.request.report_every_s:
            return
        from biofab.core.atomic import write_atomic
        from biofab.process.live.report import live_page

        counts = _stored_counts(self.store, self.run) or dict.fromkeys(_STATUSES, 0)
        so_far = TwinResult(self.run, self.source, self.twin.frame(), loop.stats, counts)
        refresh = max(1.0, self.request.report_every_s)
        text = live_page(self.twin, loop, so_far, self.request.command, self.watcher, refresh)
        write_atomic(self.request.report, text)
        self.writes += 1
        self._last = time.monotonic()


def _write(
    request: TwinRequest, result: TwinResult, twin: LiveTwin, loop: LiveLoop, watcher: Any
) -> list[str]:
    from biofab.core.atomic import write_atomic

    files = []
    if request.out is not None:
        write_atomic(request.out, result.estimates.to_csv(index=False, float_format="%.8g"))
        files.append(str(request.out))
    if request.report is not None:
        from biofab.process.live.report import live_page

        write_atomic(request.report, live_page(twin, loop, result, request.command, watcher))
        files.append(str(request.report))
    return files
