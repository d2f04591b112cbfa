"""The learning engine: surrogates with uncertainty, acquisition, recommenders.

``biofab.learn`` knows spaces and measurements, never a pillar. Names are
imported on first use (PEP 562), so ``biofab.learn.registry`` and other light
modules load without torch, BoTorch or XGBoost.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from biofab.core.lazy import lazy_exports

if TYPE_CHECKING:
    from biofab.learn.acquisition import (
        UCB,
        Acquisition,
        BelieverUCB,
        QLogNEHVI,
        QLogNEI,
        Scorer,
        SpaceFillingPick,
    )
    from biofab.learn.calibration import (
        CalibrationReport,
        OutOfFoldCalibration,
        calibrate_out_of_fold,
        calibration_report,
        coverage,
        out_of_fold,
        std_scale,
    )
    from biofab.learn.candidates import (
        CandidateGenerator,
        CandidateSearch,
        Selection,
        SpaceFillingDesign,
        candidate_set,
        unmeasured,
    )
    from biofab.learn.combinatorial import VariantRecommender
    from biofab.learn.epistasis import EpistaticGP
    from biofab.learn.explain import permutation_importance
    from biofab.learn.gp import GPSurrogate
    from biofab.learn.mlp import MLPEnsemble
    from biofab.learn.recommendation import BatchRequest, Recommendation, Recommender
    from biofab.learn.recommenders import (
        AutoRecommender,
        BayesianOptimization,
        ComposedRecommender,
        EnsembleUCB,
        GPBelieverUCB,
        MultiObjective,
        SpaceFilling,
        SurrogateFactory,
        default_recommender,
        initial_batch_size,
        pareto_mask,
    )
    from biofab.learn.registry import make_recommender, recommender_names, register_recommender
    from biofab.learn.selection import CrossValidation, cross_validate
    from biofab.learn.sequence_recommender import SequenceRecommender
    from biofab.learn.sequence_search import PointMutator, SequenceMutants, diverse_pick
    from biofab.learn.surrogate import EnsembleSurrogate, Surrogate, clone
    from biofab.learn.trees import TreeEnsemble

_WHERE = {
    "biofab.learn.acquisition": (
        "Acquisition",
        "BelieverUCB",
        "QLogNEHVI",
        "QLogNEI",
        "Scorer",
        "SpaceFillingPick",
        "UCB",
    ),
    "biofab.learn.calibration": (
        "CalibrationReport",
        "OutOfFoldCalibration",
        "calibrate_out_of_fold",
        "calibration_report",
        "coverage",
        "out_of_fold",
        "std_scale",
    ),
    "biofab.learn.candidates": (
        "CandidateGenerator",
        "CandidateSearch",
        "Selection",
        "SpaceFillingDesign",
        "candidate_set",
        "unmeasured",
    ),
    "biofab.learn.combinatorial": ("VariantRecommender",),
    "biofab.learn.epistasis": ("EpistaticGP",),
    "biofab.learn.explain": ("permutation_importance",),
    "biofab.learn.gp": ("GPSurrogate",),
    "biofab.learn.mlp": ("MLPEnsemble",),
    "biofab.learn.recommendation": ("BatchRequest", "Recommendation", "Recommender"),
    "biofab.learn.recommenders": (
        "AutoRecommender",
        "BayesianOptimization",
        "ComposedRecommender",
        "EnsembleUCB",
        "GPBelieverUCB",
        "MultiObjective",
        "SpaceFilling",
        "SurrogateFactory",
        "default_recommender",
        "initial_batch_size",
        "pareto_mask",
    ),
    "biofab.learn.registry": ("make_recommender", "recommender_names", "register_recommender"),
    "biofab.learn.selection": ("CrossValidation", "cross_validate"),
    "biofab.learn.sequence_recommender": ("SequenceRecommender",),
    "biofab.learn.sequence_search": ("PointMutator", "SequenceMutants", "diverse_pick"),
    "biofab.learn.surrogate": ("EnsembleSurrogate", "Surrogate", "clone"),
    "biofab.learn.trees": ("TreeEnsemble",),
}
_MODULE_OF = {name: module for module, names in _WHERE.items() for name in names}

__all__ = [
    "UCB",
    "Acquisition",
    "AutoRecommender",
    "BatchRequest",
    "BayesianOptimization",
    "BelieverUCB",
    "CalibrationReport",
    "CandidateGenerator",
    "CandidateSearch",
    "ComposedRecommender",
    "CrossValidation",
    "EnsembleSurrogate",
    "EnsembleUCB",
    "EpistaticGP",
    "GPBelieverUCB",
    "GPSurrogate",
    "MLPEnsemble",
    "MultiObjective",
    "OutOfFoldCalibration",
    "PointMutator",
    "QLogNEHVI",
    "QLogNEI",
    "Recommendation",
    "Recommender",
    "Scorer",
    "Selection",
    "SequenceMutants",
    "SequenceRecommender",
    "SpaceFilling",
    "SpaceFillingDesign",
    "SpaceFillingPick",
    "Surrogate",
    "SurrogateFactory",
    "TreeEnsemble",
    "VariantRecommender",
    "calibrate_out_of_fold",
    "calibration_report",
    "candidate_set",
    "clone",
    "coverage",
    "cross_validate",
    "default_recommender",
    "diverse_pick",
    "initial_batch_size",
    "make_recommender",
    "out_of_fold",
    "pareto_mask",
    "permutation_importance",
    "recommender_names",
    "register_recommender",
    "std_scale",
    "unmeasured",
]


__getattr__, __dir__ = lazy_exports(__name__, _MODULE_OF)
