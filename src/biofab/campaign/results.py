"""Reading a results table into validated measurement rows, all or nothing.

A results table has one row per measured design: the space's parameter
columns, one column per objective (its measured value, a mean when
replicated) and optionally ``<objective>_std`` (standard deviation of single
readings) and ``<objective>_n`` (how many readings the value averages; the
noise of the value is then std² / n). Instead of the value, raw replicate
readings may sit in ``<objective>_rep1``, ``<objective>_rep2``, ... (empty
cells are skipped): their mean, sample std and count are stored. Any other
column (a filler such as water, predictions copied from a recommendation,
well names) is kept out of the way, except ``source``: when present, its text
(e.g. ``reads.csv: plate P1 wells A1,B7``) becomes the measurement's provenance
instead of the file name and row.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from biofab.core import DesignError, InputError, Measurement, Objective, Space


@dataclass(frozen=True)
class ResultsFile:
    """A validated results table: its name, content hash and measurement rows."""

    filename: str
    sha256: str
    rows: list[dict[str, Any]]
    n_designs: int


def read_table(path: str | Path) -> tuple[pd.DataFrame, str]:
    """CSV (or TSV by extension) -> (frame of strings, sha256 of the bytes)."""
    p = Path(path)
    if not p.is_file():
        raise InputError("results file not found", file=str(p))
    raw = p.read_bytes()
    sep = "\t" if p.suffix.lower() in {".tsv", ".tab"} else ","
    try:
        frame = pd.read_csv(io.BytesIO(raw), sep=sep, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as err:
        raise InputError(
            "cannot parse as a table", file=str(p), expected="CSV with a header", found=str(err)
        ) from None
    return frame, hashlib.sha256(raw).hexdigest()


def frame_sha256(frame: pd.DataFrame) -> str:
    """Content hash of an in-memory table (so re-ingesting the same frame is a no-op)."""
    return hashlib.sha256(frame.to_csv(index=False).encode()).hexdigest()


def _number(text: Any, *, file: str, row: int, column: str, expected: str) -> float:
    if isinstance(text, str):
        text = text.strip()
    try:
        x = float(text)
    except (TypeError, ValueError):
        raise InputError(
            "not a number", file=file, row=row, column=column, expected=expected, found=text
        ) from None
    if not math.isfinite(x):
        raise InputError(
            "not a finite number", file=file, row=row, column=column, expected=expected, found=text
        )
    return x


def parse_results(
    frame: pd.DataFrame,
    space: Space,
    objectives: list[Objective],
    *,
    filename: str,
    sha256: str,
) -> ResultsFile:
    """Validate a whole results table; raise on the first bad cell, write nothing.

    Rows are numbered from 1 under the header, as a spreadsheet shows them
    (row 1 is the first data row).
    """
    if len(frame) == 0:
        raise InputError("no data rows", file=filename, expected="at least one result")
    names = [o.name for o in objectives]
    missing = [c for c in space.names if c not in frame.columns] + [
        o for o in names if o not in frame.columns and not _replicate_columns(frame, o)
    ]
    if missing:
        raise InputError(
            "missing column",
            file=filename,
            column=missing[0],
            expected=f"columns {space.names + names}",
            found=list(frame.columns),
        )
    params = frame[space.names].copy()
    for name, p in space.parameters.items():
        if p.numeric:
            params[name] = [
                _number(v, file=filename, row=i + 1, column=name, expected="a number")
                for i, v in enumerate(params[name])
            ]
    designs = space.validate(params, file=filename, first_row=1)
    keys = space.keys(designs)
    first_seen: dict[str, int] = {}
    for i, k in enumerate(keys):
        if k in first_seen:
            raise DesignError(
                "duplicate design in one file (give replicates as <objective>_std and _n)",
                file=filename,
                row=i + 1,
                column=",".join(space.names),
                expected="each design once",
                found=f"same as row {first_seen[k] + 1}",
            )
        first_seen[k] = i
    rows: list[dict[str, Any]] = []
    records = designs.to_dict("records")
    for obj in objectives:
        for i, rec in enumerate(records):
            m = _measurement(frame, i, obj, filename)
            rows.append(
                {
                    "key": keys[i],
                    "params": {k: _plain(v) for k, v in rec.items()},
                    "objective": obj.name,
                    "value": m.value,
                    "std": m.std,
                    "n_replicates": m.n,
                    "unit": obj.unit,
                    "source": m.source,
                }
            )
    return ResultsFile(filename, sha256, rows, len(records))


def _replicate_columns(frame: pd.DataFrame, objective: str) -> list[str]:
    pattern = re.compile(rf"^{re.escape(objective)}_rep\d+$")
    return [c for c in frame.columns if pattern.match(str(c))]


def _cell(frame: pd.DataFrame, i: int, column: str) -> str:
    """A cell as text; a missing value (None, NaN from an in-memory frame) is empty."""
    value = frame[column].iloc[i]
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def _measurement(frame: pd.DataFrame, i: int, obj: Objective, filename: str) -> Measurement:
    """Row ``i``'s measurement of ``obj``: from replicate columns when present,
    else from the value column with optional ``_std`` and ``_n``."""
    row = i + 1
    source = f"{Path(filename).name}:row {row}"
    if "source" in frame.columns and _cell(frame, i, "source"):
        source = _cell(frame, i, "source")

    def number(column: str, expected: str = "a number") -> float:
        return _number(
            frame[column].iloc[i], file=filename, row=row, column=column, expected=expected
        )

    reps = [c for c in _replicate_columns(frame, obj.name) if _cell(frame, i, c) != ""]
    if reps:
        return Measurement.of([number(c) for c in reps], unit=obj.unit, source=source)
    std_col, n_col = f"{obj.name}_std", f"{obj.name}_n"
    value = number(obj.name)
    std = None
    if std_col in frame.columns and _cell(frame, i, std_col) != "":
        std = number(std_col, "a number >= 0")
        if std < 0:
            raise InputError(
                "negative std",
                file=filename,
                row=row,
                column=std_col,
                expected="a number >= 0",
                found=std,
            )
    n = 1
    if n_col in frame.columns and _cell(frame, i, n_col) != "":
        n_val = number(n_col, "a whole number >= 1")
        if n_val < 1 or n_val != int(n_val):
            raise InputError(
                "bad replicate count",
                file=filename,
                row=row,
                column=n_col,
                expected="a whole number >= 1",
                found=n_val,
            )
        n = int(n_val)
    return Measurement(value=value, std=std, n_replicates=n, unit=obj.unit, source=source)


def _plain(value: Any) -> Any:
    """numpy scalars -> Python scalars (JSON-safe)."""
    if isinstance(value, np.generic):
        return value.item()
    return value
