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
