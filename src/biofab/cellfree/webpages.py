"""The cell-free pillar's dashboard page: one TX-TL reaction of a chosen composition.

A scientist types a composition (component: concentration, the units of
:func:`~biofab.cellfree.txtl.default_space`; components left out keep the reference
buffer's value) and sees the kinetic testbed's time course against the reference
buffer: mature GFP, free Mg²⁺ and NTP, the resources whose exhaustion ends a reaction.
Declared in the pillar's plug-in record (``web_pages``); the dashboard renders the
sections. Bad input (an unknown component, a negative or non-numeric value) is one line.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from biofab.core.errors import InputError

EXAMPLE = """\
# component: concentration (mM; dna in nM). Left out: the reference buffer's value.
mg_glutamate: 12
ntp: 2.5
pga: 40
"""
MAX_HOURS = 24.0


def _composition(text: str) -> dict[str, float]:
    import yaml

    try:
        data = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise InputError(f"composition: not YAML{where}", expected="component: value") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError(
            "composition: not a mapping", expected="component: value lines", found=str(data)[:60]
        )
    out: dict[str, float] = {}
    for name, value in data.items():
        try:
            out[str(name)] = float(value)
        except (TypeError, ValueError):
            raise InputError(
                "composition: not a number", column=str(name), found=str(value)[:40]
            ) from None
    return out


def _hours(text: str) -> float:
    try:
        hours = float(text) if text.strip() else 8.0
    except ValueError:
        raise InputError("hours: not a number", column="hours", found=text[:40]) from None
    if not 0 < hours <= MAX_HOURS:
        raise InputError("hours out of range", column="hours", expected=f"0 < h <= {MAX_HOURS:g}")
    return hours


def reaction_page(values: Mapping[str, str]) -> list[tuple[str, Any]]:
    """Simulate the composition and the reference buffer; GFP, free Mg²⁺ and NTP vs time."""
    import pandas as pd
    from plotly.subplots import make_subplots

    from biofab.cellfree.txtl import REFERENCE, TxTlModel

    composition = _composition(values.get("composition", EXAMPLE) or "")
    hours = _hours(values.get("hours", "") or "")
    model = TxTlModel()
    given = model.compositions(composition).iloc[0]  # checks names and values
    runs = {
        "this composition": model.simulate(given, hours),
        "reference buffer": model.simulate(REFERENCE, hours),
    }
    panels = (("gfp", "mature GFP (µM)"), ("free_mg", "free Mg²⁺ (mM)"), ("ntp", "NTP (mM)"))
    fig = make_subplots(rows=len(panels), cols=1, shared_xaxes=True, vertical_spacing=0.04)
    for i, (column, label) in enumerate(panels, start=1):
        for j, (name, frame) in enumerate(runs.items()):
            fig.add_scatter(
                x=frame["time_h"],
                y=frame[column],
                name=name,
                legendgroup=name,
                showlegend=i == 1,
                line={"dash": "dash" if j else "solid"},
                row=i,
                col=1,
            )
        fig.update_yaxes(title_text=label, row=i, col=1)
    fig.update_xaxes(title_text="time (h)", row=len(panels), col=1)
    fig.update_layout(height=720, margin={"t": 20, "b": 50})
    table = pd.DataFrame(
        {
            "component": list(REFERENCE),
            "this composition": [float(given[c]) for c in REFERENCE],
            "reference buffer": list(REFERENCE.values()),
        }
    )
    end = {name: float(frame["gfp"].iloc[-1]) for name, frame in runs.items()}
    ratio = end["this composition"] / end["reference buffer"] if end["reference buffer"] else 0
    summary = (
        f"After {hours:g} h: {end['this composition']:.3g} µM mature GFP against "
        f"{end['reference buffer']:.3g} µM for the reference buffer ({ratio:.2f}x); "
        "noise-free kinetic testbed (biofab.cellfree.txtl)."
    )
    return [("Yield", summary), ("Time course", fig), ("Composition", table)]
