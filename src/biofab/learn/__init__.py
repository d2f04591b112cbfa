"""The learning engine: surrogates with uncertainty, acquisition, recommenders.

``biofab.learn`` knows spaces and measurements, never a pillar.
"""

from biofab.learn.calibration import CalibrationReport, calibration_report, coverage
from biofab.learn.candidates import candidate_set, unmeasured
from biofab.learn.explain import permutation_importance
from biofab.learn.gp import GPSurrogate
from biofab.learn.mlp import MLPEnsemble
from biofab.learn.recommendation import Recommendation, Recommender
from biofab.learn.recommenders import (
    BayesianOptimization,
    EnsembleUCB,
    MultiObjective,
    SpaceFilling,
    default_recommender,
    initial_batch_size,
    pareto_mask,
)
from biofab.learn.surrogate import EnsembleSurrogate, Surrogate
from biofab.learn.trees import TreeEnsemble

__all__ = [
    "BayesianOptimization",
    "CalibrationReport",
    "EnsembleSurrogate",
    "EnsembleUCB",
    "GPSurrogate",
    "MLPEnsemble",
    "MultiObjective",
    "Recommendation",
    "Recommender",
    "SpaceFilling",
    "Surrogate",
    "TreeEnsemble",
    "calibration_report",
    "candidate_set",
    "coverage",
    "default_recommender",
    "initial_batch_size",
    "pareto_mask",
    "permutation_importance",
    "unmeasured",
]
