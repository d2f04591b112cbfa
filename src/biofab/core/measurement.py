"""``Measurement``: a measured value with its uncertainty, unit and provenance."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from biofab.core.errors import InputError


@dataclass(frozen=True)
class Measurement:
    """A value (or replicates) of one objective for one design.

    Give ``value`` with an optional ``std`` (standard deviation of single
    readings) and ``n_replicates`` (how many readings ``value`` averages), or
    ``replicates`` from which all three are computed. ``source`` records
    where it came from (a file and row, a plate and well, a testbed).
    """

    value: float | None = None
    std: float | None = None
    replicates: tuple[float, ...] | None = None
    unit: str | None = None
    source: str | None = None
    n_replicates: int = 1

    def __post_init__(self) -> None:
        if self.replicates is not None:
            reps = tuple(float(r) for r in self.replicates)
            if not reps or not all(math.isfinite(r) for r in reps):
                raise InputError("replicates must be finite numbers", found=self.replicates)
            object.__setattr__(self, "replicates", reps)
            if self.value is None:
                object.__setattr__(self, "value", sum(reps) / len(reps))
            if self.std is None and len(reps) > 1:
                mean = sum(reps) / len(reps)
                var = sum((r - mean) ** 2 for r in reps) / (len(reps) - 1)
                object.__setattr__(self, "std", math.sqrt(var))
        if self.value is None or not math.isfinite(float(self.value)):
            raise InputError("a measurement needs a finite value", found=self.value)
        if self.std is not None and (not math.isfinite(self.std) or self.std < 0):
            raise InputError("std must be a non-negative number", found=self.std)
        if self.n_replicates < 1:
            raise InputError("n_replicates must be at least 1", found=self.n_replicates)

    @property
    def n(self) -> int:
        return len(self.replicates) if self.replicates else self.n_replicates

    @property
    def noise_variance(self) -> float | None:
        """Variance of the reported value (std² / n for replicates), or None if unknown."""
        if self.std is None:
            return None
        return self.std**2 / self.n

    @classmethod
    def of(cls, values: Sequence[float], **kwargs: object) -> Measurement:
        """Measurement from replicate values."""
        return cls(replicates=tuple(values), **kwargs)  # type: ignore[arg-type]
