"""biofab: AI-driven design-build-test-learn for biomanufacturing.

>>> from biofab import Space, Continuous, Campaign

Every name is imported on first use (PEP 562): ``import biofab`` and
``biofab --help`` pay for neither pandas nor torch nor SQLAlchemy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from biofab.core.errors import BiofabError, InputError
from biofab.core.lazy import lazy_exports

if TYPE_CHECKING:
    from biofab.campaign import Campaign
    from biofab.core import (
        Categorical,
        Continuous,
        Design,
        Integer,
        LinearInequality,
        Measurement,
        Objective,
        Sequence,
        Space,
        SumToTotal,
        Testbed,
    )
    from biofab.learn import BayesianOptimization, EnsembleUCB, MultiObjective, SpaceFilling
    from biofab.store import Store

__version__ = "0.1.0"

__all__ = [
    "BayesianOptimization",
    "BiofabError",
    "Campaign",
    "Categorical",
    "Continuous",
    "Design",
    "EnsembleUCB",
    "InputError",
    "Integer",
    "LinearInequality",
    "Measurement",
    "MultiObjective",
    "Objective",
    "Sequence",
    "Space",
    "SpaceFilling",
    "Store",
    "SumToTotal",
    "Testbed",
]

_LAZY = {
    **{
        name: "biofab.core"
        for name in (
            "Categorical",
            "Continuous",
            "Design",
            "Integer",
            "LinearInequality",
            "Measurement",
            "Objective",
            "Sequence",
            "Space",
            "SumToTotal",
            "Testbed",
        )
    },
    "Campaign": "biofab.campaign",
    "Store": "biofab.store",
    **{
        name: "biofab.learn"
        for name in ("BayesianOptimization", "EnsembleUCB", "MultiObjective", "SpaceFilling")
    },
}
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
