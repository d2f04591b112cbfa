"""The shared vocabulary: spaces, designs, measurements, objectives, errors.

``biofab.core`` imports nothing else of biofab and no heavy library (numpy,
pandas, SciPy's QMC and PyYAML only), so every layer can speak it.
"""

from biofab.core.constraints import Constraint, LinearInequality, SumToTotal
from biofab.core.design import Design
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
