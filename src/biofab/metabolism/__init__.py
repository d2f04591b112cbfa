"""Metabolism pillar: genome-scale models on COBRApy, solved fast with HiGHS.

Users keep their COBRApy ``Model`` objects; biofab adds fast scans (FBA, pFBA,
FVA, deletions), dynamic FBA, enzyme-constrained models, strain design and
draft reconstruction.
"""

from biofab.metabolism.io import load_model, model_info, save_model
from biofab.metabolism.lp import LinearProgram, LPSolution
from biofab.metabolism.media import Medium, apply_medium, get_medium, load_media

__all__ = [
    "LPSolution",
    "LinearProgram",
    "Medium",
    "apply_medium",
    "get_medium",
    "load_media",
    "load_model",
    "model_info",
    "save_model",
]
