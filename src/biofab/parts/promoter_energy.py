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
#: Consensus -35/-10 spacing (nt): 92 % of 263 E. coli sigma70 promoters have 17 +/- 1
#: (Harley & Reynolds 1987, Nucleic Acids Res 15:2343); 17 is the most active (Aoyama et al.
#: 1983, Nucleic Acids Res 11:5855).
SPACER_CONSENSUS = 17
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

    def scan(self, sequences: Sequence[str], spacer_prior: float = 0.0) -> pd.DataFrame:
        """One row per sequence (order kept); see the class docstring for the columns.

        ``spacer_prior`` (calculator energy units per nt away from :data:`SPACER_CONSENSUS`,
        >= 0): 0 (default) reads the calculator's own best site. Above 0 the -10 and the
        start site stay the calculator's best, and the -35 is then placed among the 15-20
        nt spacings from *that* -10 by ``dG_total + spacer_prior * |spacing - 17|``: where
        a hexamer is far from consensus, the calculator's flat spacing term (16 and 18 nt
        cost 0.08 and 0.21 more than 17) lets a window a base or two off, that happens to
        match its trinucleotide tables better, win by a few tenths. The reported terms are
        always the calculator's at the site read; ``n_sites_1kcal`` and ``second_gap``
        describe the calculator's own energy landscape either way.
        """
        import pandas as pd

        if not (np.isfinite(spacer_prior) and spacer_prior >= 0):
            raise InputError(
                "spacer_prior must be a finite number >= 0",
                column="spacer_prior",
                expected=">= 0 (calculator energy units per nt)",
                found=str(spacer_prior),
            )
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
            group = self._scan_group(full, len(up), length, spacer_prior)
            for j, row in zip(idx, group, strict=True):
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

    def _scan_group(
        self, full: list[str], offset: int, length: int, spacer_prior: float = 0.0
    ) -> list[dict[str, Any] | None]:
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

        def site_terms(r: np.ndarray, t: np.ndarray, j: int, d: int) -> np.ndarray:
            """Terms of the sites with TSS ``t`` (full-sequence index), spacer ``j`` and
            discriminator ``d`` in rows ``r`` (broadcast with ``t``), ``(..., 7)``."""
            a10 = t - d - HEX_LENGTH
            a35 = a10 - j - HEX_LENGTH
            au = a35 - 1 - UP_LENGTH
            return np.stack(
                np.broadcast_arrays(
                    tb.h10_0[tri[r, a10]] + tb.h10_3[tri[r, a10 + 3]],
                    tb.h35_0[tri[r, a35]] + tb.h35_3[tri[r, a35 + 3]],
                    tb.disc[tri[r, t - d]],
                    tb.numeric[2] * hybrid[r, t],
                    tb.ext10[di[r, a10 - 3]],
                    np.asarray(0.1463 * j**2 - 4.9113 * j + 41.119),
                    tb.numeric[0] * groove[r, au]
                    + tb.numeric[1] * groove[r, au + 12]
                    + tb.numeric[3] * rigid[r, au] / 44.0,
                ),
                axis=-1,
            )

        tss = np.arange(offset, offset + length)
        every = np.arange(n)[:, None]
        best = np.full(n, np.inf)
        best_terms = np.zeros((n, len(TERMS)))
        best_pos = np.zeros((n, 3), dtype=np.int64)  # tss, spacer, disc
        all_totals = []
        for d in DISCS:
            for j in SPACERS:
                ok = (tss - d - j - 2 * HEX_LENGTH - 1 - UP_LENGTH >= 0) & (tss + ITR_LENGTH <= L)
                if not ok.any():
                    continue
                terms = site_terms(every, tss[ok][None, :], j, d)  # (n, sites, terms)
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
                        [tss[ok][k[rows]], np.full(len(rows), j), np.full(len(rows), d)], 1
                    )
        if not all_totals:
            return [None] * n
        found = np.isfinite(best)
        if spacer_prior > 0 and found.any():
            # keep the calculator's -10 and start site; re-place the -35 from that -10
            r = np.flatnonzero(found)
            t, d_r = best_pos[r, 0], best_pos[r, 2]
            score = np.full((len(r), len(SPACERS)), np.inf)
            cand = np.zeros((len(r), len(SPACERS), len(TERMS)))
            for c, j in enumerate(SPACERS):
                fits = t - d_r - j - 2 * HEX_LENGTH - 1 - UP_LENGTH >= 0
                if not fits.any():
                    continue
                rr, tt, dd = r[fits], t[fits], d_r[fits]
                # the gather indexes one discriminator length per row: loop the few lengths
                for dv in np.unique(dd):
                    m = dd == dv
                    cand[np.flatnonzero(fits)[m], c] = site_terms(rr[m], tt[m], j, int(dv))
                score[fits, c] = (
                    cand[fits, c].sum(axis=-1)
                    + tb.intercept
                    + spacer_prior * abs(j - SPACER_CONSENSUS)
                )
            pick = score.argmin(axis=1)
            best_terms[r] = cand[np.arange(len(r)), pick]
            best_pos[r, 1] = np.asarray(SPACERS)[pick]
        per_tss = np.min(np.stack(all_totals), axis=0)  # (n, length): best site per TSS
        out: list[dict[str, Any] | None] = []
        for i in range(n):
            if not found[i]:
                out.append(None)
                continue
            t, j, d = (int(v) for v in best_pos[i])
            others = np.delete(per_tss[i], t - offset)
            others = others[np.isfinite(others)]
            row = {"dG_total": float(best_terms[i].sum() + tb.intercept)}
            row.update({name: float(v) for name, v in zip(TERMS, best_terms[i], strict=True)})
            row["dG_bind"] = float(
                best_terms[i][[0, 1, 5, 4, 6]].sum()
            )  # -10, -35, spacer, ext10, UP
            h10 = t - d - HEX_LENGTH
            row.update(
                tss=t - offset,
                spacer_length=j,
                discriminator_length=d,
                up_start=h10 - j - HEX_LENGTH - 1 - UP_LENGTH - offset,
                h35_start=h10 - j - HEX_LENGTH - offset,
                h10_start=h10 - offset,
                n_sites_1kcal=int((per_tss[i] <= best[i] + 1.0).sum()),
                second_gap=float(others.min() - best[i]) if len(others) else 10.0,
            )
            out.append(row)
        return out
