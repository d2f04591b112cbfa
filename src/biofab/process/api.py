"""The process pillar's HTTP routes: simulate a bioreactor scenario.

Mounted by the service under ``/api/v1/pillars/process``. The scenario arrives
as YAML text and is read by the same reader as the CLI's file.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from biofab.core.jsonable import plain


class SimulateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scenario_yaml: str = Field(
        min_length=1, max_length=200_000, description="A process scenario (see the CLI's)."
    )


def router() -> APIRouter:
    """The pillar's routes (a factory: the service imports this module only when serving)."""
    routes = APIRouter()

    @routes.post("/simulate")
    def simulate(body: SimulateIn) -> dict[str, Any]:
        """Run the scenario's recipe: summary, events and the trajectory (one row per
        output time: ``time_h``, states, inputs, outputs in the units given)."""
        from biofab.process import workflows

        result = workflows.simulate_text(body.scenario_yaml, purpose="a request")
        summary = {k: v for k, v in result.to_dict().items() if k != "files"}
        return plain({**summary, "trajectory": result.to_frame().to_dict("records")})

    return routes
