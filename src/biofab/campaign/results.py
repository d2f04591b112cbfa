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

Every measured number (value, std, count, replicate reading) must be finite
and no larger in magnitude than :data:`MAX_MAGNITUDE`; a column name may
appear only once.

Large files are read in chunks (:func:`iter_table`) and validated chunk by
chunk by a :class:`ResultsParser`, which also computes the table's *content
digest*: the identity of an import (see :meth:`ResultsParser.hexdigest`).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from biofab.core import DesignError, InputError, Measurement, Objective, Space

if TYPE_CHECKING:
    import pandas as pd

#: Largest magnitude accepted for a measured number (objective value, ``_std``,
#: ``_n``, replicate reading). Real readouts (g/L, RFU, raw counts) stay far
#: below it; the ±1e300 placeholders and overflowed exports that would wreck a
#: surrogate's scaling do not. Parameters need no such bound: the space's
#: ranges already hold them.
MAX_MAGNITUDE = 1e15

#: Data rows per chunk when a results table is streamed.
CHUNK_ROWS = 50_000

# Version tag of the content digest, so a later change of the canonical form
# can never collide with digests already stored.
_DIGEST_TAG = b"biofab-results-v1\n"


@dataclass(frozen=True)
class ResultsFile:
    """A validated results table: its name, content hash and measurement rows."""

    filename: str
    sha256: str
    rows: list[dict[str, Any]]
    n_designs: int


# ------------------------------------------------------------------ reading


def _separator(path: Path) -> str:
    return "\t" if path.suffix.lower() in {".tsv", ".tab"} else ","


def _parse_failed(file: str, err: Exception) -> InputError:
    return InputError(
        "cannot parse as a table", file=file, expected="CSV with a header", found=str(err)
    )


def check_columns(names: Sequence[Any], *, file: str) -> None:
    """Refuse a header that names one column twice (a reader would drop or rename one).

    Names are compared without surrounding blanks; empty names are left to the reader.
    """
    first: dict[str, int] = {}
    for i, name in enumerate(names, start=1):
        key = str(name).strip()
        if not key:
            continue
        if key in first:
            raise InputError(
                "duplicated column",
                file=file,
                column=key,
                expected="each column name once",
                found=f"columns {first[key]} and {i}",
            )
        first[key] = i


