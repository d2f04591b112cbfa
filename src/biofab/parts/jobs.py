"""The parts pillar's background job kinds (``Pillar.jobs``): thin over its workflows."""

from __future__ import annotations

from biofab.core.jobs import JobKind, at_least, choice, existing_file
from biofab.parts import workflows as wf


def _check(r: wf.TrainRequest) -> None:
    choice(r.kind, "kind", wf.KINDS)
    choice(r.estimator, "estimator", wf.ESTIMATORS)
    at_least(r.members, "members", 1)
    at_least(r.epochs, "epochs", 1)
    for path in (r.data,) if not isinstance(r.data, tuple) else r.data:
        existing_file(path, "data")


train_model = JobKind(
    wf.TrainRequest,
    wf.train,
    help="Train a sequence -> function model (or the kcat model) on a table.",
    outputs={"out": "model"},
    check=_check,
)
