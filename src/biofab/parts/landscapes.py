"""Fitness landscapes over a few mutated sites: the measured GB1 landscape and a
simulated NK landscape with tunable epistasis, both as finite pools a campaign can replay.

A :class:`Landscape` holds every *buildable* variant of a site library with its
fitness. GB1 (Wu et al. 2016, eLife 5:e16965): all 20^4 combinations at sites
V39, D40, G41 and V54 of protein G domain B1, of which 149,361 were measured
(fitness relative to the wild type VDGV = 1; global maximum FWAA = 8.76). The
10,639 unmeasured variants are *not buildable* here: they are left out of the
pool, so no method can choose them and no fitness is invented for them.

:func:`nk_landscape` simulates a landscape of the same shape (Kauffman &
Weinberger 1989, J. Theor. Biol. 141:211): each site ``i`` contributes a random
value that depends on its own residue and on ``k`` other sites, so ``k = 0`` is
additive and ``k = L - 1`` is a fully rugged landscape. The mean contribution is
then made as skewed as measured landscapes are (most variants near zero, a few
peaks): ``fitness = exp(sharpness * (F - F_parent))``, with the parent chosen
as the variant at the wild type's quantile on GB1 (2.4 % of variants above it).
It is a check that a design choice made while looking at GB1 also holds where
it was not made, not a model of GB1.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from biofab.core import Categorical, Space
from biofab.core.errors import InputError

#: The twenty amino acids in one-letter code, alphabetical.
AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY"
#: Where GB1's landscape lives under the shared data folder.
GB1_RELATIVE = Path("parts/protein_landscapes/gb1_wu2016_4site.csv")
#: GB1's mutated sites (residue of the wild type and position) and its wild type.
GB1_SITES = ("V39", "D40", "G41", "V54")
GB1_PARENT = "VDGV"
#: Fraction of GB1 variants at or above the wild type's fitness (the NK parent's quantile).
PARENT_QUANTILE = 1 - 0.024


@dataclass(frozen=True)
class Landscape:
    """Every buildable variant of a site library with its fitness.

    ``sites`` names the mutated positions (``"V39"``: parent residue, then
    position); ``variants`` holds one string per variant (one letter per site,
    in ``sites`` order); ``fitness`` its value (higher is better, unitless
    relative to the parent for GB1).
    """

    name: str
    sites: tuple[str, ...]
    parent: str
    alphabet: str
    variants: np.ndarray
    fitness: np.ndarray

    @property
    def codes(self) -> np.ndarray:
        """Integer codes ``(n, L)``: each letter's index in ``alphabet``."""
        lookup = np.full(128, -1, dtype=np.int64)
        lookup[np.frombuffer(self.alphabet.encode(), dtype=np.uint8)] = np.arange(
            len(self.alphabet)
        )
        raw = np.frombuffer("".join(self.variants).encode(), dtype=np.uint8)
        return lookup[raw].reshape(len(self.variants), len(self.sites))

    @property
    def global_max(self) -> float:
        return float(self.fitness.max())

    @property
    def best_variant(self) -> str:
        return str(self.variants[int(np.argmax(self.fitness))])

    def top_threshold(self, fraction: float = 0.001) -> float:
        """Fitness of the ``fraction`` quantile from the top (top 0.1 % by default)."""
        return float(np.quantile(self.fitness, 1 - fraction))

    def space(self) -> Space:
        """The site library as a campaign space: one categorical per site."""
        return Space({s: Categorical(tuple(self.alphabet)) for s in self.sites})

    def designs(self) -> pd.DataFrame:
        """The pool as design rows (one column per site)."""
        letters = np.array([list(v) for v in self.variants]).reshape(-1, len(self.sites))
        return pd.DataFrame(letters, columns=list(self.sites))

    def table(self, objective: str = "fitness") -> pd.DataFrame:
        """Designs plus the fitness column named ``objective``."""
        out = self.designs()
        out[objective] = self.fitness
        return out


