"""Combinatorial site libraries of a protein: which residues may change, and to what.

A :class:`SiteLibrary` is a parent sequence plus the positions (1-based, as papers
number residues) a campaign mutates and the residues allowed at each. It becomes an
ordinary :class:`biofab.core.Space` with one :class:`~biofab.core.Categorical` per site,
named ``f"{parent_residue}{position}"`` (``"V39"``) with one-letter residue choices, so
the campaign engine samples, encodes, stores and recommends variants exactly as it does
compositions.

Two names for one variant, both used in the field:

* the *code*: the residues at the sites in library order (``"FWAA"`` for GB1 sites
  V39, D40, G41, V54; the parent is ``"VDGV"``), as in Wu et al. 2016 (eLife 5:e16965);
* the *mutation notation* (HGVS-like short form): ``"V39F/D40W/G41A/V54A"``, parent
  residue, position, new residue for every site that differs; ``"WT"`` for the parent.

:meth:`SiteLibrary.parse` reads either. Every check raises a one-line
:class:`~biofab.core.errors.InputError` naming what was expected and what was found.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from biofab.core.errors import InputError
from biofab.core.parameters import Categorical
from biofab.core.space import Space
from biofab.parts.sequences import PROTEIN, check_sequence

if TYPE_CHECKING:
    import pandas as pd

#: The 20 standard amino acids, one-letter codes in alphabetical order.
AMINO_ACIDS = PROTEIN

#: Protein G B1 domain (GB1, 56 aa) as mutated by Olson et al. 2014 (Curr Biol
#: 24:2643) and Wu et al. 2016 (eLife 5:e16965); residues V39, D40, G41 and V54 are
#: the four sites of Wu's complete 20^4 landscape (shared data
#: parts/protein_landscapes/gb1_wu2016_4site.csv).
GB1_PARENT = "MQYKLILNGKTLKGETTTEAVDAATAEKVFKQYANDNGVDGEWTYDDATKTFTVTE"
GB1_POSITIONS = (39, 40, 41, 54)

_MUTATION = re.compile(r"^([A-Z])(\d+)([A-Z])$")
#: Combinatorial libraries above this many variants are never enumerated whole.
ENUMERATE_LIMIT = 5_000_000


def _letters(text: object, what: str) -> str:
    s = str(text).strip().upper()
    bad = sorted(set(s) - set(AMINO_ACIDS))
    if not s or bad:
        raise InputError(
            f"{what}: letters outside the amino-acid alphabet",
            expected=f"one-letter codes from {AMINO_ACIDS}",
            found="".join(bad) or "empty",
        )
    if len(set(s)) != len(s):
        raise InputError(
            f"{what}: a residue is listed twice", expected="distinct residues", found=s
        )
    return "".join(sorted(s, key=AMINO_ACIDS.index))


class SiteLibrary:
    """A parent protein and the residues allowed at a few of its positions.

    ``positions`` are 1-based residue numbers, kept in the order given (that order
    defines the variant code). ``allowed`` is one string of residues for every site
    (default all 20) or a mapping position -> residues; a site missing from the mapping
    allows all 20. Each site must allow at least two residues (one would be no site).
    """

    def __init__(
        self,
        parent: str,
        positions: Sequence[int],
        allowed: Mapping[int, str] | str = AMINO_ACIDS,
    ) -> None:
        self.parent = check_sequence(parent, "protein", column="parent")
        pos = [self._position(p) for p in positions]
        if not pos:
            raise InputError("a site library needs at least one position", found="none")
        if len(set(pos)) != len(pos):
            raise InputError("a position is listed twice", expected="distinct positions", found=pos)
        self.positions: tuple[int, ...] = tuple(pos)
        if isinstance(allowed, str):
            per_site = {p: allowed for p in pos}
        else:
            unknown = sorted(set(allowed) - set(pos))
            if unknown:
                raise InputError(
                    "allowed residues given for a position that is not a site",
                    expected=f"one of {list(pos)}",
                    found=unknown[0],
                )
            per_site = {p: allowed.get(p, AMINO_ACIDS) for p in pos}
        self.allowed: dict[str, str] = {}
        for p in pos:
            name = self.site_name(p)
            letters = _letters(per_site[p], f"site {name}")
            if len(letters) < 2:
                raise InputError(
                    f"site {name} allows one residue only", expected="two or more", found=letters
                )
            self.allowed[name] = letters

    def _position(self, p: object) -> int:
        try:
            value = int(str(p).strip())
        except ValueError:
            raise InputError("a position is not a whole number", found=p) from None
        if not 1 <= value <= len(self.parent):
            raise InputError(
                "position beyond the parent sequence",
                expected=f"1..{len(self.parent)} (parent length)",
                found=value,
            )
        return value

    # -- description -----------------------------------------------------------------
    def site_name(self, position: int) -> str:
        """``"V39"``: parent residue and 1-based position."""
        return f"{self.parent[position - 1]}{position}"

    @property
    def sites(self) -> list[str]:
        """Site names in library order (the parameter names of :meth:`space`)."""
        return list(self.allowed)

    @property
    def parent_code(self) -> str:
        """The parent's residues at the sites (``"VDGV"`` for GB1)."""
        return "".join(self.parent[p - 1] for p in self.positions)

    @property
    def size(self) -> int:
        """Number of distinct variants (product of allowed residues per site)."""
        return math.prod(len(a) for a in self.allowed.values())

    def __repr__(self) -> str:
        sites = "/".join(self.sites)
        return f"SiteLibrary({len(self.parent)} aa, sites {sites}, {self.size} variants)"

    def space(self) -> Space:
        """The campaign space: one categorical of one-letter residues per site."""
        return Space({n: Categorical(tuple(a)) for n, a in self.allowed.items()})

    @classmethod
    def from_sites(
        cls, parent: str, sites: str | Sequence[str], allowed: Mapping[int, str] | str = AMINO_ACIDS
    ) -> SiteLibrary:
        """Library from site names (``"V39,D40"``, ``["V39", "D40"]``), checked against ``parent``.

        A name's residue must be the parent's residue there (a typo in a position is the
        most common error in a mutagenesis plan), a bare number is accepted too.
        """
        items = sites.split(",") if isinstance(sites, str) else list(sites)
        seq = check_sequence(parent, "protein", column="parent")
        positions = []
        for raw in items:
            text = str(raw).strip().upper()
            m = re.fullmatch(r"([A-Z]?)(\d+)", text)
            if m is None:
                raise InputError("not a site name", expected="like V39 or 39", found=raw)
            pos = int(m.group(2))
            if not 1 <= pos <= len(seq):
                raise InputError(
                    f"site {text}: position beyond the parent sequence",
                    expected=f"1..{len(seq)} (parent length)",
                    found=pos,
                )
            if m.group(1) and m.group(1) != seq[pos - 1]:
                raise InputError(
                    f"site {text}: the parent has another residue there",
                    expected=f"{seq[pos - 1]}{pos}",
                    found=text,
                )
            positions.append(pos)
        return cls(seq, positions, allowed)

    # -- one variant -----------------------------------------------------------------
    def _residues(self, design: Mapping[str, Any] | Any) -> list[str]:
        out = []
        for name, letters in self.allowed.items():
            try:
                r = str(design[name]).strip().upper()
            except KeyError:
                raise InputError(
                    "a design lacks a site", expected=f"sites {self.sites}", found=name
                ) from None
            if r not in letters:
                raise InputError(
                    f"site {name}: residue not allowed",
                    expected=f"one of {letters}",
                    found=r,
                )
            out.append(r)
        return out

    def sequence(self, design: Mapping[str, Any] | Any) -> str:
        """The full mutant sequence of ``design`` (site name -> residue)."""
        seq = list(self.parent)
        for p, r in zip(self.positions, self._residues(design), strict=True):
            seq[p - 1] = r
        return "".join(seq)

    def variant_code(self, design: Mapping[str, Any] | Any) -> str:
        """Residues at the sites in library order (``"FWAA"``)."""
        return "".join(self._residues(design))

    def variant_name(self, design: Mapping[str, Any] | Any, style: str = "mutations") -> str:
        """``"V39F/D40W"`` (``style="mutations"``, ``"WT"`` for the parent) or the code.

        ``style="code"`` gives :meth:`variant_code`; ``style="both"`` gives
        ``"FWAA (V39F/D40W/G41A/V54A)"``.
        """
        residues = self._residues(design)
        code = "".join(residues)
        muts = [
            f"{self.parent[p - 1]}{p}{r}"
            for p, r in zip(self.positions, residues, strict=True)
            if r != self.parent[p - 1]
        ]
        mutations = "/".join(muts) or "WT"
        if style == "mutations":
            return mutations
        if style == "code":
            return code
        if style == "both":
            return f"{code} ({mutations})"
        raise InputError(
            "unknown variant name style", expected="mutations | code | both", found=style
        )

    def parse(self, text: object) -> dict[str, str]:
        """A design from a code (``"FWAA"``), mutations (``"V39F/D40W"``, ``"V39F D40W"``) or WT."""
        s = str(text).strip().upper()
        if s in ("WT", "WILDTYPE", "WILD TYPE", "PARENT"):
            return dict(zip(self.sites, self.parent_code, strict=True))
        tokens = [t for t in re.split(r"[/,;:+\s]+", s) if t]
        if len(tokens) == 1 and len(s) == len(self.positions) and s.isalpha():
            design = dict(zip(self.sites, s, strict=True))
            self._residues(design)
            return design
        design = dict(zip(self.sites, self.parent_code, strict=True))
        seen: set[int] = set()
        for tok in tokens:
            m = _MUTATION.match(tok)
            if m is None:
                raise InputError(
                    "not a variant",
                    expected=f"a {len(self.positions)}-letter code like {self.parent_code} "
                    "or mutations like V39F/D40W",
                    found=str(text),
                )
            wt, pos, new = m.group(1), int(m.group(2)), m.group(3)
            if pos not in self.positions:
                raise InputError(
                    f"mutation {tok} is not at a site of the library",
                    expected=f"a position in {list(self.positions)}",
                    found=pos,
                )
            if self.parent[pos - 1] != wt:
                raise InputError(
                    f"mutation {tok}: the parent has another residue there",
                    expected=f"{self.parent[pos - 1]}{pos}",
                    found=f"{wt}{pos}",
                )
            if pos in seen:
                raise InputError(f"mutation {tok}: position mutated twice", found=str(text))
            seen.add(pos)
            design[self.site_name(pos)] = new
        self._residues(design)
        return design

    # -- many variants (vectorised: a landscape has 10^5 rows) --------------------------
    def frame(self, variants: Iterable[object]) -> pd.DataFrame:
        """Designs (one column per site) from codes or mutation strings, order kept.

        ``"WT"`` always means the parent (in a two-site library write W/T as mutations).
        """
        import pandas as pd

        items = [str(v).strip().upper() for v in variants]
        k = len(self.positions)
        joined = "".join(items)
        if (
            joined.isascii()
            and joined.isalpha()
            and len(joined) == k * len(items)
            and all(len(c) == k for c in items)
            and "WT" not in items
        ):
            matrix = np.frombuffer(joined.encode(), dtype=np.uint8).reshape(len(items), k)
            self._check_matrix(matrix)
            return _frame_from_matrix(matrix, self.sites)
        rows = [self.parse(v) for v in items]
        return pd.DataFrame(rows, columns=self.sites)

    def letter_matrix(self, designs: pd.DataFrame, *, file: str | None = None) -> np.ndarray:
        """``(n, k)`` ASCII codes of the residues at the sites, checked against the library."""
        matrix = letter_matrix(designs, self.sites, file=file)
        self._check_matrix(matrix, file=file)
        return matrix

    def _check_matrix(self, matrix: np.ndarray, *, file: str | None = None) -> None:
        for j, (name, letters) in enumerate(self.allowed.items()):
            ok = np.zeros(256, dtype=bool)
            ok[list(letters.encode())] = True
            bad = np.flatnonzero(~ok[matrix[:, j]])
            if len(bad):
                raise InputError(
                    f"site {name}: residue not allowed",
                    file=file,
                    row=int(bad[0]) + 1,
                    column=name,
                    expected=f"one of {letters}",
                    found=chr(matrix[bad[0], j]),
                )

    def check_frame(self, designs: pd.DataFrame, *, file: str | None = None) -> None:
        """One-line error for the first row (from 1) whose residue a site does not allow."""
        self.letter_matrix(designs, file=file)

    def codes(self, designs: pd.DataFrame) -> list[str]:
        """Variant codes of a frame of designs (site columns)."""
        matrix = np.ascontiguousarray(self.letter_matrix(designs))
        k = matrix.shape[1]
        return matrix.view(f"S{k}").ravel().astype(f"U{k}").tolist()

    def names(self, designs: pd.DataFrame) -> list[str]:
        """Mutation notation (``"V39F/D40W"``, ``"WT"``) of each design."""
        return [
            self.variant_name(dict(zip(self.sites, c, strict=True))) for c in self.codes(designs)
        ]

    def sequences(self, designs: pd.DataFrame) -> list[str]:
        """Full mutant sequences of a frame of designs."""
        out = []
        for code in self.codes(designs):
            seq = list(self.parent)
            for p, r in zip(self.positions, code, strict=True):
                seq[p - 1] = r
            out.append("".join(seq))
        return out

    def hamming(self, designs: pd.DataFrame) -> np.ndarray:
        """Number of sites where each design differs from the parent."""
        wt = np.frombuffer(self.parent_code.encode(), dtype=np.uint8)
        return (self.letter_matrix(designs) != wt[None, :]).sum(axis=1)

    def enumerate(self) -> pd.DataFrame:
        """Every variant of the library (refused beyond :data:`ENUMERATE_LIMIT`)."""
        if self.size > ENUMERATE_LIMIT:
            raise InputError(
                "library too large to enumerate",
                expected=f"at most {ENUMERATE_LIMIT:,} variants",
                found=f"{self.size:,}",
            )
        axes = [np.frombuffer(a.encode(), dtype=np.uint8) for a in self.allowed.values()]
        grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, len(axes))
        return _frame_from_matrix(grid, self.sites)

    def single_mutants(self) -> pd.DataFrame:
        """The parent's single mutants at every site (site-saturation from the parent)."""
        import pandas as pd

        wt = dict(zip(self.sites, self.parent_code, strict=True))
        rows = []
        for name, letters in self.allowed.items():
            for r in letters:
                if r != wt[name]:
                    rows.append({**wt, name: r})
        return pd.DataFrame(rows, columns=self.sites)


