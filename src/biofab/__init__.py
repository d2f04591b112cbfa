"""biofab: AI-driven design-build-test-learn for biomanufacturing.

>>> from biofab import Space, Continuous, Campaign
"""

from biofab.core import (
    BiofabError,
    Categorical,
    Continuous,
    Design,
    InputError,
    Integer,
    LinearInequality,
    Measurement,
    Objective,
    Sequence,
    Space,
    SumToTotal,
    Testbed,
)

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


def __getattr__(name: str) -> object:
    # The engine pulls in torch and SQLAlchemy; import it only when asked, so
    # `import biofab` (and the CLI's --help) stays fast.
    if name == "Campaign":
        from biofab.campaign import Campaign

        return Campaign
    if name == "Store":
        from biofab.store import Store

        return Store
    if name in {"BayesianOptimization", "EnsembleUCB", "MultiObjective", "SpaceFilling"}:
        import biofab.learn as learn

        return getattr(learn, name)
    raise AttributeError(f"module 'biofab' has no attribute {name!r}")
