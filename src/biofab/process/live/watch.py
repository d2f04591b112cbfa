"""Batch monitoring of a live run: the twin's estimates scored against good batches.

The live twin turns noisy, sparse readings into every state of the batch each estimator
step; :class:`LiveMonitor` compares that running trajectory with a batch-evolution model
(:class:`~biofab.process.monitor.BatchMonitor`: multiway PCA on good batches, Hotelling
T² and SPE with control limits) and turns ``run_length`` consecutive points beyond a
limit into an alarm (:func:`~biofab.process.alarms.monitor_rule`). Alarms go to the
store's audit log (:class:`~biofab.process.alarms.AlarmLog`), deduplicated: a raised
alarm is written once, and cleared when the statistics come back.

Good batches are trajectories with the twin's state names as columns (``batch``,
``time_h``, ``X``, ``S``, ...): the ``--out`` estimates of earlier good runs, or
simulations of the scenario. The monitored variables must all be estimated by the twin;
a missing one is refused before anything runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from biofab.core.errors import InputError
from biofab.process.alarms import AlarmLog, AlarmState, evaluate, local_states, monitor_rule
from biofab.process.monitor import TIME, BatchMonitor, BatchScore

__all__ = ["LiveMonitor", "fit_live_monitor"]


def fit_live_monitor(
    good: Path,
    estimated: Sequence[str],
    variables: Sequence[str] | None = None,
    *,
    alpha: float = 0.99,
    run_length: int = 3,
) -> BatchMonitor:
    """A time-aligned monitor fitted on the good batches in ``good`` (CSV or folder).

    ``estimated``: what the twin estimates; ``variables``: monitored columns (default:
    every column of the good batches that the twin estimates).
    """
    from biofab.process.batchtable import read_batch_table

    batches = read_batch_table(good)
    columns = [c for c in next(iter(batches.values())).columns if c not in (TIME, "batch")]
    chosen = list(variables) if variables else [c for c in columns if c in estimated]
    missing = [v for v in chosen if v not in estimated]
    if missing or not chosen:
        raise InputError(
            "the monitor's variables must be estimated by the twin",
            file=str(good),
            column=", ".join(missing) if missing else "(none in common)",
            expected="some of " + ", ".join(estimated),
            found=", ".join(missing or columns),
        )
    absent = [v for v in chosen if v not in columns]
    if absent:
        raise InputError(
            "monitored variable not in the good batches",
            file=str(good),
            column=", ".join(absent),
            expected="columns " + ", ".join(columns),
        )
    model = BatchMonitor(alpha=alpha, align="time", run_length=run_length)
    return model.fit(batches, None, chosen)


class LiveMonitor:
    """Score the running batch every ``every_steps`` estimator steps (module docstring).

    ``monitor``: fitted on good batches; ``run``: the batch name alarms carry; ``log``:
    where alarms are kept (None: only in memory). After :meth:`update`: ``score_`` (the
    latest :class:`BatchScore`, None until the batch reaches the model's grid),
    ``states_`` (this run's alarms) and ``updates_``.
    """

    def __init__(
        self,
        monitor: BatchMonitor,
        run: str,
        log: AlarmLog | None = None,
        *,
        run_length: int = 3,
        every_steps: int = 1,
    ) -> None:
        if every_steps < 1:
            raise InputError("every_steps must be >= 1", expected=">= 1", found=every_steps)
        self.monitor = monitor
        self.run = run
        self.log = log
        self.run_length = run_length
        self.every_steps = every_steps
        self.score_: BatchScore | None = None
        self.states_: list[AlarmState] = []
        self.updates_ = 0
        self._steps = 0

    @property
    def variables(self) -> list[str]:
        return list(self.monitor.variables_)

    def step(self, estimates: pd.DataFrame) -> None:
        """Called once per estimator step; scores every ``every_steps`` steps."""
        self._steps += 1
        if self._steps % self.every_steps == 0:
            self.update(estimates)

    def update(self, estimates: pd.DataFrame) -> None:
        """Score the estimates so far (``time_h`` and the monitored states) and record the
        alarm transitions they imply."""
        frame = estimates[[TIME, *self.variables]].dropna()
        if len(frame) < 2 or frame[TIME].iloc[-1] < self.monitor.grid_[0]:
            return
        score = self.monitor.score(frame, self.run)
        self.score_ = score
        self.updates_ += 1
        events = evaluate([monitor_rule(self.run_length)], score.to_frame(), self.run)
        if self.log is not None:
            self.log.record(events)
            self.states_ = self.log.states(self.run)
        else:
            self.states_ = local_states(events)

    def sections(self) -> list[tuple[str, Any]]:
        """Report sections: T² and SPE charts with their limits, then the alarm table."""
        from biofab.process.alarms import to_frame
        from biofab.process.monitor_report import chart_axis, control_chart

        summary = self.monitor.summary()
        intro = (
            f"Monitored: {', '.join(self.variables)} (twin estimates) against "
            f"{summary['batches']} good batches, {summary['n_components']} MPCA components, "
            f"limits at {summary['alpha']:.0%}; alarm after {self.run_length} consecutive "
            "points beyond a limit."
        )
        if self.score_ is None:
            return [("Control charts", intro + " The batch has not reached the model's grid.")]
        x, xlabel = chart_axis(self.monitor, self.score_)
        alarms = to_frame(self.states_)
        return [
            ("Control charts", control_chart(self.score_, x, xlabel, "T2")),
            ("", control_chart(self.score_, x, xlabel, "SPE")),
            ("", intro),
            ("Alarms", alarms if len(alarms) else "No alarm was raised."),
        ]
