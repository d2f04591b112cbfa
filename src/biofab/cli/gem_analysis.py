"""``biofab gem fba | fva | deletions``: the fast analysis engine on the command line.

Fluxes are in mmol/gDW/h, growth in 1/h. Output files (``--out``) are written
through a temporary file and renamed, so a failed run never leaves half a file.
"""

from __future__ import annotations

from collections.abc import Sequence
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
    print_json,
    print_result,
    print_table,
    wrote,
)

if TYPE_CHECKING:
    import numpy as np

    from biofab.metabolism.compiled import QuickFba
    from biofab.metabolism.workflows import FbaResult

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


def _shown_fluxes(fluxes: np.ndarray) -> tuple[list[int], str]:
    """Positions of the non-zero fluxes, largest first, those at the +-1000 bound (loops)
    last (ties in input order), and a note counting the loops."""
    import numpy as np

    size = np.abs(np.asarray(fluxes, dtype=float))
    active = np.flatnonzero(size > 1e-9).tolist()
    order = sorted(active, key=lambda j: (bool(size[j] >= LOOP_BOUND), -size[j]))
    n_loop = int((size[active] >= LOOP_BOUND).sum())
    note = (
        f"{n_loop} fluxes within 1 % of the +-1000 bound (loops) are listed last" if n_loop else ""
    )
    return order, note


def _print_fba(r: FbaResult | QuickFba, reactions: Sequence[str], fluxes: np.ndarray) -> None:
    out.print(f"objective {r.objective_value:.6g} ({r.status}, {r.method})")
    if r.total_flux is not None:
        out.print(f"total flux {r.total_flux:.6g} mmol/gDW/h")
    order, note = _shown_fluxes(fluxes)
    title = f"non-zero fluxes ({len(order)}), mmol/gDW/h, largest first"
    rows = ((reactions[j], float(fluxes[j])) for j in order)
    print_table(["reaction", "flux"], rows, len(order), title=title, limit=25)
    if note:
        out.print(note, soft_wrap=True)
    wrote(r.files)


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
        if medium is None:  # nothing needs COBRApy: answer from the compiled model if cached
            from biofab.metabolism.compiled import quick_fba

            quick = quick_fba(model, pfba=use_pfba, out=output)
            if quick is not None:
                if json_out:
                    print_json(quick.to_dict())
                else:
                    _print_fba(quick, quick.reactions, quick.fluxes)
                return
        from biofab.metabolism import workflows as wf

        r = wf.fba(wf.FbaRequest(model, medium, media_db, pfba=use_pfba, out=output))
        if not print_result(r, json_out):
            _print_fba(r, list(r.fluxes.index), r.fluxes.to_numpy(dtype=float))

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
