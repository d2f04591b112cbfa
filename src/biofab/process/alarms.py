"""Alarms over a monitored batch: rules, severities, deduplication, acknowledgement, audit.

**Rules** look at a per-time table (``time_h``, the batch's variables and, from
:class:`~biofab.process.monitor.BatchScore`, ``T2``, ``T2_limit``, ``SPE``,
``SPE_limit``):

- :class:`ThresholdRule`: a variable above ``high`` or below ``low`` (its units);
- :class:`RateRule`: a variable changing faster than ``max_rate`` (its units per hour);
- :class:`StatisticRule`: ``T2`` or ``SPE`` beyond ``factor`` times its limit.

A rule is *active* at a time when its condition has held for ``run_length`` consecutive
points. Every rule has a severity: ``info``, ``warning`` or ``critical``.

**Deduplication.** An alarm is raised when its rule becomes active and cleared when it stops
being active; while it stays active it is not raised again. Each raise is one *occurrence*
with the id ``batch/rule/n`` (n counts from 1).

**Audit trail without a new table.** :class:`AlarmLog` writes ``alarm.raised``,
``alarm.cleared`` and ``alarm.acknowledged`` events to the store's append-only audit log
(:meth:`~biofab.store.Store.record_event`); the current state of every alarm is derived by
folding those events (:func:`fold`). Scoring a growing batch again records only what is
new: events at or before the last recorded time of that batch and rule are already in
the log, and a raise of an alarm that is still active is dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from biofab.core.errors import InputError
from biofab.process.monitor import alarm_points

if TYPE_CHECKING:
    from biofab.store import EventRecord, Store

__all__ = [
    "SEVERITIES",
    "AlarmEvent",
    "AlarmLog",
    "AlarmState",
    "RateRule",
    "StatisticRule",
    "ThresholdRule",
    "evaluate",
    "fold",
    "local_states",
    "monitor_rule",
    "to_frame",
]

SEVERITIES = ("info", "warning", "critical")
TIME = "time_h"


def _check_severity(severity: str, rule: str) -> None:
    if severity not in SEVERITIES:
        raise InputError(
            f"alarm rule '{rule}': unknown severity",
            expected=" | ".join(SEVERITIES),
            found=severity,
        )


def _column(frame: pd.DataFrame, name: str, rule: str) -> np.ndarray:
    if name not in frame.columns:
        raise InputError(
            f"alarm rule '{rule}' needs column '{name}'",
            column=name,
            expected=", ".join(map(str, frame.columns)),
        )
    return frame[name].to_numpy(dtype=float)


@dataclass(frozen=True)
class ThresholdRule:
    """``variable`` above ``high`` or below ``low`` (the variable's units)."""

    name: str
    variable: str
    high: float | None = None
    low: float | None = None
    severity: str = "warning"
    run_length: int = 1

    def __post_init__(self) -> None:
        _check_severity(self.severity, self.name)
        if self.high is None and self.low is None:
            raise InputError(f"threshold rule '{self.name}' needs high or low")

    def check(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, str]:
        """Condition per row, the value shown, and a message template."""
        x = _column(frame, self.variable, self.name)
        over = np.zeros(len(x), dtype=bool)
        if self.high is not None:
            over |= x > self.high
        if self.low is not None:
            over |= x < self.low
        bounds = f"[{self.low if self.low is not None else '-inf'}, {self.high or 'inf'}]"
        return over, x, f"{self.variable} = {{value:.4g}} outside {bounds}"


@dataclass(frozen=True)
class RateRule:
    """``variable`` changing faster than ``max_rate`` (its units per hour, either way)."""

    name: str
    variable: str
    max_rate: float
    severity: str = "warning"
    run_length: int = 1

    def __post_init__(self) -> None:
        _check_severity(self.severity, self.name)
        if not self.max_rate > 0:
            raise InputError(f"rate rule '{self.name}': max_rate must be > 0", found=self.max_rate)

    def check(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, str]:
        x = _column(frame, self.variable, self.name)
        t = _column(frame, TIME, self.name)
        rate = np.zeros(len(x))
        if len(x) > 1:
            rate[1:] = np.diff(x) / np.maximum(np.diff(t), 1e-12)
        msg = f"{self.variable} changes at {{value:.4g}} per h (limit ±{self.max_rate:g})"
        return np.abs(rate) > self.max_rate, rate, msg


@dataclass(frozen=True)
class StatisticRule:
    """``statistic`` (``T2``, ``SPE``, or ``any`` for either) beyond ``factor`` times its
    control limit."""

    name: str
    statistic: str = "SPE"
    factor: float = 1.0
    severity: str = "critical"
    run_length: int = 3

    def __post_init__(self) -> None:
        _check_severity(self.severity, self.name)
        if self.statistic not in ("T2", "SPE", "any"):
            raise InputError("unknown statistic", expected="T2 | SPE | any", found=self.statistic)

    def check(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, str]:
        if self.statistic == "any":
            ratio = np.maximum(
                _column(frame, "T2", self.name) / _column(frame, "T2_limit", self.name),
                _column(frame, "SPE", self.name) / _column(frame, "SPE_limit", self.name),
            )
            msg = "T2 or SPE at {value:.3g} x its limit"
            return ratio > self.factor, ratio, msg
        x = _column(frame, self.statistic, self.name)
        limit = _column(frame, f"{self.statistic}_limit", self.name)
        msg = f"{self.statistic} = {{value:.4g}} over {self.factor:g} x its limit"
        return x > self.factor * limit, x, msg


Rule = ThresholdRule | RateRule | StatisticRule


@dataclass(frozen=True)
class AlarmEvent:
    """A rule becoming active (``raised``) or inactive (``cleared``) at ``time_h``."""

    kind: str
    batch: str
    rule: str
    severity: str
    time_h: float
    value: float
    message: str


def evaluate(rules: Sequence[Rule], frame: pd.DataFrame, batch: str) -> list[AlarmEvent]:
    """Raise and clear events of every rule over one batch's table, in time order."""
    names = [r.name for r in rules]
    if len(set(names)) != len(names):
        raise InputError("alarm rule names must be unique", found=names)
    t = _column(frame, TIME, "time")
    events = []
    for rule in rules:
        cond, value, msg = rule.check(frame)
        active = alarm_points(cond, rule.run_length)
        before = False
        for k, now in enumerate(active):
            if now != before:
                events.append(
                    AlarmEvent(
                        "raised" if now else "cleared",
                        batch,
                        rule.name,
                        rule.severity,
                        float(t[k]),
                        float(value[k]),
                        msg.format(value=value[k]) if now else "cleared",
                    )
                )
            before = bool(now)
    return sorted(events, key=lambda e: (e.time_h, e.kind != "cleared", e.rule))


@dataclass
class AlarmState:
    """One alarm occurrence as the events say it is now."""

    alarm_id: str
    batch: str
    rule: str
    severity: str
    raised_h: float
    message: str
    raised_at: datetime | None = None
    cleared_h: float | None = None
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.cleared_h is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "alarm_id": self.alarm_id,
            "batch": self.batch,
            "rule": self.rule,
            "severity": self.severity,
            "raised_h": self.raised_h,
            "cleared_h": self.cleared_h,
            "active": self.active,
            "message": self.message,
            "acknowledged_by": self.acknowledged_by,
            "acknowledged_at": None if self.acknowledged_at is None else str(self.acknowledged_at),
            "note": self.note,
        }


