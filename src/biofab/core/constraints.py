"""Constraints that couple parameters: linear inequalities and a shared total.

A ``SumToTotal`` is the cell-free chemist's constraint: component volumes share
one reaction volume and a filler (water) tops it up, so the sum of the listed
volumes may not exceed the total and the filler is what is left.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from biofab.core.errors import SpaceError

if TYPE_CHECKING:
    import pandas as pd

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

    def row(self) -> tuple[dict[str, float], float]:
        """``(coefficients, bound)`` of the inequality ``coefficients . x <= bound``."""
        return dict(self.coefficients), self.rhs

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

    def row(self) -> tuple[dict[str, float], float]:
        """``(coefficients, bound)`` of the inequality ``coefficients . x <= bound``."""
        return {n: 1.0 for n in self.names}, self.total

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


def smallest_lhs(constraint: Constraint, bounds: Mapping[str, tuple[float, float]]) -> float:
    """The least value the constraint's left side takes with each variable in its bounds.

    Exact on a grid too when ``bounds`` are the extreme grid values, because
    each term is minimised on its own at one end of its range.
    """
    coefficients, _ = constraint.row()
    return sum(c * (bounds[n][0] if c >= 0 else bounds[n][1]) for n, c in coefficients.items())


def lp_point(
    constraints: Sequence[Constraint], bounds: Mapping[str, tuple[float, float]]
) -> dict[str, float] | None:
    """A point of the box ``bounds`` satisfying every constraint, or None if there is none.

    An exact check over the continuous box (a linear program with a zero
    objective; SciPy's HiGHS), so None proves the constraints contradict
    each other whatever the grid.
    """
    from scipy.optimize import linprog  # slow to import; only needed for hard cases

    names = sorted({n for c in constraints for n in c.names})
    index = {n: j for j, n in enumerate(names)}
    a = np.zeros((len(constraints), len(names)))
    b = np.zeros(len(constraints))
    for i, c in enumerate(constraints):
        coefficients, bound = c.row()
        for n, v in coefficients.items():
            a[i, index[n]] += v
        b[i] = bound + TOLERANCE * max(1.0, abs(bound))
    res = linprog(
        np.zeros(len(names)), A_ub=a, b_ub=b, bounds=[bounds[n] for n in names], method="highs"
    )
    if res.status != 0:  # 2: infeasible; anything else is no proof of a point either
        return None
    return {n: float(res.x[j]) for n, j in index.items()}


def conflicting(
    constraints: Sequence[Constraint], bounds: Mapping[str, tuple[float, float]]
) -> list[Constraint]:
    """A smallest-by-deletion subset of infeasible ``constraints`` that is still infeasible.

    Drops each constraint in turn and keeps it out when the rest stay
    infeasible (a deletion filter), so the message names only the culprits.
    """
    kept = list(constraints)
    for c in list(kept):
        rest = [k for k in kept if k is not c]
        if rest and lp_point(rest, bounds) is None:
            kept = rest
    return kept


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
