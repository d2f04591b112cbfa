"""Plate-reader import: raw exports -> blank-subtracted, reference-normalised campaign results.

Two file shapes are read (CSV, TSV or semicolon-separated; the shape is detected):

* a **long table** with a header holding ``well`` and ``value`` (RFU), optionally
  ``plate``, ``time_h`` (h) and ``read`` (an ordinal when several reads exist);
* the **grid export** of BioTek Gen5, Tecan i-control/Magellan and BMG MARS: one or
  more 8 x 12 (96-well) or 16 x 24 (384-well) blocks, each under a header row of
  column numbers ``1..12`` / ``1..24`` with row letters ``A..H`` / ``A..P`` in the
  column left of the values. Free metadata lines may come before and between blocks.
  A line ``Plate: P1`` (or cells ``Plate,P1``) above a block names its plate; a line
  ``Time: 1.5 h`` (``90 min``, ``01:30:00``) gives a kinetic read's time. Several
  blocks of one plate without times are numbered reads.

:func:`process_plate` turns end-point readings and a plate layout (see
``cellfree_common``: ``plate, well, role, design, replicate`` + one column per
component, final concentrations) into a :class:`PlateResult`: per plate the blank
mean is subtracted, the signal is divided by the mean blank-subtracted reference
(so the reference reads 1 on every plate and plates are comparable), replicate
wells of a design are aggregated to mean, sample std and n after outlier
flagging, and QC numbers (reference CV, Z'-factor) are reported per plate.
``PlateResult.results`` is a campaign results table (design parameters,
``relative_yield``, ``relative_yield_std``, ``relative_yield_n``, ``source``)
ready for :meth:`biofab.campaign.Campaign.ingest`.

Every problem raises :class:`~biofab.core.InputError` before anything is returned
(all or nothing), naming the file, plate and well.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from biofab.core.atomic import write_atomic
from biofab.core.errors import InputError
from biofab.core.textfile import decode_text, read_text

__all__ = [
    "LAYOUT_COLUMNS",
    "ModifiedZScore",
    "PlateResult",
    "import_plates",
    "normalise_well",
    "process_plate",
    "read_layout",
    "read_plate_file",
]

LAYOUT_COLUMNS = ("plate", "well", "role", "design", "replicate")
ROLES = ("sample", "reference", "blank")
_LETTERS = "ABCDEFGHIJKLMNOP"
_GRIDS = {12: 8, 24: 16}  # columns -> rows (96 and 384 wells)
_WELL = re.compile(r"^\s*([A-Pa-p])\s*0*([1-9][0-9]?)\s*$")
_VALUE_NAMES = ("value", "rfu", "signal")


# -- wells ---------------------------------------------------------------------
def normalise_well(name: object, *, file: str | None = None, plate: str | None = None) -> str:
    """``"A01"``, ``"a1"``, ``" A 1"`` -> ``"A1"``; rows A..P, columns 1..24."""
    m = _WELL.match(str(name))
    if m is None or int(m.group(2)) > 24:
        where = f"plate {plate}: " if plate is not None else ""
        raise InputError(
            f"{where}not a well name", file=file, expected="A1..P24 (A01 allowed)", found=name
        )
    return f"{m.group(1).upper()}{int(m.group(2))}"


def _well_order(well: str) -> tuple[int, int]:
    return _LETTERS.index(well[0]), int(well[1:])


def _sorted_wells(wells: Iterable[str]) -> list[str]:
    return sorted(set(wells), key=_well_order)


def _listing(items: Sequence[str], limit: int = 8) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" (+{len(items) - limit} more)" if len(items) > limit else "")


# -- reading files -------------------------------------------------------------
def _decode(raw: bytes, file: str) -> str:
    # Gen5 and MARS write Windows code pages when the metadata holds "µ" or "°C",
    # so non-UTF-8 bytes fall back to Latin-1; a binary file is still refused.
    return decode_text(raw, file, fallback="latin-1")


def _delimiter(text: str, suffix: str) -> str:
    if suffix in {".tsv", ".tab"}:
        return "\t"
    counts = {d: text.count(d) for d in ("\t", ";", ",")}
    if counts["\t"] and counts["\t"] >= counts[","]:
        return "\t"
    if counts[";"] > counts[","]:
        return ";"
    return ","


def _to_float(text: str, decimal_comma: bool) -> float | None:
    """A number, or None when the text is not one (``OVRFLW``, ``?????``)."""
    s = text.strip().replace(" ", "")
    if decimal_comma:
        s = s.replace(",", ".")
    try:
        return float(s)
    except ValueError:
        return None


def _reading(
    text: str, *, file: str, plate: str, well: str, line: int | None, decimal_comma: bool
) -> float:
    """Check one raw reading: present, numeric, finite and >= 0."""
    where = (f"line {line}: " if line is not None else "") + f"plate {plate} well {well}"
    if text.strip() == "" or text.strip().lower() in {"nan", "na", "n/a", "none"}:
        raise InputError(f"{where}: missing reading", file=file, expected="a number")
    x = _to_float(text, decimal_comma)
    if x is None or not math.isfinite(x):
        raise InputError(
            f"{where}: reading is not a number (saturated or failed read?)",
            file=file,
            expected="a finite number >= 0",
            found=text.strip(),
        )
    if x < 0:
        raise InputError(
            f"{where}: negative raw reading", file=file, expected="a number >= 0", found=x
        )
    return x


def read_plate_file(path: str | Path, plate: str | None = None) -> pd.DataFrame:
    """Read a plate-reader export (long table or 96/384 grid blocks) into a long frame.

    Parameters
    ----------
    path
        CSV, TSV (``.tsv``/``.tab`` or tab-separated content) or semicolon-separated
        file (decimal commas are then accepted).
    plate
        Plate name for rows or blocks that do not name their plate. Without it, the
        file's stem is used (``P1.csv`` -> ``"P1"``).

    Returns
    -------
    DataFrame
        Columns ``plate`` (str), ``well`` (``"A1"``), ``value`` (raw reading, RFU),
        ``time_h`` (h, kinetic reads only) or ``read`` (1.., several untimed reads
        only), and ``file`` (the file's name, for provenance). Empty grid cells are
        wells that were not read and give no row.

    Raises
    ------
    InputError
        Empty or unreadable file, a malformed grid (wrong number of columns or
        rows), a bad well name, a missing, non-numeric or negative reading, a well
        read twice (same plate, well and time/read).
    """
    p = Path(path)
    name = p.name
    if not p.is_file():
        raise InputError("plate-reader file not found", file=str(p))
    if p.suffix.lower() in {".xlsx", ".xls"}:
        raise InputError(
            "spreadsheet files are not read", file=name, expected="the export saved as CSV or TSV"
        )
    text = _decode(p.read_bytes(), name)
    if not text.strip():
        raise InputError("empty file", file=name, expected="plate-reader readings")
    sep = _delimiter(text, p.suffix.lower())
    try:
        rows = [[c.strip() for c in r] for r in csv.reader(io.StringIO(text), delimiter=sep)]
    except csv.Error as err:  # e.g. a field over the csv module's size limit
        raise InputError("cannot parse as a table", file=name, found=str(err)) from None
    default_plate = plate if plate is not None else p.stem
    decimal_comma = sep == ";"
    header = _long_header(rows, name)
    if header is not None:
        frame = _read_long(rows, header, name, default_plate, decimal_comma)
    else:
        frame = _read_grid(rows, name, default_plate, decimal_comma)
    _check_unique(frame, name)
    return frame


def _long_header(rows: list[list[str]], file: str) -> int | None:
    """Index of a long table's header row (holds ``well`` and a value column)."""
    for i, r in enumerate(rows[:50]):
        low = [c.lower() for c in r]
        if "well" in low and any(v in low for v in _VALUE_NAMES):
            return i
        if _grid_header(r, i, file) is not None:
            return None
    return None


def _read_long(
    rows: list[list[str]], h: int, file: str, default_plate: str, decimal_comma: bool
) -> pd.DataFrame:
    low = [c.lower() for c in rows[h]]
    col: dict[str, int] = {
        name: low.index(name) for name in ("plate", "well", "time_h", "read") if name in low
    }
    col["value"] = next(low.index(v) for v in _VALUE_NAMES if v in low)
    records: list[dict[str, Any]] = []
    for k, r in enumerate(rows[h + 1 :], start=2):
        if not any(r):
            continue  # blank lines at the end of an export
        line = h + k  # 1-based line of the file
        if len(r) < len(rows[h]):
            raise InputError(
                f"line {line}: short row", expected=f"{len(rows[h])} cells", found=len(r), file=file
            )
        plate = r[col["plate"]] if "plate" in col and r[col["plate"]] else default_plate
        well = normalise_well(r[col["well"]], file=file, plate=plate)
        rec: dict[str, Any] = {
            "plate": plate,
            "well": well,
            "value": _reading(
                r[col["value"]],
                file=file,
                plate=plate,
                well=well,
                line=line,
                decimal_comma=decimal_comma,
            ),
        }
        for extra in ("time_h", "read"):
            if extra in col:
                x = _to_float(r[col[extra]], decimal_comma)
                if x is None or not math.isfinite(x) or x < 0:
                    raise InputError(
                        f"line {line}: plate {plate} well {well}: bad {extra}",
                        file=file,
                        column=extra,
                        expected="a number >= 0",
                        found=r[col[extra]],
                    )
                rec[extra] = int(x) if extra == "read" else x
        records.append(rec)
    if not records:
        raise InputError("no readings under the header", file=file, expected="one row per well")
    frame = pd.DataFrame.from_records(records)
    frame["file"] = file
    return frame


def _grid_header(cells: list[str], line: int, file: str) -> tuple[int, int] | None:
    """``(letter column, n columns)`` when ``cells`` is a grid's column-number row.

    A run of 1, 2, 3, ... that is 12 or 24 long is a header; a run of 6 or more
    of another length is a malformed grid (a lost or extra column).
    """
    for j in range(1, len(cells)):
        if cells[j] != "1" or any(cells[: j - 1]):
            continue
        k = 0
        while j + k < len(cells) and cells[j + k] == str(k + 1):
            k += 1
        if k in _GRIDS:
            return j - 1, k
        if k >= 10:
            raise InputError(
                f"line {line + 1}: malformed grid: header has columns 1..{k}",
                file=file,
                expected="column numbers 1..12 (96 wells) or 1..24 (384 wells)",
                found=k,
            )
        return None
    return None


_PLATE_CELL = re.compile(r"^plate(?:\s*(?:name|id|barcode|label))?\s*[:=#]?$", re.I)
_PLATE_INLINE = re.compile(r"^plate(?:\s*(?:name|id|barcode|label))?\s*[:=#]\s*(\S.*)$", re.I)
_PLATE_SPACED = re.compile(r"^plate\s+(\S*\d\S*)$", re.I)
_TIME_CELL = re.compile(r"^(?:time|t)\s*(?:_h|\(h\))?\s*[:=]?$", re.I)
_TIME_INLINE = re.compile(r"^(?:time|t)\s*(?:_h|\(h\))?\s*[:=]\s*(\S.*)$", re.I)
_CLOCK = re.compile(r"^(\d+):(\d{1,2})(?::(\d{1,2}(?:\.\d*)?))?$")
_DURATION = re.compile(
    r"^([0-9]*\.?[0-9]+)\s*(h|hr|hrs|hours?|min|mins|minutes?|s|sec|seconds?)?$", re.I
)


def _label(cells: list[str], cell_re: re.Pattern[str], inline_re: re.Pattern[str]) -> str | None:
    full = [c for c in cells if c]
    if not full:
        return None
    if cell_re.match(full[0]) and len(full) >= 2:
        return full[1]
    m = inline_re.match(" ".join(full))
    return m.group(1).strip() if m else None


def _hours(text: str) -> float | None:
    """``"1.5"``/``"1.5 h"`` -> 1.5, ``"90 min"`` -> 1.5, ``"01:30:00"`` -> 1.5; else None."""
    s = text.strip()
    m = _CLOCK.match(s)
    if m:
        return int(m.group(1)) + int(m.group(2)) / 60 + float(m.group(3) or 0) / 3600
    m = _DURATION.match(s)
    if not m:
        return None
    unit = (m.group(2) or "h").lower()
    x = float(m.group(1))
    return x / 60 if unit.startswith("m") else x / 3600 if unit.startswith("s") else x


@dataclass
class _Block:
    plate: str
    time_h: float | None
    line: int
    values: dict[str, float]


def _read_grid(
    rows: list[list[str]], file: str, default_plate: str, decimal_comma: bool
) -> pd.DataFrame:
    blocks: list[_Block] = []
    plate: str | None = None
    time_h: float | None = None
    i = 0
    while i < len(rows):
        cells = rows[i]
        hdr = _grid_header(cells, i, file)
        if hdr is None:
            label = _label(cells, _PLATE_CELL, _PLATE_INLINE)
            if label is None:
                m = _PLATE_SPACED.match(" ".join(c for c in cells if c))
                label = m.group(1) if m else None
            plate = label if label is not None else plate
            t = _label(cells, _TIME_CELL, _TIME_INLINE)
            if t is not None and _hours(t) is not None:
                time_h = _hours(t)
            i += 1
            continue
        j, ncols = hdr
        name = plate if plate is not None else default_plate
        values = _grid_rows(rows, i, j, ncols, file, name, decimal_comma)
        blocks.append(_Block(name, time_h, i + 1, values))
        # A label belongs to the block under it; the next block needs its own.
        plate, time_h = None, None
        i += 1 + _GRIDS[ncols]
    if not blocks:
        raise InputError(
            "no readings found",
            file=file,
            expected="a long table with 'well' and 'value' columns, or 96/384-well grid blocks "
            "under a row of column numbers 1..12 / 1..24",
        )
    return _grid_frame(blocks, file)


def _grid_rows(
    rows: list[list[str]],
    i: int,
    j: int,
    ncols: int,
    file: str,
    plate: str,
    decimal_comma: bool,
) -> dict[str, float]:
    values: dict[str, float] = {}
    for r in range(_GRIDS[ncols]):
        letter = _LETTERS[r]
        line = i + 2 + r  # 1-based line of the file
        cells = rows[i + 1 + r] if i + 1 + r < len(rows) else []
        found = cells[j] if len(cells) > j else ""
        if found.upper() != letter:
            raise InputError(
                f"line {line}: malformed grid for plate {plate}: expected row {letter}",
                file=file,
                expected=f"rows A..{_LETTERS[_GRIDS[ncols] - 1]} under the column numbers",
                found=found or "end of block",
            )
        data = cells[j + 1 :]
        extra = data[ncols:]
        # Gen5 may end each row with a read label ("485,528"); empty padding is harmless.
        label = [c for c in extra if c]
        extra_ok = not label or (len(label) == 1 and _to_float(label[0], False) is None)
        if len(data) < ncols or not extra_ok:
            n = len(data) if len(data) < ncols else ncols + len(label)
            raise InputError(
                f"line {line}: malformed grid for plate {plate}: row {letter} has {n} columns",
                file=file,
                expected=f"{ncols} columns",
                found=n,
            )
        for c, text in enumerate(data[:ncols], start=1):
            if text == "":
                continue  # a well that was not read
            well = f"{letter}{c}"
            values[well] = _reading(
                text, file=file, plate=plate, well=well, line=line, decimal_comma=decimal_comma
            )
    return values


def _grid_frame(blocks: list[_Block], file: str) -> pd.DataFrame:
    per_plate: dict[str, list[_Block]] = {}
    for b in blocks:
        per_plate.setdefault(b.plate, []).append(b)
    frames = []
    kinetic = any(
        len(bs) > 1 and all(b.time_h is not None for b in bs) for bs in per_plate.values()
    )
    numbered = any(len(bs) > 1 and any(b.time_h is None for b in bs) for bs in per_plate.values())
    for plate, bs in per_plate.items():
        timed = len(bs) > 1 and all(b.time_h is not None for b in bs)
        for k, b in enumerate(bs, start=1):
            f = pd.DataFrame(
                {"plate": plate, "well": list(b.values), "value": list(b.values.values())}
            )
            if kinetic:
                f["time_h"] = b.time_h if timed else np.nan
            if numbered:
                f["read"] = k if (len(bs) > 1 and not timed) else pd.NA
            frames.append(f)
    frame = pd.concat(frames, ignore_index=True)
    if "read" in frame.columns:
        frame["read"] = frame["read"].astype("Int64")
    frame["file"] = file
    return frame


def _check_unique(frame: pd.DataFrame, file: str | None) -> None:
    keys = ["plate", "well"] + [c for c in ("time_h", "read") if c in frame.columns]
    dup = frame.duplicated(keys, keep=False)
    if dup.any():
        first = frame[dup].iloc[0]
        files = sorted(set(frame.loc[dup & (frame["plate"] == first["plate"]), "file"]))
        raise InputError(
            f"plate {first['plate']} well {first['well']}: duplicated reading",
            file=file if file is not None else ", ".join(map(str, files)),
            expected="one reading per well (and time point)",
            found=f"{int((dup & (frame['plate'] == first['plate'])).sum())} rows "
            f"in {', '.join(map(str, files))}",
        )


# -- layouts -------------------------------------------------------------------
def read_layout(layout: pd.DataFrame | str | Path) -> pd.DataFrame:
    """Validate a plate layout (frame or ``layout.csv``); wells normalised, one row per well.

    Columns ``plate, well, role, design, replicate`` then one numeric column per
    component (final concentration in the well).
    """
    name = "layout"
    if not isinstance(layout, pd.DataFrame):
        path = Path(layout)
        name = path.name
        if not path.is_file():
            raise InputError("layout file not found", file=str(path))
        try:
            layout = pd.read_csv(io.StringIO(read_text(path)))
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
            raise InputError("cannot parse the layout", file=name, found=str(err)) from None
    missing = [c for c in LAYOUT_COLUMNS if c not in layout.columns]
    if missing:
        raise InputError(
            "layout lacks a column",
            file=name,
            column=missing[0],
            expected=f"columns {list(LAYOUT_COLUMNS)} + components",
            found=list(layout.columns),
        )
    lay = layout.copy()
    lay["plate"] = lay["plate"].astype(str).str.strip()
    lay["well"] = [
        normalise_well(w, file=name, plate=p)
        for p, w in zip(lay["plate"], lay["well"], strict=True)
    ]
    bad = ~lay["role"].isin(ROLES)
    if bad.any():
        r = lay[bad].iloc[0]
        raise InputError(
            f"plate {r['plate']} well {r['well']}: unknown role",
            file=name,
            expected=" | ".join(ROLES),
            found=r["role"],
        )
    for c in ("design", "replicate"):
        num = pd.to_numeric(lay[c], errors="coerce")
        if num.isna().any() or (num != num.round()).any():
            r = lay[num.isna() | (num != num.round())].iloc[0]
            raise InputError(
                f"plate {r['plate']} well {r['well']}: {c} is not a whole number",
                file=name,
                column=c,
                found=r[c],
            )
        lay[c] = num.astype(int)
    dup = lay.duplicated(["plate", "well"], keep=False)
    if dup.any():
        r = lay[dup].iloc[0]
        raise InputError(
            f"plate {r['plate']} well {r['well']}: well planned twice in the layout", file=name
        )
    return lay.reset_index(drop=True)


# -- outliers ------------------------------------------------------------------
@dataclass(frozen=True)
class ModifiedZScore:
    """Outlier rule of Iglewicz & Hoaglin (1993, *How to Detect and Handle Outliers*, ASQC),
    with a floor on the spread for small replicate groups.

    Within a replicate group of at least ``min_group`` wells, a well is an outlier
    when ``|x - median| / s > threshold`` with the robust spread
    ``s = max(MAD / 0.6745, min_cv * |median|)``: ``0.6745 (x - median) / MAD`` is the
    modified z-score (MAD = median absolute deviation; 0.6745 makes it a z-score
    for normal data). When MAD is 0, ``1.253314 x`` the mean absolute deviation
    stands in for ``MAD / 0.6745``; when ``s`` is still 0, nothing is flagged.

    Why the floor: the MAD of three wells is the smaller of two gaps, so the
    textbook rule (``min_cv=0``) flags a well in about 29 % of clean normal
    triplicates (and ~14 % of groups of 8). Flooring ``s`` at ``min_cv`` of the median
    (default 10 %, a typical cell-free replicate CV) keeps false flags rare while a
    failed well (near-blank, or several-fold too bright) is still caught.
    """

    threshold: float = 3.5
    min_group: int = 3
    min_cv: float = 0.1

    def __post_init__(self) -> None:
        if not self.threshold > 0 or self.min_group < 3 or not self.min_cv >= 0:
            raise InputError(
                "bad outlier rule",
                expected="threshold > 0, min_group >= 3, min_cv >= 0",
                found=self,
            )

    def flag(self, values: np.ndarray) -> np.ndarray:
        """Boolean mask (same shape as ``values``, 1-D) of the outliers."""
        x = np.asarray(values, dtype=float)
        if len(x) < self.min_group:
            return np.zeros(len(x), dtype=bool)
        med = float(np.median(x))
        dev = np.abs(x - med)
        mad = float(np.median(dev))
        spread = mad / 0.6745 if mad > 0 else 1.253314 * float(dev.mean())
        spread = max(spread, self.min_cv * abs(med))
        if spread == 0:
            return np.zeros(len(x), dtype=bool)
        return np.asarray(dev / spread > self.threshold)

    def describe(self) -> str:
        return (
            f"modified z-score |0.6745 (x - median) / MAD| > {self.threshold:g} within a "
            f"replicate group of >= {self.min_group} wells (Iglewicz & Hoaglin 1993), "
            f"MAD / 0.6745 floored at {self.min_cv:g} x |median|"
        )


# -- processing ----------------------------------------------------------------
@dataclass
class PlateResult:
    """What :func:`process_plate` computed.

    Attributes
    ----------
    results
        Campaign results table, one row per design: the component columns, the
        objective (``relative_yield``: mean over kept replicates of signal / plate
        reference signal, dimensionless; or blank-subtracted signal x ``scale`` when
        not normalised), ``<objective>_std`` (sample std of single wells, NaN for one
        well), ``<objective>_n``, ``signal_rfu`` (mean blank-subtracted RFU), ``wells``
        (``P1:A1,B7``), ``outliers`` (excluded wells) and ``source``
        (``"<file>: plate P1 wells A1,B7,C3"``).
    wells
        One row per planned well read: layout columns, ``file``, ``raw`` (RFU),
        ``signal`` (blank-subtracted RFU), ``relative`` (signal / reference signal)
        and ``outlier`` (bool).
    qc
        One row per plate: ``n_blank``, ``blank_mean``, ``blank_std`` (RFU),
        ``n_reference``, ``reference_signal`` (blank-subtracted RFU), ``reference_cv``,
        ``z_prime`` (Zhang, Chung & Oldenburg 1999, J Biomol Screen 4:67; >= 0.5 is an
        excellent assay window) and ``n_outliers``.
    rule
        The outlier rule in words (``"none"`` when disabled).
    """

    results: pd.DataFrame
    wells: pd.DataFrame
    qc: pd.DataFrame
    rule: str
    objective: str = "relative_yield"
    components: list[str] = field(default_factory=list)

    @property
    def outliers(self) -> pd.DataFrame:
        """The wells flagged by the outlier rule (kept out of every mean)."""
        return self.wells[self.wells["outlier"]].reset_index(drop=True)

    def to_csv(self, path: str | Path) -> Path:
        """Write :attr:`results` atomically (a reader never sees half a file)."""
        return write_atomic(path, self.results.to_csv(index=False))


def process_plate(
    readings: pd.DataFrame,
    layout: pd.DataFrame | str | Path,
    *,
    objective: str = "relative_yield",
    normalise: bool = True,
    scale: float = 1.0,
    outlier_rule: ModifiedZScore | None = ModifiedZScore(),
    unplanned: Literal["error", "ignore"] = "error",
    include_reference: bool = False,
    components: Sequence[str] | None = None,
) -> PlateResult:
    """Readings + plate layout -> normalised, replicate-aggregated campaign results.

    Per plate: blank wells' mean raw reading is subtracted from every well;
    reference wells' mean blank-subtracted signal becomes 1 (``normalise=True``).
    Outliers are flagged by ``outlier_rule`` among each plate's blanks (raw), its
    references (signal) and each design's replicate wells (across plates, on the
    objective's scale) and left out of the means. Kinetic readings (``time_h`` or
    ``read``) are reduced to the end point: each plate's last time point.

    Parameters
    ----------
    readings
        Long frame ``plate, well, value`` (raw RFU) ``[, time_h | read][, file]``.
    layout
        Plate layout frame or ``layout.csv`` (see :func:`read_layout`).
    objective
        Name of the results column (the campaign objective).
    normalise
        Divide by the plate reference (dimensionless). ``False`` reports the
        blank-subtracted signal times ``scale`` (e.g. µM GFP per RFU from a standard
        curve) instead, for an absolute ``gfp`` objective.
    unplanned
        ``"error"`` (default): a reading of a well the layout does not plan is an
        error. ``"ignore"``: drop such wells (a full-plate grid read of a part-used
        plate).
    include_reference
        Also report the reference composition as a design (relative yield 1 by
        construction; its std is the reference CV).
    components
        Parameter columns of the results (default: every layout column beyond
        ``plate, well, role, design, replicate``).

    Raises
    ------
    InputError
        Bad layout; a readings plate the layout lacks; a plate without blank or
        reference wells; a planned well without reading or an unplanned well with
        one; a duplicated, missing, non-numeric or negative reading; a reference
        not above the blank; a design whose wells disagree on its composition.
    """
    if not (math.isfinite(scale) and scale > 0):
        raise InputError("scale must be a positive number", found=scale)
    lay = read_layout(layout)
    comps = (
        list(components)
        if components is not None
        else [c for c in lay.columns if c not in LAYOUT_COLUMNS]
    )
    missing = [c for c in comps if c not in lay.columns]
    if missing:
        raise InputError(
            "layout lacks a component column", column=missing[0], found=list(lay.columns)
        )
    reads = _endpoint(_check_readings(readings))
    wells = _match(reads, lay, unplanned)
    rule = outlier_rule.describe() if outlier_rule is not None else "none"
    wells["outlier"] = False
    qc_rows = [_normalise_plate(wells, plate, outlier_rule) for plate in reads["plate"].unique()]
    value_col = "relative" if normalise else "signal"
    factor = 1.0 if normalise else scale
    roles = ["sample", "reference"] if include_reference else ["sample"]
    rows = []
    chosen = wells[wells["role"].isin(roles)]
    for (role, _), g in chosen.groupby(["role", "design"], sort=True):
        if role == "sample":  # references were judged per plate
            wells.loc[g.index, "outlier"] = _flag(outlier_rule, g[value_col].to_numpy(float))
            g = wells.loc[g.index]
        rows.append(_design_row(g, comps, objective, value_col, factor))
    results = pd.DataFrame(rows)
    if len(results) == 0:
        results = pd.DataFrame(
            columns=[*comps, objective, f"{objective}_std", f"{objective}_n", "source"]
        )
    qc = pd.DataFrame(qc_rows)
    qc["n_outliers"] = [int(wells.loc[wells["plate"] == p, "outlier"].sum()) for p in qc["plate"]]
    return PlateResult(results, wells, qc, rule, objective, comps)


def _check_readings(readings: pd.DataFrame) -> pd.DataFrame:
    need = [c for c in ("plate", "well", "value") if c not in readings.columns]
    if need:
        raise InputError(
            "readings lack a column",
            column=need[0],
            expected="plate, well, value [, time_h | read]",
            found=list(readings.columns),
        )
    if len(readings) == 0:
        raise InputError("no readings", expected="one row per well")
    r = readings.reset_index(drop=True)
    if "file" not in r.columns:
        r["file"] = "readings"
    r["file"] = r["file"].astype(str)
    r["plate"] = r["plate"].astype(str).str.strip()
    r["well"] = [
        normalise_well(w, file=f, plate=p)
        for f, p, w in zip(r["file"], r["plate"], r["well"], strict=True)
    ]
    values = pd.to_numeric(r["value"], errors="coerce")
    for i in np.flatnonzero(~np.isfinite(values.to_numpy(float)) | (values.to_numpy(float) < 0)):
        row = r.iloc[i]
        _reading(
            str(row["value"]) if pd.notna(row["value"]) else "",
            file=row["file"],
            plate=row["plate"],
            well=row["well"],
            line=None,
            decimal_comma=False,
        )
    r["value"] = values.astype(float)
    _check_unique(r, None)
    return r


def _endpoint(r: pd.DataFrame) -> pd.DataFrame:
    """Each plate's last time point (``time_h``, else ``read``); untimed reads pass."""
    order_col = next((c for c in ("time_h", "read") if c in r.columns and r[c].notna().any()), None)
    if order_col is None:
        return r[["plate", "well", "value", "file"]].reset_index(drop=True)
    order = pd.to_numeric(r[order_col], errors="coerce").astype(float)
    frames = []
    for plate, idx in r.groupby("plate", sort=False).groups.items():
        o = order.loc[idx]
        if o.isna().all():
            frames.append(r.loc[idx])
            continue
        if o.isna().any():
            well = r.loc[o[o.isna()].index[0], "well"]
            raise InputError(
                f"plate {plate} well {well}: reading without {order_col} among timed reads",
                file=r.loc[idx[0], "file"],
            )
        last = o.max()
        frames.append(r.loc[o[o == last].index])
        late = set(r.loc[idx, "well"]) - set(r.loc[o[o == last].index, "well"])
        if late:
            raise InputError(
                f"plate {plate}: wells {_listing(_sorted_wells(late))} have no reading at the "
                f"last {order_col} ({last:g})",
                file=r.loc[idx[0], "file"],
            )
    return pd.concat(frames)[["plate", "well", "value", "file"]].reset_index(drop=True)


def _match(reads: pd.DataFrame, lay: pd.DataFrame, unplanned: str) -> pd.DataFrame:
    """Join readings to the plan; every planned well of a read plate needs a reading."""
    plates = list(dict.fromkeys(lay["plate"]))
    for plate, g in reads.groupby("plate", sort=False):
        file = ", ".join(sorted(set(g["file"])))
        if plate not in plates:
            raise InputError(
                f"plate {plate} is in the readings but not in the layout",
                file=file,
                expected=f"plates {', '.join(plates)}",
                found=plate,
            )
        planned = lay[lay["plate"] == plate]
        roles = set(planned["role"])
        for role in ("blank", "reference"):
            if role not in roles:
                raise InputError(
                    f"plate {plate} has no {role} wells in the layout",
                    file=file,
                    expected=f"{role} wells on every plate (blank subtraction and normalisation)",
                )
        have, want = set(g["well"]), set(planned["well"])
        if want - have:
            raise InputError(
                f"plate {plate}: planned wells {_listing(_sorted_wells(want - have))} "
                "have no reading",
                file=file,
            )
        if have - want and unplanned == "error":
            raise InputError(
                f"plate {plate}: wells {_listing(_sorted_wells(have - want))} have readings "
                "but are not in the plan",
                file=file,
                expected="readings of planned wells only (or unplanned='ignore')",
            )
    merged = lay.merge(reads.rename(columns={"value": "raw"}), on=["plate", "well"], how="inner")
    return merged.reset_index(drop=True)


def _flag(rule: ModifiedZScore | None, values: np.ndarray) -> np.ndarray:
    return np.zeros(len(values), dtype=bool) if rule is None else rule.flag(values)


def _normalise_plate(
    wells: pd.DataFrame, plate: str, rule: ModifiedZScore | None
) -> dict[str, Any]:
    """Blank-subtract and reference-normalise one plate in place; its QC row."""
    on = wells["plate"] == plate
    blank = wells.index[on & (wells["role"] == "blank")]
    ref = wells.index[on & (wells["role"] == "reference")]
    wells.loc[blank, "outlier"] = _flag(rule, wells.loc[blank, "raw"].to_numpy(float))
    kept_blank = wells.loc[blank][~wells.loc[blank, "outlier"]]["raw"].to_numpy(float)
    blank_mean = float(kept_blank.mean())
    wells.loc[on, "signal"] = wells.loc[on, "raw"] - blank_mean
    wells.loc[ref, "outlier"] = _flag(rule, wells.loc[ref, "signal"].to_numpy(float))
    kept_ref = wells.loc[ref][~wells.loc[ref, "outlier"]]["signal"].to_numpy(float)
    ref_mean = float(kept_ref.mean())
    file = ", ".join(sorted(set(wells.loc[on, "file"])))
    if not ref_mean > 0:
        raise InputError(
            f"plate {plate}: reference signal is not above the blank",
            file=file,
            expected="reference wells brighter than blank wells",
            found=f"reference {ref_mean + blank_mean:g} RFU, blank {blank_mean:g} RFU",
        )
    wells.loc[on, "relative"] = wells.loc[on, "signal"] / ref_mean
    sd_b = float(kept_blank.std(ddof=1)) if len(kept_blank) > 1 else math.nan
    sd_r = float(kept_ref.std(ddof=1)) if len(kept_ref) > 1 else math.nan
    return {
        "plate": plate,
        "file": file,
        "n_blank": len(kept_blank),
        "blank_mean": blank_mean,
        "blank_std": sd_b,
        "n_reference": len(kept_ref),
        "reference_signal": ref_mean,
        "reference_cv": sd_r / ref_mean,
        # Zhang et al. 1999: 1 - 3 (sd_pos + sd_neg) / |mean_pos - mean_neg|; raw means
        # differ by exactly the blank-subtracted reference mean.
        "z_prime": 1 - 3 * (sd_r + sd_b) / ref_mean,
    }


def _design_row(
    g: pd.DataFrame, comps: list[str], objective: str, value_col: str, factor: float
) -> dict[str, Any]:
    design = int(g["design"].iloc[0])
    label = "reference" if g["role"].iloc[0] == "reference" else f"design {design}"
    row: dict[str, Any] = {}
    for c in comps:
        vals = g[c].to_numpy()
        num = pd.to_numeric(pd.Series(vals), errors="coerce").to_numpy(float)
        same = (
            np.allclose(num, num[0], rtol=1e-9, atol=1e-12)
            if np.isfinite(num).all()
            else len(set(map(str, vals))) == 1
        )
        if not same:
            raise InputError(
                f"{label}: its wells disagree on {c}",
                file="layout",
                column=c,
                expected="one composition per design",
                found=sorted(set(map(str, vals))),
            )
        row[c] = vals[0]
    kept = g[~g["outlier"]]
    x = kept[value_col].to_numpy(float) * factor
    row[objective] = float(x.mean())
    row[f"{objective}_std"] = float(x.std(ddof=1)) if len(x) > 1 else math.nan
    row[f"{objective}_n"] = len(x)
    row["signal_rfu"] = float(kept["signal"].mean())
    row["wells"] = "; ".join(
        f"{p}:{','.join(_sorted_wells(w))}" for p, w in kept.groupby("plate", sort=False)["well"]
    )
    out = g[g["outlier"]]
    row["outliers"] = "; ".join(
        f"{p}:{','.join(_sorted_wells(w))}" for p, w in out.groupby("plate", sort=False)["well"]
    )
    parts = []
    for (file, plate), w in kept.groupby(["file", "plate"], sort=False)["well"]:
        text = f"{file}: plate {plate} wells {','.join(_sorted_wells(w))}"
        excl = out[(out["file"] == file) & (out["plate"] == plate)]["well"]
        if len(excl):
            text += f" (outliers {','.join(_sorted_wells(excl))} excluded)"
        parts.append(text)
    row["source"] = "; ".join(parts)
    return row


def import_plates(
    files: Sequence[str | Path] | Mapping[str | Path, str],
    layout: pd.DataFrame | str | Path,
    **options: Any,
) -> PlateResult:
    """Read several plate-reader files and process them together (all or nothing).

    ``files`` is a list of paths, or a mapping ``path -> plate`` for files whose
    blocks do not name their plate. ``options`` go to :func:`process_plate`. The same
    well of the same plate in two files is an error.
    """
    items = list(files.items()) if isinstance(files, Mapping) else [(f, None) for f in files]
    if not items:
        raise InputError("no plate-reader files given", expected="one file per plate or more")
    frames = [read_plate_file(path, plate=plate) for path, plate in items]
    readings = pd.concat(frames, ignore_index=True)
    return process_plate(readings, layout, **options)
