"""``biofab gem kcats`` and ``biofab gem ec``: enzyme-constrained models (sMOMENT).

``gem kcats`` builds a kcat table for an E. coli model from CatPred-DB files
(optionally calibrated GECKO-style to a measured growth rate); ``gem ec``
turns a model and a kcat table into an ecModel (SBML), and with ``--plot``
scans the substrate uptake to draw the growth / overflow curve of the plain
model, the ecModel and an ensemble with sampled kcats. Argument parsing and printing
only: the work is :mod:`biofab.metabolism.workflows`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from biofab.cli.gem import JsonOption, MediaDbOption, MediumOption, ModelArg, out

PoolOption = Annotated[
    float,
    typer.Option("--pool", help="Effective enzyme pool P_total*f*sigma, g/gDW (sMOMENT: 0.095)."),
]
ProteomeOption = Annotated[
    Path | None,
    typer.Option("--proteome", help="Protein FASTA whose ids are the model's gene ids (for MWs)."),
]


def _parse_range(text: str) -> list[float]:
    from biofab.core.errors import InputError

    try:
        parts = [float(x) for x in text.split(":")]
    except ValueError:
        raise InputError("bad range", expected="START:STOP:STEP", found=text) from None
    if len(parts) != 3 or parts[2] <= 0 or parts[1] < parts[0] or parts[0] < 0:
        raise InputError("bad range", expected="START:STOP:STEP, 0 <= START <= STOP", found=text)
    start, stop, step = parts
    n = round((stop - start) / step) + 1
    return [start + i * step for i in range(n)]


def _show(summary: dict[str, Any], json_out: bool, hide: tuple[str, ...] = ()) -> None:
    if json_out:
        from biofab.cli.gem import print_json

        print_json({k: v for k, v in summary.items() if k != "files"})
        return
    for k, v in summary.items():
        if k not in (*hide, "files"):
            out.print(f"  {k:<22}{escape(str(v))}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``kcats`` and ``ec`` to the ``gem`` app."""

    @app.command("kcats")
    def kcats_cmd(
        model: ModelArg,
        catpred: Annotated[
            list[Path], typer.Option("--catpred", help="CatPred-DB CSV (repeatable).")
        ],
        output: Annotated[Path, typer.Option("--out", help="kcat table to write (CSV).")],
        proteome: ProteomeOption = None,
        calibrate: Annotated[
            float | None,
            typer.Option("--calibrate", help="Measured growth (1/h) to calibrate kcats to."),
        ] = None,
        uptake: Annotated[
            float, typer.Option("--uptake", help="Substrate uptake for calibration, mmol/gDW/h.")
        ] = 10.0,
        substrate: Annotated[str, typer.Option("--substrate")] = "EX_glc__D_e",
        pool: PoolOption = 0.095,
        medium: MediumOption = None,
        media_db: MediaDbOption = None,
        json_out: JsonOption = False,
    ) -> None:
        """kcat table for an E. coli model from CatPred-DB (uniprot, EC, default matches)."""
        from biofab.metabolism import workflows

        r = workflows.kcat_table(
            workflows.KcatTableRequest(
                model,
                tuple(catpred),
                output,
                proteome=proteome,
                calibrate=calibrate,
                uptake=uptake,
                substrate=substrate,
                pool=pool,
                medium=medium,
                media_db=media_db,
            )
        )
        _show(r.to_dict(), json_out)

    @app.command("ec")
    def ec_cmd(
        model: ModelArg,
        kcats: Annotated[Path, typer.Option("--kcats", help="kcat table (reaction, kcat 1/s).")],
        output: Annotated[Path, typer.Option("--out", help="ecModel to write (SBML, JSON...).")],
        pool: PoolOption = 0.095,
        proteome: ProteomeOption = None,
        proteomics: Annotated[
            Path | None,
            typer.Option("--proteomics", help="gene + mmol_per_gDW or g_per_gDW table."),
        ] = None,
        ensemble: Annotated[
            int, typer.Option("--ensemble", min=0, help="ecModels with sampled kcats.")
        ] = 0,
        log10_std: Annotated[
            float | None,
            typer.Option("--log10-std", help="kcat uncertainty (log10) for all; default: table."),
        ] = None,
        recalibrate: Annotated[
            float | None,
            typer.Option(
                "--calibrate",
                help="Re-calibrate each ensemble member to this growth (1/h) at --uptake.",
            ),
        ] = None,
        uptake: Annotated[
            float, typer.Option("--uptake", help="Substrate uptake for --calibrate, mmol/gDW/h.")
        ] = 10.0,
        plot: Annotated[Path | None, typer.Option("--plot", help="Overflow curve (HTML).")] = None,
        uptakes: Annotated[
            str, typer.Option("--uptakes", help="Uptake caps START:STOP:STEP, mmol/gDW/h.")
        ] = "1:15:1",
        substrate: Annotated[str, typer.Option("--substrate")] = "EX_glc__D_e",
        product: Annotated[str, typer.Option("--product")] = "EX_ac_e",
        seed: Annotated[int, typer.Option("--seed")] = 0,
        workers: Annotated[int, typer.Option("--workers", min=1)] = 1,
        medium: MediumOption = None,
        media_db: MediaDbOption = None,
        json_out: JsonOption = False,
    ) -> None:
        """Enzyme-constrained model (sMOMENT pool) of MODEL; optional overflow scan."""
        from biofab.metabolism import workflows

        r = workflows.ec_model(
            workflows.EcModelRequest(
                model,
                kcats,
                output,
                pool=pool,
                proteome=proteome,
                proteomics=proteomics,
                ensemble=ensemble,
                log10_std=log10_std,
                calibrate=recalibrate,
                uptake=uptake,
                plot=plot,
                uptakes=tuple(_parse_range(uptakes)),
                substrate=substrate,
                product=product,
                seed=seed,
                workers=workers,
                medium=medium,
                media_db=media_db,
            )
        )
        _show(r.to_dict(), json_out, hide=("scan", "ensemble_product_p5_p95"))
