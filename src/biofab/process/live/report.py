"""The live twin's HTML report: trends with the estimator's ±2σ bands over the raw
readings (twin units), the reading counts and the last rejections."""

from __future__ import annotations

from typing import Any

import pandas as pd

from biofab.viz import html_page

__all__ = ["live_page"]


def live_page(
    twin: Any,
    loop: Any,
    result: Any,
    command: str = "",
    watcher: Any = None,
    refresh_s: float | None = None,
) -> str:
    """One self-contained page (plotly.js inlined once): trends with ±2σ bands, then,
    with a :class:`~biofab.process.live.watch.LiveMonitor`, its control charts and alarms.
    ``refresh_s``: the browser reloads the page that often (a run still going on)."""
    from biofab.process.report import Run, trajectory_figure

    line = twin.frame().copy()
    shown = [*twin.model.states, *twin.sensor.report_outputs]
    variables = [*shown, "mu"]
    for name in variables:
        line[f"{name}_lo"] = line[name] - 2 * line[f"{name}_std"]
        line[f"{name}_hi"] = line[name] + 2 * line[f"{name}_std"]
    raw = pd.DataFrame(
        [(r.time_h, r.variable, r.value) for r in loop.readings_],
        columns=["time_h", "variable", "value"],
    )
    measured = None
    if len(raw):
        measured = (
            raw[raw["variable"].isin(shown)]
            .pivot_table(index="time_h", columns="variable", values="value", aggfunc="first")
            .reset_index()
        )
    figure = trajectory_figure(
        twin.model,
        [Run(f"{twin.filter.upper()} estimate", line, measured)],
        variables,
        title=f"Live twin: {result.run}",
    )
    counts = pd.DataFrame(
        [{"what": k, "readings": v} for k, v in result.stats.to_dict().items() if k != "rejections"]
    )
    stored = pd.DataFrame([{"status": k, "stored": v} for k, v in result.store_counts.items()])
    sections: list[tuple[str, Any]] = [
        ("Estimates", figure),
        (
            "",
            "Lines: the filter's estimate at the end of each estimator step (the first point: the "
            "prior at the start); shaded: ± 2σ; "
            "markers: the accepted readings of the states (converted to the twin's units).",
        ),
        *(watcher.sections() if watcher is not None else []),
        ("Readings received", counts),
        ("Readings stored", stored),
    ]
    if result.stats.rejected:
        by_variable = pd.DataFrame(
            [{"variable": k, "rejected": v} for k, v in result.stats.reasons.items()]
        )
        sections.append(("Rejected readings", by_variable))
        sections.append(("", f"Last rejection: {result.stats.last_rejection}"))
    title = f"Live twin: {result.run}" + (" (running)" if refresh_s is not None else "")
    return html_page(title, sections, subtitle=command or result.source, refresh_s=refresh_s)
