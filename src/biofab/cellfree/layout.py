"""Plate layouts: where each design, replicate and control goes.

Every plate carries its own reference controls and blanks, because cell-free
yields drift from plate to plate (lysate batch, temperature, reader gain) and
are only comparable once each plate is normalised to its own reference. Wells
are randomised (seeded) so position effects such as evaporation at the edge or
a temperature gradient do not line up with designs; ``edge="avoid"`` leaves the
outer ring empty altogether, the usual remedy for edge evaporation in small
reaction volumes.

Layout frame, one row per filled well: ``plate`` ("P1", "P2" ...), ``well``
("A1".."H12" or "P24"), ``role`` ("sample" | "reference" | "blank"),
``design`` (0-based row of the design in the batch, -1 for controls),
``replicate`` (1..), then one column per stock-table component holding its
final concentration (the table's unit). Blanks are the reference with the
template (``dna``) at 0.
"""

from __future__ import annotations

import math
import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from biofab.cellfree.stocks import StockTable
from biofab.core import InputError
from biofab.core.atomic import write_atomic

PLATE_FORMATS: dict[int, tuple[int, int]] = {96: (8, 12), 384: (16, 24)}
LAYOUT_COLUMNS = ["plate", "well", "role", "design", "replicate"]


def plate_wells(plate: int = 96, edge: str = "use") -> list[str]:
    """Well names of a ``plate`` (96 or 384) in row-major order; ``edge="avoid"``
    drops the outer ring (96: 60 wells left; 384: 308)."""
    if plate not in PLATE_FORMATS:
        raise InputError("unknown plate format", expected="96 or 384", found=plate)
    if edge not in ("avoid", "use"):
        raise InputError("unknown edge rule", expected="'avoid' or 'use'", found=edge)
    rows, cols = PLATE_FORMATS[plate]
    inner = edge == "avoid"
    return [
        f"{string.ascii_uppercase[r]}{c + 1}"
        for r in range(rows)
        for c in range(cols)
        if not inner or (0 < r < rows - 1 and 0 < c < cols - 1)
    ]


def well_order(wells: pd.Series) -> pd.Series:
    """Sort key of well names: row letter, then column number (A2 before A10)."""
    text = wells.astype(str)
    return text.str[0].map(ord) * 1000 + text.str[1:].astype(int)


