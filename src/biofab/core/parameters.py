"""The kinds of thing a design may vary: numbers on a grid, choices, sequences.

Each parameter knows three views of its values:

* the *value* a scientist writes (µL, mM, a categorical label, a DNA string);
* one *unit coordinate* in [0, 1] used for space-filling sampling and local moves;
* an *encoding* (``width`` columns in [0, 1]) that surrogates learn from.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from biofab.core.errors import SpaceError

# Floats are compared after rounding to this many decimals, so that
# 0.1 + 0.2 lands on the 0.3 grid point a pipette would dispense.
GRID_DECIMALS = 9

_COMPLEMENT = str.maketrans("ACGTUacgtu", "TGCAAtgcaa")


def _round(values: np.ndarray) -> np.ndarray:
    return np.round(values.astype(float), GRID_DECIMALS)


@dataclass(frozen=True)
class Continuous:
    """A real-valued setting between ``lo`` and ``hi`` (inclusive).

    ``step`` puts values on the grid ``lo, lo + step, ...`` (a dispenser's
    droplet or a pipette's resolution); ``log`` samples and encodes on a log
    scale (requires ``lo > 0``); ``unit`` is carried to reports and build plans.
    """

    lo: float
    hi: float
    step: float | None = None
    unit: str | None = None
    log: bool = False
    kind: ClassVar[str] = "continuous"

    def __post_init__(self) -> None:
        if not (math.isfinite(self.lo) and math.isfinite(self.hi)) or self.lo >= self.hi:
            raise SpaceError(
                "bounds must be finite with lo < hi", expected="lo < hi", found=(self.lo, self.hi)
            )
        if self.step is not None and not (0 < self.step <= self.hi - self.lo):
            raise SpaceError(
                "step must be positive and no wider than the range",
                expected=f"0 < step <= {self.hi - self.lo}",
                found=self.step,
            )
        if self.log and self.lo <= 0:
            raise SpaceError(
                "a log-scaled parameter needs lo > 0", expected="lo > 0", found=self.lo
            )

    width: ClassVar[int] = 1

    @property
    def numeric(self) -> bool:
        return True

    def _forward(self, x: np.ndarray) -> np.ndarray:
        if self.log:
            lo, hi = math.log(self.lo), math.log(self.hi)
            return (np.log(np.clip(x, self.lo, self.hi)) - lo) / (hi - lo)
        return (x - self.lo) / (self.hi - self.lo)

    def to_unit(self, values: np.ndarray) -> np.ndarray:
        """Values -> unit coordinate in [0, 1] (log scale when ``log``)."""
        return np.clip(self._forward(np.asarray(values, dtype=float)), 0.0, 1.0)

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        """Unit coordinate -> value on the grid."""
        u = np.clip(np.asarray(u, dtype=float), 0.0, 1.0)
        if self.log:
            lo, hi = math.log(self.lo), math.log(self.hi)
            x = np.exp(lo + u * (hi - lo))
        else:
            x = self.lo + u * (self.hi - self.lo)
        return self.snap(x)

    def encode(self, values: np.ndarray) -> np.ndarray:
        return self.to_unit(values)[:, None]

    def snap(self, values: np.ndarray) -> np.ndarray:
        """Nearest grid value, clipped into bounds."""
        x = np.clip(np.asarray(values, dtype=float), self.lo, self.hi)
        if self.step is not None:
            k = np.round((x - self.lo) / self.step)
            k = np.clip(k, 0, math.floor((self.hi - self.lo) / self.step + 1e-9))
            x = self.lo + k * self.step
        return _round(x)

    def floor(self, values: np.ndarray) -> np.ndarray:
        """Largest grid value not above ``values`` (never below ``lo``)."""
        x = np.clip(np.asarray(values, dtype=float), self.lo, self.hi)
        if self.step is not None:
            x = self.lo + np.floor((x - self.lo) / self.step + 1e-9) * self.step
        return _round(x)

    def problem(self, value: Any) -> tuple[str, str] | None:
        """``(expected, message)`` when ``value`` is not a legal value, else None."""
        try:
            x = float(value)
        except (TypeError, ValueError):
            return ("a number", "not a number")
        if not math.isfinite(x):
            return ("a finite number", "not finite")
        if x < self.lo - 1e-9 or x > self.hi + 1e-9:
            return (f"a value in [{self.lo}, {self.hi}]", "outside the space")
        if self.step is not None:
            k = (x - self.lo) / self.step
            if abs(k - round(k)) > 1e-6:
                return (f"a multiple of step {self.step} from {self.lo}", "off the grid")
        return None

    def coerce(self, values: np.ndarray) -> np.ndarray:
        return _round(np.asarray(values, dtype=float))

    def levels(self) -> np.ndarray | None:
        """All grid values when the grid is finite, else None."""
        if self.step is None:
            return None
        n = math.floor((self.hi - self.lo) / self.step + 1e-9)
        return _round(self.lo + self.step * np.arange(n + 1))

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"type": self.kind, "lo": self.lo, "hi": self.hi}
        if self.step is not None:
            d["step"] = self.step
        if self.unit is not None:
            d["unit"] = self.unit
        if self.log:
            d["log"] = True
        return d


@dataclass(frozen=True)
class Integer(Continuous):
    """A whole number between ``lo`` and ``hi`` (inclusive), on a grid of ``step``."""

    step: float | None = 1
    kind: ClassVar[str] = "integer"

    def __post_init__(self) -> None:
        if float(self.lo) != int(self.lo) or float(self.hi) != int(self.hi):
            raise SpaceError("integer bounds must be whole numbers", found=(self.lo, self.hi))
        if self.step is None or float(self.step) != int(self.step):
            raise SpaceError("integer step must be a whole number", found=self.step)
        super().__post_init__()

    def snap(self, values: np.ndarray) -> np.ndarray:
        return np.round(super().snap(values))

    def problem(self, value: Any) -> tuple[str, str] | None:
        found = super().problem(value)
        if found is None and float(value) != round(float(value)):
            return ("a whole number", "not a whole number")
        return found

    def coerce(self, values: np.ndarray) -> np.ndarray:
        return np.round(np.asarray(values, dtype=float))

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        if d.get("step") == 1:
            del d["step"]
        return d


@dataclass(frozen=True)
class Categorical:
    """One of a fixed list of ``choices`` (strain, buffer, enzyme variant...)."""

    choices: tuple[Any, ...]
    unit: str | None = None
    kind: ClassVar[str] = "categorical"

    def __post_init__(self) -> None:
        object.__setattr__(self, "choices", tuple(self.choices))
        if len(self.choices) < 2:
            raise SpaceError(
                "a categorical parameter needs at least two choices", found=self.choices
            )
        if len(set(map(str, self.choices))) != len(self.choices):
            raise SpaceError("categorical choices must be distinct", found=self.choices)

    @property
    def width(self) -> int:
        return len(self.choices)

    @property
    def numeric(self) -> bool:
        return False

    def _index(self, values: np.ndarray) -> np.ndarray:
        lookup = {str(c): i for i, c in enumerate(self.choices)}
        return np.array([lookup[str(v)] for v in values], dtype=int)

    def to_unit(self, values: np.ndarray) -> np.ndarray:
        return (self._index(values) + 0.5) / len(self.choices)

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        k = np.clip((np.asarray(u) * len(self.choices)).astype(int), 0, len(self.choices) - 1)
        return np.array([self.choices[i] for i in k], dtype=object)

    def encode(self, values: np.ndarray) -> np.ndarray:
        out = np.zeros((len(values), len(self.choices)))
        out[np.arange(len(values)), self._index(values)] = 1.0
        return out

    def snap(self, values: np.ndarray) -> np.ndarray:
        return np.asarray(values, dtype=object)

    def problem(self, value: Any) -> tuple[str, str] | None:
        if str(value) not in {str(c) for c in self.choices}:
            return (f"one of {list(self.choices)}", "not a known choice")
        return None

    def coerce(self, values: np.ndarray) -> np.ndarray:
        lookup = {str(c): c for c in self.choices}
        return np.array([lookup[str(v)] for v in values], dtype=object)

    def levels(self) -> np.ndarray:
        return np.array(self.choices, dtype=object)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"type": self.kind, "choices": list(self.choices)}
        if self.unit is not None:
            d["unit"] = self.unit
        return d


def reverse_complement(seq: str) -> str:
    return seq.translate(_COMPLEMENT)[::-1]


@dataclass(frozen=True)
class Sequence:
    """A biological sequence of fixed ``length`` over ``alphabet``.

    ``fixed`` pins positions (0-based) to a letter; ``forbidden_motifs`` are
    never allowed to appear (for DNA, on either strand: a BsaI site is a BsaI
    site whichever way it reads).
    """

    alphabet: str
    length: int
    fixed: dict[int, str] = field(default_factory=dict)
    forbidden_motifs: tuple[str, ...] = ()
    unit: str | None = None
    kind: ClassVar[str] = "sequence"

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "forbidden_motifs", tuple(m.upper() for m in self.forbidden_motifs)
        )
        object.__setattr__(self, "alphabet", self.alphabet.upper())
        object.__setattr__(self, "fixed", {int(k): str(v).upper() for k, v in self.fixed.items()})
        if len(set(self.alphabet)) != len(self.alphabet) or len(self.alphabet) < 2:
            raise SpaceError("alphabet needs two or more distinct letters", found=self.alphabet)
        if self.length < 1:
            raise SpaceError("sequence length must be positive", found=self.length)
        for pos, letter in self.fixed.items():
            if not 0 <= pos < self.length or letter not in self.alphabet:
                raise SpaceError(
                    "fixed position outside the sequence or letter outside the alphabet",
                    found={pos: letter},
                )

    @property
    def width(self) -> int:
        return self.length * len(self.alphabet)

    @property
    def numeric(self) -> bool:
        return False

    @property
    def is_dna(self) -> bool:
        return set(self.alphabet) <= set("ACGTN")

    def encode(self, values: np.ndarray) -> np.ndarray:
        k = len(self.alphabet)
        index = {c: i for i, c in enumerate(self.alphabet)}
        out = np.zeros((len(values), self.length * k))
        for r, seq in enumerate(values):
            for p, c in enumerate(str(seq).upper()):
                out[r, p * k + index[c]] = 1.0
        return out

    def to_unit(self, values: np.ndarray) -> np.ndarray:
        # A sequence has no meaningful single coordinate; sampling draws letters directly.
        return np.full(len(values), 0.5)

    def random(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` uniformly random sequences that honour ``fixed`` and ``forbidden_motifs``."""
        out: list[str] = []
        letters = np.array(list(self.alphabet))
        tries = 0
        while len(out) < n:
            tries += 1
            if tries > 1000 * max(n, 1):
                raise SpaceError(
                    "cannot draw sequences that avoid every forbidden motif",
                    found=list(self.forbidden_motifs),
                )
            s = letters[rng.integers(0, len(letters), self.length)]
            for pos, c in self.fixed.items():
                s[pos] = c
            seq = "".join(s)
            if self.motif_in(seq) is None:
                out.append(seq)
        return np.array(out, dtype=object)

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        seed = int(np.asarray(u, dtype=float).sum() * 1e6) % (2**32)
        return self.random(len(u), np.random.default_rng(seed))

    def snap(self, values: np.ndarray) -> np.ndarray:
        return np.array([str(v).upper() for v in values], dtype=object)

    def motif_in(self, seq: str) -> str | None:
        """The first forbidden motif found in ``seq`` (either strand for DNA), else None."""
        s = seq.upper()
        rc = reverse_complement(s) if self.is_dna else ""
        for motif in self.forbidden_motifs:
            if re.search(motif, s) or (rc and re.search(motif, rc)):
                return motif
        return None

    def problem(self, value: Any) -> tuple[str, str] | None:
        s = str(value).upper()
        if len(s) != self.length:
            return (f"a sequence of length {self.length}", f"length {len(s)}")
        bad = sorted(set(s) - set(self.alphabet))
        if bad:
            return (f"letters from '{self.alphabet}'", f"letters {bad}")
        for pos, c in self.fixed.items():
            if s[pos] != c:
                return (f"'{c}' at position {pos}", "a fixed position changed")
        motif = self.motif_in(s)
        if motif is not None:
            return ("no forbidden motif", f"contains forbidden motif {motif}")
        return None

    def coerce(self, values: np.ndarray) -> np.ndarray:
        return self.snap(values)

    def levels(self) -> None:
        return None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"type": self.kind, "alphabet": self.alphabet, "length": self.length}
        if self.fixed:
            d["fixed"] = dict(self.fixed)
        if self.forbidden_motifs:
            d["forbidden_motifs"] = list(self.forbidden_motifs)
        if self.unit is not None:
            d["unit"] = self.unit
        return d


