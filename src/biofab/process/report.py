"""Figures and HTML pages of process results: trajectories with measured points and bands.

Every page is one self-contained file from :func:`biofab.viz.html_page`. A
trajectory figure has one panel per variable (state, input or output) with its unit in the
axis title; each *run* draws its model line, a shaded band where the frame carries
``<name>_lo``/``<name>_hi`` columns (prediction interval, or estimate ± 2σ) and markers for
the measured points of that variable.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from biofab.viz import html_page

__all__ = [
    "Run",
    "control_page",
    "estimate_page",
    "fit_page",
    "optimize_page",
    "simulation_page",
    "trajectory_figure",
]

_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf")
_NAMES = {
    "X": "biomass X",
    "S": "glucose S",
    "A": "acetate A",
    "P": "product P",
    "DO": "dissolved O2",
    "V": "volume V",
    "F": "feed F",
    "T": "temperature T",
    "ind": "induction",
    "OUR": "OUR",
    "CER": "CER",
    "RQ": "RQ",
    "Xv": "viable cells Xv",
    "Glc": "glucose",
    "Gln": "glutamine",
    "Lac": "lactate",
    "Amm": "ammonia",
    "mu": "specific growth rate mu",
}


@dataclass
class Run:
    """One trajectory to draw: ``line`` (``time_h`` + one column per variable, optional
    ``<v>_lo``/``<v>_hi`` band columns) and ``measured`` points (``time_h`` + variables,
    NaN where not measured)."""

    label: str
    line: pd.DataFrame | None = None
    measured: pd.DataFrame | None = None
    dash: str = "solid"


def axis_title(model: Any, name: str) -> str:
    """``"biomass X (g/L)"`` from the model's unit tables."""
    unit = {**getattr(model, "units", {}), **getattr(model, "input_units", {}), "mu": "1/h"}.get(
        name, ""
    )
    label = _NAMES.get(name, name)
    return f"{label} ({unit})" if unit else label


def trajectory_figure(
    model: Any,
    runs: Sequence[Run],
    variables: Sequence[str],
    *,
    title: str = "",
    hlines: Mapping[str, float] | None = None,
    step: Sequence[str] = ("F", "T", "ind"),
) -> go.Figure:
    """One panel per variable in ``variables`` (two columns), every run in its colour.

    ``hlines``: dashed reference lines by variable (a DO floor, a volume limit);
    ``step``: variables drawn as steps (set-points held between changes).
    """
    from plotly.subplots import make_subplots

    names = list(variables)
    cols = 2 if len(names) > 1 else 1
    rows = math.ceil(len(names) / cols)
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=[axis_title(model, n) for n in names],
        vertical_spacing=min(0.12, 0.5 / max(rows, 1)),
    )
    for i, run in enumerate(runs):
        colour = _COLOURS[i % len(_COLOURS)]
        shown = False
        for j, name in enumerate(names):
            r, c = divmod(j, cols)
            where = {"row": r + 1, "col": c + 1}
            line = run.line
            if line is not None and name in line:
                lo, hi = f"{name}_lo", f"{name}_hi"
                if lo in line and hi in line:
                    fig.add_trace(
                        go.Scatter(
                            x=np.concatenate([line["time_h"], line["time_h"][::-1]]),
                            y=np.concatenate([line[hi], line[lo][::-1]]),
                            fill="toself",
                            fillcolor=_rgba(colour, 0.18),
                            line={"width": 0},
                            hoverinfo="skip",
                            name=f"{run.label} band",
                            legendgroup=run.label,
                            showlegend=False,
                        ),
                        **where,
                    )
                fig.add_trace(
                    go.Scatter(
                        x=line["time_h"],
                        y=line[name],
                        mode="lines",
                        line={
                            "color": colour,
                            "dash": run.dash,
                            "shape": "hv" if name in step else "linear",
                        },
                        name=run.label,
                        legendgroup=run.label,
                        showlegend=not shown,
                    ),
                    **where,
                )
                shown = True
            meas = run.measured
            if meas is not None and name in meas and meas[name].notna().any():
                points = meas[["time_h", name]].dropna()
                fig.add_trace(
                    go.Scatter(
                        x=points["time_h"],
                        y=points[name],
                        mode="markers",
                        marker={"color": colour, "size": 5, "symbol": "circle-open"},
                        name=f"{run.label} measured",
                        legendgroup=f"{run.label} measured",
                        showlegend=not any(t.name == f"{run.label} measured" for t in fig.data),
                    ),
                    **where,
                )
            if hlines and name in hlines and i == 0:
                fig.add_hline(y=hlines[name], line_dash="dash", line_color="grey", **where)
    for j in range(len(names)):
        r, c = divmod(j, cols)
        if r == rows - 1 or j + cols >= len(names):
            fig.update_xaxes(title_text="time (h)", row=r + 1, col=c + 1)
    fig.update_layout(height=max(320, 260 * rows), title=title, margin={"t": 70})
    return fig


