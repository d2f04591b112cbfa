"""The parts pillar's HTTP routes: signal-peptide candidates for a protein to secrete, and
site-library design (codons, coverage, primers) for enzyme engineering.

Mounted by the service under ``/api/v1/pillars/parts``. The proteome arrives as
FASTA text and is staged in a private folder for the workflow, as the CLI's file.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from biofab.core.jsonable import plain
from biofab.core.staging import staged

MAX_PROTEOME_CHARS = 5_000_000


class SignalPeptidesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    proteome_fasta: str = Field(
        min_length=1, max_length=MAX_PROTEOME_CHARS, description="Protein FASTA to mine."
    )
    mature: str = Field(
        min_length=1, max_length=5000, description="The protein to secrete, without its SP."
    )
    n: int = Field(20, ge=1, le=200, description="Candidates returned, best first.")
    generate: int = Field(50, ge=0, le=500, description="Rule-passing variants to generate.")
    max_len: int = Field(40, ge=15, le=60, description="Longest signal peptide (aa).")
    seed: int = Field(0, ge=0, le=2**31 - 1)


class LibraryDesignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    parent: str = Field(min_length=3, max_length=5000, description="Parent protein sequence.")
    sites: str = Field(min_length=1, max_length=500, description="Sites, e.g. V39,D40,G41,V54.")
    codons: str = Field("NNK", max_length=200, description="Codon set of every site.")
    site_codons: list[str] = Field(default_factory=list, max_length=50, description="SITE=SET")
    parent_dna: str | None = Field(None, max_length=15000, description="Parent CDS (primers).")
    upstream: str | None = Field(None, max_length=2000)
    downstream: str | None = Field(None, max_length=2000)
    budget: int | None = Field(None, ge=1, description="Clones the lab can screen.")
    coverage: float = Field(0.95, gt=0, lt=1)
    target_tm: float = Field(60.0, ge=40, le=80, description="Primer flank Tm target, °C.")


def router() -> APIRouter:
    """The pillar's routes (a factory: the service imports this module only when serving)."""
    routes = APIRouter()

    @routes.post("/signal-peptides")
    def signal_peptides(body: SignalPeptidesIn) -> dict[str, Any]:
        """Mine the proteome's Sec signal peptides, generate variants, rank them by rules."""
        from biofab.parts import workflows

        with staged("biofab-parts-") as folder:
            proteome = folder / "proteome.faa"
            proteome.write_text(body.proteome_fasta, encoding="utf-8")
            result = workflows.signal_peptides(
                workflows.SignalPeptidesRequest(
                    proteome=proteome,
                    mature=body.mature,
                    out=folder / "signal_peptides.csv",
                    n=body.n,
                    generate=body.generate,
                    max_len=body.max_len,
                    seed=body.seed,
                )
            )
        summary = {k: v for k, v in result.to_dict().items() if k not in ("out", "files")}
        return plain({**summary, "ranked": result.to_frame().to_dict("records")})

    @routes.post("/library/design")
    def library_design(body: LibraryDesignIn) -> dict[str, Any]:
        """Codon sets -> residues per site, clones for coverage, primers (with a CDS)."""
        from biofab.parts import library_workflows as wf

        with staged("biofab-parts-") as folder:
            # every sequence goes through a staged file: a string is never taken as a
            # path on the server
            def stage(name: str, text: str | None) -> str | None:
                if text is None:
                    return None
                path = folder / name
                path.write_text(f">{name}\n{text}\n", encoding="utf-8")
                return str(path)

            result = wf.design(
                wf.DesignRequest(
                    parent=str(stage("parent.faa", body.parent)),
                    sites=body.sites,
                    out=folder / "library",
                    codons=body.codons,
                    site_codons=tuple(body.site_codons),
                    parent_dna=stage("parent_dna.fna", body.parent_dna),
                    upstream=stage("upstream.fna", body.upstream),
                    downstream=stage("downstream.fna", body.downstream),
                    budget=body.budget,
                    coverage=body.coverage,
                    target_tm=body.target_tm,
                )
            )
        summary = {k: v for k, v in result.to_dict().items() if k != "files"}
        primers = [] if result.primers is None else result.primers.to_dict("records")
        return plain({**summary, "site_table": result.sites.to_dict("records"), "primers": primers})

    return routes
