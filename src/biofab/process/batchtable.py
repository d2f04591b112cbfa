"""Batch tables for monitoring: ``batch, time_h, variable...`` rows, one file or a folder.

A monitoring table has one row per sample: a ``batch`` column (the run's name), a time
column (``time_h``, or ``time`` in hours from inoculation) and one numeric column per
variable, in any units (the monitor scales each variable by its spread over the good
batches). A folder holds such CSV files (``*.csv``, read in name order); a file without a
``batch`` column is one batch named after the file.

Quality tables (end-of-batch quality for the MPLS prediction) have a ``batch`` column and
one numeric column per quality variable.

Reading rules, each a one-line :class:`~biofab.core.errors.InputError` naming file, row
(data rows from 1), column, expected and found: a missing time column, an empty cell, a
non-numeric value, a repeated column name, time not strictly increasing within a batch,
the same batch in two files, an empty file.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from biofab.core.errors import InputError
from biofab.core.textfile import read_text

__all__ = ["read_batch_table", "read_quality_table"]

TIME_COLUMNS = ("time_h", "time")


def _csv(path: Path) -> pd.DataFrame:
    text = read_text(path)
    header = text.splitlines()[0].split(",") if text.strip() else []
    names = [h.strip() for h in header]
    if not names or not any(names):
        raise InputError("empty file", file=str(path), expected="a CSV with a header row")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InputError("repeated column name", file=str(path), column=repeated[0])
    frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, skipinitialspace=True)
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.empty:
        raise InputError("no data rows", file=str(path), expected="at least one sample")
    return frame


def _numbers(frame: pd.DataFrame, column: str, path: Path) -> np.ndarray:
    raw = frame[column].str.strip()
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            "not a finite number" if raw.iloc[i] else "empty cell",
            file=str(path),
            row=i + 1,
            column=column,
            expected="a number",
            found=raw.iloc[i],
        )
    return values


def _read_file(path: Path) -> dict[str, pd.DataFrame]:
    frame = _csv(path)
    time = next((c for c in TIME_COLUMNS if c in frame.columns), None)
    if time is None:
        raise InputError(
            "missing time column",
            file=str(path),
            column="time_h",
            expected="a column time_h (or time), hours",
            found=", ".join(frame.columns),
        )
    variables = [c for c in frame.columns if c not in ("batch", time)]
    if not variables:
        raise InputError("no variable columns", file=str(path), expected="batch, time_h, VAR...")
    if "batch" in frame.columns:
        names = frame["batch"].str.strip().to_numpy()
        empty = np.flatnonzero(names == "")
        if empty.size:
            raise InputError(
                "empty batch name", file=str(path), row=int(empty[0]) + 1, column="batch"
            )
    else:
        names = np.full(len(frame), path.stem, dtype=object)
    data = pd.DataFrame({"time_h": _numbers(frame, time, path)})
    for v in variables:
        data[v] = _numbers(frame, v, path)
    out: dict[str, pd.DataFrame] = {}
    for name in dict.fromkeys(names):
        rows = np.flatnonzero(names == name)
        t = data["time_h"].to_numpy()[rows]
        step = np.diff(t)
        if (step <= 0).any():
            i = int(np.flatnonzero(step <= 0)[0]) + 1
            raise InputError(
                f"time of batch '{name}' is not strictly increasing",
                file=str(path),
                row=int(rows[i]) + 1,
                column=time,
                expected=f"> {t[i - 1]:g}",
                found=float(t[i]),
            )
        out[str(name)] = data.iloc[rows].reset_index(drop=True)
    return out


def read_batch_table(path: str | Path) -> dict[str, pd.DataFrame]:
    """Batches by name (each a frame of ``time_h`` and the variables) from a CSV file or a
    folder of CSV files."""
    p = Path(path)
    if p.is_dir():
        files = sorted(p.glob("*.csv"))
        if not files:
            raise InputError("folder holds no CSV file", file=str(p), expected="*.csv")
    elif p.is_file():
        files = [p]
    else:
        raise InputError("no such file or folder", file=str(p))
    batches: dict[str, pd.DataFrame] = {}
    for f in files:
        for name, frame in _read_file(f).items():
            if name in batches:
                raise InputError(
                    f"batch '{name}' appears in two files", file=str(f), column="batch"
                )
            batches[name] = frame
    return batches


def read_quality_table(path: str | Path) -> pd.DataFrame:
    """End-of-batch quality indexed by batch name, one column per quality variable."""
    p = Path(path)
    if not p.is_file():
        raise InputError("no such file", file=str(p))
    frame = _csv(p)
    if "batch" not in frame.columns:
        raise InputError(
            "missing column", file=str(p), column="batch", expected="batch, QUALITY..."
        )
    names = frame["batch"].str.strip()
    if names.duplicated().any():
        i = int(np.flatnonzero(names.duplicated().to_numpy())[0])
        raise InputError(
            "batch listed twice", file=str(p), row=i + 1, column="batch", found=names.iloc[i]
        )
    columns = [c for c in frame.columns if c != "batch"]
    if not columns:
        raise InputError("no quality columns", file=str(p), expected="batch, QUALITY...")
    out = pd.DataFrame({c: _numbers(frame, c, p) for c in columns}, index=names.to_numpy())
    out.index.name = "batch"
    return out
