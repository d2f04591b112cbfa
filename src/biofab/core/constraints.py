"""Constraints that couple parameters: linear inequalities and a shared total.

A ``SumToTotal`` is the cell-free chemist's constraint: component volumes share
one reaction volume and a filler (water) tops it up, so the sum of the listed
volumes may not exceed the total and the filler is what is left.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from biofab.core.errors import SpaceError

TOLERANCE = 1e-9


@dataclass(frozen=True)
class LinearInequality:
    """``sum(coefficients[name] * x[name]) <= rhs``."""

    coefficients: dict[str, float]
    rhs: float

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.coefficients)

    def lhs(self, designs: pd.DataFrame) -> np.ndarray:
        total = np.zeros(len(designs))
        for name, c in self.coefficients.items():
            total += c * designs[name].to_numpy(dtype=float)
        return total

    def satisfied(self, designs: pd.DataFrame) -> np.ndarray:
        return self.lhs(designs) <= self.rhs + TOLERANCE * max(1.0, abs(self.rhs))

    def describe(self) -> str:
        terms = " + ".join(f"{c:g}*{n}" for n, c in self.coefficients.items())
        return f"{terms} <= {self.rhs:g}"

    def to_dict(self) -> dict[str, Any]:
        return {"type": "linear", "coefficients": dict(self.coefficients), "rhs": self.rhs}


@dataclass(frozen=True)
class SumToTotal:
    """``sum(x[name] for name in names) <= total``; ``filler`` takes the rest.

    The filler appears as a derived column in every design (e.g. the water
    volume a build plan must dispense), always ``>= 0``.
    """

    names: tuple[str, ...]
    total: float
    filler: str | None = "water"

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", tuple(self.names))
        if self.total <= 0 or len(self.names) < 1:
            raise SpaceError(
                "sum-to-total needs components and a positive total",
                found={"names": self.names, "total": self.total},
            )

    def lhs(self, designs: pd.DataFrame) -> np.ndarray:
        return designs[list(self.names)].to_numpy(dtype=float).sum(axis=1)

    def satisfied(self, designs: pd.DataFrame) -> np.ndarray:
        return self.lhs(designs) <= self.total * (1 + TOLERANCE)

    def fill(self, designs: pd.DataFrame) -> np.ndarray:
        return np.round(self.total - self.lhs(designs), 9)

    def describe(self) -> str:
        return f"{' + '.join(self.names)} <= {self.total:g}" + (
            f" ({self.filler} fills the rest)" if self.filler else ""
        )

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"type": "sum_to_total", "names": list(self.names), "total": self.total}
        if self.filler != "water":
            d["filler"] = self.filler
        return d


Constraint = LinearInequality | SumToTotal


def constraint_from_dict(spec: Any, index: int) -> Constraint:
    where = f"constraints[{index}]"
    if not isinstance(spec, dict):
        raise SpaceError("a constraint must be a mapping", column=where, found=spec)
    kind = spec.get("type")
    try:
        if kind == "linear":
            return LinearInequality(
                {str(k): float(v) for k, v in dict(spec["coefficients"]).items()},
                float(spec["rhs"]),
            )
        if kind == "sum_to_total":
            return SumToTotal(
                tuple(spec["names"]), float(spec["total"]), spec.get("filler", "water")
            )
    except (KeyError, TypeError, ValueError) as err:
        raise SpaceError(f"incomplete {kind} constraint ({err})", column=where) from None
    raise SpaceError(
        "unknown constraint type", column=where, expected="'linear' or 'sum_to_total'", found=kind
    )
