"""The process pillar's HTTP routes: simulate a bioreactor scenario.

Mounted by the service under ``/api/v1/pillars/process``. The scenario arrives
as YAML text and is read by the same reader as the CLI's file.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from biofab.core.errors import InputError
from biofab.core.jsonable import plain
from biofab.core.staging import staged

MAX_HOURS = 24 * 60  # a two-month batch
MAX_ROWS = 20_000  # trajectory rows returned


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
        from biofab.process.scenario import Scenario

        with staged("biofab-process-") as folder:
            path = folder / "scenario.yaml"
            path.write_text(body.scenario_yaml, encoding="utf-8")
            scenario = Scenario.from_yaml(path)
            rows = scenario.t_end / (scenario.output_every or scenario.t_end / 200)
            if scenario.t_end > MAX_HOURS or rows > MAX_ROWS:
                raise InputError(
                    "scenario too long for a request",
                    file="scenario.yaml",
                    column="t_end",
                    expected=f"t_end <= {MAX_HOURS} h and <= {MAX_ROWS} output rows",
                    found=f"{scenario.t_end:g} h, {rows:.0f} rows",
                )
            result = workflows.simulate(workflows.SimulateRequest(scenario=scenario))
        summary = {k: v for k, v in result.to_dict().items() if k != "files"}
        return plain({**summary, "trajectory": result.to_frame().to_dict("records")})

    return routes
