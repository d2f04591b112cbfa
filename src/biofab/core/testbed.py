"""What answers designs, and what a loop drives.

``Testbed``: anything that answers designs with measurements, in silico or
replayed; it has the same signature as a lab import, so a campaign runs against a
simulator first and the lab second with no code change. ``Executor``: one round's
build-and-measure step as the loop runner sees it, whether a testbed answers at
once or a lab adapter writes build files and waits for the plate reader.
``CampaignLike``: what the loop runner needs of a campaign.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar, runtime_checkable

from biofab.core.objective import Objective
from biofab.core.space import Space

if TYPE_CHECKING:
    import pandas as pd


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


@dataclass
class Execution:
    """What one round's build-and-measure step returned.

    ``results`` is a campaign results table (parameters, objectives, optional
    ``_std``/``_n``/``source`` columns), one row per measured design;
    ``source`` names where the values came from (a plate-reader file, a
    testbed); ``files`` lists what the step wrote (layouts, picklists, protocols,
    readings); ``info`` carries per-round extras a report shows (plate QC, cost).
    """

    results: pd.DataFrame
    source: str
    files: list[Path] = field(default_factory=list)
    info: dict[str, object] = field(default_factory=dict)


@runtime_checkable
class Executor(Protocol):
    """One round's build and measurement: designs in, a results table out.

    A testbed answers at once (:class:`TestbedExecutor`); a lab adapter writes
    the build files, waits for the measurements and imports them.
    """

    def execute(self, designs: pd.DataFrame, round_index: int) -> Execution: ...


class TestbedExecutor:
    """A :class:`Testbed` as an :class:`Executor`: ``evaluate`` answers the batch."""

    __test__ = False  # not a pytest test class, despite its name

    def __init__(self, testbed: Testbed) -> None:
        self.testbed = testbed

    def execute(self, designs: pd.DataFrame, round_index: int) -> Execution:
        import pandas as pd

        names = self.testbed.space.names
        batch = designs[names].reset_index(drop=True)
        measured = self.testbed.evaluate(batch).reset_index(drop=True)
        if len(measured) != len(batch):
            from biofab.core.errors import InputError

            raise InputError(
                "the testbed answered a different number of designs",
                expected=f"{len(batch)} rows",
                found=len(measured),
            )
        table = pd.concat([batch, measured], axis=1)
        return Execution(table, source=f"testbed:round {round_index}")


class BatchLike(Protocol):
    """A recommended batch: its designs (one row each) and who chose them."""

    designs: pd.DataFrame
    recommender: str
    notes: dict[str, object]


R_contra = TypeVar("R_contra", contravariant=True)


class CampaignLike(Protocol[R_contra]):
    """What the loop runner needs of a campaign (``biofab.campaign.Campaign`` is one).

    ``R_contra`` is the type of recommender its ``recommend`` accepts (for
    ``Campaign``, a :class:`biofab.learn.Recommender`).
    """

    name: str
    space: Space
    objectives: list[Objective]

    def recommend(
        self,
        n: int,
        *,
        recommender: R_contra | None = None,
        candidates: pd.DataFrame | None = None,
        seed: int | None = None,
    ) -> BatchLike: ...

    def ingest(self, source: pd.DataFrame, *, filename: str | None = None) -> object: ...

    def history(self) -> pd.DataFrame: ...
