"""Numeric encodings of checked sequences: padded one-hot with a mask, and k-mer counts.

Sequences must already be checked (see :mod:`biofab.parts.sequences`); a letter
outside the alphabet raises ``ValueError`` here, because reaching this point
with one is a programming error, not a user's.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from biofab.parts.sequences import alphabet_letters


def _codes(seq: str, lut: np.ndarray) -> np.ndarray:
    idx = lut[np.frombuffer(seq.encode("ascii"), dtype=np.uint8)]
    if (idx < 0).any():
        raise ValueError(f"letter outside the alphabet in {seq[:40]!r}")
    return idx


def _lookup(letters: str) -> np.ndarray:
    lut = np.full(256, -1, dtype=np.int64)
    for i, c in enumerate(letters):
        lut[ord(c)] = i
    return lut


def one_hot(
    seqs: Sequence[str], alphabet: str = "dna", length: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """One-hot ``(n, letters, length)`` float32 and mask ``(n, length)`` bool.

    Each sequence is centred in a window of ``length`` positions (default: the
    longest sequence); padding columns are all zero and ``mask`` is False there,
    so a model that pools only over ``mask`` sees no padding. Centring keeps
    promoters of different flank lengths roughly aligned on their core. A
    sequence longer than ``length`` raises ``ValueError``.
    """
    letters = alphabet_letters(alphabet)
    lut = _lookup(letters)
    n = len(seqs)
    L = max((len(s) for s in seqs), default=0) if length is None else length
    X = np.zeros((n, len(letters), L), dtype=np.float32)
    mask = np.zeros((n, L), dtype=bool)
    for i, s in enumerate(seqs):
        m = len(s)
        if m > L:
            raise ValueError(f"sequence {i} has {m} letters, more than the window of {L}")
        start = (L - m) // 2
        X[i, _codes(s, lut), np.arange(start, start + m)] = 1.0
        mask[i, start : start + m] = True
    return X, mask


def kmer_names(k: int | Sequence[int], alphabet: str = "dna") -> list[str]:
    """Column names of :func:`kmer_counts`: every k-mer of each size, in order."""
    letters = alphabet_letters(alphabet)
    ks = [k] if isinstance(k, int) else list(k)
    return ["".join(p) for kk in ks for p in itertools.product(letters, repeat=kk)]


def kmer_counts(
    seqs: Sequence[str],
    k: int | Sequence[int] = (1, 2, 3, 4),
    alphabet: str = "dna",
    normalize: bool = False,
) -> sp.csr_matrix:
    """Overlapping k-mer counts, sparse ``(n, sum(letters**k))`` float64.

    Columns follow :func:`kmer_names`. ``normalize=True`` divides each size's
    counts by the number of k-mers of that size in the sequence (frequencies),
    which makes sequences of different lengths comparable.
    """
    letters = alphabet_letters(alphabet)
    a = len(letters)
    lut = _lookup(letters)
    ks = [k] if isinstance(k, int) else list(k)
    offsets = np.cumsum([0] + [a**kk for kk in ks])
    rows, cols, vals = [], [], []
    for i, s in enumerate(seqs):
        codes = _codes(s, lut)
        for j, kk in enumerate(ks):
            m = len(codes) - kk + 1
            if m <= 0:
                continue
            # Base-a number of each window: one column index per k-mer occurrence.
            idx = np.zeros(m, dtype=np.int64)
            for p in range(kk):
                idx = idx * a + codes[p : p + m]
            u, c = np.unique(idx, return_counts=True)
            rows.append(np.full(len(u), i))
            cols.append(u + offsets[j])
            vals.append(c / m if normalize else c.astype(float))
    if rows:
        r, c, v = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
    else:
        r = c = np.zeros(0, dtype=np.int64)
        v = np.zeros(0)
    return sp.csr_matrix((v, (r, c)), shape=(len(seqs), int(offsets[-1])))
