"""A design space guessed from a table's columns, for the user to read and edit.

``biofab space infer DATA.csv --objective y:max`` turns a table of measured designs
into a space YAML that :meth:`biofab.core.Space.from_yaml` reads:

* a column of numbers becomes ``Continuous(lo, hi)`` with the observed bounds; when its
  distinct values sit on a regular grid (every value is ``lo + k * step``, with at most
  :data:`MAX_GRID` grid points and no more than about twice the observed levels), the
  grid's ``step`` is kept, because a lab's factors usually come from a dispenser's or a
  stock's levels;
* a column of text becomes ``Categorical`` with the observed labels (first-seen order);
* a column taking a single value is left out (it is not varied; the YAML says so);
* objective columns and their ``<objective>_std`` / ``<objective>_n`` columns, and any
  other ``*_std`` column, are never factors.

The loader has no "explicit levels" field, so irregular levels (0.03, 0.1, 0.3 ...)
become bounds without a step and the observed levels are written as a comment beside the
space, for the user to turn into a step or a categorical when that is what they mean.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from biofab.core.errors import InputError
from biofab.core.parameters import Categorical, Continuous, Parameter
from biofab.core.space import Space
from biofab.core.textfile import read_text

#: Most grid points an inferred ``step`` may imply.
MAX_GRID = 200
#: Most distinct values for which a grid is looked for.
MAX_LEVELS_SHOWN = 20
_DECIMALS = 9


@dataclass
class InferredSpace:
    """The inferred :class:`Space` and what the inference saw.

    ``levels`` holds, per numeric parameter with at most :data:`MAX_LEVELS_SHOWN`
    distinct values, those values; ``fixed`` the columns left out because they take a
    single value; ``excluded`` the columns left out as objectives or their spreads.
    """

    space: Space
    levels: dict[str, tuple[float, ...]] = field(default_factory=dict)
    fixed: dict[str, str] = field(default_factory=dict)
    excluded: list[str] = field(default_factory=list)
    rows: int = 0
    source: str | None = None

    def to_yaml(self, objectives: Sequence[str] = ()) -> str:
        """The space YAML, with the observations as comments above it."""
        head = [
            f"# Space inferred by `biofab space infer` from {self.source or 'a table'}"
            f" ({self.rows} rows). Check bounds, steps and units before a campaign."
        ]
        if objectives:
            head.append(f"# Objective(s): {', '.join(objectives)}.")
        for name, values in self.levels.items():
            p = self.space.parameters[name]
            grid = isinstance(p, Continuous) and p.step is not None
            shown = ", ".join(f"{v:g}" for v in values)
            head.append(
                f"# {name}: observed levels {shown}"
                + ("" if grid else " (irregular: no step; bounds only)")
            )
        for name, value in self.fixed.items():
            head.append(f"# left out, one value only: {name} = {value}")
        if self.excluded:
            head.append(f"# left out, objectives and spreads: {', '.join(self.excluded)}")
        body = yaml.safe_dump(self.space.to_dict(), sort_keys=False, allow_unicode=True)
        return "\n".join(head) + "\n" + body


def read_csv_text(path: str | Path) -> pd.DataFrame:
    """Every cell of a CSV as stripped text (empty cells ``""``); one-line errors for an
    unreadable, empty or header-only file and for repeated column names."""
    file = str(path)
    if not Path(path).is_file():
        raise InputError("no such file", file=file, expected="a CSV file")
    text = read_text(path)
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise InputError("empty file", file=file, expected="a header line and rows") from None
    except pd.errors.ParserError as err:
        raise InputError("not a readable CSV file", file=file, found=str(err).strip()) from None
    header = next(csv.reader(io.StringIO(text)), [])
    names = [c.strip() for c in header]
    repeated = [n for i, n in enumerate(names) if n in names[:i]]
    if repeated:
        raise InputError(
            "a column name appears twice",
            file=file,
            column=repeated[0],
            expected="distinct column names",
        )
    if len(names) != len(frame.columns):  # pandas took a column as the index
        raise InputError(
            "rows have more cells than the header",
            file=file,
            expected=f"{len(names)} cells per row, as in the header",
        )
    frame.columns = names
    if frame.empty:
        raise InputError("no data rows", file=file, expected="at least one row under the header")
    return frame.apply(lambda s: s.str.strip())


def numeric_column(frame: pd.DataFrame, column: str, *, file: str | None) -> np.ndarray:
    """A text column as finite floats; InputError naming the first cell that is not one."""
    text = frame[column].astype(str)
    values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(
            "not a number" if text.iloc[i] else "empty cell",
            file=file,
            row=i + 1,
            column=column,
            expected="a finite number",
            found=text.iloc[i],
        )
    return values


def grid_step(values: np.ndarray) -> float | None:
    """The coarsest ``step`` with every value at ``min + k * step`` (k whole), or None when
    the values sit on no grid of at most :data:`MAX_GRID` points that is at most about
    twice as fine as the values themselves."""
    levels = np.unique(np.round(values, _DECIMALS))
    if len(levels) < 2:
        return None
    gaps = np.diff(levels)
    base = float(gaps.min())
    ratios = (levels - levels[0]) / base
    denominator = 1
    for r in ratios:
        frac = Fraction(float(r)).limit_denominator(10)
        if abs(float(frac) - r) > 1e-6 * max(1.0, abs(r)):
            return None
        denominator = denominator * frac.denominator // math.gcd(denominator, frac.denominator)
    step = round(base / denominator, _DECIMALS)
    points = round((levels[-1] - levels[0]) / step) + 1
    if points > MAX_GRID or points > max(2 * len(levels), len(levels) + 10):
        return None
    return step


def infer_space(
    frame: pd.DataFrame,
    objectives: Sequence[str],
    *,
    factors: Sequence[str] | None = None,
    file: str | None = None,
) -> InferredSpace:
    """Infer a space from ``frame`` (cells as text, e.g. from :func:`read_csv_text`).

    ``objectives`` are the objective column names (never factors); ``factors`` chooses
    the factor columns (default: every other column, less ``*_std`` columns and the
    objectives' ``_n`` counts). InputError for a missing column, a chosen factor with one
    value, a numeric column holding text or an empty cell, or no factor left.
    """
    columns = list(frame.columns)
    for name in [*objectives, *(factors or [])]:
        if name not in columns:
            raise InputError("no such column", file=file, column=name, expected=f"one of {columns}")
    spreads = {f"{o}_n" for o in objectives}
    excluded = [c for c in columns if c in objectives or c.endswith("_std") or c in spreads]
    chosen = list(factors) if factors else [c for c in columns if c not in excluded]
    bad = [c for c in chosen if c in objectives or c.endswith("_std")]
    if bad:
        raise InputError(
            "an objective or a *_std column cannot be a factor",
            file=file,
            column=bad[0],
            expected="factor columns only",
        )
    params: dict[str, Parameter] = {}
    levels: dict[str, tuple[float, ...]] = {}
    fixed: dict[str, str] = {}
    for name in chosen:
        text = frame[name].astype(str)
        numbers = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float)
        finite = np.isfinite(numbers)
        if finite.any():  # numeric: every cell must be a number
            values = numeric_column(frame, name, file=file)
            distinct = np.unique(np.round(values, _DECIMALS))
            if len(distinct) < 2:
                if factors:
                    raise InputError(
                        "a factor takes one value only",
                        file=file,
                        column=name,
                        expected="two or more distinct values",
                        found=float(distinct[0]),
                    )
                fixed[name] = f"{float(distinct[0]):g}"
                continue
            step = grid_step(values) if len(distinct) <= MAX_GRID else None
            params[name] = Continuous(float(distinct[0]), float(distinct[-1]), step=step)
            if len(distinct) <= MAX_LEVELS_SHOWN:
                levels[name] = tuple(float(v) for v in distinct)
            continue
        empty = (text == "").to_numpy()
        if empty.any():
            i = int(np.argmax(empty))
            raise InputError(
                "empty cell", file=file, row=i + 1, column=name, expected="a label", found=""
            )
        choices = tuple(dict.fromkeys(text.tolist()))
        if len(choices) < 2:
            if factors:
                raise InputError(
                    "a factor takes one value only",
                    file=file,
                    column=name,
                    expected="two or more distinct values",
                    found=choices[0],
                )
            fixed[name] = choices[0]
            continue
        params[name] = Categorical(choices)
    if not params:
        raise InputError(
            "no factor column varies",
            file=file,
            expected="at least one column besides the objectives with two or more values",
            found=columns,
        )
    return InferredSpace(
        Space(params),
        levels=levels,
        fixed=fixed,
        excluded=[c for c in excluded if c in columns],
        rows=len(frame),
        source=file,
    )
