"""``biofab gem``: genome-scale model commands.

MODEL is a path (SBML-FBC, JSON, MAT, YAML) or a model COBRApy ships
(``textbook``, ``iJO1366``, ``salmonella``). Every command takes ``--json``.
Each group of commands lives in its own ``gem_*`` module and registers itself
here; this module holds what they share: loading a model with a medium, and
printing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    import cobra
    import pandas as pd

gem_app = typer.Typer(help="Genome-scale metabolic models (COBRApy + HiGHS).", no_args_is_help=True)

out = Console()

ModelArg = Annotated[str, typer.Argument(help="Model file or shipped name (textbook, iJO1366).")]
MediumOption = Annotated[
    str | None,
    typer.Option("--medium", help="Medium name (media table) or a medium file; default: model's."),
]
MediaDbOption = Annotated[
    Path | None,
    typer.Option("--media-db", envvar="BIOFAB_MEDIA_DB", help="Media table (medium, compound)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def print_json(data: Any) -> None:
    """Write ``data`` as JSON on stdout (numpy scalars and NaN made plain)."""

    def plain(x: Any) -> Any:
        if hasattr(x, "item"):
            return x.item()
        return str(x)

    sys.stdout.write(json.dumps(data, indent=2, default=plain, allow_nan=True) + "\n")


def print_frame(frame: pd.DataFrame, title: str | None = None, limit: int = 40) -> None:
    """A Rich table of the first ``limit`` rows of ``frame``."""
    t = Table(title=title)
    for c in frame.columns:  # fold, not ellipsis: a knockout list must stay readable
        t.add_column(str(c), justify="right", overflow="fold")
    for row in frame.head(limit).itertuples(index=False):
        t.add_row(*[f"{v:.6g}" if isinstance(v, float) else str(v) for v in row])
    out.print(t)
    if len(frame) > limit:
        out.print(f"... {len(frame) - limit} more rows (use --json or --out for all)")


def open_model(
    model: str, medium: str | None = None, media_db: Path | None = None, *, strict: bool = True
) -> cobra.Model:
    """Load MODEL and apply ``--medium`` when given (errors are one line, exit 2)."""
    from biofab.metabolism import apply_medium, get_medium, load_model

    m = load_model(model)
    if medium is not None:
        apply_medium(m, get_medium(medium, media_db), strict=strict, label=model)
    return m


@gem_app.command("info")
def info(
    model: ModelArg,
    medium: MediumOption = None,
    media_db: MediaDbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Counts, compartments and objective of MODEL (and its growth on the medium)."""
    from biofab.metabolism import LinearProgram, model_info

    m = open_model(model, medium, media_db)
    data = model_info(m)
    sol = LinearProgram.from_model(m).solve()
    data["objective_value"] = sol.objective if sol.ok else None
    data["status"] = sol.status
    if json_out:
        print_json(data)
        return
    out.print(f"[bold]{data['id']}[/] {data['name']}")
    for key in ("reactions", "metabolites", "genes", "exchanges"):
        out.print(f"  {key:<12}{data[key]}")
    comps = ", ".join(f"{k} ({v})" if v else k for k, v in data["compartments"].items())
    out.print(f"  {'compartments':<12}{comps}")
    obj = " + ".join(f"{c:g} {r}" for r, c in data["objective"].items())
    out.print(f"  {'objective':<12}{data['objective_direction']} {obj}")
    value = f"{sol.objective:.6g}" if sol.ok else sol.status
    out.print(f"  {'optimum':<12}{value}")


@gem_app.command("convert")
def convert(
    model: ModelArg,
    output: Annotated[Path, typer.Argument(help="Output file; format from the suffix.")],
    medium: MediumOption = None,
    media_db: MediaDbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Write MODEL (optionally with a medium applied) in another COBRApy format."""
    from biofab.metabolism import save_model

    m = open_model(model, medium, media_db)
    path = save_model(m, output)
    if json_out:
        print_json({"model": model, "out": str(path)})
    else:
        out.print(f"wrote {path}")
