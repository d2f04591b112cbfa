"""The process pillar's background job kinds (``Pillar.jobs``): thin over its workflows."""

from __future__ import annotations

from pathlib import Path

from biofab.core.jobs import JobKind, at_least, existing_file
from biofab.process import workflows as wf


def _check(r: wf.OptimizeRequest) -> None:
    at_least(r.budget, "budget", 2)
    at_least(r.batch, "batch", 1)
    at_least(r.workers, "workers", 1)
    if isinstance(r.scenario, str | Path):
        existing_file(r.scenario, "scenario")


optimize_recipe = JobKind(
    wf.OptimizeRequest,
    wf.optimize,
    help="Bayesian optimisation of a scenario's recipe knobs on its twin.",
    fixed={"progress": True, "command": ""},
    outputs={"out": "recipes.csv", "report": "report.html"},
    check=_check,
)
