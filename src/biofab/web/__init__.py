"""The dashboard: server-rendered pages over the same functions as the HTTP API.

:func:`mount` adds it to the service's app under ``/ui`` (``/`` redirects there).
Nothing below the interface layer imports this package; it names no pillar (pillar
pages and batch exports come from the plug-in registry).
"""

from biofab.web.pages import mount

__all__ = ["mount"]
