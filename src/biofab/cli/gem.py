"""``biofab gem``: genome-scale model commands.

MODEL is a path (SBML-FBC, JSON, MAT, YAML) or a model COBRApy ships
(``textbook``, ``iJO1366``, ``salmonella``). Every command takes ``--json``.
Each group of commands lives in its own ``gem_*`` module and registers itself
here; this module holds what they share: options and printing. The work is
:mod:`biofab.metabolism.workflows`.
"""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from biofab.cli.console import console

if TYPE_CHECKING:
    import pandas as pd

gem_app = typer.Typer(help="Genome-scale metabolic models (COBRApy + HiGHS).", no_args_is_help=True)

out = console()

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
    """A Rich table of the first ``limit`` rows of ``frame`` (cells are text, not markup:
    ``M9[succ]`` or a gene list prints as written)."""
    rows = frame.head(limit).itertuples(index=False)
    print_table([str(c) for c in frame.columns], rows, len(frame), title=title, limit=limit)


def print_table(
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    n_rows: int,
    title: str | None = None,
    limit: int = 40,
) -> None:
    """:func:`print_frame` for plain rows (``n_rows`` in all; the first ``limit`` shown),
    so a command that needs no pandas does not import it."""
    t = Table(title=escape(title) if title else None)
    for c in columns:  # fold, not ellipsis: a knockout list must stay readable
        t.add_column(escape(c), justify="right", overflow="fold")
    for row in itertools.islice(rows, limit):
        t.add_row(*[escape(f"{v:.6g}" if isinstance(v, float) else str(v)) for v in row])
    out.print(t)
    if n_rows > limit:
        out.print(f"... {n_rows - limit} more rows (use --json or --out for all)")


def print_result(result: Any, json_out: bool) -> bool:
    """Print a workflow result as JSON when asked; True when nothing else is to print."""
    if json_out:
        print_json(result.to_dict())
    return json_out


def wrote(files: list[str]) -> None:
    for f in files:
        out.print(f"wrote {escape(str(f))}", highlight=False)


def line(key: str, value: Any, width: int = 14) -> None:
    """``  key  value`` with the value as plain text (no markup, at least one space)."""
    out.print(f"  {key:<{max(width, len(key) + 1)}}{escape(str(value))}", highlight=False)


@gem_app.command("info")
def info(
    model: ModelArg,
    medium: MediumOption = None,
    media_db: MediaDbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Counts, compartments and objective of MODEL (and its growth on the medium)."""
    from biofab.metabolism import workflows as wf

    r = wf.info(wf.ModelRequest(model, medium, media_db))
    if print_result(r, json_out):
        return
    data = r.info
    out.print(f"[bold]{escape(str(data['id']))}[/] {escape(str(data['name']))}")
    for key in ("reactions", "metabolites", "genes", "exchanges"):
        line(key, data[key])
    line(
        "compartments", ", ".join(f"{k} ({v})" if v else k for k, v in data["compartments"].items())
    )
    obj = " + ".join(f"{c:g} {r}" for r, c in data["objective"].items())
    line("objective", f"{data['objective_direction']} {obj}")
    value = data["objective_value"]
    line("optimum", data["status"] if value is None else f"{value:.6g}")


@gem_app.command("convert")
def convert(
    model: ModelArg,
    output: Annotated[Path, typer.Argument(help="Output file; format from the suffix.")],
    medium: MediumOption = None,
    media_db: MediaDbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Write MODEL (optionally with a medium applied) in another COBRApy format."""
    from biofab.metabolism import workflows as wf

    r = wf.convert(wf.ConvertRequest(model, medium, media_db, out=output))
    if not print_result(r, json_out):
        wrote(r.files)
