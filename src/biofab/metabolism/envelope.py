"""Production envelopes: the range of a product flux at each growth rate.

For growth rates from zero to the strain's maximum, the target flux is
minimised and maximised with growth fixed (the phenotypic phase plane of
Edwards et al. 2002, Biotechnol Prog 18:1040; COBRApy's
``production_envelope`` draws the same curve). A growth-coupled design shows
a positive lower edge at its maximal growth, where the wild type's lower edge
sits at zero. Growth in 1/h, fluxes in mmol/gDW/h.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from biofab.core.errors import InputError
from biofab.metabolism.design import (
    check_reaction,
    knocked_out,
    objective_reaction,
    resolve_knockouts,
)
from biofab.metabolism.lp import LinearProgram

if TYPE_CHECKING:
    import cobra
    import pandas as pd
    import plotly.graph_objects as go


def production_envelope(
    model: cobra.Model,
    target: str,
    knockouts: Sequence[str] = (),
    *,
    points: int = 20,
    lp: LinearProgram | None = None,
) -> pd.DataFrame:
    """Min and max flux of ``target`` at ``points`` growth rates from 0 to the maximum.

    ``knockouts`` are reaction ids or gene ids (a gene stands for the reactions
    its deletion disables). Returns columns ``growth`` (1/h),
    ``min_production`` and ``max_production`` (mmol/gDW/h); empty when the
    strain cannot grow.
    """
    import pandas as pd

    if points < 2:
        raise InputError("an envelope needs at least 2 points", found=points)
    check_reaction(model, target)
    biomass = objective_reaction(model)
    knocked = resolve_knockouts(model, knockouts)
    lp = lp if lp is not None else LinearProgram.from_model(model)
    b, t = lp.index[biomass], lp.index[target]
    cb = np.zeros(lp.n_reactions)
    cb[b] = 1.0
    ct = np.zeros(lp.n_reactions)
    ct[t] = 1.0
    rows = []
    with knocked_out(lp, knocked):
        with lp.objective(cb, "max"):
            top = lp.solve()
        if top.ok and top.objective > 0:
            # Stop a hair below the optimum: exactly at it the LP may be
            # infeasible by solver round-off.
            for g in np.linspace(0.0, top.objective * (1 - 1e-9), points):
                with lp.bounds([b], g, g):
                    with lp.objective(ct, "min"):
                        lo = lp.solve()
                    with lp.objective(ct, "max"):
                        hi = lp.solve()
                if lo.ok and hi.ok:
                    rows.append((g, lo.objective, hi.objective))
    frame = pd.DataFrame(rows, columns=["growth", "min_production", "max_production"])
    # Solver round-off (|x| ~ 1e-14) shown as the zero it is.
    return frame.mask(frame.abs() < 1e-9, 0.0)


_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def envelope_figure(curves: Mapping[str, pd.DataFrame], target: str) -> go.Figure:
    """Overlaid envelopes (one shaded region per strain) from :func:`production_envelope`."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for i, (label, env) in enumerate(curves.items()):
        if env.empty:
            continue
        colour = _COLOURS[i % len(_COLOURS)]
        x = np.concatenate([env["growth"], env["growth"][::-1]])
        y = np.concatenate([env["max_production"], env["min_production"][::-1]])
        fig.add_trace(
            go.Scatter(
                x=x,
                y=y,
                fill="toself",
                mode="lines",
                name=label,
                line={"color": colour},
                opacity=0.45,
                hovertemplate="growth %{x:.4g} 1/h<br>"
                + target
                + " %{y:.4g}<extra>%{fullData.name}</extra>",
            )
        )
    fig.update_layout(
        xaxis_title="growth rate (1/h)",
        yaxis_title=f"{target} flux (mmol/gDW/h)",
        template="plotly_white",
        legend={"orientation": "h", "y": -0.2},
    )
    return fig
