"""``ReplayTestbed``: a finished campaign replayed as a pool of measured designs.

A recommender that is run against a replay may only pick designs from the pool
(the compositions the original campaign measured); each pick is answered with
the value that was measured for it. This is how a strategy is compared with
random selection or with the campaign's own method on real data, offline.

It lives in the vocabulary (it imports only ``core``) so that a pillar's workflow can
replay its published campaigns; ``biofab.testbeds`` re-exports it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import pandas as pd

from biofab.core.errors import InputError
from biofab.core.objective import Objective
from biofab.core.space import Space


class ReplaySource(Protocol):
    """A finished campaign to replay (e.g. :class:`biofab.cellfree.datasets.ReplayData`):
    its space, one row per measured design, and the objective measured."""

    @property
    def space(self) -> Space: ...

    @property
    def table(self) -> pd.DataFrame: ...

    @property
    def objective(self) -> Objective: ...


class ReplayTestbed:
    """Answers designs of ``table`` with their measured values.

    ``table`` holds one row per design: a column per parameter of ``space``,
    a column per objective and, optionally, ``<objective>_std``. ``evaluate``
    finds each design by its :meth:`Space.keys` identity and returns its
    measured value; a design outside the pool raises :class:`InputError`.

    ``noise > 0`` replays each value with added Gaussian noise of standard
    deviation ``noise × <objective>_std`` of that row (``noise = 1`` redraws a
    reading with the reported replicate spread); without a std column the
    spread of the objective over the pool is used instead. ``seed`` seeds it.
    """

    def __init__(
        self,
        space: Space,
        table: pd.DataFrame,
        objectives: Objective | Sequence[Objective],
        noise: float = 0.0,
        seed: int | None = None,
    ) -> None:
        self.space = space
        self.objectives: list[Objective] = (
            [objectives] if isinstance(objectives, Objective) else list(objectives)
        )
        if not self.objectives:
            raise InputError("a replay needs at least one objective", column="objectives")
        if not noise >= 0:
            raise InputError("noise must be >= 0", column="noise", found=noise)
        self.noise = float(noise)
        self._rng = np.random.default_rng(seed)
        needed = [*space.names, *(o.name for o in self.objectives)]
        missing = [c for c in needed if c not in table.columns]
        if missing:
            raise InputError(
                "missing column in the replay table",
                column=missing[0],
                expected=f"columns {needed}",
                found=list(table.columns),
            )
        self.table = table.reset_index(drop=True)
        keys = space.keys(self.table)
        self._index: dict[str, int] = {}
        for i, key in enumerate(keys):
            if key in self._index:
                raise InputError(
                    "the same design appears twice in the replay table; merge duplicates first",
                    row=i + 1,
                    expected="one row per design",
                    found=f"a repeat of row {self._index[key] + 1}",
                )
            self._index[key] = i
        for o in self.objectives:
            values = pd.to_numeric(self.table[o.name], errors="coerce").to_numpy(dtype=float)
            if not np.isfinite(values).all():
                i = int(np.argmin(np.isfinite(values)))
                raise InputError(
                    "not a finite number",
                    row=i + 1,
                    column=o.name,
                    expected="a number",
                    found=self.table[o.name].iloc[i],
                )
            std_col = f"{o.name}_std"
            if std_col in self.table.columns:
                self.table[std_col] = _spreads(self.table[std_col], std_col)

    @classmethod
    def from_data(
        cls, data: ReplaySource, noise: float = 0.0, seed: int | None = None
    ) -> ReplayTestbed:
        """The replay of a loaded campaign (:func:`biofab.cellfree.load_borkowski` ...)."""
        return cls(data.space, data.table, [data.objective], noise=noise, seed=seed)

    def __len__(self) -> int:
        return len(self.table)

    def pool(self) -> pd.DataFrame:
        """Every design of the pool (parameter columns only), in table order."""
        return self.table[self.space.names].copy()

    def keys(self) -> list[str]:
        """The pool's design keys, in table order."""
        return list(self._index)

    def lookup(self, designs: pd.DataFrame) -> np.ndarray:
        """Row index in ``table`` of each design; InputError for one outside the pool."""
        missing = [n for n in self.space.names if n not in designs.columns]
        if missing:
            raise InputError(
                "missing parameter column",
                column=missing[0],
                expected=f"columns {self.space.names}",
                found=list(designs.columns),
            )
        rows = np.empty(len(designs), dtype=int)
        for i, key in enumerate(self.space.keys(designs)):
            j = self._index.get(key)
            if j is None:
                raise InputError(
                    "design not in the replayed pool",
                    row=i + 1,
                    expected="one of the pool's designs (see pool())",
                    found={n: designs[n].iloc[i] for n in self.space.names},
                )
            rows[i] = j
        return rows

    def evaluate(self, designs: pd.DataFrame) -> pd.DataFrame:
        """Measured ``<objective>`` and ``<objective>_std`` of each design, in order."""
        rows = self.lookup(designs)
        out = pd.DataFrame(index=range(len(rows)))
        for o in self.objectives:
            value = self.table[o.name].to_numpy(dtype=float)[rows]
            std_col = f"{o.name}_std"
            std = (
                self.table[std_col].to_numpy(dtype=float)[rows]
                if std_col in self.table.columns
                else np.full(len(rows), np.nan)
            )
            if self.noise > 0 and len(rows):
                spread = np.where(
                    np.isfinite(std), std, float(self.table[o.name].astype(float).std())
                )
                value = value + self._rng.normal(0.0, 1.0, len(rows)) * self.noise * spread
            out[o.name] = value
            out[std_col] = std
        return out


_MISSING = {"", "nan", "none", "<na>", "na"}


def _spreads(column: pd.Series, name: str) -> pd.Series:
    """A ``_std`` column as floats: empty or NaN cells are missing (NaN); text or a
    negative number is an InputError naming the row, never a bare ``ValueError`` later."""
    text = column.astype(str).str.strip()
    numbers = pd.to_numeric(text, errors="coerce")
    missing = text.str.lower().isin(_MISSING) | column.isna()
    bad = (numbers.isna() & ~missing) | (numbers < 0)
    if bad.any():
        i = int(np.argmax(bad.to_numpy()))
        raise InputError(
            "not a valid spread",
            row=i + 1,
            column=name,
            expected="a number >= 0, or an empty cell for a missing one",
            found=column.iloc[i],
        )
    return numbers.astype(float)
