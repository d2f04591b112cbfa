"""Metabolism pillar: genome-scale models on COBRApy, solved fast with HiGHS.

Users keep their COBRApy ``Model`` objects; biofab adds fast scans (FBA, pFBA,
FVA, deletions), dynamic FBA, enzyme-constrained models, growth-coupled strain
design, draft reconstruction for new organisms and phenotype evaluation. Every
module imports COBRApy and HiGHS lazily, inside the functions that need them.
See ``docs/metabolism.md``.
"""

from biofab.metabolism.analysis import FluxResult, fba, flux_variability, pfba
from biofab.metabolism.deletions import double_deletions, single_deletions
from biofab.metabolism.design import DesignResult, KnockoutDesign, optknock
from biofab.metabolism.dfba import DfbaResult, DfbaTestbed, DynamicFBA, simulate
from biofab.metabolism.ecmodel import ECModel, build_ec_model, ensemble_scan, scan_uptake
from biofab.metabolism.envelope import production_envelope
from biofab.metabolism.io import load_model, model_info, save_model
from biofab.metabolism.lp import LinearProgram, LPSolution
from biofab.metabolism.media import Medium, apply_medium, get_medium, load_media
from biofab.metabolism.minimal_medium import minimal_medium
from biofab.metabolism.phenotypes import biolog_benchmark, essentiality_benchmark
from biofab.metabolism.reconstruct import Reconstruction, Template, reconstruct
from biofab.metabolism.scenario import Scenario
from biofab.metabolism.testbed import Control, FluxTestbed

__all__ = [
    "Control",
    "DesignResult",
    "DfbaResult",
    "DfbaTestbed",
    "DynamicFBA",
    "ECModel",
    "FluxResult",
    "FluxTestbed",
    "KnockoutDesign",
    "LPSolution",
    "LinearProgram",
    "Medium",
    "Reconstruction",
    "Scenario",
    "Template",
    "apply_medium",
    "biolog_benchmark",
    "build_ec_model",
    "double_deletions",
    "ensemble_scan",
    "essentiality_benchmark",
    "fba",
    "flux_variability",
    "get_medium",
    "load_media",
    "load_model",
    "minimal_medium",
    "model_info",
    "optknock",
    "pfba",
    "production_envelope",
    "reconstruct",
    "save_model",
    "scan_uptake",
    "simulate",
    "single_deletions",
]