def load_gb1(path: str | Path | None = None) -> Landscape:
    """GB1's four-site landscape from Wu et al. 2016's table (``Variants``, ``Fitness``).

    ``path`` defaults to ``$BIOFAB_SHARED_DATA/parts/protein_landscapes/gb1_wu2016_4site.csv``.
    A missing file, missing columns, a variant of the wrong length or with a
    letter outside the amino acids, a repeated variant or a non-finite or
    negative fitness is one :class:`InputError` line naming the row.
    """
    file = Path(path) if path is not None else _shared() / GB1_RELATIVE
    if not file.is_file():
        raise InputError("landscape file not found", file=str(file))
    table = pd.read_csv(file, dtype={"Variants": str})
    for column in ("Variants", "Fitness"):
        if column not in table.columns:
            raise InputError(
                "missing column", file=str(file), column=column, expected="Variants, Fitness"
            )
    variants = table["Variants"].astype(str).str.strip().str.upper().to_numpy()
    bad = ~pd.Series(variants).str.fullmatch(rf"[{AMINO_ACIDS}]{{{len(GB1_SITES)}}}").to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            "not a variant of the four GB1 sites",
            file=str(file),
            row=i + 1,
            column="Variants",
            expected=f"{len(GB1_SITES)} letters of {AMINO_ACIDS}",
            found=variants[i],
        )
    repeated = pd.Series(variants).duplicated().to_numpy()
    if repeated.any():
        i = int(np.flatnonzero(repeated)[0])
        raise InputError(
            "variant listed twice", file=str(file), row=i + 1, column="Variants", found=variants[i]
        )
    fitness = pd.to_numeric(table["Fitness"], errors="coerce").to_numpy(dtype=float)
    wrong = ~np.isfinite(fitness) | (fitness < 0)
    if wrong.any():
        i = int(np.flatnonzero(wrong)[0])
        raise InputError(
            "fitness must be a finite number >= 0",
            file=str(file),
            row=i + 1,
            column="Fitness",
            found=table["Fitness"].iloc[i],
        )
    return Landscape("GB1", GB1_SITES, GB1_PARENT, AMINO_ACIDS, variants, fitness)


def nk_landscape(
    n_sites: int = 4,
    k: int = 2,
    *,
    alphabet: str = AMINO_ACIDS,
    sharpness: float = 12.0,
    seed: int = 0,
) -> Landscape:
    """A complete simulated landscape over ``n_sites`` sites with NK epistasis.

    Site ``i`` interacts with ``k`` other sites drawn at random; its contribution
    is an independent uniform draw for every combination of its own and its
    partners' letters. ``F`` is the mean contribution; the fitness is
    ``exp(sharpness * (F - F_parent))`` (1 at the parent, a few peaks far above,
    most variants near zero, as in measured landscapes). Same arguments, same
    landscape.
    """
    if not 0 <= k < n_sites:
        raise InputError("NK epistasis needs 0 <= k < n_sites", column="k", found=k)
    if len(alphabet) ** n_sites > 5_000_000:
        raise InputError(
            "landscape too large to enumerate",
            expected="at most 5,000,000 variants",
            found=len(alphabet) ** n_sites,
        )
    rng = np.random.default_rng(seed)
    A = len(alphabet)
    codes = np.array(list(itertools.product(range(A), repeat=n_sites)), dtype=np.int64)
    F = np.zeros(len(codes))
    for i in range(n_sites):
        others = [j for j in range(n_sites) if j != i]
        partners = [i, *sorted(rng.choice(others, size=k, replace=False).tolist())]
        table = rng.random(A ** len(partners))
        index = np.zeros(len(codes), dtype=np.int64)
        for j in partners:
            index = index * A + codes[:, j]
        F += table[index]
    F /= n_sites
    order = np.argsort(F)
    parent_row = order[int(PARENT_QUANTILE * (len(F) - 1))]
    fitness = np.exp(sharpness * (F - F[parent_row]))
    letters = np.array(list(alphabet))[codes]
    variants = np.array(["".join(r) for r in letters])
    sites = tuple(f"{letters[parent_row, i]}{i + 1}" for i in range(n_sites))
    return Landscape(
        f"NK(L={n_sites}, k={k})", sites, str(variants[parent_row]), alphabet, variants, fitness
    )


def _shared() -> Path:
    """The shared data folder: ``$BIOFAB_SHARED_DATA``, else ``../shared/data``."""
    import os

    return Path(os.environ.get("BIOFAB_SHARED_DATA", Path.cwd().parent / "shared" / "data"))


def site_name_ok(name: str) -> bool:
    """Whether ``name`` looks like a site (parent residue letter, then a position)."""
    return re.fullmatch(rf"[{AMINO_ACIDS}][0-9]+", name) is not None
