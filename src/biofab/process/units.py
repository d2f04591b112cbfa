"""Unit conversion for fermentation signals, kept deliberately small.

Each unit belongs to one *dimension* and converts to that dimension's base unit
by ``base = value * factor + offset``:

============  =========  ===========================================================
dimension     base       accepted spellings
============  =========  ===========================================================
time          h          h, min, s, d
volume        L          L, mL, uL, m3
mass          g          g, mg, kg
mass_conc     g/L        g/L, mg/L, mg/mL, ug/mL, kg/m3
molar_conc    mM         mM, uM, M, mmol/L, mol/L
fraction      %          %, - (fraction 0..1 -> multiplied by 100)
temperature   degC       degC, °C, C, K
flow          L/h        L/h, mL/h, L/min, mL/min
rate          mmol/L/h   mmol/L/h, mol/L/h, mmol/L/min
rotation      rpm        rpm, 1/min
cells         1e6/mL     1e6 cells/mL, cells/mL, 1e9 cells/L
ph            pH         pH
specific      1/h        1/h
dimensionless AU         AU, OD (absorbance, optical density)
============  =========  ===========================================================

Molar and mass concentrations convert into each other only with a molar mass
(g/mol): ``g/L = mM * M / 1000``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from biofab.core.errors import InputError


class UnitError(InputError):
    """A unit biofab does not know, or two units that cannot be converted."""


@dataclass(frozen=True)
class Unit:
    """One unit: its dimension and ``base = value * factor + offset``."""

    name: str
    dimension: str
    factor: float
    offset: float = 0.0


def _table() -> dict[str, Unit]:
    rows = [
        ("h", "time", 1.0),
        ("min", "time", 1 / 60),
        ("s", "time", 1 / 3600),
        ("d", "time", 24.0),
        ("L", "volume", 1.0),
        ("mL", "volume", 1e-3),
        ("uL", "volume", 1e-6),
        ("m3", "volume", 1e3),
        ("g", "mass", 1.0),
        ("mg", "mass", 1e-3),
        ("kg", "mass", 1e3),
        ("g/L", "mass_conc", 1.0),
        ("mg/L", "mass_conc", 1e-3),
        ("mg/mL", "mass_conc", 1.0),
        ("ug/mL", "mass_conc", 1e-3),
        ("kg/m3", "mass_conc", 1.0),
        ("mM", "molar_conc", 1.0),
        ("uM", "molar_conc", 1e-3),
        ("M", "molar_conc", 1e3),
        ("%", "fraction", 1.0),
        ("-", "fraction", 100.0),
        ("degC", "temperature", 1.0),
        ("L/h", "flow", 1.0),
        ("mL/h", "flow", 1e-3),
        ("L/min", "flow", 60.0),
        ("mL/min", "flow", 60e-3),
        ("mmol/L/h", "rate", 1.0),
        ("mol/L/h", "rate", 1e3),
        ("mmol/L/min", "rate", 60.0),
        ("rpm", "rotation", 1.0),
        ("1e6 cells/mL", "cells", 1.0),
        ("cells/mL", "cells", 1e-6),
        ("1e9 cells/L", "cells", 1.0),
        ("pH", "ph", 1.0),
        ("1/h", "specific", 1.0),
        ("AU", "dimensionless", 1.0),
    ]
    table = {name: Unit(name, dim, factor) for name, dim, factor in rows}
    table["K"] = Unit("K", "temperature", 1.0, -273.15)
    return table


UNITS: dict[str, Unit] = _table()

# Other spellings people write in spreadsheet headers -> the canonical name above.
_ALIASES: dict[str, str] = {
    "hr": "h",
    "hours": "h",
    "minutes": "min",
    "sec": "s",
    "day": "d",
    "l": "L",
    "ml": "mL",
    "µL": "uL",
    "μL": "uL",
    "g/l": "g/L",
    "mg/l": "mg/L",
    "mg/ml": "mg/mL",
    "µg/mL": "ug/mL",
    "μg/mL": "ug/mL",
    "mmol/L": "mM",
    "mmol/l": "mM",
    "mol/L": "M",
    "µM": "uM",
    "μM": "uM",
    "°C": "degC",
    "C": "degC",
    "l/h": "L/h",
    "ml/h": "mL/h",
    "L/hr": "L/h",
    "l/min": "L/min",
    "ml/min": "mL/min",
    "mmol/(L*h)": "mmol/L/h",
    "mmol/L.h": "mmol/L/h",
    "mmol/l/h": "mmol/L/h",
    "1/min": "rpm",
    "min-1": "rpm",
    "1e6cells/mL": "1e6 cells/mL",
    "10^6 cells/mL": "1e6 cells/mL",
    "1/hr": "1/h",
    "h-1": "1/h",
    "OD": "AU",
    "fraction": "-",
    "percent": "%",
}


def canonical(unit: str) -> str:
    """The canonical spelling of ``unit`` (see the module table); raises :class:`UnitError`."""
    text = str(unit).strip()
    if text in UNITS:
        return text
    if text in _ALIASES:
        return _ALIASES[text]
    squeezed = text.replace(" ", "")
    for name in (*UNITS, *_ALIASES):
        if name.replace(" ", "") == squeezed:
            return _ALIASES.get(name, name)
    raise UnitError(
        f"unknown unit '{text}'",
        expected="one of " + ", ".join(UNITS),
    )


def dimension(unit: str) -> str:
    """The dimension of ``unit`` (``"time"``, ``"mass_conc"``, ...)."""
    return UNITS[canonical(unit)].dimension


def convertible(from_unit: str, to_unit: str, *, molar_mass: float | None = None) -> bool:
    """Whether :func:`convert` can turn ``from_unit`` into ``to_unit``."""
    a, b = UNITS[canonical(from_unit)], UNITS[canonical(to_unit)]
    if a.dimension == b.dimension:
        return True
    return {a.dimension, b.dimension} == {"mass_conc", "molar_conc"} and molar_mass is not None


def convert(
    values: npt.ArrayLike,
    from_unit: str,
    to_unit: str,
    *,
    molar_mass: float | None = None,
) -> npt.NDArray[np.float64]:
    """Convert ``values`` from ``from_unit`` to ``to_unit``; returns a float array.

    ``molar_mass`` (g/mol) is needed only between molar (mM) and mass (g/L)
    concentrations. Raises :class:`UnitError` when the units are unknown or of
    different dimensions.
    """
    a, b = UNITS[canonical(from_unit)], UNITS[canonical(to_unit)]
    x = np.asarray(values, dtype=float) * a.factor + a.offset  # in a's base unit
    if a.dimension != b.dimension:
        pair = (a.dimension, b.dimension)
        if pair not in {("molar_conc", "mass_conc"), ("mass_conc", "molar_conc")}:
            raise UnitError(
                f"cannot convert '{a.name}' ({a.dimension}) to '{b.name}' ({b.dimension})",
                expected=f"a unit of {b.dimension}",
                found=a.name,
            )
        if molar_mass is None or not molar_mass > 0:
            raise UnitError(
                f"converting '{a.name}' to '{b.name}' needs a molar mass",
                expected="molar_mass > 0 (g/mol)",
                found=molar_mass,
            )
        # mM * (g/mol) / 1000 = g/L
        x = x * molar_mass / 1000 if a.dimension == "molar_conc" else x * 1000 / molar_mass
    return (x - b.offset) / b.factor
