"""Element-aligned promoter features: what sits at each sigma70 element, position by position.

The promoter's elements are located by the calculator's energy scan
(:class:`biofab.parts.promoter_energy.EnergyScanner`, best forward site; with
``spacer_prior`` > 0 the -35 is re-placed from that site's -10 with a prior for the
consensus 17-nt spacing, which reads LaFleur's designed -35s far more often but cost r on
new -35s, so it is off by default: :data:`SPACER_PRIOR`), so
the features mean the same thing in any library, at any length or flank: a
base at position 3 of the -10 hexamer is that base wherever the hexamer sits.
A linear model on these one-hot columns is a position-specific energy
matrix per element (additive in the bases, as the calculator's own tables
and the PWM models of RNA polymerase binding), which is what lets it score
hexamers it never saw as whole words.

Columns (all numeric):

* ``dG_*`` -- the calculator's terms at the best site (kcal/mol),
  ``n_sites_1kcal`` (competing sites) and ``second_gap`` (kcal/mol to the best
  site with another start);
* ``h35_<pos><base>``, ``h10_<pos><base>`` -- one-hot of each hexamer base;
* ``ext10_<pos><base>`` -- the 4 spacer bases before the -10 (extended -10, TGn);
* ``spacer_len_<n>``, ``disc_len_<n>`` -- one-hot lengths;
* ``spacer_<base>``, ``disc_<base>``, ``itr_<base>`` -- base fractions of the
  element (``itr`` = first 20 transcribed bases);
* ``disc_<pos><base>`` -- the discriminator's first 3 bases; ``tss_<base>`` the +1 base;
* ``up_at_<k>`` -- A/T fraction of each 6-nt quarter of the 24-nt UP element
  (distal to proximal; A-tracts bind the alpha subunit, Ross et al. 1993),
  ``up_a_tract`` -- count of AAA/TTT trinucleotides in the UP element;
* ``up_visible`` -- fraction (0-1) of the 24-nt UP window that lies in the sequence
  itself rather than in the fixed upstream flank: a 5'-trimmed promoter has lost its UP
  element, which is *unknown*, not weak. With ``mask_missing=True`` the UP columns of a
  sequence whose window is less than :data:`UP_VISIBLE_MIN` inside it are NaN (missing,
  which gradient-boosted trees route on their own), not the flank's bases.

The site frame also carries each element's bases (``up_word``, ``spacer_word``, with
``hex35`` and ``hex10`` from the scan) so a model can measure how far a query's elements
lie from the training ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from biofab.parts.promoter_energy import (
    DISCS,
    HEX_LENGTH,
    SPACERS,
    TERMS,
    UP_LENGTH,
    EnergyScanner,
)

if TYPE_CHECKING:
    import pandas as pd

LETTERS = "ACGT"
ENERGY_COLUMNS = ("dG_total", *TERMS, "dG_bind", "n_sites_1kcal", "second_gap")
#: UP feature columns (read from the 24-nt UP window).
UP_COLUMNS = ("up_at_0", "up_at_1", "up_at_2", "up_at_3", "up_a_tract")
#: Below this fraction of the UP window inside the sequence the UP is "missing": the
#: LaFleur 2022 library's shortest UP (16 nt) fills 2/3 of the window, so only a 5'-trimmed
#: sequence falls under it.
UP_VISIBLE_MIN = 0.5
#: Spacing prior of the element reads (calculator energy units per nt away from a 17-nt
#: spacer, :meth:`EnergyScanner.scan`); 0 = the calculator's own best site. 0.5 (chosen on
#: label accuracy alone) puts LaFleur's -35 where its file does in 74 % of rows instead of
#: 56 %, but lost 0.016-0.019 per-fold r on leave-(-35)-variants-out development folds, so
#: the default stays 0: BENCHMARKS.md, "Promoter scan: element reads against the file's
#: labels".
SPACER_PRIOR = 0.0
#: Which site the ``dG_*`` columns describe (:func:`element_table`).
ENERGIES = "read"


def _onehot(frame: dict[str, np.ndarray], prefix: str, texts: list[str], width: int) -> None:
    for p in range(width):
        col = [t[p] if p < len(t) else "" for t in texts]
        for b in LETTERS:
            frame[f"{prefix}_{p}{b}"] = np.array([c == b for c in col], dtype=float)


def _fractions(frame: dict[str, np.ndarray], prefix: str, texts: list[str]) -> None:
    for b in LETTERS:
        frame[f"{prefix}_{b}"] = np.array([t.count(b) / max(len(t), 1) for t in texts])


def element_features(
    sequences: Sequence[str],
    scanner: EnergyScanner | None = None,
    mask_missing: bool = False,
    spacer_prior: float = SPACER_PRIOR,
    energies: str = ENERGIES,
) -> pd.DataFrame:
    """Feature table (one row per sequence, columns as in the module docstring)."""
    return element_table(sequences, scanner, mask_missing, spacer_prior, energies)[0]


def element_table(
    sequences: Sequence[str],
    scanner: EnergyScanner | None = None,
    mask_missing: bool = False,
    spacer_prior: float = SPACER_PRIOR,
    energies: str = ENERGIES,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(features, site)``: the feature table and the site read per sequence
    (:meth:`EnergyScanner.scan` with ``spacer_prior``, default :data:`SPACER_PRIOR`; with
    the ``hex35``/``hex10`` words and the ``up_word``/``spacer_word`` bases).

    ``energies``: ``"read"`` -- the ``dG_*`` columns are the calculator's terms at the site
    read; ``"best"`` -- they are the calculator's own best site's (what its tables were
    fitted to), and only the element reads move with ``spacer_prior``."""
    import pandas as pd

    if energies not in ("read", "best"):
        from biofab.core.errors import InputError

        raise InputError(
            "energies must be 'read' or 'best'", column="energies", found=str(energies)
        )
    scanner = scanner or EnergyScanner()
    seqs = [s.upper() for s in sequences]
    site = scanner.scan(seqs, spacer_prior=spacer_prior)
    if energies == "best" and spacer_prior > 0:
        best = scanner.scan(seqs)
        site[list(ENERGY_COLUMNS)] = best[list(ENERGY_COLUMNS)].to_numpy()
    up = scanner.upstream.upper()
    full = [up + s + scanner.downstream.upper() for s in seqs]
    off = len(up)

    def cut(start: np.ndarray, length: np.ndarray | int) -> list[str]:
        lens = np.broadcast_to(np.asarray(length), start.shape)
        return [f[a + off : a + off + n] for f, a, n in zip(full, start, lens, strict=True)]

    h35s = site["h35_start"].to_numpy()
    h10s = site["h10_start"].to_numpy()
    tss = site["tss"].to_numpy()
    spl = site["spacer_length"].to_numpy()
    dl = site["discriminator_length"].to_numpy()
    ups = site["up_start"].to_numpy()
    out: dict[str, np.ndarray] = {c: site[c].to_numpy(dtype=float) for c in ENERGY_COLUMNS}
    _onehot(out, "h35", cut(h35s, HEX_LENGTH), HEX_LENGTH)
    _onehot(out, "h10", cut(h10s, HEX_LENGTH), HEX_LENGTH)
    _onehot(out, "ext10", cut(h10s - 4, 4), 4)
    for n in SPACERS:
        out[f"spacer_len_{n}"] = (spl == n).astype(float)
    for n in DISCS:
        out[f"disc_len_{n}"] = (dl == n).astype(float)
    _fractions(out, "spacer", cut(h35s + HEX_LENGTH, spl))
    disc = cut(h10s + HEX_LENGTH, dl)
    _fractions(out, "disc", disc)
    _onehot(out, "disc", disc, 3)
    _fractions(out, "itr", cut(tss, 20))
    _onehot(out, "tss", cut(tss, 1), 1)
    up_el = cut(ups, 24)
    for k in range(4):
        out[f"up_at_{k}"] = np.array(
            [sum(c in "AT" for c in u[6 * k : 6 * k + 6]) / 6 for u in up_el]
        )
    out["up_a_tract"] = np.array(
        [sum(u[i : i + 3] in ("AAA", "TTT") for i in range(len(u) - 2)) for u in up_el], dtype=float
    )
    visible = np.clip((ups + UP_LENGTH) / UP_LENGTH, 0.0, 1.0)
    out["up_visible"] = visible
    if mask_missing:
        for c in UP_COLUMNS:
            out[c] = np.where(visible < UP_VISIBLE_MIN, np.nan, out[c])
    site = site.assign(up_word=up_el, spacer_word=cut(h35s + HEX_LENGTH, spl))
    return pd.DataFrame(out), site


