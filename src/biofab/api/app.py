"""``create_app``: the service's FastAPI application."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import FastAPI

from biofab.api import accounts, campaigns, errors, jobs, pillars
from biofab.api.limits import MULTIPART_OVERHEAD, BodyLimit
from biofab.api.service import Service
from biofab.api.settings import ServiceSettings
from biofab.core import plugins

API_PREFIX = "/api/v1"

#: Environment variable holding the settings (JSON) of the app each server worker
#: process builds (``biofab serve --workers N``).
SETTINGS_ENV = "BIOFAB_SERVICE_SETTINGS"


def create_app(store_url: str | None = None, **settings: Any) -> FastAPI:
    """The API over the store at ``store_url`` (other keywords: :class:`ServiceSettings`).

    Opening the store migrates it. Routes live under ``/api/v1``; the OpenAPI
    schema is at ``/openapi.json`` and the interactive docs at ``/docs``.
    """
    config = ServiceSettings(store_url=store_url or "sqlite:///biofab.db", **settings)
    svc = Service.open(config)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Blocking handlers run on this event loop's default thread pool; see
        # ServiceSettings.threads for why it is small.
        anyio.to_thread.current_default_thread_limiter().total_tokens = config.threads
        yield
        svc.store.close()

    app = FastAPI(
        title="biofab",
        summary="AI-driven design-build-test-learn: the shared service.",
        version="1",
        lifespan=lifespan,
    )
    app.state.service = svc
    errors.install(app)
    app.add_middleware(BodyLimit, max_bytes=config.max_upload_bytes + MULTIPART_OVERHEAD)
    app.include_router(accounts.router, prefix=API_PREFIX)
    app.include_router(campaigns.router, prefix=API_PREFIX)
    app.include_router(jobs.router, prefix=API_PREFIX)
    app.include_router(pillars.router, prefix=API_PREFIX)
    pillars.mount(app)
    # The dashboard (/ui) builds on these routes, so it is named, not imported (no cycle).
    plugins.resolve("biofab.web:mount")(app)

    @app.get(f"{API_PREFIX}/health", tags=["service"])
    def health() -> dict[str, str]:
        """Liveness and the store's schema revision (no authentication)."""
        return {"status": "ok", "schema": svc.store.schema_revision() or ""}

    return app


def app_from_environment() -> FastAPI:
    """The app of one server worker process, from the settings ``biofab serve`` left
    in ``BIOFAB_SERVICE_SETTINGS`` (a uvicorn factory)."""
    raw = os.environ.get(SETTINGS_ENV)
    if raw is None:
        raise RuntimeError(f"{SETTINGS_ENV} is not set: start the service with `biofab serve`")
    return create_app(**json.loads(raw))
