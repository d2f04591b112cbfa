"""``biofab gem fba | fva | deletions``: the fast analysis engine on the command line.

Fluxes are in mmol/gDW/h, growth in 1/h. Output files (``--out``) are written
through a temporary file and renamed, so a failed run never leaves half a file.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from biofab.cli.gem import (
    JsonOption,
    MediaDbOption,
    MediumOption,
    ModelArg,
    out,
    print_frame,
    print_result,
    wrote,
)

if TYPE_CHECKING:
    import pandas as pd

OutOption = Annotated[
    Path | None, typer.Option("--out", help="Write the table as CSV (atomically).")
]
WorkersOption = Annotated[
    int | None,
    typer.Option("--workers", min=1, help="Worker processes (default: BIOFAB_WORKERS or cores)."),
]


def _ids(text: str | None) -> tuple[str, ...] | None:
    return None if text is None else tuple(t.strip() for t in text.split(","))


LOOP_BOUND = 990.0  # |flux| within 1 % of the customary +-1000 bound: a loop, not a pathway


def _shown_fluxes(table: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Non-zero fluxes, largest first, those at the +-1000 bound (loops) last."""
    import pandas as pd

    active = table[table["flux"].abs() > 1e-9]
    size = active["flux"].abs()
    order = pd.DataFrame({"loop": size >= LOOP_BOUND, "size": -size}).sort_values(
        ["loop", "size"], kind="stable"
    )
    n_loop = int((size >= LOOP_BOUND).sum())
    note = (
        f"{n_loop} fluxes within 1 % of the +-1000 bound (loops) are listed last" if n_loop else ""
    )
    return active.loc[order.index], note


def register(app: typer.Typer) -> None:
    """Add ``fba``, ``fva`` and ``deletions`` to the ``gem`` command group."""

    @app.command("fba")
    def fba_cmd(
        model: ModelArg,
        medium: MediumOption = None,
        media_db: MediaDbOption = None,
        use_pfba: Annotated[
            bool,
            typer.Option(
                "--pfba/--fba",
                help="Fluxes of least total flux at the optimum (pFBA, default: no loops) "
                "or any optimal vertex (plain FBA).",
            ),
        ] = True,
        output: OutOption = None,
        json_out: JsonOption = False,
    ) -> None:
        """Flux balance analysis (HiGHS): the optimum and its fluxes (mmol/gDW/h)."""
        from biofab.metabolism import workflows as wf

        r = wf.fba(wf.FbaRequest(model, medium, media_db, pfba=use_pfba, out=output))
        if print_result(r, json_out):
            return
        out.print(f"objective {r.objective_value:.6g} ({r.status}, {r.method})")
        if r.total_flux is not None:
            out.print(f"total flux {r.total_flux:.6g} mmol/gDW/h")
        active, note = _shown_fluxes(r.to_frame())
        title = f"non-zero fluxes ({len(active)}), mmol/gDW/h, largest first"
        print_frame(active, title=title, limit=25)
        if note:
            out.print(note, soft_wrap=True)
        wrote(r.files)

    @app.command("fva")
    def fva_cmd(
        model: ModelArg,
        medium: MediumOption = None,
        media_db: MediaDbOption = None,
        fraction: Annotated[
            float, typer.Option("--fraction", help="Fraction of the optimum to keep (0..1).")
        ] = 1.0,
        reactions: Annotated[
            str | None, typer.Option("--reactions", help="Comma-separated reaction ids.")
        ] = None,
        workers: WorkersOption = None,
        output: OutOption = None,
        json_out: JsonOption = False,
    ) -> None:
        """Flux variability: minimum and maximum flux of each reaction (mmol/gDW/h)."""
        from biofab.metabolism import workflows as wf

        r = wf.fva(
            wf.FvaRequest(
                model, medium, media_db, fraction=fraction, reactions=_ids(reactions),
                workers=workers, out=output, progress=not json_out,
            )
        )  # fmt: skip
        if print_result(r, json_out):
            return
        print_frame(r.ranges, title=f"flux ranges at {fraction:g} of the optimum, mmol/gDW/h")
        wrote(r.files)

    @app.command("deletions")
    def deletions_cmd(
        model: ModelArg,
        kind: Annotated[str, typer.Option("--kind", help="gene or reaction.")] = "gene",
        double: Annotated[bool, typer.Option("--double", help="All pairs of --ids.")] = False,
        ids: Annotated[
            str | None, typer.Option("--ids", help="Comma-separated ids (default: all).")
        ] = None,
        limit: Annotated[
            int | None, typer.Option("--limit", min=1, help="Only the first N ids.")
        ] = None,
        medium: MediumOption = None,
        media_db: MediaDbOption = None,
        workers: WorkersOption = None,
        output: OutOption = None,
        json_out: JsonOption = False,
    ) -> None:
        """Growth (1/h) after single or double knockouts; lethal = < 1 % of wild type."""
        from biofab.metabolism import workflows as wf

        r = wf.deletions(
            wf.DeletionsRequest(
                model, medium, media_db, kind=kind, double=double, ids=_ids(ids), limit=limit,
                workers=workers, out=output, progress=not json_out,
            )
        )  # fmt: skip
        if print_result(r, json_out):
            return
        s = r.to_dict()
        out.print(
            f"wild type {r.wild_type_growth:.6g} 1/h; {s['n_knockouts']} knockouts, "
            f"{s['n_lethal']} lethal (< 1 % of wild type); {r.lp_solved} LPs solved"
        )
        shown = r.table.sort_values("growth", na_position="first")
        print_frame(shown, title="knockouts, lowest growth first (1/h)", limit=25)
        wrote(r.files)
