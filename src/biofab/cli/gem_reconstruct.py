"""``biofab gem reconstruct``: draft models for new organisms (their scoring against
measured phenotypes is :mod:`biofab.cli.gem_phenotypes`). Argument parsing and printing
only: the work is :mod:`biofab.metabolism.workflows`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from biofab.cli.gem import JsonOption, MediaDbOption, out, print_result


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
        ] = True,
        connect: Annotated[
            bool,
            typer.Option(
                "--connect/--no-connect",
                help="First add what lets blocked reactions with homology evidence carry "
                "flux when their scores outweigh the cost (CarveMe's carving objective).",
            ),
        ] = True,
        catabolic_uptake: Annotated[
            bool,
            typer.Option(
                "--catabolic-uptake/--no-catabolic-uptake",
                help="Last, make importable what the draft can catabolise by homology "
                "but can neither import nor make.",
            ),
        ] = True,
        universe: Annotated[
            Path | None,
            typer.Option(help="Universal model (SBML); templates come from --gpr-table."),
        ] = None,
        gpr_table: Annotated[
            Path | None,
            typer.Option(help="BiGG GPR table (gene,protein,reaction,model) for --universe."),
        ] = None,
        biomass: Annotated[
            str | None,
            typer.Option(help="Biomass column of --biomass-db: grampos, gramneg, bacteria."),
        ] = None,
        biomass_db: Annotated[Path | None, typer.Option(help="CarveMe biomass_db.tsv.")] = None,
        hits_cache: Annotated[
            Path | None,
            typer.Option(help="Folder of saved homology hits (default: .homology beside --out)."),
        ] = None,
        use_cache: Annotated[
            bool, typer.Option("--cache/--no-cache", help="Save and reuse homology hits.")
        ] = True,
        training: Annotated[
            str,
            typer.Option(help="Reaction scores learned by 'divergence' or 'paralogs'."),
        ] = "divergence",
        json_out: JsonOption = False,
    ) -> None:
        """Draft a model for PROTEOME from template(s) by homology + weighted gap-filling.

        Homology hits are saved (keyed by the proteomes and search settings) and reused,
        so a rerun with other media or scoring skips the search."""
        from biofab.core.errors import InputError
        from biofab.metabolism import workflows as wf

        if len(template) != len(template_proteome):
            raise InputError(
                "each --template needs its --template-proteome",
                expected=f"{len(template)} FASTA files",
                found=len(template_proteome),
            )
        r = wf.reconstruct(
            wf.ReconstructRequest(
                proteome, tuple(zip(template, template_proteome, strict=True)), output,
                tuple(medium), media_db, model_id, min_growth, evalue, cpus, in_paralogs,
                medium_uptake, universe, gpr_table, biomass, biomass_db, hits_cache, use_cache,
                training, show_progress=not json_out, connect=connect,
                catabolic_uptake=catabolic_uptake,
            )
        )  # fmt: skip
        if print_result(r, json_out):
            return
        data = r.to_dict()
        out.print(f"[bold]{escape(str(data['id']))}[/] -> {escape(str(output))}")
        for key in ("reactions", "metabolites", "genes", "mapped_target_genes", "carried_over"):
            out.print(f"  {key:<22}{data[key]}")
        for g in r.reconstruction.gapfilled:
            if g.goal == "connect":
                out.print(
                    f"  connected              {len(g.added)} reactions added, "
                    f"{len(g.targets)} unblocked (cost {g.cost:.3g})"
                )
        for row in r.to_frame().itertuples():
            if row.step == "growth":
                out.print(
                    f"  gap-filled on {escape(str(row.medium)):<8}{row.added} reactions "
                    f"(cost {row.cost:.3g})"
                )
            elif row.step == "catabolic":
                out.print(
                    f"  catabolic uptake       {row.added} reactions "
                    f"({escape(str(row.targets)) or 'no compound'})"
                )
            else:
                out.print(f"  uptake on {escape(str(row.medium)):<12}{row.added} reactions")
        out.print(f"  {'runtime_s':<22}{data['runtime_s']:.1f}")
        for stage, sec in data["timings_s"].items():
            out.print(f"    {escape(stage):<32}{sec:8.1f} s")
