"""Numbers for protein variants: encodings for models, zero-shot priors for the first library.

**Encoders** (scikit-learn style: hyper-parameters in ``__init__``, ``fit`` learns the
site columns, ``transform`` returns a float array, fitted state ends in ``_``) read either
a DataFrame of site columns (one-letter residues, as :class:`~biofab.parts.variants.SiteLibrary`
spaces hold them) or a list of equal-length variant codes (``"FWAA"``):

* :class:`OneHotEncoder` -- 20 columns per site;
* :class:`DescriptorEncoder` -- per-site amino-acid descriptors: ``"georgiev"`` (the 19
  Georgiev factors), ``"physchem"`` (the AAindex-style scales in :data:`PHYSCHEM`) or a
  user table; each descriptor z-scored over the 20 amino acids so no scale dominates;
* :class:`PairwiseEncoder` -- the single-site encoding plus, for every pair of sites,
  either the pair's one-hot (400 columns: every pairwise epistatic term can be learned)
  or the products of the two sites' descriptors (one column per descriptor).

**Zero-shot priors** need no measurement and no downloaded weights. Each term is a score
of a variant relative to its parent (0 for the parent, higher = more likely to keep the
function) summed over mutated sites:

* ``blosum62``: BLOSUM62(wt, mut) - BLOSUM62(wt, wt) (Henikoff & Henikoff 1992, PNAS
  89:10915; the matrix as Biopython ships it), half-bit log-odds of seeing the
  substitution in conserved blocks;
* ``hydrophobicity``: -|KD(mut) - KD(wt)|, Kyte & Doolittle 1982 (J Mol Biol 157:105);
* ``volume``: -|V(mut) - V(wt)| in Å^3, residue volumes of Zamyatnin 1972 (Prog Biophys
  Mol Biol 24:107);
* ``profile``: PSSM_i(mut) - PSSM_i(wt) at each site i, PSSM = log(f / background), f
  the residue frequencies among homologs of the parent that phmmer finds in a proteome
  the user gives (:class:`HomologProfile`; the site-independent model of Hopf et al.
  2017, Nat Biotechnol 35:128, without the pairwise couplings).

:class:`ZeroShotPrior` combines terms with weights after dividing each by its spread over
the library's single substitutions (so weights are comparable and no term is tuned on
measured data); :func:`zero_shot_score` is the one-call form and
:func:`focused_sample` draws the first library from the top fraction by prior, the
focused-training idea of ftMLDE (Wittmann, Yue & Arnold 2021, Cell Syst 12:1026).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from biofab.core.errors import InputError
from biofab.parts.variants import AMINO_ACIDS, SiteLibrary, letter_matrix

if TYPE_CHECKING:
    import pandas as pd

_INDEX = {a: i for i, a in enumerate(AMINO_ACIDS)}
_ASCII_INDEX = np.full(256, -1, dtype=np.int16)
_ASCII_INDEX[list(AMINO_ACIDS.encode())] = np.arange(20)

# Georgiev 2009 (J Comput Biol 16:703-723, doi:10.1089/cmb.2008.0173), 19 factors that
# summarise ~500 AAindex scales; rows A..Y (alphabetical one-letter order), columns
# factor 1..19 (factor 1 follows hydrophobicity).
_GEORGIEV_1_10 = """
A  0.57  3.37 -3.66  2.34 -1.07 -0.40  1.23 -2.32 -2.01  1.31
C  2.66 -1.52 -3.29 -3.77  2.96 -2.23  0.44 -3.49  2.22 -3.78
D -2.46 -0.66 -0.57  0.14  0.75  0.24 -5.15 -1.17  0.73  1.50
E -3.08  3.45  0.05  0.62 -0.49  0.00 -5.66 -0.11  1.49 -2.26
F  3.12  0.68  2.40 -0.35 -0.88  1.62 -0.15 -0.41  4.20  0.73
G  0.15 -3.49 -2.97  2.06  0.70  7.47  0.41  1.62 -0.47 -2.90
H -0.39  1.00 -0.63 -3.49  0.05  0.41  1.61 -0.60  3.55  1.52
I  3.10  0.37  0.26  1.04 -0.05 -1.18 -0.21  3.45  0.86  1.98
K -3.89  1.47  1.95  1.17  0.53  0.10  4.01 -0.01 -0.26 -1.66
L  2.72  1.88  1.92  5.33  0.08  0.09  0.27 -4.06  0.43 -1.20
M  1.89  3.88 -1.57 -3.58 -2.55  2.07  0.84  1.85 -2.05  0.78
N -2.02 -1.92  0.04 -0.65  1.61  2.08  0.40 -2.47 -0.07  7.02
P -0.58 -4.33 -0.02 -0.21 -8.31 -1.82 -0.12 -1.18  0.00 -0.66
Q -2.54  1.82 -0.82 -1.85  0.09  0.60  0.25  2.11 -1.92 -1.67
R -2.80  0.31  2.84  0.25  0.20 -0.37  3.81  0.98  2.43 -0.99
S -1.10 -2.05 -2.19  1.36  1.78 -3.36  1.39 -1.21 -2.83  0.39
T -0.65 -1.60 -1.39  0.63  1.35 -2.45 -0.65  3.43  0.34  0.24
V  2.64  0.03 -0.67  2.34  0.64 -2.01 -0.33  3.93 -0.21  1.27
W  1.89 -0.09  4.21 -2.77  0.72  0.86 -1.07 -1.66 -5.87 -0.66
Y  0.79 -2.62  4.11 -0.63  1.89 -0.53 -1.30  1.31 -0.56 -0.95
"""
_GEORGIEV_11_19 = """
A -1.14  0.19  1.66  4.39  0.18 -2.60  1.49  0.46 -4.22
C  1.98 -0.43 -1.03  0.93  1.43  1.45 -1.15 -1.64 -1.05
D  1.51  5.61 -3.85  1.28 -1.98  0.05  0.90  1.38 -0.03
E -1.62 -3.97  2.30 -0.06 -0.35  1.51 -2.29 -1.47  0.15
F -0.56  3.54  5.25  1.73  2.14  1.10  0.68  1.46  2.33
G -0.98 -0.62 -0.11  0.15 -0.53  0.35  0.30  0.32  0.05
H -2.28 -3.12 -1.45 -0.77 -4.18 -2.91  3.37  1.87  2.17
I  0.89 -1.67 -1.02 -1.21 -1.78  5.71  1.54  2.11 -4.18
K  5.86 -0.06  1.38  1.78 -2.71  1.62  0.96 -1.09  1.36
L  0.67 -0.29 -2.47 -4.79  0.80 -1.43  0.63 -0.24  1.01
M  1.53  2.44 -0.26 -3.09 -1.39 -1.02 -4.32 -1.34  0.09
N  1.32 -2.44  0.37 -0.89  3.13  0.79 -1.54 -1.71 -0.25
P  0.64 -0.92 -0.37  0.17  0.36  0.08  0.16 -0.34  0.04
Q  0.70 -0.27 -0.99 -1.56  6.22 -0.18  2.72  4.35  0.92
R -4.90  2.09 -3.08  0.82  1.32  0.69 -2.62 -1.49 -2.57
S -2.92  1.27  2.86 -1.88 -2.42  1.75 -2.77  3.36  2.67
T -0.53  1.91  2.66 -3.07  0.20 -2.20  3.73 -5.46 -0.73
V  0.43 -1.71 -2.93  4.22  1.06 -1.31 -1.97 -1.21  4.77
W -2.49 -0.30 -0.50  1.64 -0.72  1.75  2.73 -2.20  0.90
Y  1.91 -1.26  1.57  0.20 -0.76 -5.19 -2.56  2.87 -3.43
"""

# AAindex-style physico-chemical scales, rows A..Y:
#  hydrophobicity  Kyte & Doolittle 1982, J Mol Biol 157:105 (AAindex KYTJ820101)
#  volume          residue volume, Å^3, Zamyatnin 1972, Prog Biophys Mol Biol 24:107
#  polarity        Grantham 1974, Science 185:862 (GRAR740102)
#  charge          net side-chain charge at pH 7 (His pKa 6.0: +0.09)
_PHYSCHEM = """
A  1.8  88.6  8.1  0.00
C  2.5 108.5  5.5  0.00
D -3.5 111.1 13.0 -1.00
E -3.5 138.4 12.3 -1.00
F  2.8 189.9  5.2  0.00
G -0.4  60.1  9.0  0.00
H -3.2 153.2 10.4  0.09
I  4.5 166.7  5.2  0.00
K -3.9 168.6 11.3  1.00
L  3.8 166.7  4.9  0.00
M  1.9 162.9  5.7  0.00
N -3.5 114.1 11.6  0.00
P -1.6 112.7  8.0  0.00
Q -3.5 143.8 10.5  0.00
R -4.5 173.4 10.5  1.00
S -0.8  89.0  9.2  0.00
T -0.7 116.1  8.6  0.00
V  4.2 140.0  5.9  0.00
W -0.9 227.8  5.4  0.00
Y -1.3 193.6  6.2  0.00
"""


def _table(text: str, names: Sequence[str]) -> dict[str, np.ndarray]:
    rows = {}
    for line in text.strip().splitlines():
        aa, *values = line.split()
        rows[aa] = np.array([float(v) for v in values])
    assert "".join(rows) == AMINO_ACIDS and all(len(v) == len(names) for v in rows.values())
    return {n: np.array([rows[a][j] for a in AMINO_ACIDS]) for j, n in enumerate(names)}


#: Georgiev factors: name -> 20 values in :data:`AMINO_ACIDS` order.
GEORGIEV: dict[str, np.ndarray] = {
    **_table(_GEORGIEV_1_10, [f"georgiev_{k}" for k in range(1, 11)]),
    **_table(_GEORGIEV_11_19, [f"georgiev_{k}" for k in range(11, 20)]),
}
#: Physico-chemical scales: name -> 20 values in :data:`AMINO_ACIDS` order.
PHYSCHEM: dict[str, np.ndarray] = _table(
    _PHYSCHEM, ["hydrophobicity", "volume", "polarity", "charge"]
)
DESCRIPTOR_SETS = {"georgiev": GEORGIEV, "physchem": PHYSCHEM}
#: Dayhoff's six amino-acid classes (Dayhoff, Schwartz & Orcutt 1978), residue -> class,
#: for models that let residues of one class share strength
#: (:class:`biofab.learn.VariantRecommender` ``groups``).
DAYHOFF_CLASSES: dict[str, str] = {
    a: name
    for name, members in (
        ("small", "AGPST"),
        ("cysteine", "C"),
        ("acid_amide", "DENQ"),
        ("basic", "HKR"),
        ("hydrophobic", "ILMV"),
        ("aromatic", "FWY"),
    )
    for a in members
}


# -- reading variants -----------------------------------------------------------------------


def residue_indices(X: Any, sites: Sequence[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """``(n, k)`` indices into :data:`AMINO_ACIDS` and the site names, from a frame or codes.

    A frame uses ``sites`` (default: all its columns); codes must share one length and
    get sites ``site_1..site_k``. A letter outside the alphabet raises one line naming
    the row (from 1) and site.
    """
    import pandas as pd

    if isinstance(X, pd.DataFrame):
        names = list(X.columns) if sites is None else list(sites)
        matrix = letter_matrix(X, names)
    else:
        codes = [str(c).strip().upper() for c in ([X] if isinstance(X, str) else X)]
        if not codes:
            raise InputError("no variants to encode", expected="at least one", found=0)
        k = len(codes[0])
        for i, c in enumerate(codes):
            if len(c) != k or not c.isascii():
                raise InputError(
                    "variant codes differ in length", row=i + 1, expected=f"{k} letters", found=c
                )
        names = list(sites) if sites is not None else [f"site_{j + 1}" for j in range(k)]
        if len(names) != k:
            raise InputError(
                "variant codes do not match the sites", expected=f"{len(names)} letters", found=k
            )
        matrix = np.frombuffer("".join(codes).encode(), dtype=np.uint8).reshape(len(codes), k)
    idx = _ASCII_INDEX[matrix]
    bad = np.argwhere(idx < 0)
    if len(bad):
        r, j = bad[0]
        raise InputError(
            "letter outside the amino-acid alphabet",
            row=int(r) + 1,
            column=names[j],
            expected=f"one of {AMINO_ACIDS}",
            found=chr(matrix[r, j]),
        )
    return idx.astype(np.intp), names


# -- encoders ---------------------------------------------------------------------------------


class _SiteEncoder:
    """Common fit/transform over site columns; subclasses implement ``_encode``."""

    sites_: list[str]
    feature_names_: list[str]

    def __init__(self, sites: Sequence[str] | None = None) -> None:
        self.sites = sites

    def fit(self, X: Any, y: Any = None) -> _SiteEncoder:
        _, self.sites_ = residue_indices(X, self.sites)
        self.feature_names_ = self._names(self.sites_)
        return self

    def transform(self, X: Any) -> np.ndarray:
        if not hasattr(self, "sites_"):
            raise InputError(
                "encoder used before fit", expected="fit(X) first", found=type(self).__name__
            )
        sites = self.sites_ if _is_frame(X) else None
        idx, _ = residue_indices(X, sites)
        if idx.shape[1] != len(self.sites_):
            raise InputError(
                "variants have another number of sites than the encoder was fitted on",
                expected=f"{len(self.sites_)} sites",
                found=idx.shape[1],
            )
        return self._encode(idx)

    def fit_transform(self, X: Any, y: Any = None) -> np.ndarray:
        return self.fit(X).transform(X)

    def get_feature_names_out(self) -> np.ndarray:
        return np.array(self.feature_names_, dtype=object)

    def _names(self, sites: list[str]) -> list[str]:
        raise NotImplementedError

    def _encode(self, idx: np.ndarray) -> np.ndarray:
        raise NotImplementedError


def _is_frame(X: Any) -> bool:
    import pandas as pd

    return isinstance(X, pd.DataFrame)


class OneHotEncoder(_SiteEncoder):
    """20 indicator columns per site (``"V39=A"`` ...), float32."""

    def _names(self, sites: list[str]) -> list[str]:
        return [f"{s}={a}" for s in sites for a in AMINO_ACIDS]

    def _encode(self, idx: np.ndarray) -> np.ndarray:
        n, k = idx.shape
        out = np.zeros((n, k * 20), dtype=np.float32)
        out[np.arange(n)[:, None], np.arange(k) * 20 + idx] = 1.0
        return out


def _descriptor_matrix(
    descriptors: str | Mapping[str, Sequence[float]],
) -> tuple[np.ndarray, list[str]]:
    """``(20, d)`` descriptor table, each column z-scored over the 20 amino acids."""
    if isinstance(descriptors, str):
        table = DESCRIPTOR_SETS.get(descriptors)
        if table is None:
            raise InputError(
                "unknown descriptor set", expected=" | ".join(DESCRIPTOR_SETS), found=descriptors
            )
    else:
        table = {str(k): np.asarray(v, dtype=float) for k, v in descriptors.items()}
        for k, v in table.items():
            if v.shape != (20,) or not np.all(np.isfinite(v)):
                raise InputError(
                    f"descriptor {k}: needs 20 finite values (order {AMINO_ACIDS})",
                    expected="20 numbers",
                    found=v.shape,
                )
    if not table:
        raise InputError("no descriptors", expected="at least one", found=0)
    m = np.stack(list(table.values()), axis=1)
    sd = m.std(axis=0)
    sd[sd == 0] = 1.0
    return ((m - m.mean(axis=0)) / sd).astype(np.float32), list(table)


class DescriptorEncoder(_SiteEncoder):
    """Per-site amino-acid descriptors: ``"georgiev"`` (19), ``"physchem"`` (4) or a table.

    A user table maps descriptor name -> 20 values in :data:`AMINO_ACIDS` order.
    """

    def __init__(
        self,
        descriptors: str | Mapping[str, Sequence[float]] = "georgiev",
        sites: Sequence[str] | None = None,
    ) -> None:
        super().__init__(sites)
        self.descriptors = descriptors

    def fit(self, X: Any, y: Any = None) -> DescriptorEncoder:
        self.table_, self.descriptor_names_ = _descriptor_matrix(self.descriptors)
        super().fit(X)
        return self

    def _names(self, sites: list[str]) -> list[str]:
        return [f"{s}:{d}" for s in sites for d in self.descriptor_names_]

    def _encode(self, idx: np.ndarray) -> np.ndarray:
        n, k = idx.shape
        return self.table_[idx].reshape(n, k * self.table_.shape[1])


class PairwiseEncoder(_SiteEncoder):
    """Single-site features plus pair features for epistasis.

    ``base="onehot"``: single one-hot + the one-hot of each site pair's residue pair
    (400 columns per pair; ``k(k-1)/2`` pairs). Otherwise ``base`` names a descriptor
    set (or is a table): single descriptors + their element-wise products per pair.
    ``pairs`` restricts the pairs (site names or 0-based indices), default all.
    """

    def __init__(
        self,
        base: str | Mapping[str, Sequence[float]] = "onehot",
        pairs: Sequence[tuple[Any, Any]] | None = None,
        sites: Sequence[str] | None = None,
    ) -> None:
        super().__init__(sites)
        self.base = base
        self.pairs = pairs

    def fit(self, X: Any, y: Any = None) -> PairwiseEncoder:
        if self.base == "onehot":
            self.single_: _SiteEncoder = OneHotEncoder(sites=self.sites)
        else:
            self.single_ = DescriptorEncoder(self.base, sites=self.sites)
        self.single_.fit(X)
        self.pairs_ = self._pairs(self.single_.sites_)
        return super().fit(X)  # type: ignore[return-value]

    def _pairs(self, sites: list[str]) -> list[tuple[int, int]]:
        if self.pairs is None:
            return [(i, j) for i in range(len(sites)) for j in range(i + 1, len(sites))]
        out = []
        for a, b in self.pairs:
            ij = []
            for s in (a, b):
                if isinstance(s, (int, np.integer)) and 0 <= int(s) < len(sites):
                    ij.append(int(s))
                elif s in sites:
                    ij.append(sites.index(s))
                else:
                    raise InputError(
                        "a pair names an unknown site", expected=f"one of {sites}", found=s
                    )
            if ij[0] == ij[1]:
                raise InputError("a pair joins a site with itself", found=(a, b))
            out.append((min(ij), max(ij)))
        return sorted(set(out))

    def _names(self, sites: list[str]) -> list[str]:
        names = list(self.single_.feature_names_)
        if self.base == "onehot":
            for i, j in self.pairs_:
                names += [
                    f"{sites[i]}={a}*{sites[j]}={b}" for a in AMINO_ACIDS for b in AMINO_ACIDS
                ]
        else:
            d = self.single_.descriptor_names_  # type: ignore[attr-defined]
            for i, j in self.pairs_:
                names += [f"{sites[i]}*{sites[j]}:{x}" for x in d]
        return names

    def _encode(self, idx: np.ndarray) -> np.ndarray:
        n = idx.shape[0]
        single = self.single_._encode(idx)
        if self.base == "onehot":
            out = np.zeros((n, len(self.pairs_) * 400), dtype=np.float32)
            for p, (i, j) in enumerate(self.pairs_):
                out[np.arange(n), p * 400 + idx[:, i] * 20 + idx[:, j]] = 1.0
        else:
            table = self.single_.table_  # type: ignore[attr-defined]
            out = (
                np.concatenate(
                    [table[idx[:, i]] * table[idx[:, j]] for i, j in self.pairs_], axis=1
                )
                if self.pairs_
                else np.zeros((n, 0), np.float32)
            )
        return np.concatenate([single, out], axis=1)


ENCODERS = (
    "onehot",
    "georgiev",
    "physchem",
    "pairwise-onehot",
    "pairwise-georgiev",
    "pairwise-physchem",
)


def make_encoder(name: str) -> _SiteEncoder:
    """An unfitted encoder by name (one of :data:`ENCODERS`)."""
    if name == "onehot":
        return OneHotEncoder()
    if name in DESCRIPTOR_SETS:
        return DescriptorEncoder(name)
    if name.startswith("pairwise-") and name[9:] in ("onehot", *DESCRIPTOR_SETS):
        return PairwiseEncoder(name[9:])
    raise InputError("unknown protein encoding", expected=" | ".join(ENCODERS), found=name)


# -- zero-shot priors -------------------------------------------------------------------------


@cache
def blosum62() -> np.ndarray:
    """BLOSUM62 as a (20, 20) array in :data:`AMINO_ACIDS` order (Biopython's copy)."""
    from Bio.Align import substitution_matrices

    m = substitution_matrices.load("BLOSUM62")
    return np.array([[m[a][b] for b in AMINO_ACIDS] for a in AMINO_ACIDS], dtype=float)


def _substitution_terms() -> dict[str, np.ndarray]:
    """``(20, 20)`` score of replacing wt (row) by mut (column); 0 on the diagonal."""
    b = blosum62()
    kd = PHYSCHEM["hydrophobicity"]
    vol = PHYSCHEM["volume"]
    return {
        "blosum62": b - np.diag(b)[:, None],
        "hydrophobicity": -np.abs(kd[None, :] - kd[:, None]),
        "volume": -np.abs(vol[None, :] - vol[:, None]),
    }


PRIOR_TERMS = ("blosum62", "hydrophobicity", "volume", "profile")
DEFAULT_WEIGHTS: dict[str, float] = {"blosum62": 1.0, "hydrophobicity": 0.5, "volume": 0.5}


class HomologProfile:
    """Residue frequencies at each parent position among homologs in a proteome.

    ``fit(parent, proteome)`` searches the parent against the proteome (a FASTA path or
    a mapping id -> sequence) with phmmer (HMMER3, Eddy 2011; pyhmmer), keeps hits with
    E-value <= ``evalue`` and identity below ``max_identity`` (the parent itself and
    near copies add no information), at most ``max_hits`` best, drops duplicate aligned
    strings, and counts each aligned residue at each parent position, plus the parent's
    own residue once where homologs cover it (no other sequence weighting); ``coverage_``
    is the number of homologs aligned at each position. Frequencies add
    ``pseudocount`` pseudo-sequences distributed as the proteome's own amino-acid
    composition, so an uncovered position scores 0 for every substitution.
    """

    def __init__(
        self,
        evalue: float = 1e-5,
        max_identity: float = 0.98,
        max_hits: int = 1000,
        pseudocount: float = 1.0,
    ) -> None:
        self.evalue = evalue
        self.max_identity = max_identity
        self.max_hits = max_hits
        self.pseudocount = pseudocount

    def fit(self, parent: str, proteome: str | Path | Mapping[str, str]) -> HomologProfile:
        import pyhmmer

        from biofab.parts.sequences import check_sequence

        if not (
            self.evalue > 0
            and 0 < self.max_identity <= 1
            and self.max_hits >= 1
            and self.pseudocount > 0
        ):
            raise InputError(
                "homolog profile settings out of range",
                expected="evalue > 0, 0 < max_identity <= 1, max_hits >= 1, pseudocount > 0",
                found=(self.evalue, self.max_identity, self.max_hits, self.pseudocount),
            )
        parent = check_sequence(parent, "protein", column="parent")
        targets = read_proteome(proteome)
        alphabet = pyhmmer.easel.Alphabet.amino()
        query = pyhmmer.easel.DigitalSequenceBlock(
            alphabet,
            [pyhmmer.easel.TextSequence(name=b"parent", sequence=parent).digitize(alphabet)],
        )
        names = list(targets)
        block = pyhmmer.easel.DigitalSequenceBlock(
            alphabet,
            [
                pyhmmer.easel.TextSequence(name=str(i).encode(), sequence=targets[n]).digitize(
                    alphabet
                )
                for i, n in enumerate(names)
            ],
        )
        counts = np.zeros((len(parent), 20))
        seen: set[str] = set()
        used: list[str] = []
        search: Any = pyhmmer.hmmer.phmmer(query, block, cpus=1, E=self.evalue)  # type: ignore[arg-type]
        for hits in search:
            for hit in sorted(hits, key=lambda h: h.evalue):
                if hit.evalue > self.evalue or len(used) >= self.max_hits:
                    continue
                ali = hit.best_domain.alignment
                column = _aligned_residues(
                    ali.hmm_sequence, ali.target_sequence, ali.hmm_from, len(parent)
                )
                same = sum(column.get(p) == parent[p - 1] for p in column)
                if not column or same / len(column) > self.max_identity:
                    continue
                key = "".join(column.get(p, "-") for p in range(1, len(parent) + 1))
                if key in seen:
                    continue
                seen.add(key)
                name = hit.name.decode() if isinstance(hit.name, bytes) else str(hit.name)
                used.append(names[int(name)])
                for p, r in column.items():
                    if r in _INDEX:
                        counts[p - 1, _INDEX[r]] += 1
        composition = np.ones(20)
        for s in targets.values():
            for a in s:
                if a in _INDEX:
                    composition[_INDEX[a]] += 1
        self.background_ = composition / composition.sum()
        self.coverage_ = counts.sum(axis=1)
        # the parent is a member of its own family: at a position homologs cover it counts
        # once, so one homolog that differs there makes both residues equally likely; a
        # position no homolog covers keeps the background (every substitution scores 0)
        covered = np.flatnonzero(self.coverage_ > 0)
        counts[covered, [_INDEX[parent[i]] for i in covered]] += 1.0
        self.counts_ = counts
        self.homologs_ = used
        self.parent_ = parent
        depth = counts.sum(axis=1, keepdims=True)
        self.frequencies_ = (counts + self.pseudocount * self.background_) / (
            depth + self.pseudocount
        )
        return self

    def log_odds(self) -> np.ndarray:
        """``(L, 20)``: PSSM(mut) - PSSM(wt), PSSM = log f / background, at each position.

        0 for the parent's residue and at positions no homolog covers.
        """
        logf = np.log(self.frequencies_ / self.background_)
        wt = np.array([_INDEX[a] for a in self.parent_])
        return logf - logf[np.arange(len(self.parent_)), wt][:, None]


def _aligned_residues(query: str, target: str, query_from: int, length: int) -> dict[int, str]:
    """Parent position (1-based) -> target residue (``"-"`` for a deletion) of one alignment."""
    out: dict[int, str] = {}
    pos = query_from - 1
    for q, t in zip(query, target, strict=True):
        if q in ".-":  # an insertion in the homolog: no parent position
            continue
        pos += 1
        if pos > length:
            break
        out[pos] = "-" if t in ".-" else t.upper()
    return out


def read_proteome(proteome: str | Path | Mapping[str, str]) -> dict[str, str]:
    """Id -> sequence from a FASTA file or a mapping; one line for a file that is not FASTA.

    A final ``*`` is dropped and an internal one (a pseudogene's stop) becomes ``X``.
    """
    if isinstance(proteome, Mapping):
        seqs = {str(k): str(v).strip().upper().rstrip("*") for k, v in proteome.items()}
        file = None
    else:
        from biofab.parts.sequences import parse_fasta, read_text_file

        path = Path(proteome)
        file = str(path)
        text = read_text_file(path, "a protein FASTA file")
        if not text.lstrip().startswith(">"):
            raise InputError(
                "not a FASTA file",
                file=file,
                expected="records starting with '>'",
                found=text.strip()[:20],
            )
        ids, seqs_list = parse_fasta(text, file=file)
        seqs = {i: s.upper().rstrip("*") for i, s in zip(ids, seqs_list, strict=True)}
    # an internal stop (pseudogenes in annotated proteomes) is read as an unknown residue
    seqs = {k: s.replace("*", "X") for k, s in seqs.items()}
    ok = set("ACDEFGHIKLMNPQRSTVWYBZJXUO")
    for row, (k, s) in enumerate(seqs.items(), start=1):
        bad = sorted(set(s) - ok)
        if not s or bad:
            raise InputError(
                f"record {k}: not a protein sequence",
                file=file,
                row=row,
                expected="amino-acid letters",
                found="".join(bad) or "empty",
            )
    if not seqs:
        raise InputError("no sequences", file=file, expected="at least one protein", found=0)
    return seqs


class ZeroShotPrior:
    """Weighted sum of zero-shot terms for the variants of one library.

    ``weights`` maps term (see :data:`PRIOR_TERMS`) -> weight; ``profile`` is a fitted
    :class:`HomologProfile` of the same parent (needed by the ``profile`` term, which is
    added with weight 1 when a profile is given and ``weights`` does not name it). Each
    term is divided by its standard deviation over the library's single substitutions
    (every allowed residue at every site), so the score is in those units and terms with
    different natural units weigh as the weights say. Higher = more likely functional.
    """

    def __init__(
        self,
        library: SiteLibrary,
        weights: Mapping[str, float] | None = None,
        profile: HomologProfile | None = None,
    ) -> None:
        w = dict(DEFAULT_WEIGHTS if weights is None else weights)
        if profile is not None and "profile" not in w:
            w["profile"] = 1.0
        for k, v in w.items():
            if k not in PRIOR_TERMS:
                raise InputError(
                    "unknown zero-shot term", expected=" | ".join(PRIOR_TERMS), found=k
                )
            if not math.isfinite(float(v)) or float(v) < 0:
                raise InputError(f"weight of {k} must be a finite number >= 0", found=v)
        if "profile" in w and profile is None:
            raise InputError(
                "the profile term needs homologs", expected="a fitted HomologProfile", found=None
            )
        if profile is not None and profile.parent_ != library.parent:
            raise InputError(
                "the homolog profile was fitted on another parent", found=profile.parent_[:20]
            )
        self.library = library
        self.weights = {k: float(v) for k, v in w.items() if float(v) > 0}
        if not self.weights:
            raise InputError(
                "every zero-shot weight is 0", expected="at least one positive weight", found=w
            )
        self.profile = profile
        self.site_scores_ = self._site_scores()

    def _site_scores(self) -> np.ndarray:
        """``(k, 20)``: weighted, scaled score of each residue at each site."""
        lib = self.library
        wt = [_INDEX[a] for a in lib.parent_code]
        subs = _substitution_terms()
        allowed = [np.array([_INDEX[a] for a in letters]) for letters in lib.allowed.values()]
        total = np.zeros((len(wt), 20))
        for term, weight in self.weights.items():
            if term == "profile":
                assert self.profile is not None
                lo = self.profile.log_odds()
                raw = np.stack([lo[p - 1] for p in lib.positions])
            else:
                raw = np.stack([subs[term][w] for w in wt])
            values = np.concatenate([raw[i, a] for i, a in enumerate(allowed)])
            sd = float(np.std(values))
            total += weight * raw / (sd if sd > 0 else 1.0)
        return total

    def site_table(self) -> dict[str, dict[str, float]]:
        """``{site: {residue: score}}`` for the library's allowed residues: the prior
        is the sum of one score per site, so this table is all of it (the form
        :class:`biofab.learn.VariantRecommender` takes as a prior mean)."""
        return {
            site: {a: float(self.site_scores_[i, _INDEX[a]]) for a in letters}
            for i, (site, letters) in enumerate(self.library.allowed.items())
        }

    def score(self, designs: Any) -> np.ndarray:
        """Prior of each design (frame of site columns or variant codes); parent = 0."""
        idx, _ = residue_indices(designs, self.library.sites if _is_frame(designs) else None)
        if idx.shape[1] != len(self.library.sites):
            raise InputError(
                "variants do not match the library's sites",
                expected=f"{len(self.library.sites)} sites",
                found=idx.shape[1],
            )
        k = idx.shape[1]
        return self.site_scores_[np.arange(k)[None, :], idx].sum(axis=1)


def zero_shot_score(
    library: SiteLibrary,
    designs: Any,
    *,
    weights: Mapping[str, float] | None = None,
    profile: HomologProfile | None = None,
) -> np.ndarray:
    """Zero-shot prior of ``designs`` (higher = more likely functional; parent = 0)."""
    return ZeroShotPrior(library, weights, profile).score(designs)


def focused_sample(
    library: SiteLibrary,
    n: int,
    *,
    top_fraction: float = 0.1,
    prior: ZeroShotPrior | None = None,
    seed: int = 0,
    exclude: Sequence[str] = (),
    candidates: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """``n`` distinct variants drawn at random from the top ``top_fraction`` by prior (ftMLDE).

    The pool is the whole library, or ``candidates`` (site columns; e.g. the variants a
    lab can make or a measured landscape). Ties at the cut are kept, so the pool is at
    least ``top_fraction`` of it; ``exclude`` lists variant codes already built. Returns
    site columns plus ``prior``.
    """
    if not 0 < top_fraction <= 1:
        raise InputError("top fraction out of range", expected="0 < f <= 1", found=top_fraction)
    if n < 1:
        raise InputError("sample size must be at least 1", found=n)
    prior = prior or ZeroShotPrior(library)
    if candidates is None:
        all_designs = library.enumerate()
    else:
        library.check_frame(candidates)
        all_designs = candidates[library.sites].reset_index(drop=True)
    scores = prior.score(all_designs)
    cut = np.quantile(scores, 1 - top_fraction)
    keep = scores >= cut - 1e-12
    if exclude:
        codes = np.array(library.codes(all_designs))
        keep &= ~np.isin(codes, [str(c).upper() for c in exclude])
    pool = np.flatnonzero(keep)
    if len(pool) < n:
        raise InputError(
            "the focused pool is smaller than the sample",
            expected=f"at most {len(pool)} variants of the library's {len(scores)} (raise "
            "top_fraction, --top on the command line, or ask for fewer)",
            found=n,
        )
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(pool, size=n, replace=False))
    out = all_designs.iloc[pick].reset_index(drop=True)
    out["prior"] = scores[pick]
    return out
