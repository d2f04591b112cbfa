"""``biofab gem dfba``: dynamic FBA of a batch or fed-batch scenario (YAML)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from biofab.cli.gem import JsonOption, out, print_frame, print_json
from biofab.core.atomic import write_atomic

if TYPE_CHECKING:
    from biofab.metabolism.dfba import DfbaResult


def _page(result: DfbaResult, title: str) -> str:
    from biofab.metabolism.dfba import trajectory_figure
    from biofab.viz import html_page

    final = {k: v for k, v in result.final().items() if k != "phase"}
    table = result.events.copy()
    summary = (
        f"status {result.status}: {result.message}. {result.method}, "
        f"{result.runtime_s:.2f} s, {result.n_lp} LP solves, {len(result.trajectory)} rows."
    )
    import pandas as pd

    return html_page(
        f"dFBA: {title}",
        [
            ("Concentrations and growth", trajectory_figure(result)),
            ("", summary),
            ("Events", table),
            ("Final state", pd.DataFrame([final])),
        ],
        subtitle="biomass gDW/L, species g/L, time h, fluxes mmol/gDW/h",
    )


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
        from rich.console import Console

        from biofab.core.errors import InputError

        if method not in ("adaptive", "euler"):
            raise InputError("unknown --method", expected="adaptive or euler", found=method)
        if not dt > 0:
            raise InputError("--dt must be positive", found=dt)
        result = _simulate(scenario, method, dt, Console(stderr=True))
        if out_csv is not None:
            write_atomic(out_csv, result.trajectory.to_csv(index=False))
        if plot is not None:
            write_atomic(plot, _page(result, scenario.stem))
        if json_out:
            data = result.summary()
            data.update(out=str(out_csv) if out_csv else None, plot=str(plot) if plot else None)
            print_json(data)
            return
        colour = "green" if result.status == "completed" else "yellow"
        out.print(f"[{colour}]{result.status}[/]: {result.message}", highlight=False)
        print_frame(result.events, title="events")
        final = {k: v for k, v in result.final().items() if k not in ("phase",)}
        for k, v in final.items():
            out.print(f"  {k:<28}{v:.6g}")
        out.print(
            f"{result.method}: {result.runtime_s:.2f} s, {result.n_lp} LP solves, "
            f"{len(result.trajectory)} rows"
        )
        for p in (out_csv, plot):
            if p is not None:
                out.print(f"wrote {p}")


def _simulate(path: Path, method: str, dt: float, err: object) -> DfbaResult:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from biofab.metabolism.dfba import DynamicFBA
    from biofab.metabolism.scenario import Scenario

    sc = Scenario.from_yaml(path)
    sim = DynamicFBA(sc)  # loads the model and checks every reaction id first
    console = err if isinstance(err, Console) else Console(stderr=True)
    with Progress(
        TextColumn("dFBA"),
        BarColumn(),
        TextColumn("{task.completed:.2f} / {task.total:g} h"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as bar:
        task = bar.add_task("dfba", total=sc.t_end)
        return sim.simulate(method=method, dt=dt, progress=lambda t: bar.update(task, completed=t))
