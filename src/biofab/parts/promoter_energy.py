"""Element-wise sigma70 promoter energies: a vectorised scan of every promoter site.

The Promoter Calculator (LaFleur, Hossain & Salis 2022, Nat Commun 13:5159)
scores a promoter configuration -- 24-nt UP element, one free base, -35
hexamer, 15-20 nt spacer, -10 hexamer, 6-10 nt discriminator, 20-nt initial
transcribed region (ITR) -- as a sum of free-energy terms:

* ``dG_10``, ``dG_35``: two trinucleotide tables per hexamer (first and last
  three bases);
* ``dG_disc``: the discriminator's first trinucleotide;
* ``dG_ext10``: the dinucleotide at spacer positions -3..-2 (the extended -10
  TG motif);
* ``dG_spacer``: a quadratic in spacer length (minimum near 17 nt);
* ``dG_ITR``: the DNA:DNA minus RNA:DNA hybrid energy of the first 14 ITR
  bases (Sugimoto et al. 1995 nearest-neighbour tables), scaled;
* ``dG_UP``: minor-groove width of the distal and proximal UP halves plus the
  bending rigidity of UP + -35 + 14 spacer bases (Geggier & Vologodskii 2010).

The package evaluates each configuration in a Python loop (about 0.4 s per
78-nt sequence). :class:`EnergyScanner` evaluates all configurations of a
batch of equal-length sequences at once with array look-ups, reading the
coefficients and nucleotide tables from the installed ``promotercalculator``
package (so its numbers stay the package's), and returns the best forward
site of each sequence: the same ``dG_*`` terms as
:meth:`biofab.parts.physics.PromoterCalculator.features`, plus where each
element sits, so element-wise learned models can read the bases there.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from biofab.core.errors import InputError
from biofab.parts.physics import BIOBRICK_PREFIX
from biofab.parts.sequences import check_sequences

if TYPE_CHECKING:
    import pandas as pd

LETTERS = "ACGT"
UP_LENGTH = 24
HEX_LENGTH = 6
SPACERS = tuple(range(15, 21))
DISCS = tuple(range(6, 11))
ITR_LENGTH = 20
#: normalisers the calculator divides its numeric features by (its training maxima)
_NORMALISERS = (256.0, 255.0, 4.300000000000002, 25.780434782608694)
TERMS = ("dG_10", "dG_35", "dG_disc", "dG_ITR", "dG_ext10", "dG_spacer", "dG_UP")


@dataclass(frozen=True)
class _Tables:
    """Energy look-ups indexed by base-4 codes (A=0, C=1, G=2, T=3)."""

    h10_0: np.ndarray  # (64,) first trinucleotide of the -10 hexamer
    h10_3: np.ndarray
    h35_0: np.ndarray
    h35_3: np.ndarray
    disc: np.ndarray  # (64,)
    ext10: np.ndarray  # (16,)
    groove: np.ndarray  # (16,) minor-groove accessibility
    persistence: np.ndarray  # (16,) persistence length, nm
    hybrid: np.ndarray  # (16,) DNA:DNA - RNA:DNA nearest-neighbour energy
    numeric: np.ndarray  # (4,) coefficients of width_dist, width_prox, ITR, rigidity
    intercept: float


_TABLES: _Tables | None = None


def _kmers(k: int) -> list[str]:
    return ["".join(p) for p in itertools.product(LETTERS, repeat=k)]


def tables() -> _Tables:
    """The calculator's coefficients as arrays (read once from the installed package)."""
    global _TABLES
    if _TABLES is not None:
        return _TABLES
    from biofab.parts.physics import new_promoter_calculator

    calc = new_promoter_calculator()
    from promoter_calculator import util  # installed: the calculator imported

    coeffs = np.asarray(calc.layer1, dtype=float)

    def arr(table: dict[str, float], k: int) -> np.ndarray:
        return np.array([float(table[m]) for m in _kmers(k)])

    di = _kmers(2)
    _TABLES = _Tables(
        h10_0=arr(calc.dg10_0, 3),
        h10_3=arr(calc.dg10_3, 3),
        h35_0=arr(calc.dg35_0, 3),
        h35_3=arr(calc.dg35_3, 3),
        disc=arr(calc.dmers, 3),
        ext10=arr(calc.x10mers, 2),
        groove=np.array([float(util.groove_access[m]) for m in di]),
        persistence=np.array([float(util.persistence[m]) for m in di]),
        hybrid=np.array([float(util.DNA_DNA_hybrids[m] - util.RNA_DNA_hybrids[m]) for m in di]),
        numeric=coeffs[-4:] / np.asarray(_NORMALISERS),
        intercept=float(np.asarray(calc.inters).ravel()[0]),
    )
    return _TABLES


