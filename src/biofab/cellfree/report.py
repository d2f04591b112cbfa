"""What a cell-free campaign report adds to the generic one: time courses, plate QC, cost."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from biofab.cellfree.loop import RoundFiles


def time_course_figure(
    simulate: Any, compositions: Mapping[str, Mapping[str, float]], hours: float
) -> go.Figure:
    """Mature GFP (µM) against time (h) for each labelled composition.

    ``simulate`` is e.g. :meth:`biofab.cellfree.txtl.TxTlModel.simulate`, returning
    a frame with ``time_h`` and ``gfp``.
    """
    fig = go.Figure()
    for label, comp in compositions.items():
        course = simulate(dict(comp), hours=hours, points=120)
        fig.add_scatter(x=course["time_h"], y=course["gfp"], mode="lines", name=label)
    fig.update_layout(xaxis_title="time (h)", yaxis_title="mature GFP (µM)")
    return fig


def plate_qc_table(rounds: Sequence[RoundFiles]) -> pd.DataFrame:
    """Per round and plate: controls, reference CV and Z'-factor (Zhang et al. 1999)."""
    frames = [r.qc.assign(round=r.round) for r in rounds if len(r.qc)]
    if not frames:
        return pd.DataFrame()
    qc = pd.concat(frames, ignore_index=True)
    first = ["round", "plate"]
    return qc[first + [c for c in qc.columns if c not in first]]


def cost_table(rounds: Sequence[RoundFiles]) -> pd.DataFrame:
    """Per round and plate: reactions, reagent cost and cost per reaction (dead volume in)."""
    frames = [r.cost.assign(round=r.round) for r in rounds if len(r.cost)]
    if not frames:
        return pd.DataFrame()
    cost = pd.concat(frames, ignore_index=True)
    return cost[["round", *[c for c in cost.columns if c != "round"]]]


def files_table(rounds: Sequence[RoundFiles]) -> pd.DataFrame:
    """Where each round's layout, build files, readings and results are."""
    return pd.DataFrame(
        {
            "round": [r.round for r in rounds],
            "plates": [r.plates for r in rounds],
            "layout": [str(r.layout) for r in rounds],
            "build": [", ".join(p.name for p in r.build) for r in rounds],
            "plate reader": [str(r.readings) for r in rounds],
            "best relative yield": [r.best for r in rounds],
        }
    )
