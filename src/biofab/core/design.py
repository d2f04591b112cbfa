"""``Design``: one point of a space, as a scientist would write it down."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Design:
    """Parameter values (``values``), plus what a model predicted for it, if anything.

    ``predicted`` maps an objective name to ``(mean, std)``; ``acquisition`` is
    the recommender's score when it chose this design.
    """

    values: Mapping[str, Any]
    predicted: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    acquisition: float | None = None

    def __getitem__(self, name: str) -> Any:
        return self.values[name]
