"""``biofab gem dfba``: dynamic FBA of a batch or fed-batch scenario (YAML).

Argument parsing and printing only: the work is :func:`biofab.metabolism.workflows.dfba`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from biofab.cli.gem import JsonOption, out, print_frame, print_result, wrote


def register(app: typer.Typer) -> None:
    """Add ``dfba`` to the ``gem`` command group."""

    @app.command("dfba")
    def dfba(
        scenario: Annotated[Path, typer.Argument(help="Scenario YAML (model, species, feed...).")],
        out_csv: Annotated[
            Path | None, typer.Option("--out", help="Trajectory CSV (written atomically).")
        ] = None,
        plot: Annotated[
            Path | None, typer.Option("--plot", help="Self-contained Plotly HTML page.")
        ] = None,
        method: Annotated[
            str, typer.Option("--method", help="adaptive (events) or euler (fixed step).")
        ] = "adaptive",
        dt: Annotated[float, typer.Option("--dt", help="Euler step, h.")] = 0.01,
        json_out: JsonOption = False,
    ) -> None:
        """Simulate a dynamic-FBA SCENARIO: biomass, species (g/L) and fluxes over time."""
        from biofab.metabolism import workflows as wf

        request = wf.DfbaRequest(scenario, out_csv, plot, method, dt, progress=not json_out)
        r = wf.dfba(request)
        if print_result(r, json_out):
            return
        res = r.result
        colour = "green" if res.status == "completed" else "yellow"
        out.print(f"[{colour}]{escape(res.status)}[/]: {escape(res.message)}", highlight=False)
        print_frame(res.events, title="events")
        for k, v in res.final().items():
            if k != "phase":
                out.print(f"  {escape(k):<28}{v:.6g}", highlight=False)
        out.print(
            f"{res.method}: {res.runtime_s:.2f} s, {res.n_lp} LP solves, {len(res.trajectory)} rows"
        )
        wrote(r.files)
