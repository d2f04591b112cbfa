"""Live operation of the process twin: readings streamed in from a bioreactor controller
(OPC UA), an HTTP/WebSocket endpoint or a replayed file, validated, stored and pushed
through the EKF/UKF and the twin each estimator step. See ``docs/process-live.md``."""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "Reading": "readings",
    "ReadingError": "readings",
    "ReadingValidator": "readings",
    "CheckedReading": "readings",
    "ReorderBuffer": "ordering",
    "Step": "ordering",
    "ReadingWriter": "writer",
    "LiveTwin": "twin",
    "LiveLoop": "loop",
    "LiveSource": "loop",
    "LiveStats": "loop",
    "ReplaySource": "replay",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'biofab.process.live' has no attribute {name!r}")
    return getattr(import_module(f"biofab.process.live.{module}"), name)
