"""Published cell-free buffer-optimisation campaigns, loaded for replay.

Two data sets of *E. coli* TX-TL reactions whose buffer composition was
chosen by active learning, each with a relative GFP yield per composition:

* :func:`load_borkowski` — Borkowski, Koch *et al.* 2020, *Nat Commun* 11:1872:
  11 buffer components at 4 levels each, ten plates (``plate_AL_{1..10}``) of
  about 102 compositions, 1,017 rows.
* :func:`load_metis` — Pandi, Diehl *et al.* 2022, *Nat Commun* 13:3876 (METIS):
  13 varied components (HEPES fixed), ten rounds (``Results_{1..10}``) of
  20 designs plus 4 plate controls.

Both return a :class:`ReplayData`: a :class:`~biofab.core.Space` with one
``Continuous(lo, hi)`` per varied component (the measured range, no step; the
distinct measured levels are kept in ``levels``), and a table with one row per
distinct composition. The loaders take the user's own path (a folder of the
published CSV files, or one of them); they never ship the data.

Cleaning rules, the same on every call:

* Rows whose composition (every component column) is identical are merged:
  ``yield`` is the mean of their yields, ``yield_std`` the pooled standard
  deviation ``sqrt(mean(std_i²) + mean((yield_i - yield)²))`` (the spread of
  one measurement of that composition), ``round`` the first round that measured
  it and ``n_measurements`` how many rows were merged. Borkowski has 10 such
  pairs (1,017 rows -> 1,007 compositions); METIS has none among its designs.
* Components that take one value in every kept row (METIS: HEPES, and DNA
  once the blanks are gone) are not parameters; they are recorded in ``fixed``.
* METIS only — every ``Results_N.csv`` ends with the plate's controls (wells
  D17, D19, D21, D23 in the published files): the reference composition twice,
  a second fixed control composition, and the reference without DNA (the
  blank, ``DNA == 0``). The yields of each plate are normalised to that plate's
  reference, so these rows are not independent measurements: the last
  ``controls`` rows of each file (default 4) are dropped, and so is any other
  row with ``DNA == 0``. The loader checks that the dropped block contains the
  blank, so a file of another layout is not silently mis-read; pass
  ``controls=0`` for a file without trailing controls. The published files give
  10 x 20 = 200 designs.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from biofab.core import Continuous, InputError, Objective, Space

BORKOWSKI_SOURCE = (
    "Borkowski O, Koch M, et al. (2020) "
    "Large scale active-learning-guided exploration for in vitro protein production "
    "optimization. Nat Commun 11:1872. doi:10.1038/s41467-020-15798-5 "
    "(data as re-hosted in the METIS repository, MIT licence)"
)
METIS_SOURCE = (
    "Pandi A, et al. (2022) A versatile active learning workflow for optimization of "
    "genetic and metabolic networks. Nat Commun 13:3876. "
    "doi:10.1038/s41467-022-31245-z (METIS repository, MIT licence)"
)

# Column -> unit. Final concentrations in the reaction, inferred from the
# papers' standard buffer (Sun et al. 2013 recipe); None where the paper's
# unit is not certain (the NTP mix, DNA).
BORKOWSKI_UNITS: dict[str, str | None] = {
    "nad": "mM",
    "folinic_acid": "mM",
    "coa": "mM",
    "nucleo_mix": None,
    "spermidin": "mM",
    "pga": "mM",
    "aa": "mM",
    "trna": "mg/mL",
    "mg_gluta": "mM",
    "camp": "mM",
    "K_gluta": "mM",
}
METIS_UNITS: dict[str, str | None] = {
    "NTP": None,
    "HEPES": "mM",
    "K_Glutamate": "mM",
    "Mg_Glutamate": "mM",
    "spermidine": "mM",
    "DTT": "mM",
    "amino_acids": "mM",
    "folinic_acid": "mM",
    "tRNA_mix": "mg/mL",
    "PEG": "% (w/v)",
    "CoA": "mM",
    "NAD": "mM",
    "cAMP": "mM",
    "3-PGA": "mM",
    "DNA": None,
}
BORKOWSKI_PATTERN = "plate_AL_*.csv"
METIS_PATTERN = "Results_*.csv"
VALUE_COLUMNS = ("yield", "yield_std")


@dataclass
class ReplayData:
    """A finished campaign, ready to be replayed as a pool of measured designs.

    ``table`` has one row per distinct composition: the varied component
    columns (``space.names``), ``yield``, ``yield_std``, ``round`` (the plate or
    file number that first measured it) and ``n_measurements``. ``levels``
    holds the distinct values each varied component took; ``fixed`` the
    components held constant (not in the space).
    """

    name: str
    space: Space
    table: pd.DataFrame
    source: str
    objective: Objective = field(default_factory=lambda: Objective("yield", "max"))
    levels: dict[str, tuple[float, ...]] = field(default_factory=dict)
    fixed: dict[str, float] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

    @property
    def designs(self) -> pd.DataFrame:
        """The compositions (parameter columns only)."""
        return self.table[self.space.names]

    def __len__(self) -> int:
        return len(self.table)


def load_borkowski(path: str | Path) -> ReplayData:
    """Borkowski 2020: a folder of ``plate_AL_{N}_raw_yield_and_std.csv`` (or one file).

    ``round`` is the plate number ``N`` (1 for a file whose name has none).
    """
    frames, files = _read_files(path, BORKOWSKI_PATTERN, list(BORKOWSKI_UNITS))
    return _assemble(
        "borkowski2020", frames, files, list(BORKOWSKI_UNITS), BORKOWSKI_UNITS, BORKOWSKI_SOURCE
    )


def load_metis(path: str | Path, *, controls: int = 4) -> ReplayData:
    """METIS TX-TL: a folder of ``Results_{N}.csv`` (or one file).

    The last ``controls`` rows of each file are the plate's controls and are
    dropped, as is any row with ``DNA == 0`` (see the module docstring).
    """
    if controls < 0:
        raise InputError("controls must be >= 0", expected="a count of rows", found=controls)
    components = list(METIS_UNITS)
    frames, files = _read_files(path, METIS_PATTERN, components)
    kept = []
    for frame, file in zip(frames, files, strict=True):
        if controls:
            if len(frame) <= controls:
                raise InputError(
                    "too few rows for the plate controls",
                    file=file,
                    expected=f"more than {controls} rows (designs, then {controls} controls)",
                    found=len(frame),
                )
            tail = frame.iloc[-controls:]
            if not (tail["DNA"] == 0).any():
                raise InputError(
                    "the last rows should be the plate controls, with the no-DNA blank",
                    file=file,
                    row=len(frame),
                    column="DNA",
                    expected=f"a row with DNA = 0 among the last {controls} rows "
                    "(pass controls=0 for a file without controls)",
                    found=tail["DNA"].tolist(),
                )
            frame = frame.iloc[:-controls]
        kept.append(frame[frame["DNA"] != 0])
    return _assemble("metis_txtl", kept, files, components, METIS_UNITS, METIS_SOURCE)


# -- reading -------------------------------------------------------------------


def _round_number(path: Path) -> int:
    numbers = re.findall(r"\d+", path.stem)
    return int(numbers[0]) if numbers else 1


def _list_files(path: str | Path, pattern: str) -> list[Path]:
    p = Path(path)
    if p.is_file():
        return [p]
    if not p.exists():
        raise InputError("no such file or folder", file=str(p), expected=f"a folder of {pattern}")
    files = sorted(p.glob(pattern), key=lambda f: (_round_number(f), f.name))
    if not files:
        raise InputError(
            "no data files in folder",
            file=str(p),
            expected=f"files named {pattern}",
            found=sorted(f.name for f in p.iterdir())[:10],
        )
    return files


def _read_files(
    path: str | Path, pattern: str, components: list[str]
) -> tuple[list[pd.DataFrame], list[str]]:
    frames, names = [], []
    for f in _list_files(path, pattern):
        frame = _read_csv(f, [*components, *VALUE_COLUMNS])
        frame["round"] = _round_number(f)
        frames.append(frame)
        names.append(str(f))
    return frames, names


def _read_csv(path: Path, columns: list[str]) -> pd.DataFrame:
    """The named columns of a CSV as floats; InputError naming the first bad cell."""
    file = str(path)
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise InputError("empty file", file=file, expected=f"a header with {columns}") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise InputError("not a readable CSV file", file=file, found=str(err).strip()) from None
    raw.columns = [str(c).strip() for c in raw.columns]
    missing = [c for c in columns if c not in raw.columns]
    if missing:
        raise InputError(
            "missing column",
            file=file,
            column=missing[0],
            expected=f"columns {columns}",
            found=list(raw.columns),
        )
    if raw.empty:
        raise InputError("no data rows", file=file, expected="at least one row under the header")
    out = pd.DataFrame(index=range(len(raw)))
    for col in columns:
        text = raw[col].astype(str).str.strip()
        values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(values)
        if col == "yield_std":
            bad |= values < 0
        if bad.any():
            i = int(np.argmax(bad))
            expected = "a non-negative number" if col == "yield_std" else "a number"
            raise InputError(
                "not a valid value",
                file=file,
                row=i + 1,
                column=col,
                expected=expected,
                found=text.iloc[i],
            )
        out[col] = values
    return out


# -- assembling ----------------------------------------------------------------


def _assemble(
    name: str,
    frames: list[pd.DataFrame],
    files: list[str],
    components: list[str],
    units: dict[str, str | None],
    source: str,
) -> ReplayData:
    data = pd.concat(frames, ignore_index=True)
    if data.empty:
        raise InputError("no designs left after dropping controls", file=", ".join(files))
    varied = [c for c in components if data[c].nunique() > 1]
    fixed = {c: float(data[c].iloc[0]) for c in components if c not in varied}
    if not varied:
        raise InputError(
            "no component varies across the rows",
            file=", ".join(files),
            expected="at least one component with two or more values",
            found=fixed,
        )
    table = _merge_duplicates(data, varied)
    space = Space(
        {
            c: Continuous(float(table[c].min()), float(table[c].max()), unit=units.get(c))
            for c in varied
        }
    )
    levels = {c: tuple(float(v) for v in np.sort(table[c].unique())) for c in varied}
    return ReplayData(
        name=name,
        space=space,
        table=table,
        source=source,
        levels=levels,
        fixed=fixed,
        files=files,
    )


def _merge_duplicates(data: pd.DataFrame, varied: list[str]) -> pd.DataFrame:
    """One row per composition (first-seen order); see the module docstring for the rule."""
    data = data.copy()
    data[varied] = np.round(data[varied].to_numpy(dtype=float), 9)
    rows = []
    for _, group in data.groupby(varied, sort=False):
        y = group["yield"].to_numpy(dtype=float)
        s = group["yield_std"].to_numpy(dtype=float)
        mean = float(y.mean())
        rows.append(
            {
                **{c: float(group[c].iloc[0]) for c in varied},
                "yield": mean,
                "yield_std": math.sqrt(float(np.mean(s**2) + np.mean((y - mean) ** 2))),
                "round": int(group["round"].min()),
                "n_measurements": len(group),
            }
        )
    return pd.DataFrame(rows, columns=[*varied, "yield", "yield_std", "round", "n_measurements"])
