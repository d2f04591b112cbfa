"""The learning engine: surrogates with uncertainty, acquisition, recommenders.

``biofab.learn`` knows spaces and measurements, never a pillar.

Names load on first use (PEP 562): the surrogates pull in torch, BoTorch and
XGBoost, which read-only commands never need. ``from biofab.learn import
GPSurrogate`` works as ever and imports only what that name needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from biofab.learn.calibration import CalibrationReport, calibration_report, coverage
    from biofab.learn.candidates import candidate_set, unmeasured
    from biofab.learn.explain import permutation_importance
    from biofab.learn.gp import GPSurrogate
    from biofab.learn.mlp import MLPEnsemble
    from biofab.learn.recommendation import Recommendation, Recommender
    from biofab.learn.recommenders import (
        AutoRecommender,
        BayesianOptimization,
        EnsembleUCB,
        MultiObjective,
        SpaceFilling,
        default_recommender,
        initial_batch_size,
        pareto_mask,
    )
    from biofab.learn.selection import CrossValidation, cross_validate
    from biofab.learn.sequence_recommender import SequenceRecommender
    from biofab.learn.surrogate import EnsembleSurrogate, Surrogate
    from biofab.learn.trees import TreeEnsemble

__all__ = [
    "AutoRecommender",
    "BayesianOptimization",
    "CalibrationReport",
    "CrossValidation",
    "EnsembleSurrogate",
    "EnsembleUCB",
    "GPSurrogate",
    "MLPEnsemble",
    "MultiObjective",
    "Recommendation",
    "Recommender",
    "SequenceRecommender",
    "SpaceFilling",
    "Surrogate",
    "TreeEnsemble",
    "calibration_report",
    "candidate_set",
    "coverage",
    "cross_validate",
    "default_recommender",
    "initial_batch_size",
    "pareto_mask",
    "permutation_importance",
    "unmeasured",
]


#: Each public name -> the submodule that defines it.
_HOME = {
    "CalibrationReport": "calibration",
    "calibration_report": "calibration",
    "coverage": "calibration",
    "candidate_set": "candidates",
    "unmeasured": "candidates",
    "permutation_importance": "explain",
    "GPSurrogate": "gp",
    "MLPEnsemble": "mlp",
    "Recommendation": "recommendation",
    "Recommender": "recommendation",
    "AutoRecommender": "recommenders",
    "BayesianOptimization": "recommenders",
    "EnsembleUCB": "recommenders",
    "MultiObjective": "recommenders",
    "SpaceFilling": "recommenders",
    "default_recommender": "recommenders",
    "initial_batch_size": "recommenders",
    "pareto_mask": "recommenders",
    "CrossValidation": "selection",
    "cross_validate": "selection",
    "SequenceRecommender": "sequence_recommender",
    "EnsembleSurrogate": "surrogate",
    "Surrogate": "surrogate",
    "TreeEnsemble": "trees",
}


def __getattr__(name: str) -> object:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'biofab.learn' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"biofab.learn.{home}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
