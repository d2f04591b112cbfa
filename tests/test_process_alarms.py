"""Alarms: rules, deduplication, acknowledgement and the audit trail, on SQLite and PostgreSQL."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from biofab.core.errors import InputError
from biofab.process.alarms import (
    AlarmLog,
    RateRule,
    StatisticRule,
    ThresholdRule,
    evaluate,
    fold,
    monitor_rule,
)
from biofab.store import Store


def _frame(n: int = 12) -> pd.DataFrame:
    t = np.arange(n, dtype=float)
    do = np.array([60, 50, 30, 15, 12, 14, 25, 40, 10, 9, 30, 45], dtype=float)[:n]
    spe = np.array([1, 1, 5, 5, 5, 5, 1, 1, 1, 1, 1, 1], dtype=float)[:n]
    return pd.DataFrame(
        {
            "time_h": t,
            "DO": do,
            "T2": np.ones(n),
            "T2_limit": np.full(n, 10.0),
            "SPE": spe,
            "SPE_limit": np.full(n, 3.0),
        }
    )


RULES = [
    ThresholdRule("DO low", "DO", low=20.0, severity="critical"),
    RateRule("DO fast", "DO", max_rate=25.0, severity="info"),
    monitor_rule(3),
]


def test_rules_raise_once_per_episode_and_clear() -> None:
    events = evaluate(RULES, _frame(), "b1")
    do_low = [(e.kind, e.time_h) for e in events if e.rule == "DO low"]
    # DO < 20 at t = 3, 4, 5 (one episode) and t = 8, 9 (another): raised twice, cleared twice.
    assert do_low == [("raised", 3.0), ("cleared", 6.0), ("raised", 8.0), ("cleared", 10.0)]
    multi = [(e.kind, e.time_h) for e in events if e.rule == "multivariate"]
    assert multi == [("raised", 4.0), ("cleared", 6.0)]  # 3rd consecutive point over the limit
    fast = [(e.kind, e.time_h) for e in events if e.rule == "DO fast"]
    assert fast[0] == ("raised", 8.0)  # 40 -> 10 in one hour
    assert {e.severity for e in events if e.rule == "DO low"} == {"critical"}


def test_bad_rules_are_refused() -> None:
    with pytest.raises(InputError, match="unknown severity"):
        ThresholdRule("x", "DO", high=1, severity="panic")
    with pytest.raises(InputError, match="needs high or low"):
        ThresholdRule("x", "DO")
    with pytest.raises(InputError, match="needs column 'pH'"):
        evaluate([ThresholdRule("x", "pH", high=7)], _frame(), "b1")
    with pytest.raises(InputError, match="unknown statistic"):
        StatisticRule("x", "Q")


def test_alarm_log_dedups_acknowledges_and_audits(db_url: str) -> None:
    store = Store(db_url, who="monitor-bot")
    log = AlarmLog(store)
    # The batch is scored twice while it runs: to t = 5 h, then to its end.
    first = log.record(evaluate(RULES, _frame(6), "b1"))
    assert sorted(a.alarm_id for a in first) == ["b1/DO low/1", "b1/multivariate/1"]
    second = log.record(evaluate(RULES, _frame(), "b1"))
    assert sorted(a.alarm_id for a in second) == ["b1/DO fast/1", "b1/DO low/2"]
    # Scoring the same data again writes nothing.
    n_events = len(store.events("alarm."))
    assert log.record(evaluate(RULES, _frame(), "b1")) == []
    assert len(store.events("alarm.")) == n_events

    states = {s.alarm_id: s for s in log.states("b1")}
    assert states["b1/DO low/1"].cleared_h == 6.0 and not states["b1/DO low/1"].active
    assert states["b1/DO low/2"].cleared_h == 10.0

    acked = log.acknowledge("b1/DO low/2", note="probe recalibrated", who="ana")
    assert acked.acknowledged_by == "ana" and acked.note == "probe recalibrated"
    assert acked.acknowledged_at is not None
    with pytest.raises(InputError, match="already acknowledged by ana"):
        log.acknowledge("b1/DO low/2", who="ben")
    with pytest.raises(InputError, match="unknown alarm"):
        log.acknowledge("b1/DO low/9")

    # The trail is in the existing audit log, in order, with who did what.
    audit = store.audit()
    alarm_rows = audit[audit["action"].str.startswith("alarm.")]
    assert list(alarm_rows["action"]).count("alarm.raised") == 4
    assert alarm_rows["who"].iloc[-1] == "ana"
    # Folding the stored events again gives the same state (nothing kept outside the log).
    refolded = {s.alarm_id: s.to_dict() for s in fold(Store(db_url).events("alarm."))}
    assert refolded == {s.alarm_id: s.to_dict() for s in log.states()}
    store.close()


def test_record_event_refuses_bad_input(db_url: str) -> None:
    with Store(db_url) as store:
        with pytest.raises(InputError, match="bad event action"):
            store.record_event("Alarm Raised!", {})
        with pytest.raises(InputError, match="JSON object"):
            store.record_event("alarm.raised", {"value": float("nan")})
        assert store.events("alarm.") == []
        e = store.record_event("alarm_x.test", {"a": 1}, who="z")
        # "_" in the prefix is literal, not a LIKE wildcard
        assert store.events("alarm.") == [] and store.events("alarm_x.")[0].id == e.id
        store.create_campaign("c1", "parameters: []", [])
        tied = store.record_event("alarm.raised", {"alarm_id": "x"}, campaign="c1")
        assert [r.id for r in store.events("alarm.", campaign="c1")] == [tied.id]
        assert store.events(campaign="c1")[0].action == "create_campaign"