def _header(source: Path | io.BytesIO, sep: str, file: str) -> list[str]:
    """The header line's names exactly as written (pandas would rename a repeat ``x.1``)."""
    import pandas as pd

    try:
        head = pd.read_csv(source, sep=sep, header=None, nrows=1, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as err:
        raise _parse_failed(file, err) from None
    return [str(v) for v in head.iloc[0]] if len(head) else []


def read_table(path: str | Path) -> tuple[pd.DataFrame, str]:
    """CSV (or TSV by extension) -> (frame of strings, sha256 of the bytes).

    The whole table in memory: for candidate lists and small tables. Results
    are streamed with :func:`iter_table` instead.
    """
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise InputError("results file not found", file=str(p))
    raw = p.read_bytes()
    sep = _separator(p)
    check_columns(_header(io.BytesIO(raw), sep, str(p)), file=str(p))
    try:
        frame = pd.read_csv(io.BytesIO(raw), sep=sep, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as err:
        raise _parse_failed(str(p), err) from None
    return frame, hashlib.sha256(raw).hexdigest()


def iter_table(path: str | Path, chunk_rows: int = CHUNK_ROWS) -> Iterator[pd.DataFrame]:
    """Stream a CSV (or TSV by extension) as frames of strings of ``chunk_rows`` rows.

    The header is checked before the first chunk; a parse error anywhere in
    the file is raised as ``InputError`` when its chunk is reached.
    """
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise InputError("results file not found", file=str(p))
    if chunk_rows < 1:
        raise InputError("chunk size must be at least 1 row", found=chunk_rows)
    sep = _separator(p)
    check_columns(_header(p, sep, str(p)), file=str(p))
    try:
        with pd.read_csv(
            p, sep=sep, dtype=str, keep_default_na=False, chunksize=chunk_rows
        ) as reader:
            yield from reader
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as err:
        raise _parse_failed(str(p), err) from None


def frame_sha256(frame: pd.DataFrame) -> str:
    """Hash of an in-memory table's CSV text (kept for callers; imports use the content digest)."""
    return hashlib.sha256(frame.to_csv(index=False).encode()).hexdigest()


# ------------------------------------------------------------------ numbers


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


def _numbers(
    frame: pd.DataFrame,
    column: str,
    *,
    file: str,
    first_row: int,
    expected: str,
    required: np.ndarray | bool = True,
    bound: float | None = MAX_MAGNITUDE,
) -> np.ndarray:
    """A column as floats; NaN marks an empty cell where none is ``required``.

    ``required`` is a boolean per row (or one for all). Raises on the first
    cell that is not a finite number, or (with ``bound``) is beyond ``±bound``.
    """
    import pandas as pd

    series = frame[column]
    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series):
        x = series.to_numpy(dtype=float, na_value=np.nan)
        empty = np.isnan(x)
    else:
        text = series.astype("string").str.strip()
        empty = (text.isna() | (text == "")).to_numpy(dtype=bool, na_value=True)
        x = pd.to_numeric(text.where(~empty).astype(object), errors="coerce").to_numpy(float)
    need = np.broadcast_to(np.asarray(required, dtype=bool), empty.shape)
    bad = (~np.isfinite(x) & ~empty) | (empty & need)
    for bad_at in np.flatnonzero(bad).tolist():
        # The fast parser is stricter than float(); the scalar check names the
        # problem exactly (or accepts a spelling such as "1_000").
        x[bad_at] = _number(
            series.iloc[bad_at], file=file, row=first_row + bad_at, column=column, expected=expected
        )
    if bound is not None:
        over = np.flatnonzero(np.abs(np.where(np.isnan(x), 0.0, x)) > bound).tolist()
        if over:
            raise InputError(
                "number beyond the accepted magnitude",
                file=file,
                row=first_row + over[0],
                column=column,
                expected=f"{expected} with |x| <= {bound:g}",
                found=series.iloc[over[0]],
            )
    return x


def _texts(frame: pd.DataFrame, column: str) -> list[str]:
    """A column as stripped text; a missing value (None, NaN from a frame) is empty."""
    text = frame[column].astype("string").str.strip().fillna("")
    return [str(t) for t in text]


# ------------------------------------------------------------------ parsing


class ResultsParser:
    """Validates a results table chunk by chunk and computes its content digest.

    One parser reads one table: the chunks of a file in order, or a whole
    in-memory frame as one chunk. It remembers each design's first row, so a
    design repeated anywhere in the table is refused (unless
    ``check_repeats=False``, for a table already checked), and the digest of
    every row so far (32 bytes a measurement).
    """

    def __init__(
        self,
        space: Space,
        objectives: Sequence[Objective],
        filename: str,
        *,
        check_repeats: bool = True,
    ) -> None:
        self.space = space
        self.check_repeats = check_repeats
        self.objectives = list(objectives)
        self.filename = filename
        self.n_rows = 0
        self._first_seen: dict[int, int] = {}  # design key (as int) -> its row
        self._digests: list[np.ndarray] = []
        self._columns_checked = False

    def _check_columns(self, frame: pd.DataFrame) -> None:
        check_columns(list(frame.columns), file=self.filename)
        names = [o.name for o in self.objectives]
        missing = [c for c in self.space.names if c not in frame.columns] + [
            o for o in names if o not in frame.columns and not _replicate_columns(frame, o)
        ]
        if missing:
            raise InputError(
                "missing column",
                file=self.filename,
                column=missing[0],
                expected=f"columns {self.space.names + names}",
                found=list(frame.columns),
            )
        self._columns_checked = True

    def parse(self, frame: pd.DataFrame) -> list[dict[str, Any]]:
        """The next chunk's measurement rows (see ``biofab.store.IngestRow``).

        Rows are numbered from 1 under the header across all chunks, as a
        spreadsheet shows them. Raises on the first bad cell.
        """
        if not self._columns_checked:
            self._check_columns(frame)
        frame = frame.reset_index(drop=True)
        first_row = self.n_rows + 1
        file = self.filename
        params = frame[self.space.names].copy()
        for name, p in self.space.parameters.items():
            if p.numeric:
                params[name] = _numbers(
                    frame, name, file=file, first_row=first_row, expected="a number", bound=None
                )
        designs = self.space.validate(params, file=file, first_row=first_row)
        keys = self.space.keys(designs)
        if self.check_repeats:
            self._check_repeats(keys, first_row)
        explicit = _texts(frame, "source") if "source" in frame.columns else [""] * len(frame)
        default = Path(file).name
        sources = [e or f"{default}:row {first_row + i}" for i, e in enumerate(explicit)]
        records = designs.to_dict("records")
        params_list = [{k: _plain(v) for k, v in rec.items()} for rec in records]
        rows: list[dict[str, Any]] = []
        canon: list[bytes] = []
        for obj in self.objectives:
            values, stds, counts = _measurements(frame, obj, file, first_row)
            for i in range(len(frame)):
                rows.append(
                    {
                        "key": keys[i],
                        "params": params_list[i],
                        "objective": obj.name,
                        "value": values[i],
                        "std": stds[i],
                        "n_replicates": counts[i],
                        "unit": obj.unit,
                        "source": sources[i],
                    }
                )
                canon.append(
                    _row_digest(keys[i], obj.name, values[i], stds[i], counts[i], explicit[i])
                )
        if canon:
            self._digests.append(np.frombuffer(b"".join(canon), dtype="S32"))
        self.n_rows += len(frame)
        return rows

    def _rep_hint(self, std: bool = False) -> str:
        """How replicates are written, with the first objective's name: its ``_rep1,
        _rep2, ...`` reading columns, or (``std``) its ``_std`` and ``_n`` columns."""
        name = self.objectives[0].name if self.objectives else "<objective>"
        return f"{name}_std and {name}_n" if std else f"{name}_rep1, {name}_rep2, ..."

    def _check_repeats(self, keys: list[str], first_row: int) -> None:
        seen = self._first_seen
        for i, k in enumerate(keys):
            ident = int(k, 16)
            if ident in seen:
                raise DesignError(
                    "duplicate design in one file (give replicates on one row: the readings "
                    f"as {self._rep_hint()}, or their mean with {self._rep_hint(std=True)})",
                    file=self.filename,
                    row=first_row + i,
                    column=",".join(self.space.names),
                    expected="each design once",
                    found=f"same as row {seen[ident]}",
                )
            seen[ident] = first_row + i

    @property
    def n_designs(self) -> int:
        return len(self._first_seen)

    def hexdigest(self) -> str:
        """The content digest of every row parsed so far (64 hex digits).

        SHA-256 over the sorted per-measurement digests of (design key,
        objective, value and std to 12 significant digits, replicate count,
        ``source`` column text if given). It ignores the file name, row order,
        column order, CSV quoting and number spelling (``1.50`` = ``1.5``) and
        columns the import does not read, so the same measurements saved again
        under another name are recognised as one import.
        """
        all_rows = np.concatenate(self._digests) if self._digests else np.zeros(0, "S32")
        h = hashlib.sha256(_DIGEST_TAG)
        h.update(np.sort(all_rows).tobytes())
        return h.hexdigest()


def _row_digest(
    key: str, objective: str, value: float, std: float | None, n: int, source: str
) -> bytes:
    std_text = "" if std is None else f"{std:.12g}"
    canon = json.dumps([key, objective, f"{value:.12g}", std_text, n, source])
    return hashlib.sha256(canon.encode()).digest()


def _measurements(
    frame: pd.DataFrame, obj: Objective, file: str, first_row: int
) -> tuple[list[float], list[float | None], list[int]]:
    """Per row of ``frame``: value, std (None if unknown) and replicate count of ``obj``.

    From replicate columns where a row has readings there, else from the
    value column with optional ``_std`` and ``_n``.
    """
    n = len(frame)
    rep_cols = _replicate_columns(frame, obj.name)
    readings = np.full((n, len(rep_cols)), np.nan)
    for j, c in enumerate(rep_cols):
        readings[:, j] = _numbers(
            frame, c, file=file, first_row=first_row, expected="a number", required=False
        )
    from_reps = ~np.isnan(readings).all(axis=1) if rep_cols else np.zeros(n, dtype=bool)
    plain = ~from_reps
    if plain.any() and obj.name not in frame.columns:
        i = int(np.argmax(plain))
        raise InputError(
            "no value and no replicate readings",
            file=file,
            row=first_row + i,
            column=obj.name,
            expected=f"a value or readings in {rep_cols}",
            found="",
        )
    values = np.full(n, np.nan)
    stds = np.full(n, np.nan)
    counts = np.ones(n, dtype=np.int64)
    if plain.any():
        values = _numbers(
            frame, obj.name, file=file, first_row=first_row, expected="a number", required=plain
        )
        std_col, n_col = f"{obj.name}_std", f"{obj.name}_n"
        if std_col in frame.columns:
            stds = _numbers(
                frame,
                std_col,
                file=file,
                first_row=first_row,
                expected="a number >= 0",
                required=False,
            )
            _refuse(
                stds < 0, plain, "negative std", file, first_row, std_col, "a number >= 0", stds
            )
        if n_col in frame.columns:
            raw = _numbers(
                frame,
                n_col,
                file=file,
                first_row=first_row,
                expected="a whole number >= 1",
                required=False,
            )
            whole = np.isnan(raw) | ((raw >= 1) & (raw == np.floor(raw)))
            _refuse(
                ~whole,
                plain,
                "bad replicate count",
                file,
                first_row,
                n_col,
                "a whole number >= 1",
                raw,
            )
            counts = np.where(np.isnan(raw), 1, raw).astype(np.int64)
        stds = np.where(plain, stds, np.nan)
    out_values = values.tolist()
    out_stds: list[float | None] = [None if math.isnan(s) else s for s in stds.tolist()]
    out_counts = counts.tolist()
    for i in np.flatnonzero(from_reps).tolist():
        m = Measurement.of([r for r in readings[i] if not math.isnan(r)], unit=obj.unit)
        out_values[i], out_stds[i], out_counts[i] = float(m.value or 0.0), m.std, m.n
    return out_values, out_stds, out_counts


def _refuse(
    wrong: np.ndarray,
    where: np.ndarray,
    message: str,
    file: str,
    first_row: int,
    column: str,
    expected: str,
    values: np.ndarray,
) -> None:
    hits = np.flatnonzero(wrong & where)
    if len(hits):
        i = int(hits[0])
        raise InputError(
            message,
            file=file,
            row=first_row + i,
            column=column,
            expected=expected,
            found=float(values[i]),
        )


def parse_results(
    frame: pd.DataFrame,
    space: Space,
    objectives: list[Objective],
    *,
    filename: str,
    sha256: str | None = None,
) -> ResultsFile:
    """Validate a whole in-memory results table; raise on the first bad cell, write nothing.

    Rows are numbered from 1 under the header, as a spreadsheet shows them
    (row 1 is the first data row). ``sha256`` defaults to the table's content
    digest (:meth:`ResultsParser.hexdigest`).
    """
    if len(frame) == 0:
        raise InputError("no data rows", file=filename, expected="at least one result")
    parser = ResultsParser(space, objectives, filename)
    rows = parser.parse(frame)
    return ResultsFile(filename, sha256 or parser.hexdigest(), rows, parser.n_designs)


def _replicate_columns(frame: pd.DataFrame, objective: str) -> list[str]:
    pattern = re.compile(rf"^{re.escape(objective)}_rep\d+$")
    return [c for c in frame.columns if pattern.match(str(c))]


def _plain(value: Any) -> Any:
    """numpy scalars -> Python scalars (JSON-safe)."""
    if isinstance(value, np.generic):
        return value.item()
    return value
