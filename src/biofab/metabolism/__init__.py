"""Metabolism pillar: genome-scale models on COBRApy, solved fast with HiGHS.

Users keep their COBRApy ``Model`` objects; biofab adds fast scans (FBA, pFBA,
FVA, deletions), dynamic FBA, enzyme-constrained models, growth-coupled strain
design, draft reconstruction for new organisms and phenotype evaluation. Every
module imports COBRApy and HiGHS lazily, inside the functions that need them, and the
names below are imported on first use, so ``import biofab.metabolism`` stays cheap.
See ``docs/metabolism.md``.
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING

from biofab.core.lazy import lazy_exports

if TYPE_CHECKING:
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

# name -> submodule; imported on first access so that importing the pillar (e.g. to
# read its plug-in record for `biofab --help`) costs nothing heavy.
_LAZY = {
    "FluxResult": "analysis",
    "fba": "analysis",
    "flux_variability": "analysis",
    "pfba": "analysis",
    "double_deletions": "deletions",
    "single_deletions": "deletions",
    "DesignResult": "design",
    "KnockoutDesign": "design",
    "optknock": "design",
    "DfbaResult": "dfba",
    "DfbaTestbed": "dfba",
    "DynamicFBA": "dfba",
    "simulate": "dfba",
    "ECModel": "ecmodel",
    "build_ec_model": "ecmodel",
    "ensemble_scan": "ecmodel",
    "scan_uptake": "ecmodel",
    "production_envelope": "envelope",
    "load_model": "io",
    "model_info": "io",
    "save_model": "io",
    "LPSolution": "lp",
    "LinearProgram": "lp",
    "Medium": "media",
    "apply_medium": "media",
    "get_medium": "media",
    "load_media": "media",
    "biolog_benchmark": "phenotypes",
    "essentiality_benchmark": "phenotypes",
    "minimal_medium": "minimal_medium",
    "Reconstruction": "reconstruct",
    "Template": "reconstruct",
    "reconstruct": "reconstruct",
    "Scenario": "scenario",
    "Control": "testbed",
    "FluxTestbed": "testbed",
}

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


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)


class _Package(types.ModuleType):
    def __setattr__(self, name: str, value: object) -> None:
        # Importing a submodule binds it on its package; `minimal_medium` and `reconstruct`
        # are also functions of the same name, which this package's attribute must stay.
        if name in _LAZY and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
