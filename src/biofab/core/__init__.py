"""The shared vocabulary: spaces, designs, measurements, objectives, errors.

``biofab.core`` imports nothing else of biofab and no heavy library (numpy,
pandas, SciPy's QMC and PyYAML only), so every layer can speak it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from biofab.core.errors import (
    BiofabError,
    CampaignExistsError,
    DesignError,
    InputError,
    ModelError,
    NotEnoughDataError,
    SpaceError,
    UnknownCampaignError,
)
from biofab.core.lazy import lazy_exports

if TYPE_CHECKING:
    from biofab.core.constraints import Constraint, LinearInequality, SumToTotal
    from biofab.core.design import Design
    from biofab.core.measurement import Measurement
    from biofab.core.objective import Objective
    from biofab.core.parameters import Categorical, Continuous, Integer, Parameter, Sequence
    from biofab.core.space import Space
    from biofab.core.testbed import (
        BatchLike,
        CampaignLike,
        Execution,
        Executor,
        PoolTestbed,
        Testbed,
        TestbedExecutor,
    )

__all__ = [
    "BatchLike",
    "BiofabError",
    "CampaignExistsError",
    "CampaignLike",
    "Categorical",
    "Constraint",
    "Continuous",
    "Design",
    "DesignError",
    "Execution",
    "Executor",
    "InputError",
    "Integer",
    "LinearInequality",
    "Measurement",
    "ModelError",
    "NotEnoughDataError",
    "Objective",
    "Parameter",
    "PoolTestbed",
    "Sequence",
    "Space",
    "SpaceError",
    "SumToTotal",
    "Testbed",
    "TestbedExecutor",
    "UnknownCampaignError",
]

# Errors are imported eagerly (every layer raises them and they cost nothing); the
# rest on first use, so `biofab --help` and `--version` do not pay for pandas.
_LAZY = {
    "BatchLike": "testbed",
    "CampaignLike": "testbed",
    "Categorical": "parameters",
    "Constraint": "constraints",
    "Continuous": "parameters",
    "Design": "design",
    "Execution": "testbed",
    "Executor": "testbed",
    "Integer": "parameters",
    "LinearInequality": "constraints",
    "Measurement": "measurement",
    "Objective": "objective",
    "Parameter": "parameters",
    "PoolTestbed": "testbed",
    "Sequence": "parameters",
    "Space": "space",
    "SumToTotal": "constraints",
    "Testbed": "testbed",
    "TestbedExecutor": "testbed",
}
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
