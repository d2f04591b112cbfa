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
rate          mmol/L/h   mmol/L/h, mol/L/h, mmol/L/min, mol/L/min, %/L/h (see below)
mass_rate     g/L/h      g/L/h, mg/L/h, g/L/min (gas uptake/evolution by mass)
amount_rate   mmol/h     mmol/h, mol/h, mmol/min (whole-vessel OUR/CER)
mass_flow     g/h        g/h, kg/h, g/min (feed pumps on a balance)
rotation      rpm        rpm, 1/min
cells         1e6/mL     1e6 cells/mL, cells/mL, 1e9 cells/L
ph            pH         pH
specific      1/h        1/h
dimensionless AU         AU, OD (absorbance, optical density)
============  =========  ===========================================================

Molar and mass concentrations convert into each other only with a molar mass
(g/mol): ``g/L = mM * M / 1000``; so do molar and mass uptake rates (``mmol/L/h =
g/L/h * 1000 / M``; O2 31.998, CO2 44.009 g/mol). Whole-vessel rates become volumetric
with the broth ``volume`` (L): ``mmol/L/h = mmol/h / V``. Feeds weighed on a balance become
volume flows with the feed ``density`` (kg/L): ``L/h = g/h / (1000 density)``.

Vendor OUR/CER in ``%/L/h`` (gas-analyser software reporting the O2 or CO2 transferred as
percent of a normal litre of gas per litre of broth per hour) converts with the molar
volume of an ideal gas at 0 °C and 1 atm, 22.414 L/mol: ``1 %/L/h = 0.01 / 22.414 mol/L/h
= 0.44615 mmol/L/h``. A vendor whose reference differs (e.g. 20 °C: 24.04 L/mol) should
be converted with a mapping ``factor`` instead.
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


NORMAL_MOLAR_VOLUME = 22.414
"""L/mol of an ideal gas at 0 °C and 1 atm (normal conditions), for ``%/L/h``."""


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
        ("mol/L/min", "rate", 60e3),
        ("%/L/h", "rate", 10.0 / NORMAL_MOLAR_VOLUME),
        ("g/L/h", "mass_rate", 1.0),
        ("mg/L/h", "mass_rate", 1e-3),
        ("g/L/min", "mass_rate", 60.0),
        ("mmol/h", "amount_rate", 1.0),
        ("mol/h", "amount_rate", 1e3),
        ("mmol/min", "amount_rate", 60.0),
        ("g/h", "mass_flow", 1.0),
        ("kg/h", "mass_flow", 1e3),
        ("g/min", "mass_flow", 60.0),
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
    "mmol/L/hr": "mmol/L/h",
    "mM/h": "mmol/L/h",
    "%/l/h": "%/L/h",
    "% /L/h": "%/L/h",
    "g/l/h": "g/L/h",
    "mol/hr": "mol/h",
    "mmol/hr": "mmol/h",
    "g/hr": "g/h",
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


# (from dimension, to dimension) -> (what the conversion needs, how base values change)
_BRIDGES: dict[tuple[str, str], tuple[str, str]] = {
    ("molar_conc", "mass_conc"): ("molar_mass", "x * m / 1000"),
    ("mass_conc", "molar_conc"): ("molar_mass", "x * 1000 / m"),
    ("rate", "mass_rate"): ("molar_mass", "x * m / 1000"),
    ("mass_rate", "rate"): ("molar_mass", "x * 1000 / m"),
    ("amount_rate", "rate"): ("volume", "x / m"),
    ("rate", "amount_rate"): ("volume", "x * m"),
    ("mass_flow", "flow"): ("density", "x / (1000 m)"),
    ("flow", "mass_flow"): ("density", "x * 1000 m"),
}
_UNIT_OF = {"molar_mass": "g/mol", "volume": "L", "density": "kg/L"}


def convertible(
    from_unit: str,
    to_unit: str,
    *,
    molar_mass: float | None = None,
    volume: float | None = None,
    density: float | None = None,
) -> bool:
    """Whether :func:`convert` can turn ``from_unit`` into ``to_unit``."""
    a, b = UNITS[canonical(from_unit)], UNITS[canonical(to_unit)]
    if a.dimension == b.dimension:
        return True
    need = _BRIDGES.get((a.dimension, b.dimension))
    given = {"molar_mass": molar_mass, "volume": volume, "density": density}
    return need is not None and given[need[0]] is not None


def convert(
    values: npt.ArrayLike,
    from_unit: str,
    to_unit: str,
    *,
    molar_mass: float | None = None,
    volume: float | None = None,
    density: float | None = None,
) -> npt.NDArray[np.float64]:
    """Convert ``values`` from ``from_unit`` to ``to_unit``; returns a float array.

    ``molar_mass`` (g/mol) is needed only between molar and mass concentrations or
    uptake rates, ``volume`` (L) between whole-vessel and volumetric rates, ``density``
    (kg/L) between mass and volume flows. Raises :class:`UnitError` when the units are unknown or of
    different dimensions.
    """
    a, b = UNITS[canonical(from_unit)], UNITS[canonical(to_unit)]
    x = np.asarray(values, dtype=float) * a.factor + a.offset  # in a's base unit
    if a.dimension != b.dimension:
        bridge = _BRIDGES.get((a.dimension, b.dimension))
        if bridge is None:
            raise UnitError(
                f"cannot convert '{a.name}' ({a.dimension}) to '{b.name}' ({b.dimension})",
                expected=f"a unit of {b.dimension}",
                found=a.name,
            )
        need, _ = bridge
        m = {"molar_mass": molar_mass, "volume": volume, "density": density}[need]
        if m is None or not (m > 0 and np.isfinite(m)):
            raise UnitError(
                f"converting '{a.name}' to '{b.name}' needs a {need.replace('_', ' ')}",
                expected=f"{need} > 0 ({_UNIT_OF[need]})",
                found=m,
            )
        x = _bridge(x, a.dimension, b.dimension, float(m))
    return (x - b.offset) / b.factor


def _bridge(x: npt.NDArray[np.float64], a: str, b: str, m: float) -> npt.NDArray[np.float64]:
    """Base value of dimension ``a`` -> base value of dimension ``b`` (see _BRIDGES)."""
    if (a, b) in {("molar_conc", "mass_conc"), ("rate", "mass_rate")}:
        return x * m / 1000
    if (a, b) in {("mass_conc", "molar_conc"), ("mass_rate", "rate")}:
        return x * 1000 / m
    if (a, b) == ("amount_rate", "rate"):
        return x / m
    if (a, b) == ("rate", "amount_rate"):
        return x * m
    if (a, b) == ("mass_flow", "flow"):
        return x / (1000 * m)
    return x * 1000 * m  # flow -> mass_flow