def _rgba(hex_colour: str, alpha: float) -> str:
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[k : k + 2], 16) for k in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def _events_table(events: pd.DataFrame) -> pd.DataFrame | str:
    return events if len(events) else "No events fired."


# ---------------------------------------------------------------------------------------
# Pages
# ---------------------------------------------------------------------------------------


def simulation_page(
    scenario: Any, trajectory: Any, measured: Sequence[pd.DataFrame] = (), command: str = ""
) -> str:
    """States, inputs and outputs of a simulated scenario; synthetic measurements (model
    names, ``time_h`` column) as markers."""
    model = trajectory.model
    frame = trajectory.frame
    meas = pd.concat(list(measured), ignore_index=True) if measured else None
    run = Run(scenario.name, frame, meas)
    states = trajectory_figure(model, [run], model.states, title="States")
    inputs = [n for n in model.inputs if frame[n].nunique() > 1 or n == "F"]
    drive = trajectory_figure(
        model,
        [run],
        [*inputs, *[o for o in model.outputs if o not in model.states]],
        title="Inputs and online outputs",
    )
    final = pd.DataFrame(
        [
            {"variable": s, "value": v, "unit": model.units.get(s, "")}
            for s, v in trajectory.final.items()
        ]
    )
    sections: list[tuple[str, Any]] = [
        ("States", states),
        ("Inputs and outputs", drive),
        ("Events", _events_table(trajectory.events)),
        ("Final state", final),
        ("Model parameters", _param_frame(model)),
    ]
    if meas is not None:
        sections.insert(
            2, ("", "Markers: synthetic measurements of the measurement plan (noise as given).")
        )
    return html_page(
        f"Simulation: {scenario.name}",
        sections,
        subtitle=f"{model.name}, {scenario.t_end:g} h. {command}".strip(),
    )


def _param_frame(model: Any) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "parameter": k,
                "value": model.params[k],
                "unit": spec.unit,
                "meaning": spec.description,
                "source": spec.source,
            }
            for k, spec in model.param_specs.items()
        ]
    )


def fit_page(
    model: Any,
    table: pd.DataFrame,
    runs: Sequence[Run],
    variables: Sequence[str],
    summary: Mapping[str, Any],
    corr: pd.DataFrame | None = None,
    command: str = "",
) -> str:
    """Parameter table with 95 % CIs and identifiability flags; per batch the measured
    samples with the fitted trajectory and its prediction band."""
    fig = trajectory_figure(model, runs, variables, title="Measured samples and fitted model")
    facts = pd.DataFrame([{"quantity": k, "value": v} for k, v in summary.items()])
    sections: list[tuple[str, Any]] = [
        ("Parameters (95 % confidence intervals)", table),
        (
            "",
            "A parameter is flagged not identifiable when its interval spans more than a "
            "factor of 10, it correlates with another beyond 0.95, or the data leave its "
            "direction flat.",
        ),
        ("Trajectories", fig),
        ("", "Lines: model at the estimate; shaded: 95 % prediction band; markers: samples."),
        ("Fit", facts),
    ]
    if corr is not None and len(corr) > 1:
        sections.append(("Parameter correlations", corr.reset_index(names="parameter")))
    return html_page(f"Fit: {model.name}", sections, subtitle=command)


