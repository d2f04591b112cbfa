"""The batch-monitoring HTML page: control charts, golden-batch envelopes, contributions,
quality prediction and the alarm table, built with :mod:`biofab.viz` (Plotly)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from biofab.process.monitor import TIME, BatchMonitor, BatchScore

__all__ = ["chart_axis", "control_chart", "monitor_page"]

_LIMIT = {"color": "#c0392b", "dash": "dash"}


def chart_axis(monitor: BatchMonitor, score: BatchScore) -> tuple[Any, str]:
    if monitor.align == "time":
        return score.grid, "time (h)"
    if monitor.align == "maturity":
        return score.grid, f"{monitor.maturity} (maturity)"
    return score.grid, "aligned index (DTW reference)"


def control_chart(score: BatchScore, x: Any, xlabel: str, stat: str) -> go.Figure:
    y = score.t2 if stat == "T2" else score.spe
    lim = score.t2_limit if stat == "T2" else score.spe_limit
    fig = go.Figure()
    fig.add_scatter(x=x, y=y, mode="lines+markers", name=stat, marker={"size": 4})
    fig.add_scatter(x=x, y=lim, mode="lines", name="limit", line=_LIMIT)
    alarm = np.flatnonzero(score.alarm)
    if alarm.size:
        fig.add_scatter(
            x=np.asarray(x)[alarm],
            y=y[alarm],
            mode="markers",
            name="alarm",
            marker={"color": "#c0392b", "size": 8, "symbol": "x"},
        )
    fig.update_layout(xaxis_title=xlabel, yaxis_title=stat, yaxis_type="log", height=330)
    return fig


def _envelopes(monitor: BatchMonitor, score: BatchScore, x_all: Any, xlabel: str) -> go.Figure:
    mean, low, high = monitor.envelope()
    names = score.variables
    cols = 2
    rows = math.ceil(len(names) / cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=names, vertical_spacing=0.08)
    n = len(score.grid)
    for j in range(len(names)):
        r, c = j // cols + 1, j % cols + 1
        first = j == 0
        fig.add_scatter(
            x=np.concatenate([x_all, x_all[::-1]]),
            y=np.concatenate([high[:, j], low[::-1, j]]),
            fill="toself",
            fillcolor="rgba(39,174,96,0.18)",
            line={"width": 0},
            name=f"good batches ±{monitor.envelope_k:g} sd",
            showlegend=first,
            legendgroup="env",
            row=r,
            col=c,
        )
        fig.add_scatter(
            x=x_all,
            y=mean[:, j],
            mode="lines",
            line={"color": "#27ae60"},
            name="good mean",
            showlegend=first,
            legendgroup="mean",
            row=r,
            col=c,
        )
        fig.add_scatter(
            x=x_all[:n],
            y=score.values[:, j],
            mode="lines",
            line={"color": "#2c3e50"},
            name=score.batch,
            showlegend=first,
            legendgroup="batch",
            row=r,
            col=c,
        )
        out = np.flatnonzero(score.outside[:, j])
        if out.size:
            fig.add_scatter(
                x=x_all[out],
                y=score.values[out, j],
                mode="markers",
                marker={"color": "#e67e22", "size": 5},
                name="outside envelope",
                showlegend=False,
                row=r,
                col=c,
            )
    fig.update_layout(height=260 * rows, margin={"t": 40})
    fig.update_xaxes(title_text=xlabel, row=rows)
    return fig


def _contributions(score: BatchScore, k: int) -> go.Figure:
    fig = go.Figure()
    fig.add_bar(x=score.variables, y=score.contrib_spe[k], name="SPE contribution")
    fig.add_bar(x=score.variables, y=score.contrib_t2[k], name="T² contribution")
    fig.update_layout(
        barmode="group",
        yaxis_title="contribution (scaled units²)",
        height=330,
        title=f"at {score.time_h[k]:.2f} h (first alarm)",
    )
    return fig


def _quality(score: BatchScore, x: Any, xlabel: str) -> go.Figure:
    assert score.quality is not None and score.quality_low is not None
    assert score.quality_high is not None
    fig = go.Figure()
    for i, name in enumerate(score.quality_names):
        fig.add_scatter(
            x=np.concatenate([x, x[::-1]]),
            y=np.concatenate([score.quality_high[:, i], score.quality_low[::-1, i]]),
            fill="toself",
            fillcolor="rgba(52,152,219,0.2)",
            line={"width": 0},
            name=f"{name} 95 % interval",
        )
        fig.add_scatter(x=x, y=score.quality[:, i], mode="lines", name=f"{name} predicted")
    fig.update_layout(xaxis_title=xlabel, yaxis_title="end-of-batch quality", height=330)
    return fig


def monitor_page(
    monitor: BatchMonitor,
    scores: Sequence[BatchScore],
    alarms: pd.DataFrame,
    command: str = "",
    refresh_s: float | None = None,
) -> str:
    """One self-contained page: per batch, T² and SPE charts with limits, envelopes with
    the batch overlaid, contributions at the first alarm, quality prediction; then the
    alarm table and the model's settings."""
    from biofab.viz import html_page

    s = monitor.summary()
    sections: list[tuple[str, Any]] = [
        (
            "Model",
            f"{s['batches']} good batches, {len(s['variables'])} variables, alignment by "
            f"{s['align']} on {s['grid_points']} points, {s['n_components']} MPCA components "
            f"(chosen by leave-one-batch-out cross-validation unless set), limits at "
            f"{s['alpha']:.0%}; alarm: {s['run_length']} consecutive points beyond a limit.",
        )
    ]
    x_all = monitor.grid_
    for score in scores:
        x, xlabel = chart_axis(monitor, score)
        k = score.first_alarm
        verdict = (
            "no alarm"
            if k is None
            else f"first alarm at {score.time_h[k]:.2f} h, driven by " + ", ".join(score.drivers(k))
        )
        sections.append((f"Batch {score.batch}: {verdict}", control_chart(score, x, xlabel, "T2")))
        sections.append(("", control_chart(score, x, xlabel, "SPE")))
        sections.append(
            (f"{score.batch}: golden-batch envelopes", _envelopes(monitor, score, x_all, xlabel))
        )
        if k is not None:
            sections.append((f"{score.batch}: contributions", _contributions(score, k)))
        if score.quality is not None:
            sections.append(
                (f"{score.batch}: predicted end-of-batch quality", _quality(score, x, xlabel))
            )
    sections.append(("Alarms", alarms if len(alarms) else "No alarm was raised."))
    frame = pd.DataFrame(s["cv_press"])
    sections.append(("Components tried (PRESS, leave one batch out)", frame))
    subtitle = command or f"{TIME} monitor"
    return html_page("Batch monitoring", sections, subtitle=subtitle, refresh_s=refresh_s)
