"""The process pillar's background job kinds (``Pillar.jobs``): thin over its workflows."""

from __future__ import annotations

from biofab.core.jobs import JobKind
from biofab.process import workflows as wf

optimize_recipe = JobKind(
    wf.OptimizeRequest,
    wf.optimize,
    help="Bayesian optimisation of a scenario's recipe knobs on its twin.",
    fixed={"progress": True, "command": ""},
    outputs={"out": "recipes.csv", "report": "report.html"},
)
