"""The metabolism pillar's background job kinds (``Pillar.jobs``): thin over its workflows."""

from __future__ import annotations

from pathlib import Path

from biofab.core.jobs import JobKind, at_least, choice, existing_file
from biofab.metabolism import workflows as wf


def _check_deletions(r: wf.DeletionsRequest) -> None:
    choice(r.kind, "kind", ("gene", "reaction"))
    at_least(r.limit, "limit", 1)
    at_least(r.workers, "workers", 1)
    existing_file(r.media_db, "media_db")


def _check_dfba(r: wf.DfbaRequest) -> None:
    choice(r.method, "method", ("adaptive", "euler"))
    if r.dt <= 0:
        at_least(r.dt, "dt", 1e-9)
    if isinstance(r.scenario, str | Path):
        existing_file(r.scenario, "scenario")


def _check_reconstruct(r: wf.ReconstructRequest) -> None:
    existing_file(r.proteome, "proteome")
    if not r.templates:
        at_least(0, "templates (count)", 1)
    for _, fasta in r.templates:
        existing_file(fasta, "templates")
    existing_file(r.media_db, "media_db")
    existing_file(r.universe, "universe")
    existing_file(r.gpr_table, "gpr_table")
    existing_file(r.biomass_db, "biomass_db")
    choice(r.training, "training", ("divergence", "paralogs"))


deletions = JobKind(
    wf.DeletionsRequest,
    wf.deletions,
    help="Single or double gene / reaction deletion scan (growth after each knockout).",
    fixed={"progress": True},
    outputs={"out": "deletions.csv"},
    check=_check_deletions,
)

dfba = JobKind(
    wf.DfbaRequest,
    wf.dfba,
    help="Dynamic FBA of a batch / fed-batch scenario YAML.",
    fixed={"progress": True},
    outputs={"out": "trajectory.csv", "plot": "dfba.html"},
    check=_check_dfba,
)

reconstruct = JobKind(
    wf.ReconstructRequest,
    wf.reconstruct,
    help="Draft a model from a proteome by homology to templates, then gap-fill.",
    outputs={"out": "draft.xml"},
    check=_check_reconstruct,
)
