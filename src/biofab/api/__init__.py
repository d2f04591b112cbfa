"""The HTTP API of the shared biofab service (FastAPI): ``create_app(store_url)``.

An interface like the CLI: routes parse a request, check who may do it, call the
campaign API or a pillar's typed workflow and shape the answer. See ``docs/service.md``.
"""

from biofab.api.app import create_app
from biofab.api.settings import ServiceSettings

__all__ = ["ServiceSettings", "create_app"]
