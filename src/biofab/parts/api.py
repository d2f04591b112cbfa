"""The parts pillar's HTTP routes: signal-peptide candidates for a protein to secrete.

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

    return routes
