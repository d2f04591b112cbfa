"""``biofab process predict``: apply a saved fit to a new batch, with bands and coverage.

Argument parsing and printing only: the work is :func:`biofab.process.workflows.predict`.
Registered on the ``process`` group through the process pillar's ``cli_extensions``.
:func:`parse_sets` also serves ``process fit --set``.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from biofab.core.errors import InputError

SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="Parameter override NAME=VALUE (repeatable), e.g. --set Sf=500 --set Yxs=0.45.",
    ),
]


def parse_sets(items: Sequence[str] | None) -> dict[str, float]:
    """``["Sf=500", "Yxs=0.45"]`` -> ``{"Sf": 500.0, "Yxs": 0.45}``; names are checked
    against the model later (the workflow knows it)."""
    out: dict[str, float] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not sep or not name.strip().isidentifier() or not math.isfinite(number) or number < 0:
            raise InputError(
                "--set: bad parameter override",
                expected="NAME=VALUE with VALUE a number >= 0",
                found=item,
            )
        if name.strip() in out:
            raise InputError("--set: parameter set twice", found=name.strip())
        out[name.strip()] = number
    return out


def register(app: typer.Typer) -> None:
    """Add ``predict`` to the ``process`` command group."""

    @app.command("predict")
    def predict(
        data: Annotated[Path, typer.Argument(help="New batch data CSV (long or wide).")],
        model: Annotated[
            Path, typer.Option("--model", help="Saved fit JSON (process fit --save).")
        ],
        mapping: Annotated[
            Path | None, typer.Option("--mapping", help="Column-mapping YAML of the data file.")
        ] = None,
        x0: Annotated[
            str | None,
            typer.Option("--x0", help="Initial state NAME=VALUE,... (over the t=0 readings)."),
        ] = None,
        sets: SetOption = None,
        level: Annotated[float, typer.Option("--level", help="Band probability (0-1).")] = 0.95,
        bands: Annotated[
            int, typer.Option("--bands", min=0, help="Parameter draws for the bands.")
        ] = 30,
        out: Annotated[Path | None, typer.Option("--out", help="Predictions CSV.")] = None,
        report: Annotated[
            Path | None, typer.Option("--report", help="HTML report to write (self-contained).")
        ] = None,
        json_out: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    ) -> None:
        """Predict each batch in DATA with a saved fit from its initial state and logged
        inputs; bands cover parameter uncertainty and model discrepancy; reports coverage."""
        from rich.table import Table

        from biofab.cli.console import console
        from biofab.cli.process import _command, _x0_option
        from biofab.process import workflows

        r = workflows.predict(
            workflows.PredictRequest(
                data,
                model,
                mapping=mapping,
                x0=_x0_option(x0, ""),
                set=parse_sets(sets),
                level=level,
                bands=bands,
                out=out,
                report=report,
                command=_command(),
            )
        )
        if json_out:
            sys.stdout.write(r.to_json())
            return
        screen = console()
        t = Table(title=f"{r.model.name}: samples inside the {100 * level:g} % band")
        frame = r.to_frame()
        for c in frame.columns:
            t.add_column(str(c), justify="right")
        for row in frame.itertuples(index=False):
            t.add_row(*[f"{v:.4g}" if isinstance(v, float) else str(v) for v in row])
        screen.print(t)
        for f in r.files:
            screen.print(f"wrote {f}", highlight=False)
