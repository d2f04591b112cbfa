"""The process pillar's dashboard page: a bioreactor trend view of a simulated recipe.

The scenario is YAML text read by the same reader as ``biofab process simulate``
(written to a private staging folder, so errors name ``scenario.yaml``); the page
shows the trajectory of every state and input against time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

EXAMPLE = """\
# E. coli fed-batch: 7 h batch on 10 g/L glucose, then an exponential feed; induction at 10 h.
name: E. coli fed-batch, exponential feed
model: ecoli
parameters: {kLa: 600}
initial: {X: 0.2, S: 10.0, A: 0.0, P: 0.0, DO: 100.0, V: 1.0}
t_end: 16
output_every: 0.1
inputs: {T: 37}
events:
  - {t: 7, feed_start: {profile: exponential, F0: 0.0045, mu_set: 0.15, F_max: 0.05}}
  - {t: 10, induction: 1}
"""


def trend_page(values: Mapping[str, str]) -> list[tuple[str, Any]]:
    """Simulate the scenario; one trend panel per state (shared time axis, hours)."""
    from plotly.subplots import make_subplots

    from biofab.process import workflows

    text = values.get("scenario") or EXAMPLE
    result = workflows.simulate_text(text, purpose="a page")
    frame = result.to_frame()
    info = result.to_dict()
    units: dict[str, str] = info["units"]
    states = [s for s in units if s in frame.columns]
    fig = make_subplots(
        rows=len(states), cols=1, shared_xaxes=True, vertical_spacing=0.02, subplot_titles=None
    )
    for i, state in enumerate(states, start=1):
        fig.add_scatter(x=frame["time_h"], y=frame[state], name=state, row=i, col=1)
        unit = units.get(state, "")
        fig.update_yaxes(title_text=f"{state} ({unit})" if unit else state, row=i, col=1)
    fig.update_xaxes(title_text="time (h)", row=len(states), col=1)
    fig.update_layout(
        height=max(360, 150 * len(states)), showlegend=False, margin={"t": 20, "b": 50}
    )
    final = ", ".join(f"{k} {v:.4g}" for k, v in info["final"].items() if isinstance(v, float))
    sections: list[tuple[str, Any]] = [
        ("Run", f"{info['scenario']}, {info['t_end_h']:g} h; final: {final}"),
        ("Trends", fig),
    ]
    events = result.trajectory.events
    if len(events):
        sections.append(("Events", events))
    return sections
