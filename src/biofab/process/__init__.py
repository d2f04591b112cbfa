"""The process pillar: fermentation batch data, bioreactor twins, estimators and control.

Time is in hours from inoculation throughout; concentrations in g/L unless a
signal's registry entry says otherwise (see :mod:`biofab.process.batchdata`).
The public API below is imported on first use (CasADi, torch). The functions
``simulate``, ``fit`` and ``closed_loop`` share their module's name, so they are
imported from their modules: ``from biofab.process.simulate import simulate``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from biofab.core.lazy import lazy_exports

if TYPE_CHECKING:
    from biofab.process.alarms import AlarmLog
    from biofab.process.batchdata import BatchData, read_batches, write_batches
    from biofab.process.ekf import ExtendedKalmanFilter
    from biofab.process.fit import Experiment, FitResult
    from biofab.process.hybrid import HybridModel
    from biofab.process.models import ChoFedBatch, EColiFedBatch, ParamSpec, ProcessModel
    from biofab.process.monitor import BatchMonitor
    from biofab.process.mpc import FeedMPC
    from biofab.process.neural import NeuralODE
    from biofab.process.pensim import PenSimTestbed
    from biofab.process.quasisteady import EColiQuasiSteadyDO
    from biofab.process.recipe import RecipeSpace, SetpointRecipe, optimize_recipe
    from biofab.process.scenario import Scenario, ScenarioTestbed
    from biofab.process.simulate import (
        Bolus,
        Constant,
        Exponential,
        FeedStart,
        FeedStop,
        Induction,
        Piecewise,
        SetInput,
        SimulationError,
        Trajectory,
    )
    from biofab.process.softsensor import SoftSensor
    from biofab.process.ukf import UnscentedKalmanFilter

# name -> submodule; imported on first access so that importing the pillar (e.g. to
# read its plug-in record for `biofab --help`) costs nothing heavy.
_LAZY = {
    "AlarmLog": "alarms",
    "BatchMonitor": "monitor",
    "BatchData": "batchdata",
    "read_batches": "batchdata",
    "write_batches": "batchdata",
    "ChoFedBatch": "models",
    "EColiFedBatch": "models",
    "EColiQuasiSteadyDO": "quasisteady",
    "ParamSpec": "models",
    "ProcessModel": "models",
    "Bolus": "simulate",
    "Constant": "simulate",
    "Exponential": "simulate",
    "FeedStart": "simulate",
    "FeedStop": "simulate",
    "Induction": "simulate",
    "Piecewise": "simulate",
    "SetInput": "simulate",
    "SimulationError": "simulate",
    "Trajectory": "simulate",
    "Experiment": "fit",
    "FitResult": "fit",
    "ExtendedKalmanFilter": "ekf",
    "UnscentedKalmanFilter": "ukf",
    "SoftSensor": "softsensor",
    "FeedMPC": "mpc",
    "HybridModel": "hybrid",
    "NeuralODE": "neural",
    "RecipeSpace": "recipe",
    "SetpointRecipe": "recipe",
    "optimize_recipe": "recipe",
    "PenSimTestbed": "pensim",
    "Scenario": "scenario",
    "ScenarioTestbed": "scenario",
}

__all__ = [
    "AlarmLog",
    "BatchData",
    "BatchMonitor",
    "Bolus",
    "ChoFedBatch",
    "Constant",
    "EColiFedBatch",
    "EColiQuasiSteadyDO",
    "Experiment",
    "Exponential",
    "ExtendedKalmanFilter",
    "FeedMPC",
    "FeedStart",
    "FeedStop",
    "FitResult",
    "HybridModel",
    "Induction",
    "NeuralODE",
    "ParamSpec",
    "PenSimTestbed",
    "Piecewise",
    "ProcessModel",
    "RecipeSpace",
    "Scenario",
    "ScenarioTestbed",
    "SetInput",
    "SetpointRecipe",
    "SimulationError",
    "SoftSensor",
    "Trajectory",
    "UnscentedKalmanFilter",
    "optimize_recipe",
    "read_batches",
    "write_batches",
]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