def estimate_page(
    model: Any,
    runs: Sequence[Run],
    variables: Sequence[str],
    consistency: pd.DataFrame,
    rmse: pd.DataFrame | None = None,
    command: str = "",
) -> str:
    """Soft-sensor estimates with ±2σ bands, offline samples overlaid, NIS consistency."""
    fig = trajectory_figure(model, runs, variables, title="Soft-sensor estimates")
    sections: list[tuple[str, Any]] = [
        ("Estimates", fig),
        ("", "Lines: filter estimate; shaded: ± 2σ; markers: offline samples and online readings."),
        ("Consistency (normalised innovation squared)", consistency),
        (
            "",
            "A consistent filter's average NIS lies inside the two-sided 95 % chi-square band "
            "(Bar-Shalom et al. 2001): above it the filter is over-confident, below it too "
            "cautious.",
        ),
    ]
    if rmse is not None and len(rmse):
        sections.append(("Error against offline samples", rmse))
    return html_page(f"State estimation: {model.name}", sections, subtitle=command)


def control_page(
    model: Any, results: Sequence[Any], spec: Any, metrics: pd.DataFrame, command: str = ""
) -> str:
    """Closed-loop runs: plant trajectories, the DO floor and volume limit, feed moves."""
    runs = []
    for res in results:
        measured = None
        if "X_offline" in res.steps:
            measured = res.steps[["time_h", "X_offline"]].rename(columns={"X_offline": "X"})
        runs.append(Run(res.label, res.frame, measured))
    # Temperature and induction are plotted when the controller or the schedule moved them.
    moved = [
        v for v in ("T", "ind") if any(v in r.frame and r.frame[v].nunique() > 1 for r in results)
    ]
    fig = trajectory_figure(
        model,
        runs,
        ["X", "S", "A", "P", "DO", "V", "F", *moved],
        title="Plant trajectories in closed loop",
        hlines={"DO": spec.do_min, "V": spec.v_max},
    )
    sections: list[tuple[str, Any]] = [
        ("Metrics", metrics),
        ("Trajectories", fig),
        ("", "Markers: offline biomass samples fed to the estimator; dashed: DO floor, V max."),
    ]
    for res in results:
        flags = res.steps["fallback"].eq(True) if "fallback" in res.steps else None
        if flags is not None and flags.any():
            log = res.steps.loc[flags]
            sections.append(
                (f"Fallback moves ({res.label})", log[["time_h", "F", "status", "cause"]])
            )
    return html_page(f"Closed-loop feed control: {model.name}", sections, subtitle=command)


def optimize_page(
    history: pd.DataFrame,
    objective: str,
    unit: str,
    best_runs: Sequence[Run],
    model: Any,
    failures: pd.DataFrame | None = None,
    command: str = "",
) -> str:
    """Best-so-far curve, the evaluated recipes, and the start vs best trajectories."""
    y = history[objective].to_numpy(float)
    best = np.maximum.accumulate(y)
    curve = go.Figure()
    curve.add_trace(
        go.Scatter(x=history["evaluation"], y=y, mode="markers", name="evaluated recipe")
    )
    curve.add_trace(
        go.Scatter(
            x=history["evaluation"], y=best, mode="lines", line={"shape": "hv"}, name="best so far"
        )
    )
    curve.update_layout(
        xaxis_title="evaluation (bioreactor run)", yaxis_title=f"{objective} ({unit})", height=380
    )
    traj = trajectory_figure(
        model,
        best_runs,
        [s for s in model.states if s != "DO"] + ["F"],
        title="Start recipe vs best recipe",
    )
    sections: list[tuple[str, Any]] = [
        ("Best so far", curve),
        ("Trajectories", traj),
        ("Evaluated recipes", history),
    ]
    if failures is not None and len(failures):
        sections.append(("Runs that failed to simulate (scored 0)", failures))
    return html_page("Recipe optimisation", sections, subtitle=command)
