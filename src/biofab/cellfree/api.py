"""The cell-free pillar's HTTP routes: plan a plate (layout, picklist, protocols, cost).

Mounted by the service under ``/api/v1/pillars/cellfree``. The designs arrive as
CSV text; the build files come back in the answer (text), as the CLI writes them.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from biofab.core.jsonable import plain
from biofab.core.staging import staged

MAX_PLATES = 4


class PlanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    designs_csv: str = Field(
        min_length=1,
        max_length=2_000_000,
        description="One row per composition, one column per varied stock component.",
    )
    volume_ul: float = Field(10.0, gt=0, le=1000, description="Reaction volume (µL).")
    dispenser: Literal["echo", "opentrons"] = "echo"
    plate: Literal[96, 384] = 96
    replicates: int = Field(2, ge=1, le=16)
    seed: int = Field(0, ge=0, le=2**31 - 1)


def router() -> APIRouter:
    """The pillar's routes (a factory: the service imports this module only when serving)."""
    routes = APIRouter()

    @routes.post("/plan")
    def plan(body: PlanIn) -> dict[str, Any]:
        """Lay the designs out on plates (at most 4) with the default stock table: the
        layout, the cost, and every build file (picklist or OT-2 protocols) as text."""
        from biofab.cellfree import workflows

        with staged("biofab-cellfree-") as folder:
            designs = folder / "designs.csv"
            designs.write_text(body.designs_csv, encoding="utf-8")
            result = workflows.plan(
                workflows.PlanRequest(
                    designs=designs,
                    out=folder / "plan",
                    volume_ul=body.volume_ul,
                    dispenser=body.dispenser,
                    plate=body.plate,
                    replicates=body.replicates,
                    max_plates=MAX_PLATES,
                    seed=body.seed,
                )
            )
            files = {
                path.name: path.read_text(encoding="utf-8")
                for path in sorted((folder / "plan").rglob("*"))
                if path.is_file()
            }
        summary = {k: v for k, v in result.to_dict().items() if k != "files"}
        return plain({**summary, "layout": result.to_frame().to_dict("records"), "files": files})

    return routes
