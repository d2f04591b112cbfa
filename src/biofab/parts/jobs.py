"""The parts pillar's background job kinds (``Pillar.jobs``): thin over its workflows."""

from __future__ import annotations

from biofab.core.jobs import JobKind
from biofab.parts import workflows as wf

train_model = JobKind(
    wf.TrainRequest,
    wf.train,
    help="Train a sequence -> function model (or the kcat model) on a table.",
    outputs={"out": "model"},
)