@dataclass(frozen=True)
class PlateLayout:
    """How a batch is laid out on plates.

    Parameters
    ----------
    plate: 96 or 384 wells.
    replicates: wells per design (all on one plate, so they share its reference).
    references, blanks: control wells on *every* plate.
    seed: seeds which plate each design goes to and every well position.
    edge: ``"avoid"`` leaves the outer ring empty; ``"use"`` fills it.
    max_plates: most plates a batch may take (None: as many as needed).
    blank_component: the component set to 0 in blanks (the DNA template).
    """

    plate: int = 96
    replicates: int = 3
    references: int = 4
    blanks: int = 2
    seed: int = 0
    edge: str = "avoid"
    max_plates: int | None = None
    blank_component: str = "dna"

    def __post_init__(self) -> None:
        plate_wells(self.plate, self.edge)  # validates plate and edge
        for name in ("replicates", "references", "blanks"):
            value = getattr(self, name)
            low = 1 if name == "replicates" else 0
            if not isinstance(value, (int, np.integer)) or value < low:
                raise InputError(f"{name} must be a whole number >= {low}", found=value)
        if self.max_plates is not None and self.max_plates < 1:
            raise InputError("max_plates must be >= 1", found=self.max_plates)

    @property
    def wells(self) -> list[str]:
        """Usable wells of one plate."""
        return plate_wells(self.plate, self.edge)

    @property
    def designs_per_plate(self) -> int:
        free = len(self.wells) - self.references - self.blanks
        return max(free // self.replicates, 0)

    def plates_needed(self, n_designs: int) -> int:
        """Plates a batch of ``n_designs`` takes (ignoring ``max_plates``)."""
        per_plate_controls = self.references + self.blanks
        if self.designs_per_plate == 0:
            raise InputError(
                f"one design ({self.replicates} replicates) and the {per_plate_controls} "
                f"controls need {self.replicates + per_plate_controls} wells but a plate has "
                f"{len(self.wells)} usable (plate {self.plate}, edge '{self.edge}')"
            )
        return max(1, math.ceil(n_designs / self.designs_per_plate))

    def layout(
        self,
        designs: pd.DataFrame,
        stocks: StockTable,
        reference: Mapping[str, float] | None = None,
    ) -> pd.DataFrame:
        """The layout frame for ``designs`` (one row per design, a column per varied
        component, final concentrations); ``reference`` defaults to the table's."""
        self._check_designs(designs, stocks)
        ref = dict(stocks.reference() if reference is None else reference)
        for s in stocks:
            if s.component not in ref:
                if s.varied:
                    raise InputError("reference composition misses a component", found=s.component)
                ref[s.component] = float(s.fixed)  # type: ignore[arg-type]
        if self.blanks and self.blank_component not in stocks:
            raise InputError(
                "blank component is not in the stock table",
                expected=f"one of {stocks.names}",
                found=self.blank_component,
            )
        n = len(designs)
        n_plates = self._plates_for(n)
        rng = np.random.default_rng(self.seed)
        # Designs go to plates in random order so batch order never aligns with plates.
        groups = np.array_split(rng.permutation(n), n_plates)
        values = designs[stocks.varied_names].to_numpy(dtype=float)
        fixed = {s.component: float(s.fixed) for s in stocks if not s.varied}  # type: ignore[arg-type]
        blank = dict(ref, **{self.blank_component: 0.0}) if self.blanks else ref
        rows: list[dict[str, object]] = []
        for p, group in enumerate(groups):
            entries: list[tuple[str, int, int, Mapping[str, float]]] = []
            for d in sorted(int(i) for i in group):
                comp: Mapping[str, float] = dict(
                    zip(stocks.varied_names, values[d], strict=True), **fixed
                )
                entries += [("sample", d, r + 1, comp) for r in range(self.replicates)]
            entries += [("reference", -1, r + 1, ref) for r in range(self.references)]
            entries += [("blank", -1, r + 1, blank) for r in range(self.blanks)]
            wells = rng.permutation(self.wells)[: len(entries)]
            for well, (role, d, rep, comp) in zip(wells, entries, strict=True):
                row: dict[str, object] = {
                    "plate": f"P{p + 1}",
                    "well": str(well),
                    "role": role,
                    "design": d,
                    "replicate": rep,
                }
                row.update({name: float(comp[name]) for name in stocks.names})
                rows.append(row)
        frame = pd.DataFrame(rows, columns=LAYOUT_COLUMNS + stocks.names)
        frame["_p"] = frame["plate"].str[1:].astype(int)
        frame["_w"] = well_order(frame["well"])
        frame = frame.sort_values(["_p", "_w"]).drop(columns=["_p", "_w"])
        return frame.reset_index(drop=True)

    def _plates_for(self, n: int) -> int:
        per_plate_controls = self.references + self.blanks
        n_plates = self.plates_needed(n)
        if self.max_plates is not None and n_plates > self.max_plates:
            needed = n * self.replicates + n_plates * per_plate_controls
            available = self.max_plates * len(self.wells)
            raise InputError(
                f"batch does not fit: {n} designs x {self.replicates} replicates + "
                f"{per_plate_controls} controls per plate need {needed} wells on {n_plates} "
                f"plates, but max_plates={self.max_plates} gives {available} usable wells "
                f"({len(self.wells)} per {self.plate}-well plate, edge '{self.edge}')"
            )
        return n_plates

    @staticmethod
    def _check_designs(designs: pd.DataFrame, stocks: StockTable) -> None:
        for name in stocks.varied_names:
            if name not in designs.columns:
                raise InputError(
                    "designs miss a component column",
                    column=name,
                    expected=f"columns {stocks.varied_names}",
                )
            values = pd.to_numeric(designs[name], errors="coerce").to_numpy(dtype=float)
            bad = ~np.isfinite(values) | (values < 0)
            if bad.any():
                i = int(np.argmax(bad))
                raise InputError(
                    "design concentration must be a number >= 0",
                    row=i + 1,
                    column=name,
                    found=designs[name].iloc[i],
                )


def layout_plates(
    designs: pd.DataFrame,
    stocks: StockTable,
    *,
    reference: Mapping[str, float] | None = None,
    plate: int = 96,
    replicates: int = 3,
    references: int = 4,
    blanks: int = 2,
    seed: int = 0,
    edge: str = "avoid",
    max_plates: int | None = None,
    blank_component: str = "dna",
) -> pd.DataFrame:
    """Shorthand for ``PlateLayout(...).layout(designs, stocks, reference)``."""
    spec = PlateLayout(
        plate=plate,
        replicates=replicates,
        references=references,
        blanks=blanks,
        seed=seed,
        edge=edge,
        max_plates=max_plates,
        blank_component=blank_component,
    )
    return spec.layout(designs, stocks, reference)


def write_layout(path: str | Path, layout: pd.DataFrame) -> Path:
    """Write a layout frame as CSV, atomically (``layout.csv``)."""
    return write_atomic(path, layout.to_csv(index=False))
