"""``biofab gem kcats`` and ``biofab gem ec``: enzyme-constrained models (sMOMENT).

``gem kcats`` builds a kcat table for an E. coli model from CatPred-DB files
(optionally calibrated GECKO-style to a measured growth rate); ``gem ec``
turns a model and a kcat table into an ecModel (SBML), and with ``--plot``
scans the substrate uptake to draw the growth / overflow curve of the plain
model, the ecModel and an ensemble with sampled kcats.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from biofab.cli.gem import JsonOption, MediaDbOption, MediumOption, ModelArg, open_model, out
from biofab.core.atomic import write_atomic

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
        from biofab.metabolism.ecmodel import build_ec_model, calibrate_kcats, scale_kcats
        from biofab.metabolism.kcats import ecoli_kcat_table, protein_masses

        t0 = time.perf_counter()
        m = open_model(model, medium, media_db)
        table = ecoli_kcat_table(m, catpred)
        summary: dict[str, object] = {
            "model": model,
            "reactions": len(table),
            "sources": {str(k): int(v) for k, v in table["source"].value_counts().items()},
        }
        if calibrate is not None:
            mw = protein_masses(proteome) if proteome else None
            ec = build_ec_model(m, table, mw, pool=pool)
            factors, log = calibrate_kcats(ec, calibrate, substrate=substrate, uptake_cap=uptake)
            table = scale_kcats(table, list(ec.costs["reaction"]), factors)
            summary["calibrated_reactions"] = int((factors > 1).sum())
            summary["calibrated_growth"] = log[-1]["growth"] if log else None
        write_atomic(output, table.to_csv(index=False))
        summary["out"] = str(output)
        summary["seconds"] = round(time.perf_counter() - t0, 2)
        if json_out:
            from biofab.cli.gem import print_json

            print_json(summary)
        else:
            for k, v in summary.items():
                out.print(f"  {k:<22}{v}")

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
        import numpy as np

        from biofab.metabolism import LinearProgram, save_model
        from biofab.metabolism.ecmodel import (
            build_ec_model,
            ensemble_scan,
            overflow_figure,
            overflow_threshold,
            read_proteomics,
            scan_uptake,
        )
        from biofab.metabolism.kcats import protein_masses, read_kcat_table

        t0 = time.perf_counter()
        table = read_kcat_table(kcats)
        grid = _parse_range(uptakes)
        m = open_model(model, medium, media_db)
        mw = protein_masses(proteome) if proteome else None
        measured = read_proteomics(proteomics, mw) if proteomics else None
        ec = build_ec_model(m, table, mw, pool=pool, proteomics=measured)
        lp = ec.lp()
        sol = lp.optimize(label=str(output))
        summary: dict[str, object] = {
            "model": model,
            "reactions": len(ec.model.reactions),
            "enzymatic_reactions": len(ec.costs),
            "kcat_sources": ec.coverage(),
            "pool_g_per_gDW": pool,
            "measured_enzymes": len(ec.measured),
            "growth": sol.objective,
        }
        html = None
        if plot is not None or ensemble > 0:
            plain = scan_uptake(
                LinearProgram.from_model(m), grid, substrate=substrate, product=product
            )
            scan = scan_uptake(lp, grid, substrate=substrate, product=product)
            onset = overflow_threshold(lp, substrate=substrate, product=product, high=max(grid))
            summary["onset"] = onset
            summary["scan"] = scan.to_dict("list")
            summary["plain_product_max"] = float(plain["product"].max())
            ens = None
            if ensemble > 0:
                ens = ensemble_scan(
                    ec,
                    grid,
                    ensemble,
                    seed=seed,
                    log10_std=log10_std,
                    substrate=substrate,
                    product=product,
                    workers=workers,
                    calibrate=None if recalibrate is None else (recalibrate, uptake),
                )
                lo, hi = np.nanpercentile(ens["product"], [5, 95], axis=0)
                summary["ensemble_product_p5_p95"] = [
                    [float(a), float(b)] for a, b in zip(lo, hi, strict=True)
                ]
            if plot is not None:
                from biofab.viz import html_page

                fig = overflow_figure(plain, scan, ens, product_label=product)
                table_view = scan.assign(
                    plain_growth=plain["growth"], plain_product=plain["product"]
                )
                note = (
                    f"Onset of {product} secretion at a {substrate} uptake cap of "
                    f"{onset['threshold']:.2f} mmol/gDW/h, growth {onset['growth']:.3f} 1/h; "
                    f"pool {pool} g/gDW; kcat sources {ec.coverage()}."
                )
                html = html_page(
                    f"Overflow: {model} ecModel",
                    [("Growth and secretion vs uptake", fig), ("", note), ("Scan", table_view)],
                    subtitle="sMOMENT enzyme-constrained model (biofab)",
                )
        # Everything is computed before anything is written: no partial outputs.
        path = save_model(ec.model, output)
        summary["out"] = str(path)
        if html is not None and plot is not None:
            write_atomic(plot, html)
            summary["plot"] = str(plot)
        summary["seconds"] = round(time.perf_counter() - t0, 2)
        if json_out:
            from biofab.cli.gem import print_json

            print_json(summary)
            return
        for k, v in summary.items():
            if k not in ("scan", "ensemble_product_p5_p95"):
                out.print(f"  {k:<22}{v}")
