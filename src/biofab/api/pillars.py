"""Each pillar's routes, from the plug-in registry: this module names no pillar.

A pillar's record may give ``api``, the import path of a factory returning a
FastAPI ``APIRouter``; it is imported when the app is built and mounted under
``/api/v1/pillars/<name>`` behind the same authorisation as every other route.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI

from biofab.api.auth import CallerDep, caller
from biofab.api.models import PillarOut
from biofab.core import plugins

PREFIX = "/api/v1/pillars"

router = APIRouter(tags=["pillars"])


def mount(app: FastAPI) -> None:
    """Include every pillar's router (a broken one is a ``PluginError`` at start-up)."""
    for pillar in plugins.pillars():
        if pillar.api is None:
            continue
        factory = plugins.resolve(pillar.api)
        sub = factory()
        if not isinstance(sub, APIRouter):
            raise plugins.PluginError(
                f"pillar {pillar.name!r}: api factory must return a fastapi.APIRouter; "
                f"found {type(sub).__name__}"
            )
        app.include_router(
            sub,
            prefix=f"{PREFIX}/{pillar.name}",
            tags=[f"pillar: {pillar.name}"],
            dependencies=[Depends(caller)],
        )


@router.get("/pillars", response_model=list[PillarOut])
def list_pillars(_caller: CallerDep) -> list[PillarOut]:
    """Installed pillars and where their routes are."""
    return [
        PillarOut(
            name=p.name,
            help=p.help,
            routes=None if p.api is None else f"{PREFIX}/{p.name}",
        )
        for p in plugins.pillars()
    ]
