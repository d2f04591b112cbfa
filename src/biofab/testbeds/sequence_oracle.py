"""``SigmaPromoterOracle``: a synthetic sequence -> value function to rehearse DBTL on.

The score is **synthetic**: a hand-written position-weight score for the
E. coli sigma-70 consensus boxes (-35 ``TTGACA``, -10 ``TATAAT``) with a
penalty when the spacer between them is not 17 nt, the optimum spacing for
sigma-70 (Harley & Reynolds 1987, Nucleic Acids Res 15:2343). The weights are
round numbers chosen for the shape (the most conserved consensus letters
weigh most), not fitted to any data set; the value is not a prediction of
the strength of a real promoter. Use a trained model
(:mod:`biofab.parts.models`) or a replayed library for that.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from biofab.core import Objective, Space
from biofab.core import Sequence as SeqParam

#: Consensus boxes and the weight of a match at each of their six positions
#: (made-up round numbers: heavier where the consensus is most conserved).
BOX35 = "TTGACA"
W35 = np.array([1.0, 1.0, 1.0, 0.6, 0.4, 0.3])
BOX10 = "TATAAT"
W10 = np.array([0.5, 1.2, 0.6, 0.6, 0.5, 1.2])
SPACER_OPT = 17  # nt between the end of -35 and the start of -10
SPACERS = (15, 16, 17, 18, 19)
SPACER_PENALTY = 0.75  # score lost per nt away from SPACER_OPT
GC_PENALTY = 2.0  # score lost per unit of |GC fraction - 0.5| beyond 0.15


def _box_scores(codes: np.ndarray, box: str, weights: np.ndarray) -> np.ndarray:
    """Weighted matches of ``box`` starting at every position: ``(n, L - 5)``."""
    target = np.array(list(box))
    L = codes.shape[1]
    windows = np.stack([codes[:, i : L - 5 + i] for i in range(6)], axis=-1)
    return ((windows == target) * weights).sum(-1)


class SigmaPromoterOracle:
    """A synthetic promoter-strength testbed over one DNA ``Sequence`` parameter.

    The noise-free value of a sequence ``s`` (synthetic log units, higher = stronger) is::

        y(s) = max over i, sp in 15..19 of
                   S35(s, i) + S10(s, i + 6 + sp) - SPACER_PENALTY * |sp - 17|
               - GC_PENALTY * max(|GC(s) - 0.5| - 0.15, 0)

    where ``S35(s, i)`` sums ``W35[k]`` over the positions ``k`` where
    ``s[i + k]`` matches ``TTGACA`` (likewise ``S10`` with ``TATAAT`` and
    ``W10``). The best score, 8.9, is a perfect -35 and -10 17 nt apart at
    moderate GC. A reading is ``y + noise * e``, ``e ~ N(0, 1)``, from a
    generator seeded by ``seed``; ``strength_std`` reports ``noise``.

    Parameters
    ----------
    length:
        Sequence length, nt (at least 30 so both boxes fit with a 19 nt spacer).
    fixed:
        Positions (0-based) pinned to a letter, e.g. a cloning overhang.
    forbidden_motifs:
        Motifs that must never appear on either strand (default: the BsaI site
        ``GGTCTC`` and the EcoRI site ``GAATTC``).
    noise:
        Standard deviation of a reading, synthetic log units.
    seed:
        Seed of the noise generator.

    This function is synthetic, written for rehearsal and tests, not fitted to data.
    """

    def __init__(
        self,
        length: int = 40,
        *,
        fixed: dict[int, str] | None = None,
        forbidden_motifs: tuple[str, ...] = ("GGTCTC", "GAATTC"),
        noise: float = 0.1,
        seed: int | None = 0,
    ) -> None:
        if length < 12 + max(SPACERS):
            raise ValueError(f"length must be at least {12 + max(SPACERS)} nt, got {length}")
        if not noise >= 0:
            raise ValueError(f"noise must be >= 0, got {noise!r}")
        self.noise = float(noise)
        self._rng = np.random.default_rng(seed)
        self.parameter = SeqParam(
            "ACGT",
            length,
            fixed=dict(fixed or {}),
            forbidden_motifs=tuple(forbidden_motifs),
            unit="nt",
        )
        self.space = Space({"promoter": self.parameter})
        self.objectives = [Objective("strength", "max", unit="synthetic log units")]

    def true_value(self, designs: pd.DataFrame) -> np.ndarray:
        """Noise-free score of each design (designs are validated first)."""
        checked = self.space.validate(designs)
        return self.score(checked["promoter"].tolist())

    @staticmethod
    def score(sequences: list[str]) -> np.ndarray:
        """Noise-free score of plain DNA strings of one length (no validation)."""
        if not sequences:
            return np.zeros(0)
        codes = np.array([list(s.upper()) for s in sequences], dtype="U1")
        L = codes.shape[1]
        s35 = _box_scores(codes, BOX35, W35)
        s10 = _box_scores(codes, BOX10, W10)
        best = np.full(len(sequences), -np.inf)
        for sp in SPACERS:
            shift = 6 + sp
            n_starts = L - 5 - shift
            if n_starts <= 0:
                continue
            pair = s35[:, :n_starts] + s10[:, shift : shift + n_starts]
            best = np.maximum(best, pair.max(axis=1) - SPACER_PENALTY * abs(sp - SPACER_OPT))
        gc = np.isin(codes, ["G", "C"]).mean(axis=1)
        return best - GC_PENALTY * np.maximum(np.abs(gc - 0.5) - 0.15, 0.0)

    def evaluate(self, designs: pd.DataFrame) -> pd.DataFrame:
        """Noisy ``strength`` and its ``strength_std`` for each design, in order."""
        y = self.true_value(designs)
        reading = y + self.noise * self._rng.standard_normal(len(y))
        return pd.DataFrame({"strength": reading, "strength_std": np.full(len(y), self.noise)})

    def optimum(self) -> float:
        """The best noise-free score any sequence can reach (both boxes perfect, 17 nt apart)."""
        return float(W35.sum() + W10.sum())
