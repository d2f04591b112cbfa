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
    open_model,
    out,
    print_frame,
    print_json,
)
from biofab.core.atomic import write_atomic
from biofab.core.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

OutOption = Annotated[
    Path | None, typer.Option("--out", help="Write the table as CSV (atomically).")
]
WorkersOption = Annotated[
    int | None,
    typer.Option("--workers", min=1, help="Worker processes (default: BIOFAB_WORKERS or cores)."),
]


def _ids(text: str | None) -> list[str] | None:
    if text is None:
        return None
    ids = [t.strip() for t in text.split(",") if t.strip()]
    if not ids:
        raise InputError("empty id list", expected="comma-separated ids", found=text)
    return ids


def write_csv(frame: pd.DataFrame, path: Path, *, index: bool = False) -> Path:
    """Write ``frame`` as CSV atomically (never half a file)."""
    return write_atomic(path, frame.to_csv(index=index))


def register(app: typer.Typer) -> None:
    """Add ``fba``, ``fva`` and ``deletions`` to the ``gem`` command group."""

    @app.command("fba")
    def fba_cmd(
        model: ModelArg,
        medium: MediumOption = None,
        media_db: MediaDbOption = None,
        use_pfba: Annotated[
            bool, typer.Option("--pfba", help="Least total flux at the optimum (pFBA).")
        ] = False,
        output: OutOption = None,
        json_out: JsonOption = False,
    ) -> None:
        """Flux balance analysis (HiGHS): the optimum and its fluxes (mmol/gDW/h)."""
        import pandas as pd

        from biofab.metabolism.analysis import fba, pfba

        m = open_model(model, medium, media_db)
        res = pfba(m) if use_pfba else fba(m)
        table = pd.DataFrame({"reaction": res.fluxes.index, "flux": res.fluxes.to_numpy()})
        path = write_csv(table, output) if output is not None else None
        if json_out:
            print_json(
                {
                    "model": model,
                    "method": "pfba" if use_pfba else "fba",
                    "status": res.status,
                    "objective_value": res.objective_value,
                    "total_flux": res.total_flux,
                    "fluxes": res.fluxes.to_dict(),
                    "out": str(path) if path else None,
                }
            )
            return
        out.print(f"objective {res.objective_value:.6g} ({res.status})")
        if res.total_flux is not None:
            out.print(f"total flux {res.total_flux:.6g} mmol/gDW/h")
        active = table[table["flux"].abs() > 1e-9]
        active = active.reindex(active["flux"].abs().sort_values(ascending=False).index)
        print_frame(active, title=f"non-zero fluxes ({len(active)}), mmol/gDW/h", limit=25)
        if path:
            out.print(f"wrote {path}")

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
        from biofab.metabolism.analysis import flux_variability

        m = open_model(model, medium, media_db)
        frame = flux_variability(
            m,
            _ids(reactions),
            fraction,
            workers,
            description=None if json_out else "flux variability",
        )
        table = frame.rename_axis("reaction").reset_index()
        path = write_csv(table, output) if output is not None else None
        if json_out:
            print_json(
                {
                    "model": model,
                    "fraction_of_optimum": fraction,
                    "ranges": table.to_dict(orient="records"),
                    "out": str(path) if path else None,
                }
            )
            return
        print_frame(table, title=f"flux ranges at {fraction:g} of the optimum, mmol/gDW/h")
        if path:
            out.print(f"wrote {path}")

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
        from biofab.core.errors import ModelError
        from biofab.metabolism.deletions import KINDS, double_deletions, single_deletions

        if kind not in KINDS:
            raise ModelError("unknown --kind", expected="gene or reaction", found=kind)
        m = open_model(model, medium, media_db)
        chosen = _ids(ids)
        if chosen is None:
            chosen = [x.id for x in (m.genes if kind == "gene" else m.reactions)]
        if limit is not None:
            chosen = chosen[:limit]
        label = None if json_out else f"{'double' if double else 'single'} {kind} deletions"
        if double:
            frame = double_deletions(m, chosen, kind=kind, workers=workers, description=label)
        else:
            frame = single_deletions(m, kind, chosen, workers, description=label)
        wild_type = float(frame.attrs["wild_type"])
        table = frame.copy()
        table["ids"] = [";".join(sorted(s)) for s in frame["ids"]]
        table["relative"] = table["growth"] / wild_type if wild_type else float("nan")
        path = write_csv(table, output) if output is not None else None
        n_lethal = int(table["lethal"].sum())
        if json_out:
            print_json(
                {
                    "model": model,
                    "kind": kind,
                    "double": double,
                    "wild_type_growth": wild_type,
                    "lethal_threshold": "growth < 0.01 x wild type, or infeasible",
                    "n_knockouts": len(table),
                    "n_lethal": n_lethal,
                    "lp_solved": int(frame.attrs["lp_solved"]),
                    "results": table.to_dict(orient="records"),
                    "out": str(path) if path else None,
                }
            )
            return
        out.print(
            f"wild type {wild_type:.6g} 1/h; {len(table)} knockouts, {n_lethal} lethal "
            f"(< 1 % of wild type); {frame.attrs['lp_solved']} LPs solved"
        )
        shown = table.sort_values("growth", na_position="first")
        print_frame(shown, title="knockouts, lowest growth first (1/h)", limit=25)
        if path:
            out.print(f"wrote {path}")