#: Element words the distance descriptors compare: (site column, width).
ELEMENT_WORDS = (("hex35", 6), ("hex10", 6), ("up_word", 24), ("spacer_word", 20))


def _letters(words: Sequence[str], width: int) -> np.ndarray:
    """``(n, width)`` uint8 letters, cut or padded with ``N`` (so a spacer length
    difference counts as mismatches)."""
    text = "".join((w + "N" * width)[:width] for w in words)
    return np.frombuffer(text.encode("ascii"), dtype=np.uint8).reshape(len(words), width)


def _nearest(query: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Fewest mismatches of each query row to any ``ref`` row, ``(n,)``."""
    out = np.zeros(len(query))
    step = max(1, 2_000_000 // max(1, ref.size))
    for s in range(0, len(query), step):
        q = query[s : s + step]
        out[s : s + step] = (q[:, None, :] != ref[None, :, :]).sum(axis=2).min(axis=1)
    return out


class ElementDistance:
    """How far each promoter's elements lie from those of the training rows.

    What predicts a model's error on a *new* element is how unlike the training
    elements it is, element by element (issue 14). ``fit(site)`` keeps the distinct
    -35, -10, UP and spacer words of the training sites (:func:`element_table`'s site
    frame) and a position frequency matrix of each hexamer; ``describe(site)`` returns
    ``(n, 7)``: the fewest mismatches (bases) of the -35, -10, UP (24 nt) and spacer
    (length-padded to 20 nt) to any training word, the log-odds (nats, against uniform
    bases) of the -35 and -10 under the training hexamers' matrix (pseudo-count 0.5), and
    the rarity of the spacer length among training rows (-log of its share, nats).
    """

    def fit(self, site: pd.DataFrame) -> ElementDistance:
        self.words_ = {
            col: np.unique(_letters(site[col].astype(str).tolist(), w), axis=0)
            for col, w in ELEMENT_WORDS
        }
        self.pfm_ = {}
        for col in ("hex35", "hex10"):
            hexes = _letters(site[col].astype(str).tolist(), HEX_LENGTH)
            counts = np.stack([(hexes == ord(b)).sum(axis=0) for b in LETTERS], axis=1) + 0.5
            self.pfm_[col] = np.log(counts / counts.sum(axis=1, keepdims=True) * 4)
        lengths = site["spacer_length"].to_numpy()
        self.spacer_share_ = np.array([(lengths == n).mean() for n in SPACERS])
        return self

    def describe(self, site: pd.DataFrame) -> np.ndarray:
        cols = []
        for col, w in ELEMENT_WORDS:
            cols.append(_nearest(_letters(site[col].astype(str).tolist(), w), self.words_[col]))
        for col in ("hex35", "hex10"):
            hexes = _letters(site[col].astype(str).tolist(), HEX_LENGTH)
            idx = np.full(hexes.shape, 0)
            for k, b in enumerate(LETTERS):
                idx[hexes == ord(b)] = k
            cols.append(self.pfm_[col][np.arange(HEX_LENGTH)[None, :], idx].sum(axis=1))
        pos = np.clip(site["spacer_length"].to_numpy() - SPACERS[0], 0, len(SPACERS) - 1)
        cols.append(-np.log(self.spacer_share_[pos] + 1e-3))
        return np.column_stack(cols)

    def state(self) -> dict[str, np.ndarray]:
        out = {f"words_{c}": v for c, v in self.words_.items()}
        out.update({f"pfm_{c}": v for c, v in self.pfm_.items()})
        out["spacer_share"] = self.spacer_share_
        return out

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray]) -> ElementDistance:
        out = cls()
        out.words_ = {c: np.asarray(state[f"words_{c}"]) for c, _ in ELEMENT_WORDS}
        out.pfm_ = {c: np.asarray(state[f"pfm_{c}"]) for c in ("hex35", "hex10")}
        out.spacer_share_ = np.asarray(state["spacer_share"])
        return out


#: A scanned word counts as the library's default ("chassis") element when it shares a
#: common substring of at least this fraction of its length with the most common word: the
#: scan may place an element a base or two off, which changes the word but not the part.
CHASSIS_OVERLAP = 0.75


def chassis_rows(words: Sequence[str] | np.ndarray, overlap: float = CHASSIS_OVERLAP) -> np.ndarray:
    """``(n,)`` bool: rows whose word is the library's default element.

    A library varies one element at a time on a fixed chassis (LaFleur et al. 2022: 4,917 of
    5,193 promoters share one spacer, 4,055 one UP), so a *new* element is a variant beside
    that chassis, not the chassis itself. The default is the most common word; a row carries
    it when its word and the default share a common substring of ``overlap`` times the
    shorter one's length (a scan shifted by a base still reads the same part).
    """
    from difflib import SequenceMatcher

    texts = [str(w) for w in words]
    if not texts:
        return np.zeros(0, dtype=bool)
    values, counts = np.unique(texts, return_counts=True)
    mode = str(values[int(np.argmax(counts))])
    same: dict[str, bool] = {}
    for w in values:
        w = str(w)
        shorter = max(1, min(len(w), len(mode)))
        match = SequenceMatcher(None, w, mode, autojunk=False).find_longest_match(
            0, len(w), 0, len(mode)
        )
        same[w] = match.size >= overlap * shorter
    return np.array([same[t] for t in texts], dtype=bool)
