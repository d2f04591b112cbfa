"""Training data for cross-species reaction scores by simulated divergence.

The question a reaction score answers is "target protein ``t`` looks like template
gene ``g`` this much: does ``t`` carry out ``g``'s reaction ``r``?". For a new
species the useful homologs are mostly *orthologs* at 30-70 % identity. A
template searched against itself offers only *paralogs* at those identities, which
share a function far less often, so a scorer trained on them rates orthologs near
zero. Here the template is instead diverged from itself: every gene is copied with
a random fraction of its residues substituted (drawn per gene, so the copies span
close to remote homologs), and a fraction of the copies is deleted (gene loss), so
that for a lost gene the nearest survivor is a paralog with another function, as
happens in a real target. Searching the template against these copies gives hits
whose true origin is known: the label of (``g``, copy of ``s``, ``r``) is 1 when
the template's own GPRs say ``s`` catalyses ``r``. No target sequence and no
phenotype table is seen (the evolutionary model is crude: uniform substitutions by
amino-acid background frequency, no indels; it stands for "some ortholog at this
identity", not for a particular clade).
"""

from __future__ import annotations

import numpy as np

# Amino-acid background frequencies (UniProtKB/Swiss-Prot release statistics, %),
# the distribution substituted residues are drawn from.
_AA = "ARNDCQEGHILKMFPSTWYV"
_FREQ = np.array(
    [8.25, 5.53, 4.06, 5.45, 1.37, 3.93, 6.75, 7.07, 2.27, 5.96,
     9.66, 5.84, 2.42, 3.86, 4.70, 6.56, 5.34, 1.08, 2.92, 6.87]
)  # fmt: skip
_FREQ = _FREQ / _FREQ.sum()


def diverged_proteome(
    proteome: dict[str, str],
    *,
    substitution: tuple[float, float] = (0.2, 0.75),
    loss: float = 0.3,
    seed: int = 0,
) -> tuple[dict[str, str], dict[str, str]]:
    """Mutated copies of ``proteome`` and, per copy id, the gene it was copied from.

    Each gene survives with probability ``1 - loss``; a survivor has a fraction
    drawn uniformly from ``substitution`` of its residues replaced by residues drawn
    from the background frequencies (so identity to the original falls to roughly
    ``1 - fraction``, a bit above since a draw may return the same residue)."""
    rng = np.random.default_rng(seed)
    letters = np.array(list(_AA))
    out: dict[str, str] = {}
    origin: dict[str, str] = {}
    lo, hi = substitution
    for gid, seq in proteome.items():
        if rng.random() < loss:
            continue
        arr = np.array(list(seq))
        frac = rng.uniform(lo, hi)
        pos = np.flatnonzero(rng.random(len(arr)) < frac)
        arr[pos] = rng.choice(letters, size=len(pos), p=_FREQ)
        cid = f"sim_{gid}"
        out[cid] = "".join(arr.tolist())
        origin[cid] = gid
    return out, origin
