"""``biofab replay`` and ``biofab space infer``: replay any pool CSV, make a space from one.

Thin over :mod:`biofab.campaign.replay_suite` (the protocol the benchmark suite runs) and
:mod:`biofab.core.space_infer`; nothing heavy is imported until a command runs.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from biofab.cli.console import console

out = console()


def _names(text: str | None) -> list[str] | None:
    if text is None:
        return None
    names = [t.strip() for t in text.split(",") if t.strip()]
    return names or None


def _cell(value: object) -> str:
    if value is None or (isinstance(value, float) and value != value):  # None or NaN
        return ""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def replay(
    data: Annotated[Path, typer.Argument(help="CSV: one row per measured design.")],
    objective: Annotated[
        str, typer.Option("--objective", help="Objective column and direction, e.g. y:max.")
    ],
    factors: Annotated[
        str | None,
        typer.Option(help="Comma-separated factor columns (default: every other column)."),
    ] = None,
    std_column: Annotated[
        str | None,
        typer.Option(help="Column of each value's standard deviation (default <objective>_std)."),
    ] = None,
    space: Annotated[
        Path | None,
        typer.Option(help="Space YAML (default: inferred from the columns, as `space infer`)."),
    ] = None,
    missing_std: Annotated[
        bool,
        typer.Option(
            "--missing-std", help="Treat an empty, NaN or text std cell as missing (no error)."
        ),
    ] = False,
    seeds: Annotated[int, typer.Option(min=1, help="Paired seeds 0..N-1.")] = 5,
    methods: Annotated[
        str, typer.Option(help="Comma-separated: biofab, gp, metis, random.")
    ] = "biofab,gp,metis,random",
    budget: Annotated[int, typer.Option(min=21, help="Most experiments per campaign.")] = 500,
    jobs: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    output: Annotated[
        Path, typer.Option("--out", help="Folder for replay.json, replay_runs.json, replay.html.")
    ] = Path("replay"),
) -> None:
    """Replay a pool of measured designs: experiments each method needs to find a top-0.5 %
    design (20 random starts, batches of 20, paired seeds)."""
    from rich.table import Table

    from biofab.campaign.replay_suite import ReplayRequest
    from biofab.campaign.replay_suite import replay as run_replay

    request = ReplayRequest(
        data=data,
        objective=objective,
        out=output,
        factors=tuple(_names(factors) or ()) or None,
        std_column=std_column,
        space=space,
        missing_std=missing_std,
        seeds=seeds,
        methods=tuple(m.strip() for m in methods.split(",")),
        budget=budget,
        jobs=jobs,
    )
    result = run_replay(request)
    pool = result.pool
    frame = result.to_frame()
    table = Table(title=f"{pool.describe()}: experiments to a top design ({seeds} seeds)")
    for col in frame.columns:
        table.add_column(str(col))
    for row in frame.itertuples(index=False):
        table.add_row(*(_cell(v) for v in row))
    out.print(table)
    for rec in result.records:
        if rec["metric"] == "experiments_to_top_0.5pct_mean":
            p = rec["paired"]
            out.print(
                f"{rec['peer']} / biofab = {rec['ratio']:.2f} (mean {rec['peer_value']:.1f} vs "
                f"{rec['biofab']:.1f}; biofab wins/ties/losses {p['wins']}/{p['ties']}/"
                f"{p['losses']})"
            )
    files = ", ".join(str(f) for f in result.files)
    out.print(f"wrote {files} in {result.wall_seconds:.0f} s")


def space_infer(
    data: Annotated[Path, typer.Argument(help="CSV: one row per measured design.")],
    objective: Annotated[
        list[str],
        typer.Option("--objective", help="Objective column (NAME:max|min), never a factor."),
    ],
    factors: Annotated[
        str | None, typer.Option(help="Comma-separated factor columns (default: all others).")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--out", help="Write the YAML here (default: print it).")
    ] = None,
) -> None:
    """Write a space YAML from a table's columns: bounds, observed grids, categoricals."""
    from biofab.core import Objective
    from biofab.core.atomic import require_folder, write_atomic
    from biofab.core.space_infer import infer_space, read_csv_text

    names = [Objective.parse(o).name for o in objective]
    if output is not None:
        require_folder(output)
    frame = read_csv_text(data)
    inferred = infer_space(frame, names, factors=_names(factors), file=str(data))
    text = inferred.to_yaml(objective)
    if output is None:
        sys.stdout.write(text)
        return
    write_atomic(output, text)
    out.print(
        f"wrote {output}: {len(inferred.space.names)} factors from {inferred.rows} rows "
        f"(check it with `biofab space check {output}`)"
    )