def _codes(seqs: list[str]) -> np.ndarray:
    lut = np.full(256, -1, dtype=np.int64)
    for i, c in enumerate(LETTERS):
        lut[ord(c)] = i
    return lut[np.frombuffer("".join(seqs).encode("ascii"), dtype=np.uint8)].reshape(len(seqs), -1)


def _kmer_index(codes: np.ndarray, k: int) -> np.ndarray:
    """Base-4 index of the k-mer starting at each position, ``(n, L - k + 1)``."""
    m = codes.shape[1] - k + 1
    idx = np.zeros((codes.shape[0], m), dtype=np.int64)
    for p in range(k):
        idx = idx * 4 + codes[:, p : p + m]
    return idx


def _stride2_sums(values: np.ndarray, count: int) -> np.ndarray:
    """``out[:, p] = values[:, p] + values[:, p+2] + ... (count terms)``; NaN past the end."""
    n, m = values.shape
    out = np.full((n, m), np.nan)
    span = 2 * (count - 1)
    if m > span:
        acc = np.zeros((n, m - span))
        for t in range(count):
            acc += values[:, 2 * t : 2 * t + m - span]
        out[:, : m - span] = acc
    return out


class EnergyScanner:
    """Best forward sigma70 site of each sequence by the calculator's energy model.

    Parameters
    ----------
    upstream, downstream:
        Fixed DNA around each sequence, as for
        :class:`~biofab.parts.physics.PromoterCalculator` (default: the
        BioBrick prefix upstream, nothing downstream). The transcription start
        site (TSS) must lie in the sequence itself.

    :meth:`scan` returns, per sequence, the site with the lowest ``dG_total``
    (kcal/mol): its terms, TSS, spacer and discriminator lengths, the element
    start positions in the sequence (negative when an element reaches into the
    upstream flank), the number of sites within 1 kcal/mol of the best
    (competing starts) and the gap to the best site with another TSS.
    """

    def __init__(self, upstream: str = BIOBRICK_PREFIX, downstream: str = "") -> None:
        self.upstream = upstream
        self.downstream = downstream

    def scan(self, sequences: Sequence[str]) -> pd.DataFrame:
        """One row per sequence (order kept); see the class docstring for the columns."""
        import pandas as pd

        seqs = check_sequences(list(sequences), "dna", 1, 100_000)
        up = self.upstream.upper()
        down = self.downstream.upper()
        if up or down:
            check_sequences([up + down], "dna", column="flanks")
        rows: list[dict[str, Any] | None] = [None] * len(seqs)
        by_length: dict[int, list[int]] = {}
        for i, s in enumerate(seqs):
            by_length.setdefault(len(s), []).append(i)
        for length, idx in by_length.items():
            full = [up + seqs[i] + down for i in idx]
            for j, row in zip(idx, self._scan_group(full, len(up), length), strict=True):
                rows[j] = row
        missing = [i for i, r in enumerate(rows) if r is None]
        if missing:
            i = missing[0]
            raise InputError(
                "no complete sigma70 promoter site in the sequence (with its flanks)",
                row=i + 1,
                column="sequence",
                expected=">= 58 nt upstream and 20 nt downstream of a TSS",
                found=f"{len(seqs[i])} nt + {len(up)} nt upstream + {len(down)} nt downstream",
            )
        frame = pd.DataFrame(rows)
        padded = [up + s for s in seqs]
        for name, col in (("hex35", "h35_start"), ("hex10", "h10_start")):
            frame[name] = [
                p[a + len(up) : a + len(up) + HEX_LENGTH]
                for p, a in zip(padded, frame[col], strict=True)
            ]
        return frame

    def _scan_group(self, full: list[str], offset: int, length: int) -> list[dict[str, Any] | None]:
        """Scan equal-length ``full`` sequences (flank + sequence + flank); TSS in the
        sequence part, which starts at ``offset``."""
        tb = tables()
        codes = _codes(full)
        n, L = codes.shape
        tri = _kmer_index(codes, 3)  # (n, L-2)
        di = _kmer_index(codes, 2)  # (n, L-1)
        tri = np.pad(tri, ((0, 0), (0, 2)))
        di = np.pad(di, ((0, 0), (0, 1)))
        groove = _stride2_sums(tb.groove[di], 6)  # 12 nt = 6 dinucleotides
        rigid = _stride2_sums(tb.persistence[di], 22)  # 44 nt = 22 dinucleotides
        hybrid = _stride2_sums(tb.hybrid[di], 7)  # first 14 ITR bases
        tss = np.arange(offset, offset + length)
        best = np.full(n, np.inf)
        best_terms = np.zeros((n, len(TERMS)))
        best_pos = np.zeros((n, 4), dtype=np.int64)  # tss, spacer, disc, up start
        all_totals = []
        for d in DISCS:
            for j in SPACERS:
                h10 = tss - d - HEX_LENGTH
                h35 = h10 - j - HEX_LENGTH
                ups = h35 - 1 - UP_LENGTH
                ok = (ups >= 0) & (tss + ITR_LENGTH <= L)
                if not ok.any():
                    continue
                t, a10, a35, au = tss[ok], h10[ok], h35[ok], ups[ok]
                terms = np.stack(
                    [
                        tb.h10_0[tri[:, a10]] + tb.h10_3[tri[:, a10 + 3]],
                        tb.h35_0[tri[:, a35]] + tb.h35_3[tri[:, a35 + 3]],
                        tb.disc[tri[:, t - d]],
                        tb.numeric[2] * hybrid[:, t],
                        tb.ext10[di[:, a10 - 3]],
                        np.full((n, len(t)), 0.1463 * j**2 - 4.9113 * j + 41.119),
                        tb.numeric[0] * groove[:, au]
                        + tb.numeric[1] * groove[:, au + 12]
                        + tb.numeric[3] * rigid[:, au] / 44.0,
                    ],
                    axis=-1,
                )  # (n, sites, terms)
                total = terms.sum(axis=-1) + tb.intercept
                tot_full = np.full((n, length), np.inf)
                tot_full[:, ok] = total
                all_totals.append(tot_full)
                k = total.argmin(axis=1)
                better = total[np.arange(n), k] < best
                if better.any():
                    rows = np.flatnonzero(better)
                    best[rows] = total[rows, k[rows]]
                    best_terms[rows] = terms[rows, k[rows]]
                    best_pos[rows] = np.stack(
                        [t[k[rows]], np.full(len(rows), j), np.full(len(rows), d), au[k[rows]]], 1
                    )
        if not all_totals:
            return [None] * n
        per_tss = np.min(np.stack(all_totals), axis=0)  # (n, length): best site per TSS
        out: list[dict[str, Any] | None] = []
        for i in range(n):
            if not np.isfinite(best[i]):
                out.append(None)
                continue
            t, j, d, au = (int(v) for v in best_pos[i])
            others = np.delete(per_tss[i], t - offset)
            others = others[np.isfinite(others)]
            row = {"dG_total": float(best[i])}
            row.update({name: float(v) for name, v in zip(TERMS, best_terms[i], strict=True)})
            row["dG_bind"] = float(
                best_terms[i][[0, 1, 5, 4, 6]].sum()
            )  # -10, -35, spacer, ext10, UP
            row.update(
                tss=t - offset,
                spacer_length=j,
                discriminator_length=d,
                up_start=au - offset,
                h35_start=au + UP_LENGTH + 1 - offset,
                h10_start=t - d - HEX_LENGTH - offset,
                n_sites_1kcal=int((per_tss[i] <= best[i] + 1.0).sum()),
                second_gap=float(others.min() - best[i]) if len(others) else 10.0,
            )
            out.append(row)
        return out
