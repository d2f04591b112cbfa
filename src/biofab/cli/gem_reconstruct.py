"""``biofab gem reconstruct | essentiality | biolog``: draft models for new organisms
and their scoring against measured phenotypes."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from biofab.cli.gem import JsonOption, MediaDbOption, ModelArg, out, print_json

ThresholdOption = Annotated[
    float,
    typer.Option(
        "--threshold", help="Growth below (essentiality) / above (Biolog) this × reference."
    ),
]


def register(app: typer.Typer) -> None:
    """Add the reconstruction commands to ``app`` (the ``gem`` group)."""

    @app.command("reconstruct")
    def reconstruct_cmd(
        proteome: Annotated[Path, typer.Argument(help="Protein FASTA of the target organism.")],
        template: Annotated[
            list[str], typer.Option("--template", help="Template model (repeat for several).")
        ],
        template_proteome: Annotated[
            list[Path],
            typer.Option("--template-proteome", help="Protein FASTA of each template (gene ids)."),
        ],
        output: Annotated[Path, typer.Option("--out", help="Draft model file (.xml, .json, ...).")],
        medium: Annotated[
            list[str], typer.Option("--medium", help="Gap-fill until it grows on (repeatable).")
        ] = ["M9"],  # noqa: B006 - Typer reads the default list, never mutates it
        media_db: MediaDbOption = None,
        model_id: Annotated[str | None, typer.Option("--id", help="Id of the draft.")] = None,
        min_growth: Annotated[
            float, typer.Option(help="Growth (1/h) gap-filling must reach.")
        ] = 0.1,
        evalue: Annotated[float, typer.Option(help="E-value cut-off of homology hits.")] = 1e-5,
        cpus: Annotated[int, typer.Option(help="Threads for the search (0: all).")] = 0,
        in_paralogs: Annotated[
            bool,
            typer.Option(
                "--in-paralogs/--all-best-hits",
                help="Keep only orthologs and their in-paralogs in GPRs (InParanoid rule).",
            ),
        ] = True,
        medium_uptake: Annotated[
            bool,
            typer.Option(
                "--medium-uptake/--no-medium-uptake",
                help="Also gap-fill until every medium compound can be taken up.",
            ),
        ] = False,
        json_out: JsonOption = False,
    ) -> None:
        """Draft a model for PROTEOME from template(s) by homology + weighted gap-filling."""
        from biofab.core.errors import InputError
        from biofab.metabolism.homology import read_fasta
        from biofab.metabolism.io import save_model
        from biofab.metabolism.media import get_medium
        from biofab.metabolism.reconstruct import Template, reconstruct

        if len(template) != len(template_proteome):
            raise InputError(
                "each --template needs its --template-proteome",
                expected=f"{len(template)} FASTA files",
                found=len(template_proteome),
            )
        t0 = time.perf_counter()
        seqs = read_fasta(proteome)
        media = [get_medium(m, media_db) for m in medium]
        temps = [Template.load(t, f) for t, f in zip(template, template_proteome, strict=True)]
        rec = reconstruct(
            seqs, temps, media, model_id=model_id or proteome.stem, min_growth=min_growth,
            evalue=evalue, cpus=cpus, in_paralogs=in_paralogs, medium_uptake=medium_uptake,
        )  # fmt: skip
        save_model(rec.model, output)
        data = rec.summary() | {"out": str(output), "runtime_s": time.perf_counter() - t0}
        if json_out:
            print_json(data)
            return
        out.print(f"[bold]{data['id']}[/] -> {output}")
        for key in ("reactions", "metabolites", "genes", "mapped_target_genes", "carried_over"):
            out.print(f"  {key:<22}{data[key]}")
        for med, g in zip(medium, rec.gapfilled, strict=False):
            out.print(f"  gap-filled on {med:<8}{len(g.added)} reactions (cost {g.cost:.3g})")
        for med, g in zip(medium, rec.gapfilled[len(medium) :], strict=False):
            out.print(f"  uptake on {med:<12}{len(g.added)} reactions for {', '.join(g.targets)}")
        out.print(f"  {'runtime_s':<22}{data['runtime_s']:.1f}")

    @app.command("essentiality")
    def essentiality_cmd(
        model: ModelArg,
        truth: Annotated[Path, typer.Option("--truth", help="TSV: bigg_id, phenotype (E/NE).")],
        medium: Annotated[
            str | None, typer.Option("--medium", help="Medium name or file; default: model's.")
        ] = None,
        media_db: MediaDbOption = None,
        threshold: ThresholdOption = 0.01,
        unlisted_nonessential: Annotated[
            bool,
            typer.Option(
                "--unlisted-nonessential",
                help="Count model genes absent from the table as non-essential.",
            ),
        ] = False,
        json_out: JsonOption = False,
    ) -> None:
        """Predict gene essentiality (growth < threshold × wild type) and score it."""
        from biofab.metabolism.io import load_model
        from biofab.metabolism.media import get_medium
        from biofab.metabolism.phenotypes import essentiality_benchmark, read_essentiality

        m = load_model(model)
        table = read_essentiality(truth)
        if unlisted_nonessential:
            table = {g.id: False for g in m.genes} | table
        med = get_medium(medium, media_db) if medium else None
        res = essentiality_benchmark(m, table, med, threshold=threshold, label=model)
        if json_out:
            print_json(res)
            return
        out.print(
            f"{model}: {res['genes_scored']} genes scored (model {res['genes_in_model']}, "
            f"table {res['genes_in_truth']}); essential when growth < {threshold:g} × "
            f"{res['wild_type_growth']:.4g} 1/h"
        )
        _print_scores(res["scores"])

    @app.command("biolog")
    def biolog_cmd(
        model: ModelArg,
        truth: Annotated[
            Path, typer.Option("--truth", help="Folder of biolog_{carbon,nitrogen,...}.tsv.")
        ],
        medium: Annotated[str, typer.Option("--medium", help="Base medium.")] = "M9",
        media_db: MediaDbOption = None,
        threshold: ThresholdOption = 0.01,
        json_out: JsonOption = False,
    ) -> None:
        """Predict Biolog growth (tested compound replaces the base medium's C/N/P/S source)."""
        from biofab.metabolism.io import load_model
        from biofab.metabolism.media import get_medium
        from biofab.metabolism.phenotypes import biolog_benchmark, read_biolog

        m = load_model(model)
        tests = read_biolog(truth)
        res = biolog_benchmark(m, tests, get_medium(medium, media_db), threshold=threshold)
        if json_out:
            print_json(res)
            return
        out.print(
            f"{model}: {res['tests']} wells, {res['without_exchange']} compounds without an "
            f"exchange (predicted no growth); growth when > {threshold:g} × "
            f"{res['base_growth']:.4g} 1/h on {medium}"
        )
        _print_scores(res["scores"])


def _print_scores(s: dict[str, float]) -> None:
    out.print(
        f"  n {int(s['n'])}  TP {int(s['tp'])}  FP {int(s['fp'])}  TN {int(s['tn'])}  "
        f"FN {int(s['fn'])}"
    )
    out.print(
        f"  accuracy {s['accuracy']:.3f}  precision {s['precision']:.3f}  "
        f"recall {s['recall']:.3f}  MCC {s['mcc']:.3f}"
    )
