"""``TxTlModel``: a kinetic ODE testbed of E. coli lysate (TX-TL) GFP synthesis.

The model is a coarse-grained mass-action/Michaelis–Menten description in the
spirit of Stögbauer et al. 2012 (Integr Biol 4:494), Karzbrun et al. 2011 (PRL
106:048104) and Siegal-Gaskins et al. 2014 (ACS Synth Biol 3:416), extended with
the energy and magnesium chemistry that buffer optimisation acts on (Jewett &
Swartz 2004, Biotechnol Bioeng 86:19; Kim & Swartz 1999, 2001). Every constant is
documented in :class:`~biofab.cellfree.txtl_params.TxTlParameters`.

State per well (units): ``mrna`` (nM), ``gfp_dark`` (µM immature GFP), ``gfp``
(µM mature, fluorescent GFP), ``ntp`` (mM, charged NTPs summed over the four),
``ndp`` (mM, discharged nucleotides NDP + NMP), ``pga`` (mM 3-PGA), ``pi`` (mM
inorganic phosphate), ``amino_acids`` (mM, mean per amino acid). Time in hours.

Symbols: D plasmid (nM), m mRNA, N ntp, Q ndp, P pga, Pi pi, A amino_acids, K total
K+ (k_glutamate + lysate), Mg_T total Mg2+ (mg_glutamate + lysate). Rates
(``a(t) = 2^(-t / activity_half_life)``, lysate activity decay)::

    transcription  v_tx = tx_max a(t) D/(k_dna + D) N/(k_ntp_tx + N)               nM/h
    translation    v_tl = (3600 elongation_rate / gfp_length) ribosomes a(t)
                          m/(k_mrna_tl + m) f_Mg(Mg_free) f_K(K) f_Pi(Pi)
                          N/(k_ntp_tl + N) A/(k_aa + A)                            µM/h
    regeneration   v_rg = regen_max P/(k_pga + P) Q/(k_ndp + Q)                     mM/h
    d mrna/dt      = v_tx - ln2/mrna_half_life m
    d gfp_dark/dt  = v_tl - ln2/maturation_half_time gfp_dark
    d gfp/dt       = ln2/maturation_half_time gfp_dark
    d ntp/dt       = v_rg - energy_per_aa gfp_length v_tl/1000
                     - ntp_hydrolysis N - mrna_length v_tx/1e6
    d ndp/dt       = energy_per_aa gfp_length v_tl/1000 + ntp_hydrolysis N - v_rg
                     + mrna_length ln2/mrna_half_life m/1e6      (degraded RNA -> NMPs)
    d pga/dt       = -v_rg - pga_leak P
    d pi/dt        = energy_per_aa gfp_length v_tl/1000 + ntp_hydrolysis N
                     + 2 mrna_length v_tx/1e6 + pga_leak P
    d amino_acids/dt = -(gfp_length/20) v_tl/1000

Free magnesium solves the binding balance ``Mg_T = x + N x/(kd_ntp + x) + x (Q/kd_ndp
+ Pi/kd_pi + P/kd_pga)`` (tight 1:1 Mg·NTP, weak linear binders) as one quadratic,
so excess NTPs, 3-PGA and accumulated phosphate all inhibit by taking Mg2+ away;
``f_Mg`` and ``f_K`` are log-normal bells (inhibition on both sides of the optimum),
``f_Pi = 1/(1 + (Pi/ki_pi)^pi_hill)``.

A batch of wells is integrated as one system of ``8 n`` equations with shared
adaptive steps (wells do not interact; chunks of 128 wells), so a 96-well plate
takes about 0.15 s and one reaction about 10–20 ms.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy.integrate import solve_ivp

from biofab.cellfree.txtl_params import SECONDS_PER_HOUR, TxTlParameters
from biofab.core import Continuous, Objective, Space
from biofab.core.errors import InputError

COMPONENTS: tuple[str, ...] = ("mg_glutamate", "k_glutamate", "pga", "ntp", "amino_acids", "dna")
"""Varied reaction components (final concentrations): mM, mM, mM, mM each NTP,
mM each amino acid, nM plasmid."""

REFERENCE: dict[str, float] = {
    "mg_glutamate": 8.0,
    "k_glutamate": 80.0,
    "pga": 30.0,
    "ntp": 1.5,
    "amino_acids": 1.5,
    "dna": 10.0,
}
"""Reference composition, approximately the standard buffer of Sun et al. 2013
(J Vis Exp 79:e50762)."""

STATES: tuple[str, ...] = ("mrna", "gfp_dark", "gfp", "ntp", "ndp", "pga", "pi", "amino_acids")
_N_STATES = len(STATES)
# Absolute tolerances per state (nM, µM, µM, then mM): well below what matters.
_ATOL = np.array([1e-4, 1e-5, 1e-5, 1e-6, 1e-6, 1e-6, 1e-6, 1e-7])
_LAYOUT_META = {"plate", "well", "role", "design", "replicate"}


def default_space() -> Space:
    """The six reference components on dispensing grids, ranges around the reference."""
    return Space(
        {
            "mg_glutamate": Continuous(2.0, 20.0, step=0.5, unit="mM"),
            "k_glutamate": Continuous(20.0, 200.0, step=10.0, unit="mM"),
            "pga": Continuous(0.0, 60.0, step=2.5, unit="mM"),
            "ntp": Continuous(0.25, 4.0, step=0.25, unit="mM"),
            "amino_acids": Continuous(0.25, 4.0, step=0.25, unit="mM"),
            "dna": Continuous(0.5, 40.0, step=0.5, unit="nM"),
        }
    )


def _bell(x: np.ndarray, opt: float, width: float) -> np.ndarray:
    """Log-normal bell: 1 at ``opt``, falling on both sides, 0 at ``x = 0``."""
    with np.errstate(divide="ignore"):
        z = np.log(np.maximum(x, 1e-12) / opt) / width
    return np.asarray(np.exp(-0.5 * z * z))


class TxTlModel:
    """E. coli TX-TL GFP synthesis as a :class:`~biofab.core.Testbed`.

    Parameters
    ----------
    space
        Designs' space; default :func:`default_space`. Its names must be a subset of
        :data:`COMPONENTS`; components it lacks take their :data:`REFERENCE` value.
    noise
        Log-sd of the multiplicative log-normal noise of :meth:`evaluate` and of each
        well in :meth:`measure_plate`.
    plate_sd
        Log-sd of the per-plate multiplicative effect in :meth:`measure_plate`
        (lysate batch, temperature and reader drift shared by a plate's wells).
    hours
        Reaction time of an end-point read (h).
    seed
        Seeds one generator used for all noise, so the same calls in the same order
        give the same readings.
    params
        :class:`TxTlParameters`, a dict of overrides, or None for the documented defaults.

    Attributes
    ----------
    objectives
        ``[Objective("gfp", "max", unit="µM")]``.
    reference
        The reference composition (dict, final concentrations).
    gain
        Plate-reader gain, RFU per µM mature GFP (1000).
    background
        Blank (lysate autofluorescence) reading, RFU (300).
    """

    gain = 1000.0
    background = 300.0
    background_sd = 15.0
    # Integrator: wells share adaptive steps; the system is only mildly stiff (fastest
    # time-scale ~ 1 min, NTP recharging), so an explicit RK pair beats BDF/LSODA
    # whose finite-difference Jacobians grow with the batch.
    method = "RK45"
    rtol = 1e-4
    chunk = 128  # wells integrated together by ``yields``

    def __init__(
        self,
        space: Space | None = None,
        noise: float = 0.05,
        plate_sd: float = 0.1,
        hours: float = 8.0,
        seed: int | None = 0,
        params: TxTlParameters | dict[str, Any] | None = None,
    ) -> None:
        for name, value in (("noise", noise), ("plate_sd", plate_sd)):
            if not (isinstance(value, int | float) and value >= 0):
                raise InputError(f"{name} must be a number >= 0", column=name, found=value)
        if not (isinstance(hours, int | float) and hours > 0):
            raise InputError("hours must be positive", column="hours", found=hours)
        self.space = space if space is not None else default_space()
        unknown = [n for n in self.space.names if n not in COMPONENTS]
        if unknown:
            raise InputError(
                "the TX-TL model does not know this component",
                column=unknown[0],
                expected=f"a subset of {list(COMPONENTS)}",
                found=unknown[0],
            )
        self.noise = float(noise)
        self.plate_sd = float(plate_sd)
        self.hours = float(hours)
        self.params = TxTlParameters.from_any(params)
        self.objectives = [Objective("gfp", "max", unit="µM")]
        self.reference = dict(REFERENCE)
        self._rng = np.random.default_rng(seed)

    def __repr__(self) -> str:
        return (
            f"TxTlModel(noise={self.noise}, plate_sd={self.plate_sd}, hours={self.hours}, "
            f"space={self.space.names})"
        )

    # -- input ---------------------------------------------------------------
    def compositions(self, designs: pd.DataFrame | Mapping[str, Any]) -> pd.DataFrame:
        """Complete, checked compositions: one row per design, all :data:`COMPONENTS`.

        Missing components take the reference value; a column that is neither a
        component nor a filler of the space (e.g. ``water``) raises InputError, as
        does a negative, missing or non-numeric concentration.
        """
        frame = designs if isinstance(designs, pd.DataFrame) else pd.DataFrame([dict(designs)])
        ignored = set(self.space.fillers) | {"water"}
        unknown = [c for c in frame.columns if c not in COMPONENTS and c not in ignored]
        if unknown:
            raise InputError(
                "unknown component column",
                column=str(unknown[0]),
                expected=f"columns among {list(COMPONENTS)}",
                found=str(unknown[0]),
            )
        out = pd.DataFrame(index=range(len(frame)))
        for name in COMPONENTS:
            if name not in frame.columns:
                out[name] = self.reference[name]
                continue
            values = pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float)
            bad = ~np.isfinite(values) | (values < 0)
            if bad.any():
                i = int(np.argmax(bad))
                raise InputError(
                    "concentration must be a finite number >= 0",
                    row=i + 1,
                    column=name,
                    expected=">= 0",
                    found=frame[name].iloc[i],
                )
            out[name] = values
        return out

    # -- simulation ----------------------------------------------------------
    def _initial(self, comp: pd.DataFrame) -> np.ndarray:
        """Initial state, shape ``(8, n)``."""
        n = len(comp)
        y0 = np.zeros((_N_STATES, n))
        y0[3] = 4.0 * comp["ntp"].to_numpy()  # four NTPs at ``ntp`` mM each
        y0[5] = comp["pga"].to_numpy()
        y0[7] = comp["amino_acids"].to_numpy()
        return y0

    def _rhs_factory(self, comp: pd.DataFrame) -> Any:
        """Right-hand side over the flattened ``(8, n)`` state (state-major)."""
        p = self.params
        dna = comp["dna"].to_numpy()
        n = len(comp)
        mg_total = comp["mg_glutamate"].to_numpy() + p.mg_lysate
        f_k = _bell(comp["k_glutamate"].to_numpy() + p.k_lysate, p.k_opt, p.k_width)
        tx_dna = p.tx_max * dna / (p.k_dna + dna)
        tl_max = SECONDS_PER_HOUR * p.elongation_rate / p.gfp_length * p.ribosomes * f_k
        if n == 1:
            # one well: plain floats and ``math`` cost a tenth of numpy's per-call overhead
            well = (float(mg_total[0]), float(tx_dna[0]), float(tl_max[0]))

            def rhs_one(t: float, flat: np.ndarray) -> np.ndarray:
                y = [v if v > 0.0 else 0.0 for v in flat.tolist()]
                return np.array(_derivatives(t, y, *well, p, math))

            return rhs_one

        def rhs(t: float, flat: np.ndarray) -> np.ndarray:
            y = list(np.maximum(flat.reshape(_N_STATES, n), 0.0))
            return np.concatenate(_derivatives(t, y, mg_total, tx_dna, tl_max, p, np))

        return rhs

    def _solve(
        self, comp: pd.DataFrame, hours: float, t_eval: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Integrate all wells at once; returns ``(t, y)`` with y shape ``(8, n, len(t))``."""
        n = len(comp)
        y0 = self._initial(comp)
        sol = solve_ivp(
            self._rhs_factory(comp),
            (0.0, hours),
            y0.ravel(),
            method=self.method,
            t_eval=t_eval,
            rtol=self.rtol,
            atol=np.repeat(_ATOL, n),
        )
        if not sol.success:  # pragma: no cover - a numerical failure is a bug, not input
            raise RuntimeError(f"TX-TL integration failed: {sol.message}")
        y = np.maximum(sol.y.reshape(_N_STATES, n, -1), 0.0)
        return sol.t, y

    def simulate(
        self,
        composition: Mapping[str, Any] | pd.Series,
        hours: float | None = None,
        points: int = 100,
    ) -> pd.DataFrame:
        """Time course of one reaction: ``time_h``, every state (see module docstring),
        ``free_mg`` (mM) and ``gfp`` (µM mature GFP), ``points`` rows from 0 to ``hours``."""
        comp = self.compositions(dict(composition))
        hours = self.hours if hours is None else float(hours)
        if not hours > 0 or points < 2:
            raise InputError("need hours > 0 and points >= 2", found=(hours, points))
        t_eval = np.linspace(0.0, hours, int(points))
        t, y = self._solve(comp, hours, t_eval)
        frame = pd.DataFrame({"time_h": t})
        for i, name in enumerate(STATES):
            frame[name] = y[i, 0]
        mg_total = float(comp["mg_glutamate"].iloc[0]) + self.params.mg_lysate
        frame["free_mg"] = free_mg(
            np.full(len(t), mg_total),
            frame["ntp"].to_numpy(),
            frame["ndp"].to_numpy(),
            frame["pi"].to_numpy(),
            frame["pga"].to_numpy(),
            self.params,
        )
        return frame

    def yields(self, designs: pd.DataFrame, hours: float | None = None) -> np.ndarray:
        """Noise-free end-point mature GFP (µM) of each design, shape ``(n,)``."""
        comp = self.compositions(designs)
        if len(comp) == 0:
            return np.zeros(0)
        hours = self.hours if hours is None else float(hours)
        if not hours > 0:
            raise InputError("hours must be positive", column="hours", found=hours)
        # Wells share steps, so the stiffest well sets the pace of its chunk; chunks keep
        # a large scan from paying one well's steps for all.
        out = np.empty(len(comp))
        for start in range(0, len(comp), self.chunk):
            part = comp.iloc[start : start + self.chunk].reset_index(drop=True)
            _, y = self._solve(part, hours, np.array([hours]))
            out[start : start + len(part)] = y[2, :, -1]
        return out

    # -- measurements ----------------------------------------------------------
    def evaluate(self, designs: pd.DataFrame) -> pd.DataFrame:
        """Noisy ``gfp`` (µM, median = the noise-free yield) and ``gfp_std``, in order."""
        y = self.yields(designs)
        s2 = self.noise**2
        reading = y * np.exp(self.noise * self._rng.standard_normal(len(y)))
        std = y * np.sqrt((math.exp(s2) - 1.0) * math.exp(s2))
        return pd.DataFrame({"gfp": reading, "gfp_std": std})

    def measure_plate(self, layout: pd.DataFrame) -> pd.DataFrame:
        """Simulated end-point plate read of a layout frame (see the cell-free contract).

        ``layout`` has ``plate``, ``well`` and one column per component (final
        concentrations; blanks carry ``dna = 0``); other columns (``role``, ``design``,
        ``replicate``, ``water`` ...) are ignored. Each distinct plate gets one
        multiplicative effect ``exp(plate_sd e)``; each well gets ``exp(noise e)``;
        the reading is ``gain * gfp * plate * well + background + N(0, background_sd)``
        in RFU. Returns ``plate, well, value`` in the layout's row order.
        """
        for col in ("plate", "well"):
            if col not in layout.columns:
                raise InputError("layout lacks a column", column=col, expected="plate, well")
        dup = layout.duplicated(["plate", "well"])
        if dup.any():
            i = int(np.argmax(dup.to_numpy()))
            raise InputError(
                "a well appears twice in the layout",
                row=i + 1,
                column="well",
                found=f"{layout['plate'].iloc[i]} {layout['well'].iloc[i]}",
            )
        comps = layout[[c for c in layout.columns if c in COMPONENTS]]
        y = self.yields(comps) if len(layout) else np.zeros(0)
        plates = layout["plate"].astype(str).to_numpy()
        effect = {
            name: math.exp(self.plate_sd * self._rng.standard_normal())
            for name in dict.fromkeys(plates)
        }
        plate_factor = np.array([effect[p] for p in plates])
        well = np.exp(self.noise * self._rng.standard_normal(len(y)))
        blank = self.background + self.background_sd * self._rng.standard_normal(len(y))
        value = self.gain * y * plate_factor * well + blank
        return pd.DataFrame(
            {"plate": plates, "well": layout["well"].astype(str).to_numpy(), "value": value}
        )


def _derivatives(
    t: float,
    y: list[Any],
    mg_total: Any,
    tx_dna: Any,
    tl_max: Any,
    p: TxTlParameters,
    lib: Any,
) -> list[Any]:
    """d/dt of the 8 states (see the module docstring); floats or arrays alike.

    ``lib`` is :mod:`math` for one well's floats or :mod:`numpy` for a batch's arrays;
    only arithmetic and ``lib.exp/log/sqrt`` are used so one text serves both.
    """
    m, dark, _, ntp, ndp, pga, pi, aa = y
    ln2 = 0.6931471805599453
    act = math.exp(-ln2 / p.activity_half_life * t)
    mg = free_mg(mg_total, ntp, ndp, pi, pga, p, lib)
    z = lib.log(mg / p.mg_free_opt + 1e-12) / p.mg_width
    v_tx = act * tx_dna * ntp / (p.k_ntp_tx + ntp)
    v_tl = (
        act
        * tl_max
        * m
        / (p.k_mrna_tl + m)
        * lib.exp(-0.5 * z * z)
        / (1.0 + (pi / p.ki_pi) ** p.pi_hill)
        * ntp
        / (p.k_ntp_tl + ntp)
        * aa
        / (p.k_aa + aa)
    )
    v_rg = p.regen_max * pga / (p.k_pga + pga) * ndp / (p.k_ndp + ndp)
    hyd = p.ntp_hydrolysis * ntp
    leak = p.pga_leak * pga
    used_tl = p.energy_per_aa * p.gfp_length / 1000.0 * v_tl  # mM phosphate (v_tl in µM/h)
    used_tx = p.mrna_length / 1e6 * v_tx  # mM nucleotides (v_tx in nM/h)
    decay = ln2 / p.mrna_half_life * m
    mat = ln2 / p.maturation_half_time * dark
    return [
        v_tx - decay,
        v_tl - mat,
        mat,
        v_rg - used_tl - hyd - used_tx,
        # NMPs of degraded mRNA return to the discharged pool
        used_tl + hyd - v_rg + p.mrna_length / 1e6 * decay,
        -v_rg - leak,
        used_tl + hyd + 2.0 * used_tx + leak,  # aminoacylation and RNA synthesis give PPi
        -p.gfp_length / 20.0 / 1000.0 * v_tl,  # mean per amino acid
    ]


def free_mg(
    mg_total: Any,
    ntp: Any,
    ndp: Any,
    pi: Any,
    pga: Any,
    p: TxTlParameters,
    lib: Any = np,
) -> Any:
    """Free Mg2+ (mM) given total Mg and its ligands (all mM; floats or arrays).

    Solves ``Mg_T = x s + N x/(kd_ntp + x)`` with ``s = 1 + Q/kd_ndp + Pi/kd_pi +
    P/kd_pga`` (weak ligands in their linear regime), a quadratic in ``x``. The root
    is written ``2c / (b + sqrt(b^2 + 4 s c))``, which stays accurate when NTPs
    exceed Mg (``b`` > 0) and loses at most a few digits when Mg is in excess.
    """
    s = 1.0 + ndp / p.kd_mg_ndp + pi / p.kd_mg_pi + pga / p.kd_mg_pga
    b = s * p.kd_mg_ntp + ntp - mg_total
    c = mg_total * p.kd_mg_ntp
    return 2.0 * c / (b + lib.sqrt(b * b + 4.0 * s * c))
