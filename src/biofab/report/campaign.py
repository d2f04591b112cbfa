"""The campaign report: best-so-far, predicted vs measured, importance, Pareto front,
then the sections the pillars add (each pillar's plug-in record says which apply).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from biofab.core import NotEnoughDataError, plugins
from biofab.core.atomic import write_atomic
from biofab.viz import Section, html_page

if TYPE_CHECKING:
    from biofab.campaign import Campaign


def best_so_far_figure(history: pd.DataFrame, label: str) -> go.Figure:
    fig = go.Figure()
    fig.add_bar(x=history["round"], y=history["best"], name="best in round", opacity=0.45)
    fig.add_scatter(
        x=history["round"], y=history["best_so_far"], mode="lines+markers", name="best so far"
    )
    fig.update_layout(
        xaxis_title="round (0 = imported before any recommendation)", yaxis_title=label
    )
    return fig


def predicted_vs_measured(
    designs: pd.DataFrame, data: pd.DataFrame, objective: str
) -> go.Figure | None:
    """Each design's prediction when it was recommended, against what was measured."""
    if len(designs) == 0 or len(data) == 0 or "predicted" not in designs:
        return None  # nothing recommended, or nothing measured yet
    pred = designs.dropna(subset=["predicted"])
    rows = []
    measured = data.set_index("design_id")
    for _, r in pred.iterrows():
        p = r["predicted"]
        if not isinstance(p, dict) or objective not in p or r["design_id"] not in measured.index:
            continue
        m = measured.loc[r["design_id"]]
        rows.append(
            (p[objective][0], p[objective][1], m[objective], m.get(f"{objective}_std"), r["round"])
        )
    if not rows:
        return None
    t = pd.DataFrame(rows, columns=["pred", "pred_std", "meas", "meas_std", "round"])
    # An unknown measurement std (None / NA) draws no bar.
    meas_std = pd.to_numeric(t["meas_std"]).to_numpy(dtype=float, na_value=0.0)
    lo = float(min(t["pred"].min(), t["meas"].min()))
    hi = float(max(t["pred"].max(), t["meas"].max()))
    fig = go.Figure()
    fig.add_scatter(
        x=[lo, hi], y=[lo, hi], mode="lines", name="y = x", line={"dash": "dot", "color": "#888"}
    )
    fig.add_scatter(
        x=t["meas"],
        y=t["pred"],
        mode="markers",
        name="designs",
        error_y={"type": "data", "array": t["pred_std"], "visible": True},
        error_x={"type": "data", "array": meas_std, "visible": True},
        marker={
            "color": t["round"],
            "colorscale": "Viridis",
            "showscale": True,
            "colorbar": {"title": "round"},
        },
        text=[f"round {int(r)}" for r in t["round"]],
    )
    fig.update_layout(
        xaxis_title=f"measured {objective}",
        yaxis_title=f"predicted {objective} (±1 sd)",
        legend={"orientation": "h", "y": 1.12},
    )
    return fig


def importance_figure(importance: pd.DataFrame) -> go.Figure:
    imp = importance.sort_values("importance")
    fig = go.Figure(
        go.Bar(
            x=imp["importance"],
            y=imp.index,
            orientation="h",
            error_x={"type": "data", "array": imp["std"], "visible": True},
        )
    )
    fig.update_layout(
        xaxis_title="increase in squared error when shuffled", yaxis_title="parameter"
    )
    return fig


def pareto_figure(data: pd.DataFrame, front: pd.DataFrame, a: str, b: str) -> go.Figure:
    fig = go.Figure()
    fig.add_scatter(
        x=data[a], y=data[b], mode="markers", name="measured", marker={"color": "#9aa9b8"}
    )
    f = front.sort_values(a)
    fig.add_scatter(x=f[a], y=f[b], mode="lines+markers", name="Pareto front", marker={"size": 10})
    fig.update_layout(xaxis_title=a, yaxis_title=b)
    return fig


def campaign_report(campaign: Campaign, extra: Sequence[Section] = ()) -> str:
    """The whole report as one HTML string: the campaign's sections, then those of
    every pillar whose report section applies to this campaign, then ``extra`` (what
    the caller alone knows, e.g. a cell-free loop's plate QC and files)."""
    data = campaign.data()
    history = campaign.history()
    status = campaign.status()
    label = campaign.objectives[0].name if len(campaign.objectives) == 1 else "weighted score"
    sections: list[Section] = []
    summary = pd.DataFrame(
        [
            ("objectives", ", ".join(status["objectives"])),
            ("parameters", len(status["parameters"])),
            ("rounds", status["rounds"]),
            ("designs measured", status["measured"]),
            ("designs pending", status["pending"]),
        ],
        columns=["", "value"],
    )
    sections.append(("Summary", summary))
    if len(history):
        sections.append(("Best so far per round", best_so_far_figure(history, label)))
        sections.append(("Rounds", history))
    designs = campaign.store.design_table(campaign.name)
    for obj in campaign.objective_names:
        fig = predicted_vs_measured(designs, data, obj)
        if fig is not None:
            sections.append((f"Predicted vs measured: {obj}", fig))
    try:
        sections.append(
            (
                "Parameter importance (permutation, latest model)",
                importance_figure(campaign.explain()),
            )
        )
    except NotEnoughDataError:
        sections.append(("Parameter importance", "No model has been fitted yet."))
    try:
        sections.append(("Calibration of the error bars (25 % held out)", campaign.calibration()))
        sections.append(
            (
                "",
                "Coverage is the share of held-out measurements inside the predicted "
                "interval: near 0.68 and 0.95 means honest error bars, far below means "
                "over-confident.",
            )
        )
    except NotEnoughDataError:
        pass
    by_round = campaign.record_calibration()
    if len(by_round):
        sections.append(("Error bars on each round's own picks", by_round))
        sections.append(
            (
                "",
                "Share of each round's measured picks inside ±1 std, before "
                "(coverage_68_raw) and with (coverage_68) the factor the campaign's "
                "earlier rounds asked for (factor_applied; nominal 0.68). A batch is the "
                "model's top picks, whose errors are larger than held-out errors.",
            )
        )
    if len(campaign.objectives) >= 2 and len(data):
        a, b = campaign.objective_names[:2]
        sections.append((f"Pareto front: {a} vs {b}", pareto_figure(data, campaign.pareto(), a, b)))
    if len(data):
        best = campaign.best(10).drop(columns=["design_id"], errors="ignore")
        sections.append(("Best designs", best.replace({np.nan: None})))
    sections.extend(pillar_sections(campaign))
    sections.extend(extra)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return html_page(f"biofab campaign: {campaign.name}", sections, subtitle=f"generated {stamp}")


def pillar_sections(campaign: Campaign) -> list[Section]:
    """The sections every registered pillar adds to this campaign's report, in
    pillar order; a section whose ``applies`` check fails is not built (nor imported)."""
    sections: list[Section] = []
    for pillar in plugins.pillars():
        for offer in pillar.report_sections:
            if offer.applies is not None and not plugins.resolve(offer.applies)(campaign):
                continue
            sections.extend(plugins.resolve(offer.build)(campaign))
    return sections


def write_report(
    campaign: Campaign, path: str | os.PathLike[str], extra: Sequence[Section] = ()
) -> Path:
    """Write :func:`campaign_report` to ``path`` atomically (a reader never sees half
    a page; on an error the old file stays); returns the path."""
    return write_atomic(path, campaign_report(campaign, extra))
