"""``Space``: what may vary in a design, how it is encoded, sampled and checked."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml

from biofab.core.constraints import (
    TOLERANCE,
    Constraint,
    SumToTotal,
    conflicting,
    constraint_from_dict,
    lp_point,
    smallest_lhs,
)
from biofab.core.errors import DesignError, SpaceError
from biofab.core.parameters import Parameter, Sequence, parameter_from_dict
from biofab.core.textfile import read_text

if TYPE_CHECKING:
    import pandas as pd


class Space:
    """Named parameters plus the constraints that couple them.

    >>> space = Space({"mg": Continuous(0, 12, step=0.5, unit="mM"),
    ...                "strain": Categorical(["BL21", "K12"])})
    """

    def __init__(
        self, parameters: Mapping[str, Parameter], constraints: Iterable[Constraint] = ()
    ) -> None:
        if not parameters:
            raise SpaceError("a space needs at least one parameter")
        self.parameters: dict[str, Parameter] = dict(parameters)
        self.constraints: list[Constraint] = list(constraints)
        for c in self.constraints:
            for name in c.names:
                p = self.parameters.get(name)
                if p is None or not p.numeric:
                    raise SpaceError(
                        "a constraint names an unknown or non-numeric parameter",
                        column=name,
                        expected=f"one of the numeric parameters {self.numeric_names}",
                        found=name,
                    )
        self._require_feasible()

    # -- description -------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return list(self.parameters)

    @property
    def numeric_names(self) -> list[str]:
        return [n for n, p in self.parameters.items() if p.numeric]

    @property
    def fillers(self) -> list[str]:
        """Derived columns (water and other fillers) that designs carry."""
        return [c.filler for c in self.constraints if isinstance(c, SumToTotal) and c.filler]

    @property
    def width(self) -> int:
        """Number of encoded columns a surrogate sees."""
        return sum(p.width for p in self.parameters.values())

    def encoded_names(self) -> list[str]:
        out: list[str] = []
        for name, p in self.parameters.items():
            if p.width == 1:
                out.append(name)
            elif isinstance(p, Sequence):
                out += [f"{name}[{i}]={a}" for i in range(p.length) for a in p.alphabet]
            else:
                out += [f"{name}={c}" for c in p.levels()]  # type: ignore[union-attr]
        return out

    def encoded_groups(self) -> dict[str, list[int]]:
        """Encoded column indices of each parameter (for per-parameter importance)."""
        groups: dict[str, list[int]] = {}
        start = 0
        for name, p in self.parameters.items():
            groups[name] = list(range(start, start + p.width))
            start += p.width
        return groups

    def __repr__(self) -> str:
        body = ", ".join(f"{n}={p!r}" for n, p in self.parameters.items())
        return f"Space({body}, constraints={self.constraints!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Space) and self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    # -- encoding ------------------------------------------------------------
    def encode(self, designs: pd.DataFrame) -> np.ndarray:
        """Designs -> array ``(n, width)`` in [0, 1]: unit-scaled numbers, one-hot labels."""
        if len(designs) == 0:
            return np.zeros((0, self.width))
        blocks = [p.encode(designs[n].to_numpy()) for n, p in self.parameters.items()]
        return np.hstack(blocks)

    def to_unit(self, designs: pd.DataFrame) -> np.ndarray:
        """Designs -> one coordinate per parameter in [0, 1], shape ``(n, len(names))``."""
        cols = [p.to_unit(designs[n].to_numpy()) for n, p in self.parameters.items()]
        return np.column_stack(cols) if cols else np.zeros((len(designs), 0))

    def from_unit(self, u: np.ndarray, rng: np.random.Generator | None = None) -> pd.DataFrame:
        """Unit coordinates ``(n, len(names))`` -> snapped designs (constraints not yet applied)."""
        import pandas as pd

        rng = rng or np.random.default_rng(0)
        data: dict[str, Any] = {}
        for j, (name, p) in enumerate(self.parameters.items()):
            if isinstance(p, Sequence):
                data[name] = p.random(len(u), rng)
            else:
                data[name] = p.from_unit(u[:, j])
        return pd.DataFrame(data)

    # -- constraints ---------------------------------------------------------
    def feasible(self, designs: pd.DataFrame) -> np.ndarray:
        """Boolean mask of designs that satisfy every constraint."""
        ok = np.ones(len(designs), dtype=bool)
        for c in self.constraints:
            ok &= c.satisfied(designs)
        return ok

    def repair(self, designs: pd.DataFrame) -> pd.DataFrame:
        """Shrink components that overflow a shared total back inside it, on the grid.

        Over-full mixes are scaled down proportionally and then rounded *down*
        to each component's grid, so the result never overflows the total.
        """
        out = designs.copy()
        for c in self.constraints:
            if not isinstance(c, SumToTotal):
                continue
            lhs = c.lhs(out)
            over = lhs > c.total
            if not over.any():
                continue
            scale = np.where(over, c.total / np.where(lhs > 0, lhs, 1.0), 1.0)
            for name in c.names:
                p = self.parameters[name]
                vals = out[name].to_numpy(dtype=float) * scale
                out[name] = np.where(over, p.floor(vals), out[name].to_numpy(dtype=float))  # type: ignore[union-attr]
        return out

    def complete(self, designs: pd.DataFrame) -> pd.DataFrame:
        """Designs with the filler columns (water...) computed; parameters first."""
        out = designs[self.names].copy()
        for c in self.constraints:
            if isinstance(c, SumToTotal) and c.filler:
                out[c.filler] = c.fill(out)
        return out.reset_index(drop=True)

    def _require_feasible(self) -> None:
        """Refuse constraints that no design on the grid can satisfy.

        Cheap checks first, so that an ordinary space costs a millisecond:
        a constraint whose smallest value inside the bounds already breaks it
        (exact, grid included), then a few hundred random grid designs (with
        the usual repair of over-full mixes). Only when none of them is
        feasible does a linear program decide: no point of the box at all
        names the conflicting constraints; a box point whose grid neighbours
        all fail means "no design on the grid".
        """
        if not self.constraints:
            return
        bounds = self._grid_bounds()
        for c in self.constraints:
            least = smallest_lhs(c, bounds)
            _, bound = c.row()
            if least > bound + TOLERANCE * max(1.0, abs(bound)):
                raise SpaceError(
                    "constraint cannot hold inside the parameter bounds",
                    column=",".join(c.names),
                    expected=c.describe(),
                    found=f"smallest value {least:g} within the bounds",
                )
        rng = np.random.default_rng(0)
        d = len(self.parameters)
        u = np.vstack([np.zeros((1, d)), np.full((1, d), 0.5), rng.random((256, d))])
        if self._any_feasible(u, rng):
            return
        point = lp_point(self.constraints, bounds)
        if point is None:
            culprits = conflicting(self.constraints, bounds)
            raise SpaceError(
                "constraints contradict each other: no design satisfies them all",
                column=",".join(dict.fromkeys(n for c in culprits for n in c.names)),
                expected="constraints that some design within the bounds meets",
                found="; ".join(c.describe() for c in culprits),
            )
        # Grid designs near the box point: snapped, floored, and jittered.
        centre = np.full(d, 0.5)
        for j, (name, p) in enumerate(self.parameters.items()):
            if name in point:
                centre[j] = float(p.to_unit(np.array([point[name]]))[0])
        jitter = np.clip(centre + rng.normal(0, 0.05, (512, d)), 0, 1)
        if self._any_feasible(np.vstack([centre, jitter]), rng):
            return
        floored = self.from_unit(centre[None, :], rng)
        for name in point:
            p = self.parameters[name]
            floored[name] = p.floor(np.array([point[name]]))  # type: ignore[union-attr]
        if self.feasible(self.repair(floored)).any():
            return
        raise SpaceError(
            "no design on the grid satisfies the constraints",
            column=",".join(dict.fromkeys(n for c in self.constraints for n in c.names)),
            expected="grid steps fine enough to meet the constraints",
            found="; ".join(c.describe() for c in self.constraints),
        )

    def _grid_bounds(self) -> dict[str, tuple[float, float]]:
        """Smallest and largest grid value of each numeric parameter."""
        out: dict[str, tuple[float, float]] = {}
        for name, p in self.parameters.items():
            if p.numeric:
                lo, hi = p.lo, p.hi  # type: ignore[union-attr]
                top = float(p.floor(np.array([hi]))[0])  # type: ignore[union-attr]
                out[name] = (float(lo), top)
        return out

    def _any_feasible(self, u: np.ndarray, rng: np.random.Generator) -> bool:
        cand = self.repair(self.from_unit(u, rng))
        return bool(self.feasible(cand).any())

    # -- sampling ------------------------------------------------------------
    def sample(
        self,
        n: int,
        seed: int | None = None,
        method: str = "sobol",
        exclude: Iterable[str] = (),
    ) -> pd.DataFrame:
        """``n`` distinct feasible designs on the grid, space-filling.

        ``method`` is ``"sobol"`` (scrambled Sobol), ``"lhs"`` (Latin hypercube)
        or ``"random"``. Designs whose :meth:`key` is in ``exclude`` are skipped.
        Fewer than ``n`` come back only when the space holds fewer.
        """
        import pandas as pd

        # SciPy's stats package is slow to import; only sampling needs it.
        from scipy.stats import qmc

        rng = np.random.default_rng(seed)
        seen = set(exclude)
        chosen: list[pd.DataFrame] = []
        count = 0
        stale = 0
        d = len(self.parameters)
        batch = max(64, 2 * n)
        # Stop when the space looks exhausted: several draws in a row add nothing new.
        while count < n and stale < 4:
            if method == "sobol":
                m = int(np.ceil(np.log2(batch)))
                u = qmc.Sobol(d, scramble=True, seed=rng).random_base2(m)
            elif method == "lhs":
                u = qmc.LatinHypercube(d, seed=rng).random(batch)
            elif method == "random":
                u = rng.random((batch, d))
            else:
                raise SpaceError(
                    "unknown sampling method", expected="sobol, lhs or random", found=method
                )
            cand = self.repair(self.from_unit(u, rng))
            cand = cand[self.feasible(cand)]
            keep = []
            for i, k in enumerate(self.keys(cand)):
                if k not in seen:
                    seen.add(k)
                    keep.append(i)
            if keep:
                chosen.append(cand.iloc[keep])
                count += len(keep)
                stale = 0
            else:
                stale += 1
            batch = min(batch * 2, 1 << 16)
        if not chosen:
            return self.complete(pd.DataFrame({name: [] for name in self.names}))
        out = pd.concat(chosen, ignore_index=True).iloc[:n]
        return self.complete(out)

    def neighbours(
        self, designs: pd.DataFrame, n: int, scale: float, rng: np.random.Generator
    ) -> pd.DataFrame:
        """``n`` random local moves around ``designs`` (Gaussian in unit space).

        Each move changes a random subset of parameters; categorical values
        switch to a random other choice and sequences mutate one letter.
        """
        if len(designs) == 0:
            return designs.iloc[:0]
        base = designs.iloc[rng.integers(0, len(designs), n)].reset_index(drop=True)
        u = self.to_unit(base)
        d = u.shape[1]
        change = rng.random((n, d)) < max(1.0 / d, 0.3)
        change[np.arange(n), rng.integers(0, d, n)] = True
        u = np.where(change, np.clip(u + rng.normal(0, scale, u.shape), 0, 1), u)
        moved = self.from_unit(u, rng)
        out = base.copy()
        for j, (name, p) in enumerate(self.parameters.items()):
            if isinstance(p, Sequence):
                out[name] = [
                    _mutate(s, p, rng) if change[i, j] else s for i, s in enumerate(base[name])
                ]
            elif p.numeric:
                out[name] = np.where(change[:, j], moved[name], base[name].to_numpy(dtype=float))
            else:
                out[name] = np.where(change[:, j], moved[name].to_numpy(), base[name].to_numpy())
        out = self.repair(out)
        return self.complete(out[self.feasible(out)])

    # -- identity and validation --------------------------------------------
    def keys(self, designs: pd.DataFrame) -> list[str]:
        """Canonical identity of each design (same values -> same key)."""
        cols = []
        for name, p in self.parameters.items():
            vals = designs[name].to_numpy()
            if p.numeric:
                cols.append([f"{float(v):.9g}" for v in vals])
            else:
                cols.append([str(v) for v in vals])
        rows = zip(*cols, strict=True) if cols else iter([])
        return [
            hashlib.sha1(json.dumps(list(r), separators=(",", ":")).encode()).hexdigest()[:20]
            for r in rows
        ]

    def validate(
        self, designs: pd.DataFrame, *, file: str | None = None, first_row: int = 1
    ) -> pd.DataFrame:
        """Check every value and constraint; return designs with typed, canonical values.

        Raises :class:`DesignError` naming the first bad file, row and column.
        Rows are numbered from ``first_row`` (1 = first data row under a header).
        """
        missing = [n for n in self.names if n not in designs.columns]
        if missing:
            raise DesignError(
                "missing parameter column",
                file=file,
                column=missing[0],
                expected=f"columns {self.names}",
                found=list(designs.columns),
            )
        for name, p in self.parameters.items():
            for i, v in enumerate(designs[name].to_numpy()):
                if v is None or (isinstance(v, float) and np.isnan(v)):
                    raise DesignError(
                        "empty value",
                        file=file,
                        row=i + first_row,
                        column=name,
                        expected="a value",
                        found="",
                    )
                issue = p.problem(v)
                if issue is not None:
                    expected, message = issue
                    raise DesignError(
                        message,
                        file=file,
                        row=i + first_row,
                        column=name,
                        expected=expected,
                        found=v,
                    )
        out = designs[self.names].copy()
        for name, p in self.parameters.items():
            out[name] = p.coerce(out[name].to_numpy())
        for c in self.constraints:
            ok = c.satisfied(out)
            if not ok.all():
                i = int(np.argmin(ok))
                raise DesignError(
                    "design breaks a constraint",
                    file=file,
                    row=i + first_row,
                    column=",".join(c.names),
                    expected=c.describe(),
                    found=float(c.lhs(out.iloc[[i]])[0]),
                )
        return out.reset_index(drop=True)

    # -- persistence ---------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"parameters": {n: p.to_dict() for n, p in self.parameters.items()}}
        if self.constraints:
            d["constraints"] = [c.to_dict() for c in self.constraints]
        return d

    @classmethod
    def from_dict(cls, data: Any, *, file: str | None = None) -> Space:
        if not isinstance(data, dict) or not isinstance(data.get("parameters"), dict):
            raise SpaceError(
                "a space needs a 'parameters' mapping",
                file=file,
                expected="parameters: {name: {type: ..., ...}}",
                found=type(data).__name__ if not isinstance(data, dict) else list(data),
            )
        try:
            params = {str(n): parameter_from_dict(str(n), s) for n, s in data["parameters"].items()}
            raw = data.get("constraints") or []
            if not isinstance(raw, list):
                raise SpaceError("'constraints' must be a list", found=raw)
            constraints = [constraint_from_dict(c, i) for i, c in enumerate(raw)]
            return cls(params, constraints)
        except SpaceError as err:
            if file is None or err.file is not None:
                raise
            raise SpaceError(
                err.message, file=file, column=err.column, expected=err.expected, found=err.found
            ) from None

    def to_yaml(self, path: str | Path | None = None) -> str:
        text = yaml.safe_dump(self.to_dict(), sort_keys=False)
        if path is not None:
            Path(path).write_text(text)
        return text

    @classmethod
    def from_yaml(cls, source: str | Path) -> Space:
        """Load from a YAML file path (or YAML text when ``source`` is not a file)."""
        file: str | None = None
        text = str(source)
        path = Path(text)
        if isinstance(source, Path) or (len(text) < 4096 and "\n" not in text):
            if not path.is_file():
                raise SpaceError("space file not found", file=text)
            file, text = str(path), read_text(path)
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as err:
            line = getattr(getattr(err, "problem_mark", None), "line", None)
            raise SpaceError(
                "malformed YAML",
                file=file,
                row=None if line is None else line + 1,
                expected="valid YAML",
                found=str(getattr(err, "problem", err)),
            ) from None
        return cls.from_dict(data, file=file)


def _mutate(seq: str, p: Sequence, rng: np.random.Generator) -> str:
    free = [i for i in range(p.length) if i not in p.fixed]
    for _ in range(20):
        s = list(seq)
        pos = free[rng.integers(0, len(free))]
        s[pos] = p.alphabet[rng.integers(0, len(p.alphabet))]
        out = "".join(s)
        if out != seq and p.motif_in(out) is None:
            return out
    return seq
