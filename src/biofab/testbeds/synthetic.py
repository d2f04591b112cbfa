"""``SyntheticCellFree``: an in-silico cell-free buffer to rehearse a campaign on.

The surface is **synthetic**: a hand-written formula with the qualitative
behaviour cell-free chemists report (an interior magnesium optimum, DNA that
saturates, energy substrates that inhibit in excess, NTPs that chelate
magnesium). It is *not* fitted to any data set and its numbers are not a
prediction for any real lysate; use :mod:`biofab.cellfree` replays for that.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from biofab.core import Continuous, Objective, Space

# Shape constants of the surface (see SyntheticCellFree's docstring).
Y0 = 2.0  # mg/mL, overall scale
MG_OPT = 6.0  # mM free Mg2+ at the optimum
CHELATION = 1.0  # Mg2+ bound per NTP (1:1 Mg-NTP complex)
K_OPT, K_WIDTH = 100.0, 0.45  # mM, log-width of the K-glutamate optimum
NTP_HALF, NTP_INHIB = 0.6, 4.0  # mM
PGA_BASE, PGA_HALF, PGA_INHIB = 0.25, 10.0, 45.0  # -, mM, mM
AA_HALF = 0.5  # mM
DNA_HALF = 4.0  # nM
PEG_OPT, PEG_GAIN = 2.0, 0.4  # % (w/v), fractional gain at the optimum
SPD_OPT, SPD_GAIN = 1.0, 0.15  # mM, fractional gain at the optimum


def _grid(p: object) -> np.ndarray:
    levels = p.levels() if isinstance(p, Continuous) else None
    if levels is None:
        raise TypeError(f"not a gridded continuous parameter: {p!r}")
    return levels


def _rise_and_fall(x: np.ndarray, x_opt: float) -> np.ndarray:
    """``(x / x_opt) * exp(1 - x / x_opt)``: 0 at 0, 1 at ``x_opt``, decays beyond."""
    r = np.asarray(x, dtype=float) / x_opt
    return r * np.exp(1.0 - r)


class SyntheticCellFree:
    """A synthetic *E. coli* cell-free GFP-yield surface over 8 buffer components.

    Parameters (all on a dispensing grid): ``mg_glutamate`` 0–20 mM (step 0.5),
    ``k_glutamate`` 20–200 mM (10), ``ntp`` 0.5–6 mM total NTPs (0.25),
    ``amino_acids`` 0.25–4 mM each (0.25), ``pga`` (3-PGA) 0–60 mM (2.5),
    ``dna`` 1–30 nM plasmid (1), ``peg`` (PEG-8000) 0–4 % w/v (0.25),
    ``spermidine`` 0–3 mM (0.25).

    The noise-free yield (mg/mL) is the product::

        y = Y0 * f_Mg * f_K * f_NTP * f_PGA * f_AA * f_DNA * f_PEG * f_SPD

        m      = max(mg_glutamate - CHELATION * ntp, 0)    # free Mg2+ (Mg-NTP chelation)
        f_Mg   = (m / MG_OPT) * exp(1 - m / MG_OPT)          # interior optimum
        f_K    = exp(-0.5 * (ln(k_glutamate / K_OPT) / K_WIDTH)^2)
        f_NTP  = ntp / (ntp + NTP_HALF) / (1 + (ntp / NTP_INHIB)^3)  # inhibits in excess
        f_PGA  = (PGA_BASE + pga / (pga + PGA_HALF)) / (1 + (pga / PGA_INHIB)^2)
        f_AA   = amino_acids / (amino_acids + AA_HALF)
        f_DNA  = dna / (dna + DNA_HALF)                         # saturates
        f_PEG  = 1 + PEG_GAIN * r(peg, PEG_OPT)                 # crowding helps, then less so
        f_SPD  = 1 + SPD_GAIN * r(spermidine, SPD_OPT)
        r(x, x0) = (x / x0) * exp(1 - x / x0)

    with ``Y0 = 2``, ``MG_OPT = 6``, ``CHELATION = 1``, ``K_OPT = 100``,
    ``K_WIDTH = 0.45``, ``NTP_HALF = 0.6``, ``NTP_INHIB = 4``, ``PGA_BASE = 0.25``,
    ``PGA_HALF = 10``, ``PGA_INHIB = 45``, ``AA_HALF = 0.5``, ``DNA_HALF = 4``,
    ``PEG_OPT = 2``, ``PEG_GAIN = 0.4``, ``SPD_OPT = 1``, ``SPD_GAIN = 0.15``.
    The only interaction is the chelation: the best magnesium moves up with the NTPs.

    A reading is ``y * exp(noise * e)``, ``e ~ N(0, 1)`` (multiplicative
    log-normal noise, median ``y``); ``yield_std`` reports the standard
    deviation of such a reading. Noise draws come from one generator seeded by
    ``seed``, so the same calls in the same order give the same readings.

    This surface is synthetic, written for rehearsal and tests, not fitted to data.
    """

    def __init__(self, seed: int | None = 0, noise: float = 0.05) -> None:
        if not noise >= 0:
            raise ValueError(f"noise must be >= 0, got {noise!r}")
        self.noise = float(noise)
        self._rng = np.random.default_rng(seed)
        self.space = Space(
            {
                "mg_glutamate": Continuous(0.0, 20.0, step=0.5, unit="mM"),
                "k_glutamate": Continuous(20.0, 200.0, step=10.0, unit="mM"),
                "ntp": Continuous(0.5, 6.0, step=0.25, unit="mM"),
                "amino_acids": Continuous(0.25, 4.0, step=0.25, unit="mM"),
                "pga": Continuous(0.0, 60.0, step=2.5, unit="mM"),
                "dna": Continuous(1.0, 30.0, step=1.0, unit="nM"),
                "peg": Continuous(0.0, 4.0, step=0.25, unit="% (w/v)"),
                "spermidine": Continuous(0.0, 3.0, step=0.25, unit="mM"),
            }
        )
        self.objectives = [Objective("yield", "max", unit="mg/mL")]

    @staticmethod
    def _surface(v: dict[str, np.ndarray]) -> np.ndarray:
        mg, k, ntp = v["mg_glutamate"], v["k_glutamate"], v["ntp"]
        aa, pga, dna, peg, spd = (
            v["amino_acids"],
            v["pga"],
            v["dna"],
            v["peg"],
            v["spermidine"],
        )
        free_mg = np.maximum(mg - CHELATION * ntp, 0.0)
        f_mg = _rise_and_fall(free_mg, MG_OPT)
        f_k = np.exp(-0.5 * (np.log(k / K_OPT) / K_WIDTH) ** 2)
        f_ntp = ntp / (ntp + NTP_HALF) / (1.0 + (ntp / NTP_INHIB) ** 3)
        f_pga = (PGA_BASE + pga / (pga + PGA_HALF)) / (1.0 + (pga / PGA_INHIB) ** 2)
        f_aa = aa / (aa + AA_HALF)
        f_dna = dna / (dna + DNA_HALF)
        f_peg = 1.0 + PEG_GAIN * _rise_and_fall(peg, PEG_OPT)
        f_spd = 1.0 + SPD_GAIN * _rise_and_fall(spd, SPD_OPT)
        return Y0 * f_mg * f_k * f_ntp * f_pga * f_aa * f_dna * f_peg * f_spd

    def true_yield(self, designs: pd.DataFrame) -> np.ndarray:
        """Noise-free yield (mg/mL) of each design; designs are validated first."""
        checked = self.space.validate(designs)
        return self._surface({n: checked[n].to_numpy(dtype=float) for n in self.space.names})

    def evaluate(self, designs: pd.DataFrame) -> pd.DataFrame:
        """Noisy ``yield`` and its ``yield_std`` for each design, in order."""
        y = self.true_yield(designs)
        s2 = self.noise**2
        reading = y * np.exp(self.noise * self._rng.standard_normal(len(y)))
        std = y * np.sqrt((np.exp(s2) - 1.0) * np.exp(s2))
        return pd.DataFrame({"yield": reading, "yield_std": std})

    def optimum(self) -> tuple[dict[str, float], float]:
        """The best grid design and its noise-free yield.

        The surface factorises except for the Mg–NTP pair, so the pair is
        searched jointly on its grid and every other component on its own.
        """
        grids = {name: _grid(p) for name, p in self.space.parameters.items()}
        best: dict[str, float] = {}
        defaults = {name: grid[:1] for name, grid in grids.items()}
        for name, grid in grids.items():
            if name in ("mg_glutamate", "ntp"):
                continue
            values = dict(defaults, **{name: grid})
            values.update({"mg_glutamate": np.array([10.0]), "ntp": np.array([2.0])})
            best[name] = float(grid[int(np.argmax(self._surface(values)))])
        mg, ntp = np.meshgrid(grids["mg_glutamate"], grids["ntp"], indexing="ij")
        values = {n: np.array([v]) for n, v in best.items()}
        values.update({"mg_glutamate": mg.ravel(), "ntp": ntp.ravel()})
        scores = self._surface(values)
        i = int(np.argmax(scores))
        best["mg_glutamate"] = float(mg.ravel()[i])
        best["ntp"] = float(ntp.ravel()[i])
        ordered = {n: best[n] for n in self.space.names}
        return ordered, float(scores[i])