def unique_variants(
    codes: Sequence[str], *, file: str | Path | None = None, column: str = "variant"
) -> None:
    """Refuse a results or order table that lists one variant twice (row numbers from 1)."""
    first: dict[str, int] = {}
    for i, c in enumerate(codes):
        if c in first:
            raise InputError(
                f"variant listed twice (rows {first[c] + 1} and {i + 1})",
                file=None if file is None else str(file),
                row=i + 1,
                column=column,
                expected="each variant once",
                found=c,
            )
        first[c] = i


def letter_matrix(
    designs: pd.DataFrame, sites: Sequence[str], *, file: str | None = None
) -> np.ndarray:
    """``(n, k)`` uint8 ASCII codes of one-letter residues in ``sites`` columns (upper case).

    A cell that is not one letter (missing, several characters) is one line naming row
    and column; which letters are allowed is the caller's check.
    """
    n = len(designs)
    out = np.empty((n, len(sites)), dtype=np.uint8)
    for j, name in enumerate(sites):
        if name not in designs.columns:
            raise InputError(
                "a site column is missing", file=file, expected=f"columns {list(sites)}", found=name
            )
        values = designs[name].tolist()
        joined = "".join(v for v in values if isinstance(v, str))
        if len(joined) != n or not joined.isascii():
            clean = [str(v).strip().upper() if isinstance(v, str) else "" for v in values]
            bad = next((i for i, v in enumerate(clean) if len(v) != 1 or not v.isascii()), None)
            if bad is not None:
                raise InputError(
                    "not a one-letter residue",
                    file=file,
                    row=bad + 1,
                    column=name,
                    expected="one amino-acid letter",
                    found=str(values[bad]),
                )
            joined = "".join(clean)
        out[:, j] = np.frombuffer(joined.upper().encode(), dtype=np.uint8)
    return out


def _frame_from_matrix(matrix: np.ndarray, sites: Sequence[str]) -> pd.DataFrame:
    import pandas as pd

    letters = np.ascontiguousarray(matrix).view("S1").astype("U1").astype(object)
    return pd.DataFrame(letters.reshape(matrix.shape), columns=list(sites))
