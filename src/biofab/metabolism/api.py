"""The metabolism pillar's HTTP routes: FBA and FVA of a shipped model.

Mounted by the service under ``/api/v1/pillars/metabolism`` (see
:mod:`biofab.core.plugins`). Only the models COBRApy ships can be named: a
request never makes the server read a path of its choosing.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from biofab.core.jsonable import plain

Shipped = Literal["textbook", "e_coli_core", "iJO1366", "salmonella", "mini"]
Bounds = dict[str, tuple[float, float]]


class _ModelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: Shipped = Field("textbook", description="A model COBRApy ships.")
    bounds: Bounds = Field(
        default_factory=dict,
        max_length=500,
        description="Reaction id -> [lower, upper] (mmol/gDW/h), set before solving.",
    )


class FbaIn(_ModelIn):
    pfba: bool = Field(False, description="Least total flux at the optimum.")


class FvaIn(_ModelIn):
    reactions: list[str] = Field(min_length=1, max_length=200)
    fraction: float = Field(1.0, ge=0, le=1, description="Share of the optimum kept.")


def router() -> APIRouter:
    """The pillar's routes (a factory: the service imports this module only when serving)."""
    routes = APIRouter()

    @routes.post("/fba")
    def fba(body: FbaIn) -> dict[str, Any]:
        """Flux balance analysis (HiGHS): status, objective value, fluxes (mmol/gDW/h)."""
        from biofab.metabolism import workflows

        request = workflows.FbaRequest(model=body.model, bounds=body.bounds, pfba=body.pfba)
        return plain(workflows.fba(request).summary())

    @routes.post("/fva")
    def fva(body: FvaIn) -> dict[str, Any]:
        """Flux variability of the named reactions keeping ``fraction`` of the optimum."""
        from biofab.metabolism import workflows

        request = workflows.FvaRequest(
            model=body.model,
            bounds=body.bounds,
            reactions=tuple(body.reactions),
            fraction=body.fraction,
            workers=1,  # one request, one core: the service stays responsive
        )
        return plain(workflows.fva(request).summary())

    return routes
