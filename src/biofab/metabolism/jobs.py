"""The metabolism pillar's background job kinds (``Pillar.jobs``): thin over its workflows."""

from __future__ import annotations

from biofab.core.jobs import JobKind
from biofab.metabolism import workflows as wf

deletions = JobKind(
    wf.DeletionsRequest,
    wf.deletions,
    help="Single or double gene / reaction deletion scan (growth after each knockout).",
    fixed={"progress": True},
    outputs={"out": "deletions.csv"},
)

dfba = JobKind(
    wf.DfbaRequest,
    wf.dfba,
    help="Dynamic FBA of a batch / fed-batch scenario YAML.",
    fixed={"progress": True},
    outputs={"out": "trajectory.csv", "plot": "dfba.html"},
)

reconstruct = JobKind(
    wf.ReconstructRequest,
    wf.reconstruct,
    help="Draft a model from a proteome by homology to templates, then gap-fill.",
    outputs={"out": "draft.xml"},
)
