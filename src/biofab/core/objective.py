"""``Objective``: what a campaign wants of a measured quantity."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from biofab.core.errors import InputError

Direction = Literal["max", "min", "target"]
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")


@dataclass(frozen=True)
class Objective:
    """Maximise, minimise or hit a ``target`` value of the measured ``name``.

    ``weight`` scales the objective when several are combined into one score;
    ``unit`` is the unit measurements of it are reported in.
    """

    name: str
    direction: Direction = "max"
    target: float | None = None
    weight: float = 1.0
    unit: str | None = None

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise InputError(
                "bad objective name", expected="a letter then letters/digits/_", found=self.name
            )
        if self.direction not in ("max", "min", "target"):
            raise InputError(
                "bad objective direction", expected="max, min or target", found=self.direction
            )
        if (self.direction == "target") != (self.target is not None):
            raise InputError(
                "a target objective needs a target value (and only it does)",
                expected="name:target=VALUE",
                found=f"{self.name}:{self.direction}",
            )
        if not self.weight > 0:
            raise InputError("objective weight must be positive", found=self.weight)

    def utility(self, values: np.ndarray) -> np.ndarray:
        """Measured values -> a score where higher is always better."""
        y = np.asarray(values, dtype=float)
        if self.direction == "max":
            return y
        if self.direction == "min":
            return -y
        return -np.abs(y - float(self.target))  # type: ignore[arg-type]

    @classmethod
    def parse(cls, text: str) -> Objective:
        """Parse ``yield:max``, ``cost:min``, ``ph:target=7.0``, optionally ``@2`` for weight."""
        spec, _, weight = text.partition("@")
        name, _, direction = spec.partition(":")
        direction = direction or "max"
        target: float | None = None
        try:
            if direction.startswith("target"):
                _, _, value = direction.partition("=")
                target = float(value)
                direction = "target"
            w = float(weight) if weight else 1.0
        except ValueError:
            raise InputError(
                "cannot read objective", expected="NAME:max|min|target=VALUE[@WEIGHT]", found=text
            ) from None
        return cls(name.strip(), direction, target, w)  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "direction": self.direction,
            "target": self.target,
            "weight": self.weight,
            "unit": self.unit,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Objective:
        return cls(**data)

    def __str__(self) -> str:
        base = f"{self.name}:{self.direction}"
        if self.target is not None:
            base = f"{self.name}:target={self.target:g}"
        return base if self.weight == 1.0 else f"{base}@{self.weight:g}"
