"""Element-aligned promoter features: what sits at each sigma70 element, position by position.

The promoter's elements are located by the calculator's energy scan
(:class:`biofab.parts.promoter_energy.EnergyScanner`, best forward site), so
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
  ``up_a_tract`` -- count of AAA/TTT trinucleotides in the UP element.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from biofab.parts.promoter_energy import DISCS, HEX_LENGTH, SPACERS, TERMS, EnergyScanner

if TYPE_CHECKING:
    import pandas as pd

LETTERS = "ACGT"
ENERGY_COLUMNS = ("dG_total", *TERMS, "dG_bind", "n_sites_1kcal", "second_gap")


def _onehot(frame: dict[str, np.ndarray], prefix: str, texts: list[str], width: int) -> None:
    for p in range(width):
        col = [t[p] if p < len(t) else "" for t in texts]
        for b in LETTERS:
            frame[f"{prefix}_{p}{b}"] = np.array([c == b for c in col], dtype=float)


def _fractions(frame: dict[str, np.ndarray], prefix: str, texts: list[str]) -> None:
    for b in LETTERS:
        frame[f"{prefix}_{b}"] = np.array([t.count(b) / max(len(t), 1) for t in texts])


def element_features(
    sequences: Sequence[str], scanner: EnergyScanner | None = None
) -> pd.DataFrame:
    """Feature table (one row per sequence, columns as in the module docstring)."""
    return element_table(sequences, scanner)[0]


def element_table(
    sequences: Sequence[str], scanner: EnergyScanner | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(features, site)``: the feature table and the scan's best site per sequence
    (:meth:`EnergyScanner.scan`, with the ``hex35``/``hex10`` words)."""
    import pandas as pd

    scanner = scanner or EnergyScanner()
    seqs = [s.upper() for s in sequences]
    site = scanner.scan(seqs)
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
    return pd.DataFrame(out), site
