"""Monitoring workflows: fit a batch monitor on good batches, score new ones, raise alarms.

:func:`monitor` is ``biofab process monitor``: read the good batches (and their quality),
fit a :class:`~biofab.process.monitor.BatchMonitor`, score every new batch (or the one
named), evaluate the alarm rules, record the alarms in a store when one is given, and
write the scores table and the HTML report. :func:`alarms` lists the alarms a store holds
and acknowledges one. Bad input raises a one-line
:class:`~biofab.core.errors.BiofabError` before anything is written.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from biofab.core.errors import BiofabError, InputError
from biofab.process.alarms import (
    AlarmEvent,
    AlarmLog,
    AlarmState,
    RateRule,
    StatisticRule,
    ThresholdRule,
    evaluate,
    local_states,
    monitor_rule,
    to_frame,
)
from biofab.process.monitor import TIME, BatchMonitor, BatchScore

__all__ = [
    "AlarmsRequest",
    "AlarmsResult",
    "MonitorRequest",
    "MonitorResult",
    "alarms",
    "default_variables",
    "fit_monitor",
    "local_states",
    "monitor",
    "score_once",
]

Rule = ThresholdRule | RateRule | StatisticRule


def _dumps(data: Any) -> str:
    return json.dumps(data, indent=2, default=lambda x: x.item() if hasattr(x, "item") else str(x))


@dataclass(frozen=True)
class MonitorRequest:
    """Fit on ``good`` (CSV or folder), score ``new`` (CSV or folder).

    ``quality``: end-of-batch quality of the good batches (CSV: batch, QUALITY...);
    ``batch``: score only this batch of ``new``; ``variables``: monitored columns (default
    all but a twin estimates file's bookkeeping, :func:`default_variables`); ``rules``:
    extra threshold and rate rules on the raw variables; ``db``: store URL that keeps the
    alarms (audit log) as ``who``; ``out``: scores CSV; ``report``: HTML.
    ``watch_s``: score ``new`` again every so many seconds (``polls`` times; None: until
    interrupted), the report reloading itself in the browser.
    """

    good: Path
    new: Path
    quality: Path | None = None
    align: str = "time"
    maturity: str | None = None
    n_components: int | None = None
    alpha: float = 0.99
    run_length: int = 3
    batch: str | None = None
    variables: tuple[str, ...] | None = None
    rules: tuple[Rule, ...] = ()
    db: str | None = None
    who: str | None = None
    out: Path | None = None
    report: Path | None = None
    command: str = ""
    watch_s: float | None = None
    polls: int | None = None


@dataclass
class MonitorResult:
    """The fitted monitor, each new batch's scores, the alarms and the files written."""

    monitor: BatchMonitor
    scores: list[BatchScore]
    alarms: list[AlarmState]
    files: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        """Every scored batch's per-point table (grid, time_h, T², SPE, limits, alarm)."""
        return pd.concat([s.to_frame() for s in self.scores], ignore_index=True)

    def to_dict(self) -> dict[str, Any]:
        batches = []
        for s in self.scores:
            k = s.first_alarm
            entry: dict[str, Any] = {
                "batch": s.batch,
                "points": len(s.grid),
                "last_time_h": float(s.time_h[-1]),
                "first_alarm_h": s.first_alarm_time_h,
                "drivers": [] if k is None else s.drivers(k),
            }
            if s.quality is not None and s.quality_low is not None and s.quality_high is not None:
                entry["quality"] = {
                    name: {
                        "predicted": float(s.quality[-1, i]),
                        "low": float(s.quality_low[-1, i]),
                        "high": float(s.quality_high[-1, i]),
                    }
                    for i, name in enumerate(s.quality_names)
                }
            batches.append(entry)
        return {
            "model": self.monitor.summary(),
            "batches": batches,
            "alarms": [a.to_dict() for a in self.alarms],
            "files": self.files,
        }

    def to_json(self) -> str:
        return _dumps(self.to_dict()) + "\n"


def _check(request: MonitorRequest) -> None:
    if not (0.5 < request.alpha < 1):
        raise InputError("alpha must be in (0.5, 1)", column="alpha", found=request.alpha)
    if request.run_length < 1:
        raise InputError("run length must be >= 1", column="run_length", found=request.run_length)
    if request.watch_s is not None and not (request.watch_s > 0 and math.isfinite(request.watch_s)):
        raise InputError("watch interval must be > 0 s", column="watch", found=request.watch_s)
    if request.polls is not None and request.polls < 1:
        raise InputError("polls must be >= 1", column="polls", found=request.polls)
    if request.n_components is not None and request.n_components < 1:
        raise InputError("components must be >= 1", column="components", found=request.n_components)
    outputs = [Path(p).resolve() for p in (request.out, request.report) if p is not None]
    if len(set(outputs)) != len(outputs):
        raise InputError("two outputs name the same file", found=[str(p) for p in outputs])


def _new_batches(request: MonitorRequest) -> dict[str, pd.DataFrame]:
    from biofab.process.batchtable import read_batch_table

    new = read_batch_table(request.new)
    if request.batch is None:
        return new
    if request.batch not in new:
        raise InputError(
            "unknown batch",
            file=str(request.new),
            column="batch",
            expected=", ".join(list(new)[:10]),
            found=request.batch,
        )
    return {request.batch: new[request.batch]}


def _score(model: BatchMonitor, frame: pd.DataFrame, name: str, path: Path) -> BatchScore:
    """``model.score``; a refusal names the file the batch came from (the monitor only
    knows the batch)."""
    try:
        return model.score(frame, name)
    except InputError as err:
        raise err.in_file(str(path)) from None


def default_variables(
    batches: dict[str, pd.DataFrame], maturity: str | None = None
) -> list[str] | None:
    """The monitored columns when none are named: every column but the time and the
    maturity variable, less what the live twin's estimates CSV (``process twin --out``)
    holds besides the states it estimates: each ``<name>_std`` next to a ``<name>`` column
    (the estimator's σ, which changes with the sampling, not with the process) and then
    ``readings`` (how many readings each step was fed). None when there is nothing to
    leave out (the monitor then takes every column, as before)."""
    first = next(iter(batches.values()))
    columns = [str(c) for c in first.columns if c not in (TIME, maturity)]
    spreads = {c for c in columns if c.endswith("_std") and c[: -len("_std")] in columns}
    if not spreads:  # not a twin's estimates: a column called readings is a variable
        return None
    return [c for c in columns if c not in spreads and c != "readings"]


def fit_monitor(request: MonitorRequest) -> BatchMonitor:
    """The monitor of ``request``, fitted on its good batches (and quality)."""
    from biofab.process.batchtable import read_batch_table, read_quality_table

    _check(request)
    good = read_batch_table(request.good)
    quality = read_quality_table(request.quality) if request.quality is not None else None
    model = BatchMonitor(
        n_components=request.n_components,
        alpha=request.alpha,
        align=request.align,
        maturity=request.maturity,
        run_length=request.run_length,
    )
    variables = request.variables or default_variables(good, request.maturity)
    return model.fit(good, quality, variables)


def score_once(request: MonitorRequest, model: BatchMonitor) -> MonitorResult:
    """Read ``request.new``, score, evaluate the rules, record the alarms, write the files.

    Everything that can refuse the input runs before the store or a file is written.
    """
    new = _new_batches(request)
    scores = [_score(model, frame, name, request.new) for name, frame in new.items()]
    raw_rules = [r for r in request.rules if not isinstance(r, StatisticRule)]
    events: list[AlarmEvent] = []
    for score, (name, frame) in zip(scores, new.items(), strict=True):
        events += evaluate([monitor_rule(request.run_length)], score.to_frame(), name)
        if raw_rules:
            events += evaluate(raw_rules, frame, name)
    events.sort(key=lambda e: (e.batch, e.time_h))
    states = local_states(events)
    if request.db is not None:
        from biofab.store import Store

        with Store(request.db, who=request.who) as store:
            log = AlarmLog(store, request.who)
            log.record(events)
            names = {s.batch for s in scores}
            states = [s for s in log.states() if s.batch in names]
    files: dict[Path, str] = {}
    if request.out is not None:
        files[request.out] = pd.concat([s.to_frame() for s in scores]).to_csv(
            index=False, float_format="%.6g"
        )
    if request.report is not None:
        from biofab.process.monitor_report import monitor_page

        page = monitor_page(model, scores, to_frame(states), request.command, request.watch_s)
        files[request.report] = page
    from biofab.core.atomic import write_atomic

    written = []
    for path, text in files.items():
        write_atomic(path, text)
        written.append(str(path))
    return MonitorResult(model, scores, states, written)


PollHook = Callable[[int, "MonitorResult | None", "str | None"], None]


def monitor(request: MonitorRequest, on_poll: PollHook | None = None) -> MonitorResult:
    """Fit on the good batches, then score the new ones once, or, with ``watch_s``, again
    every ``watch_s`` seconds (``polls`` times, or until interrupted) so that a file a
    logger appends to is followed live: the report reloads itself in the browser and
    only new alarms reach the store. A poll that cannot read the file (a logger halfway
    through a line) is reported to ``on_poll`` and skipped; the first poll's errors are
    raised (nothing written). The last poll's report (after ``polls``, or on Ctrl-C,
    scored once more) no longer reloads itself."""
    from dataclasses import replace

    model = fit_monitor(request)
    final = replace(request, watch_s=None)  # its page stops reloading
    result = score_once(final if request.polls == 1 else request, model)
    if on_poll is not None:
        on_poll(1, result, None)
    if request.watch_s is None:
        return result
    poll = 1
    try:
        while request.polls is None or poll < request.polls:
            time.sleep(request.watch_s)
            poll += 1
            try:
                result = score_once(final if poll == request.polls else request, model)
            except BiofabError as err:
                if on_poll is not None:
                    on_poll(poll, None, str(err))
                continue
            if on_poll is not None:
                on_poll(poll, result, None)
    except KeyboardInterrupt:
        # a page left reloading a file nobody scores any more would look live
        with contextlib.suppress(BiofabError):
            score_once(final, model)
        raise
    return result


# ---------------------------------------------------------------------------------------
# alarms


@dataclass(frozen=True)
class AlarmsRequest:
    """List the alarms a store holds (of one ``batch``); ``ack`` acknowledges one as
    ``who`` with ``note`` first."""

    db: str
    batch: str | None = None
    ack: str | None = None
    note: str = ""
    who: str | None = None


@dataclass
class AlarmsResult:
    alarms: list[AlarmState]
    acknowledged: AlarmState | None = None

    def to_frame(self) -> pd.DataFrame:
        return to_frame(self.alarms)

    def to_dict(self) -> dict[str, Any]:
        return {
            "alarms": [a.to_dict() for a in self.alarms],
            "acknowledged": None if self.acknowledged is None else self.acknowledged.to_dict(),
        }

    def to_json(self) -> str:
        return _dumps(self.to_dict()) + "\n"


def alarms(request: AlarmsRequest) -> AlarmsResult:
    from biofab.store import Store

    with Store(request.db, who=request.who, create=False) as store:
        log = AlarmLog(store, request.who)
        acked = None
        if request.ack is not None:
            acked = log.acknowledge(request.ack, request.note, request.who)
        return AlarmsResult(log.states(request.batch), acked)


def parse_rule(text: str, kind: str) -> Rule:
    """``VAR=VALUE[:severity]`` -> a threshold (``high``/``low``) or rate rule."""
    body, _, severity = text.partition(":")
    name, _, value = body.partition("=")
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not name.strip() or not math.isfinite(number):
        raise InputError(
            f"--{kind}: bad rule", expected="VARIABLE=VALUE[:info|warning|critical]", found=text
        )
    var, sev = name.strip(), severity.strip() or "warning"
    if kind == "high":
        return ThresholdRule(f"{var} high", var, high=number, severity=sev)
    if kind == "low":
        return ThresholdRule(f"{var} low", var, low=number, severity=sev)
    return RateRule(f"{var} rate", var, max_rate=number, severity=sev)
