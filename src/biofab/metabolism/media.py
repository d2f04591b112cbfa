"""Growth media: named compound lists applied to a model's exchange reactions.

A medium is a set of extracellular compounds in BiGG ids without compartment
(``glc__D``, ``nh4``, ``o2``). Applying it closes every uptake, then opens the
exchange of each listed compound to ``-uptake`` mmol/gDW/h (secretion stays
open), the convention of CarveMe's benchmark (Machado et al. 2018, Nucleic
Acids Res 46:7542).

Media come by name from a table with columns ``medium`` and ``compound``
(tab- or comma-separated, the layout of CarveMe's ``media_db.tsv``). The table is
searched in this order (:func:`media_search_path`), never relative to the working
directory:

1. the file given (``--media-db``), else ``$BIOFAB_MEDIA_DB``;
2. ``$XDG_CONFIG_HOME/biofab/media_db.tsv`` (``~/.config/biofab/media_db.tsv``), a
   user's own table;
3. ``metabolism/carveme_benchmark/media_db.tsv`` under ``$BIOFAB_SHARED_DATA``, else
   under the ``shared/data`` folder beside the checkout the package runs from.

``M9``, ``M9[-O2]`` and M9 with another carbon source (``M9[glyc]``, ``M9[succ]``,
``M9[DL-lac]``, ``M9[ac]``, ``M9[fru]``) are built in, so a bare machine can still
name them; a table's medium of the same name wins.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from biofab.core.errors import InputError, ModelError

if TYPE_CHECKING:
    import cobra

DEFAULT_UPTAKE = 10.0  # mmol/gDW/h, the customary cap on each medium compound

# M9 minimal salts with glucose and the trace metals a genome-scale biomass needs
# (Sambrook & Russell, Molecular Cloning, 3rd ed., A2.2).
_M9: tuple[str, ...] = ("ca2", "cl", "cobalt2", "cu2", "fe2", "fe3", "glc__D", "h2o", "h", "k")
_M9 += ("mg2", "mn2", "mobd", "na1", "nh4", "ni2", "o2", "pi", "so4", "zn2")
_M9_C = tuple(c for c in _M9 if c != "glc__D")
BUILTIN = {
    "M9": _M9,
    "M9[-O2]": tuple(c for c in _M9 if c != "o2"),
    "M9[glyc]": (*_M9_C, "glyc"),
    "M9[succ]": (*_M9_C, "succ"),
    "M9[DL-lac]": (*_M9_C, "lac__D", "lac__L"),
    "M9[ac]": (*_M9_C, "ac"),
    "M9[fru]": (*_M9_C, "fru"),
}


@dataclass(frozen=True)
class Medium:
    """A named set of compounds (BiGG ids, no compartment) and their uptake cap.

    ``uptake`` is in mmol/gDW/h and applies to every compound unless
    ``overrides`` names another value for it.
    """

    name: str
    compounds: tuple[str, ...]
    uptake: float = DEFAULT_UPTAKE
    overrides: tuple[tuple[str, float], ...] = ()

    def without(self, *compounds: str) -> Medium:
        """This medium less ``compounds`` (e.g. to swap the carbon source)."""
        drop = set(compounds)
        kept = tuple(c for c in self.compounds if c not in drop)
        return Medium(self.name, kept, self.uptake, self.overrides)

    def plus(self, *compounds: str) -> Medium:
        """This medium with ``compounds`` added."""
        extra = tuple(c for c in compounds if c not in self.compounds)
        return Medium(self.name, self.compounds + extra, self.uptake, self.overrides)

    def rate(self, compound: str) -> float:
        """The uptake cap of ``compound``, mmol/gDW/h."""
        return dict(self.overrides).get(compound, self.uptake)


def media_search_path() -> list[Path]:
    """Where a media table is looked for when none is given, first wins (module doc)."""
    paths = []
    env = os.environ.get("BIOFAB_MEDIA_DB")
    if env:
        paths.append(Path(env))
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    paths.append(config / "biofab" / "media_db.tsv")
    checkout = Path(__file__).resolve().parents[3]  # <checkout>/src/biofab/metabolism
    shared = os.environ.get("BIOFAB_SHARED_DATA") or checkout.parent / "shared" / "data"
    paths.append(Path(shared) / "metabolism" / "carveme_benchmark" / "media_db.tsv")
    return paths


def default_media_path() -> Path | None:
    """The first existing table of :func:`media_search_path` (``$BIOFAB_MEDIA_DB`` is
    returned even when missing, so that a wrong setting fails loudly)."""
    paths = media_search_path()
    if os.environ.get("BIOFAB_MEDIA_DB"):
        return paths[0]
    return next((p for p in paths if p.is_file()), None)


def load_media(path: str | os.PathLike[str]) -> dict[str, Medium]:
    """Every medium of a table with ``medium`` and ``compound`` columns."""
    p = Path(path)
    if not p.exists():
        raise InputError("media table not found", file=str(p))
    text = p.read_text()
    dialect = "excel-tab" if "\t" in text.splitlines()[0] else "excel"
    rows = list(csv.DictReader(text.splitlines(), dialect=dialect))
    for col in ("medium", "compound"):
        if not rows or col not in rows[0]:
            raise InputError(
                "missing column", file=str(p), column=col, expected="columns medium, compound"
            )
    found: dict[str, list[str]] = {}
    for i, row in enumerate(rows, start=1):
        name, cpd = (row["medium"] or "").strip(), (row["compound"] or "").strip()
        if not name or not cpd:
            raise InputError(
                "empty cell", file=str(p), row=i, column="medium" if not name else "compound"
            )
        found.setdefault(name, []).append(cpd)
    return {n: Medium(n, tuple(dict.fromkeys(c))) for n, c in found.items()}


def get_medium(name: str, table: str | os.PathLike[str] | None = None) -> Medium:
    """A medium by name from ``table`` (or the default table), or a built-in one.

    ``name`` may also be the path of a one-medium table (or a file with one
    compound per line).
    """
    if Path(name).is_file():
        return _medium_file(Path(name))
    path = Path(table) if table is not None else default_media_path()
    known: dict[str, Medium] = {n: Medium(n, c) for n, c in BUILTIN.items()}
    if path is not None:
        known.update(load_media(path))
    if name not in known:
        if table is not None:
            where = f"read {table}"
        else:
            searched = ", ".join(str(p) for p in media_search_path())
            where = f"searched {searched}; " + (f"read {path}" if path else "none exists")
        raise InputError(
            f"unknown medium; {where}; name a table with --media-db (columns medium, "
            "compound) or give a medium file",
            expected=", ".join(sorted(known)),
            found=name,
        )
    return known[name]


def _medium_file(path: Path) -> Medium:
    lines = [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]
    if lines and ("medium" in lines[0].split("\t") or "medium" in lines[0].split(",")):
        media = load_media(path)
        if len(media) != 1:
            raise InputError(
                "a medium file must hold one medium",
                file=str(path),
                expected="1 medium",
                found=len(media),
            )
        return next(iter(media.values()))
    return Medium(path.stem, tuple(dict.fromkeys(ln.split()[0] for ln in lines)))


def exchange_map(model: cobra.Model) -> dict[str, cobra.Reaction]:
    """Compound id (no compartment) -> its exchange reaction in ``model``."""
    out = {}
    for rxn in model.exchanges:
        (met,) = rxn.metabolites
        cpd = met.id[: -len(met.compartment) - 1] if met.compartment else met.id
        out[cpd] = rxn
    return out


def apply_medium(
    model: cobra.Model, medium: Medium, *, strict: bool = True, label: str | None = None
) -> list[str]:
    """Close all uptakes and open those of ``medium``; returns compounds the model lacks.

    With ``strict`` a compound without an exchange in ``model`` raises
    :class:`ModelError` naming it. Inside ``with model:`` the change is undone on
    exit, as with every COBRApy bound change.
    """
    exchanges = exchange_map(model)
    missing = [c for c in medium.compounds if c not in exchanges]
    if strict and missing:
        raise ModelError(
            f"medium '{medium.name}' names compounds without an exchange reaction in the model",
            file=label,
            expected="compounds with EX_<id>_e reactions",
            found=", ".join(missing[:5]) + (" ..." if len(missing) > 5 else ""),
        )
    for cpd, rxn in exchanges.items():
        rxn.lower_bound = -medium.rate(cpd) if cpd in medium.compounds else 0.0
    return missing


def medium_of(model: cobra.Model) -> Medium:
    """The medium ``model`` currently allows: compounds with an open uptake."""
    open_ = [(c, -r.lower_bound) for c, r in exchange_map(model).items() if r.lower_bound < 0]
    rates = dict(open_)
    return Medium(model.id or "model", tuple(rates), DEFAULT_UPTAKE, tuple(rates.items()))