Parameter = Continuous | Integer | Categorical | Sequence

_KINDS: dict[str, type] = {
    "continuous": Continuous,
    "integer": Integer,
    "categorical": Categorical,
    "sequence": Sequence,
}


def parameter_from_dict(name: str, spec: Any) -> Parameter:
    """Build a parameter from its YAML mapping; errors name the parameter and field."""
    if not isinstance(spec, dict):
        raise SpaceError(
            "a parameter must be a mapping", column=name, expected="a mapping", found=spec
        )
    kind = spec.get("type", "continuous")
    cls = _KINDS.get(str(kind))
    if cls is None:
        raise SpaceError(
            "unknown parameter type", column=name, expected=f"one of {sorted(_KINDS)}", found=kind
        )
    fields = {k: v for k, v in spec.items() if k != "type"}
    if cls is Categorical and "choices" in fields:
        fields["choices"] = tuple(fields["choices"])
    if cls is Sequence and "forbidden_motifs" in fields:
        fields["forbidden_motifs"] = tuple(fields["forbidden_motifs"])
    try:
        param: Parameter = cls(**fields)
    except SpaceError as err:
        raise SpaceError(err.message, column=name, expected=err.expected, found=err.found) from None
    except TypeError as err:
        raise SpaceError(f"bad fields for a {kind} parameter ({err})", column=name) from None
    return param