def fold(events: Iterable[EventRecord]) -> list[AlarmState]:
    """The state of every alarm occurrence from ``alarm.*`` audit events, oldest first."""
    states: dict[str, AlarmState] = {}
    for e in events:
        d = e.detail
        if e.action == "alarm.raised":
            states[d["alarm_id"]] = AlarmState(
                d["alarm_id"],
                d["batch"],
                d["rule"],
                d["severity"],
                float(d["time_h"]),
                d["message"],
                raised_at=e.at,
            )
        elif e.action == "alarm.cleared" and d["alarm_id"] in states:
            states[d["alarm_id"]].cleared_h = float(d["time_h"])
        elif e.action == "alarm.acknowledged" and d["alarm_id"] in states:
            state = states[d["alarm_id"]]
            state.acknowledged_by, state.acknowledged_at = e.who, e.at
            state.note = str(d.get("note", ""))
    return list(states.values())


def to_frame(states: Sequence[AlarmState]) -> pd.DataFrame:
    """One row per alarm occurrence (the alarm table of reports and the CLI)."""
    columns = list(AlarmState("", "", "", "", 0.0, "").to_dict())
    return pd.DataFrame([s.to_dict() for s in states], columns=columns)


class AlarmLog:
    """Alarms of monitored batches, kept as events in a store's audit log.

    ``who`` is recorded with each event (default: the store's user).
    """

    def __init__(self, store: Store, who: str | None = None) -> None:
        self.store = store
        self.who = who

    def states(self, batch: str | None = None) -> list[AlarmState]:
        """Every alarm occurrence (of one batch), folded from the log."""
        states = fold(self.store.events("alarm."))
        return [s for s in states if batch is None or s.batch == batch]

    def record(self, events: Sequence[AlarmEvent]) -> list[AlarmState]:
        """Write what is new in ``events`` (see the module docstring); return the alarms
        raised by this call."""
        states = self.states()
        last_time: dict[tuple[str, str], float] = {}
        open_ids: dict[tuple[str, str], str] = {}
        count: dict[tuple[str, str], int] = {}
        for s in states:
            key = (s.batch, s.rule)
            count[key] = count.get(key, 0) + 1
            last_time[key] = max(last_time.get(key, -np.inf), s.raised_h, s.cleared_h or -np.inf)
            if s.active:
                open_ids[key] = s.alarm_id
        raised = []
        for e in events:
            key = (e.batch, e.rule)
            if e.time_h <= last_time.get(key, -np.inf):
                continue
            detail = {
                "batch": e.batch,
                "rule": e.rule,
                "severity": e.severity,
                "time_h": e.time_h,
                "value": e.value if np.isfinite(e.value) else None,
                "message": e.message,
            }
            if e.kind == "raised" and key not in open_ids:
                count[key] = count.get(key, 0) + 1
                alarm_id = f"{e.batch}/{e.rule}/{count[key]}"
                self.store.record_event("alarm.raised", {"alarm_id": alarm_id, **detail}, self.who)
                open_ids[key] = alarm_id
                raised.append(alarm_id)
            elif e.kind == "cleared" and key in open_ids:
                alarm_id = open_ids.pop(key)
                self.store.record_event("alarm.cleared", {"alarm_id": alarm_id, **detail}, self.who)
            last_time[key] = e.time_h
        return [s for s in self.states() if s.alarm_id in raised]

    def acknowledge(self, alarm_id: str, note: str = "", who: str | None = None) -> AlarmState:
        """Record that ``who`` has seen alarm ``alarm_id`` (when: the event's time)."""
        known = {s.alarm_id: s for s in self.states()}
        if alarm_id not in known:
            raise InputError(
                "unknown alarm",
                column="alarm_id",
                expected="an id from the alarm list (batch/rule/n)",
                found=alarm_id,
            )
        state = known[alarm_id]
        if state.acknowledged_by is not None:
            raise InputError(
                f"alarm {alarm_id} was already acknowledged by {state.acknowledged_by} "
                f"at {state.acknowledged_at}"
            )
        self.store.record_event(
            "alarm.acknowledged", {"alarm_id": alarm_id, "note": note}, who or self.who
        )
        return {s.alarm_id: s for s in self.states()}[alarm_id]


def monitor_rule(run_length: int = 3) -> StatisticRule:
    """The monitor's own alarm rule: T² or SPE beyond its limit at ``run_length``
    consecutive points (critical)."""
    return StatisticRule("multivariate", "any", 1.0, "critical", run_length)


def local_states(events: list[AlarmEvent]) -> list[AlarmState]:
    """Alarm occurrences of one run's events when no store keeps them (ids as the log's)."""
    count: dict[tuple[str, str], int] = {}
    open_ids: dict[tuple[str, str], str] = {}
    out: dict[str, AlarmState] = {}
    for e in events:
        key = (e.batch, e.rule)
        if e.kind == "raised" and key not in open_ids:
            count[key] = count.get(key, 0) + 1
            alarm_id = f"{e.batch}/{e.rule}/{count[key]}"
            out[alarm_id] = AlarmState(alarm_id, e.batch, e.rule, e.severity, e.time_h, e.message)
            open_ids[key] = alarm_id
        elif e.kind == "cleared" and key in open_ids:
            out[open_ids.pop(key)].cleared_h = e.time_h
    return list(out.values())
