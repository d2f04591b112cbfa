"""``biofab parts library design | focus | export``: site libraries for enzyme engineering.

Argument parsing and printing only; the work is :mod:`biofab.parts.library_workflows`.
``design`` writes the site table, ``library.json``, the campaign space and (with the
parent's CDS) the primers to order; ``focus`` draws the first round from the top of the
zero-shot prior; ``export`` writes chosen variants as FASTA or GenBank. Bad input: one
line, exit code 2, nothing written.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
LibraryOption = Annotated[
    Path | None, typer.Option("--library", help="library.json written by `library design`.")
]
ParentOption = Annotated[
    str | None, typer.Option("--parent", help="Parent protein: sequence or FASTA file.")
]
SitesOption = Annotated[
    str | None, typer.Option("--sites", help="Sites, e.g. V39,D40,G41,V54 (1-based).")
]


def _echo(text: str) -> None:
    from biofab.cli.console import console

    console().print(text, highlight=False)


def _done(result: Any, json_out: bool) -> bool:
    if json_out:
        sys.stdout.write(result.to_json())
    return json_out


library_app = typer.Typer(
    help="Combinatorial site libraries: codons, coverage, primers, first round, export.",
    no_args_is_help=True,
)


@library_app.command("design")
def design(
    parent: Annotated[str, typer.Option("--parent", help="Parent protein: sequence or FASTA.")],
    sites: Annotated[str, typer.Option("--sites", help="Sites, e.g. V39,D40,G41,V54.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder (made if missing).")],
    codons: Annotated[
        str,
        typer.Option("--codons", help="Codon set of every site: NNK, NNS, NDT, 22c, NDT+VHG+TGG."),
    ] = "NNK",
    site_codons: Annotated[
        list[str] | None, typer.Option("--site-codons", help="Per-site set, e.g. V54=22c (repeat).")
    ] = None,
    parent_dna: Annotated[
        str | None, typer.Option("--parent-dna", help="Parent CDS (sequence or FASTA): primers.")
    ] = None,
    upstream: Annotated[
        str | None, typer.Option("--upstream", help="Plasmid DNA before the CDS (for flanks).")
    ] = None,
    downstream: Annotated[
        str | None, typer.Option("--downstream", help="Plasmid DNA after the CDS (for flanks).")
    ] = None,
    budget: Annotated[
        int | None, typer.Option("--budget", help="Clones the lab can screen; refused if short.")
    ] = None,
    coverage: Annotated[
        float, typer.Option("--coverage", help="Target expected coverage of protein variants.")
    ] = 0.95,
    target_tm: Annotated[float, typer.Option("--tm", help="Primer flank Tm target, °C.")] = 60.0,
    prefix: Annotated[str, typer.Option("--prefix", help="Primer name prefix.")] = "lib",
    json_out: JsonOption = False,
) -> None:
    """Design a site library: codons, coverage, campaign space and the primers to order."""
    from biofab.parts import library_workflows as wf

    r = wf.design(
        wf.DesignRequest(
            parent=parent,
            sites=sites,
            out=out,
            codons=codons,
            site_codons=tuple(site_codons or ()),
            parent_dna=parent_dna,
            upstream=upstream,
            downstream=downstream,
            budget=budget,
            coverage=coverage,
            target_tm=target_tm,
            prefix=prefix,
        )
    )
    if _done(r, json_out):
        return
    s = r.summary
    line = (
        f"{len(s['sites'])} sites, {s['n_variants']:,} protein variants "
        f"({s['n_codon_combinations']:,} codon combinations, {s['stop_fraction']:.1%} stops); "
        f"{s['clones_for_coverage']:,} clones for {s['coverage_target']:.0%} coverage"
    )
    if "budget" in s:
        line += f"; {s['budget']:,} clones cover {s['expected_coverage_at_budget']:.1%}"
    _echo(line)
    if r.primers is not None:
        _echo(f"{len(r.primers)} primers (forward + reverse) in {r.files[-1]}")
    _echo("wrote " + ", ".join(r.files))


@library_app.command("focus")
def focus(
    out: Annotated[Path, typer.Option("--out", help="First-round designs CSV to write.")],
    library: LibraryOption = None,
    parent: ParentOption = None,
    sites: SitesOption = None,
    n: Annotated[int, typer.Option("--n", min=1, help="Variants to build.")] = 96,
    top: Annotated[
        float, typer.Option("--top", help="Fraction of the library (by prior) to draw from.")
    ] = 0.1,
    proteome: Annotated[
        Path | None, typer.Option("--proteome", help="Protein FASTA to find homologs in.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    json_out: JsonOption = False,
) -> None:
    """First round: N variants drawn from the top of the zero-shot prior (ftMLDE)."""
    from biofab.parts import library_workflows as wf

    ref = wf.LibraryRef(library, parent, sites)
    r = wf.focus(wf.FocusRequest(ref, out, n, top, proteome, seed))
    if _done(r, json_out):
        return
    hom = "" if r.homologs is None else f", profile from {r.homologs} homologs"
    _echo(f"{len(r.designs)} variants from the top {top:.0%} by prior{hom}; wrote {out}")


@library_app.command("export")
def export(
    variants: Annotated[Path, typer.Argument(help="CSV of chosen variants.")],
    out: Annotated[Path, typer.Option("--out", help="FASTA (.fasta) or GenBank (.gb) to write.")],
    library: LibraryOption = None,
    parent: ParentOption = None,
    sites: SitesOption = None,
    fmt: Annotated[
        str | None, typer.Option("--format", help="fasta | genbank (default: from --out).")
    ] = None,
    column: Annotated[
        str, typer.Option("--column", help="Column of codes (FWAA) or mutations (V39F/D40W).")
    ] = "variant",
    parent_dna: Annotated[
        str | None, typer.Option("--parent-dna", help="Parent CDS: export DNA sequences.")
    ] = None,
    protein: Annotated[
        bool, typer.Option("--protein", help="Export proteins even when the CDS is known.")
    ] = False,
    json_out: JsonOption = False,
) -> None:
    """Write chosen variants as full sequences for synthesis (FASTA or GenBank)."""
    from biofab.parts import library_workflows as wf

    ref = wf.LibraryRef(library, parent, sites)
    r = wf.export(wf.ExportRequest(variants, out, ref, fmt, column, parent_dna, not protein))
    if _done(r, json_out):
        return
    _echo(f"wrote {len(r.variants)} {r.molecule} sequences ({r.format}) to {out}")


def register(app: typer.Typer) -> None:
    """Add the ``library`` group to the ``biofab parts`` group."""
    app.add_typer(library_app, name="library")
