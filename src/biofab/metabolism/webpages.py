"""The metabolism pillar's dashboard page: FBA of a shipped model as a flux table and chart.

Declared in the pillar's plug-in record (``web_pages``); the dashboard renders the
sections returned here. Only small shipped models can be chosen, so a page view
never makes the server read a path or load a genome-scale model for minutes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from biofab.core.errors import InputError

MODELS = ("textbook", "e_coli_core", "mini")
METHODS = ("FBA", "pFBA")
TOP_BARS = 30  # reactions in the chart: the largest |flux|
TOP_ROWS = 200  # rows in the table


def fba_page(values: Mapping[str, str]) -> list[tuple[str, Any]]:
    """FBA (HiGHS) of the chosen model: summary, bar chart of the largest fluxes and the
    table of non-zero fluxes (mmol/gDW/h)."""
    import plotly.graph_objects as go

    from biofab.metabolism import workflows

    model = values.get("model") or MODELS[0]
    method = values.get("method") or METHODS[0]
    if model not in MODELS:
        raise InputError("unknown model", column="model", expected=", ".join(MODELS), found=model)
    if method not in METHODS:
        raise InputError(
            "unknown method", column="method", expected=", ".join(METHODS), found=method
        )
    result = workflows.fba(workflows.FbaRequest(model=model, pfba=method == "pFBA"))
    fluxes = result.fluxes[result.fluxes.abs() > 1e-9]
    ranked = fluxes.reindex(fluxes.abs().sort_values(ascending=False).index)
    top = ranked.head(TOP_BARS).iloc[::-1]
    fig = go.Figure(go.Bar(x=top.to_numpy(), y=list(top.index), orientation="h"))
    fig.update_layout(
        xaxis_title="flux (mmol/gDW/h)",
        yaxis_title="reaction",
        height=max(320, 18 * len(top) + 80),
        margin={"l": 120, "r": 20, "t": 20, "b": 50},
    )
    table = ranked.head(TOP_ROWS).rename("flux (mmol/gDW/h)").rename_axis("reaction")
    summary = (
        f"{result.method} of '{model}': status {result.status}, objective value "
        f"{result.objective_value:.6g}; {len(fluxes)} of {len(result.fluxes)} reactions carry flux."
    )
    shown = f"The {min(TOP_ROWS, len(ranked))} largest of {len(ranked)} non-zero fluxes."
    return [
        ("Solution", summary),
        (f"Largest {len(top)} fluxes by magnitude", fig),
        ("Fluxes", table.reset_index()),
        ("", shown),
    ]
