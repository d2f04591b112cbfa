"""``Testbed``: anything that answers designs with measurements, in silico or replayed.

A testbed has the same signature as a lab import, so a campaign runs against a
simulator first and the lab second with no code change.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import pandas as pd

from biofab.core.objective import Objective
from biofab.core.space import Space


@runtime_checkable
class Testbed(Protocol):
    """``evaluate(designs)`` returns one row per design with a column per objective
    (and optionally ``<objective>_std``), in the same order as ``designs``."""

    space: Space
    objectives: list[Objective]

    def evaluate(self, designs: pd.DataFrame) -> pd.DataFrame: ...


@runtime_checkable
class PoolTestbed(Testbed, Protocol):
    """A testbed that can only answer for a finite pool of already-measured designs."""

    def pool(self) -> pd.DataFrame: ...
