"""The E. coli twin with its dissolved oxygen at quasi-steady state, for soft sensors.

Dissolved oxygen relaxes within seconds (``1/kLa`` ≈ 6 s at kLa = 600 1/h) while biomass,
glucose and acetate change over hours. Once the culture is oxygen limited (DO ≈ 0.2 % sat)
the DO balance of :class:`~biofab.process.models.EColiFedBatch` becomes extremely stiff: the
respiratory capacity ``qS_crit DO/(K_DO + DO)`` is steep in DO there, so the balance's
eigenvalue reaches ~1e5 1/h and a Kalman filter's explicit Runge-Kutta steps (0.0025 h)
oscillate between DO = 0 and tens of percent, which pushes acetate and biomass off (the
benchmark's filters lost to the open-loop twin on acetate exactly there).

Singular perturbation (Tikhonov; Kokotovic, Khalil & O'Reilly 1986, *Singular Perturbation
Methods in Control*, SIAM, ch. 1) replaces the fast balance by its algebraic equilibrium::

    kLa (100 - DO) C_O2_sat / 100 = OUR(X, S, A, DO)        (OTR = OUR, mmol/L/h)

and DO becomes an output of the slow states. In the twin's kinetics the oxygen uptake is a
piecewise-linear function of the respiratory capacity ``c = kappa phi`` with
``phi = DO/(K_DO + DO)`` and ``kappa = fT qS_crit`` (overflow while ``c < qS``, acetate
re-consumption up to ``c = qS + qA``, then saturated), so on each piece the balance is a
quadratic in ``phi`` with one root in [0, 1). The pieces are joined by clipping each root to
its piece (the balance is monotone in DO, so exactly one piece's root survives). The result
is exact (the full model's ``dDO/dt`` is zero there to round-off), smooth on each piece, uses
only ``fmin``/``fmax``/``sqrt`` so CasADi can differentiate it, and costs one evaluation of
the rates.

Everything else (balances, yields, off-gas, parameter table) is the full twin's: the class
holds one and only inserts the quasi-steady DO before calling it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from biofab.process.models import (
    _GAMMA_X,
    _MW_CH2O,
    _MW_O2,
    _MW_X,
    EColiFedBatch,
    ProcessModel,
    _ctmi,
    _o2_per_substrate,
)

__all__ = ["EColiQuasiSteadyDO"]

_DO = 4  # index of DO in the full twin's state vector


class EColiQuasiSteadyDO(ProcessModel):
    """:class:`~biofab.process.models.EColiFedBatch` with DO algebraic (module docstring).

    States: ``X``, ``S``, ``A``, ``P`` (g/L) and ``V`` (L); ``DO`` (% air saturation) is an
    output beside ``OUR``, ``CER`` (mmol/L/h) and ``RQ``. Parameters, inputs and units are
    the full twin's. Use it where the filter, not the plant, needs the twin: a plant
    simulated with it has no DO transient (harmless: the transient lasts seconds).
    """

    name = "E. coli fed-batch, quasi-steady DO"
    states = ("X", "S", "A", "P", "V")
    units = EColiFedBatch.units
    inputs = EColiFedBatch.inputs
    input_units = EColiFedBatch.input_units
    input_defaults = EColiFedBatch.input_defaults
    outputs = EColiFedBatch.outputs
    param_specs = EColiFedBatch.param_specs
    volume_state = "V"
    diluted = ("X", "S", "A", "P")

    def __init__(self, params: Mapping[str, float] | None = None, **overrides: float) -> None:
        super().__init__(params, **overrides)
        self.full = EColiFedBatch(self.params)

    def dissolved_oxygen(self, x: Any, u: Any, p: Any, xp: Any = np) -> Any:
        """DO (% air saturation) at which oxygen transfer equals uptake, from the states
        ``x`` (this class's order), inputs ``u`` and parameters ``p``."""
        k = self._unpack(p, xp)
        X, S, A = (xp.fmax(x[i], 0.0) for i in range(3))
        fT = _ctmi(u[1], k.T_min, k.T_opt, k.T_max, xp) / _ctmi(37.0, k.T_min, k.T_opt, k.T_max, xp)
        qS = fT * k.qS_max * S / (k.Ks + S + S * S / k.Kis) / (1.0 + A / k.Kia)
        kappa = xp.fmax(fT * k.qS_crit, 1e-12)
        q_acetate = fT * k.qA_max * A / (k.Ka + A)
        o_ox = _o2_per_substrate(k.Yxs)
        o_of = _o2_per_substrate(k.Yxs_of + 4.0 * k.Yas / _MW_CH2O * _MW_X / _GAMMA_X)
        o_ac = _o2_per_substrate(k.Yxa)
        maintenance = (_MW_O2 / _MW_CH2O - o_ox) * k.ms
        # qO2 (g O2/g/h) = a + b phi on each piece of the capacity c = kappa phi
        pieces = (
            (maintenance + o_of * qS, (o_ox - o_of) * kappa),  # c < qS: overflow
            (maintenance + (o_ox - o_ac) * qS, o_ac * kappa),  # acetate re-consumption
            (maintenance + o_ox * qS + o_ac * q_acetate, 0.0 * kappa),  # saturated
        )
        to_mmol = X / _MW_O2 * 1000.0  # g O2/g/h -> mmol/L/h
        transfer = k.kLa * k.C_O2_sat  # mmol/L/h at DO = 0

        def root(a: Any, b: Any) -> Any:
            # K phi/(1 - phi) = 100 (1 - OUR/transfer), OUR = to_mmol (a + b phi): the
            # smaller root of 100 beta phi^2 - (100 (alpha + beta) + K) phi + 100 alpha
            alpha = 1.0 - to_mmol * a / transfer
            beta = to_mmol * b / transfer
            B = 100.0 * (alpha + beta) + k.K_DO
            C = 100.0 * alpha
            disc = xp.fmax(B * B - 400.0 * beta * C, 0.0)
            # C <= 0: uptake at DO = 0 already exceeds transfer, the root is phi = 0
            return 2.0 * xp.fmax(C, 0.0) / xp.fmax(B + xp.sqrt(disc), 1e-12)

        first = xp.fmin(qS / kappa, 1.0)
        second = xp.fmin((qS + q_acetate) / kappa, 1.0)
        r1, r2, r3 = (root(a, b) for a, b in pieces)
        phi = (
            _clip(r1, 0.0, first, xp)
            + _clip(r2, first, second, xp)
            - first
            + _clip(r3, second, 1.0, xp)
            - second
        )
        return k.K_DO * phi / xp.fmax(1.0 - phi, 1e-12)

    def full_state(self, x: Any, u: Any, p: Any, xp: Any = np) -> list[Any]:
        """The full twin's state ``[X, S, A, P, DO, V]`` with the quasi-steady DO."""
        oxygen = self.dissolved_oxygen(x, u, p, xp)
        return [x[0], x[1], x[2], x[3], oxygen, x[4]]

    def rates(self, t: Any, x: Any, u: Any, p: Any, xp: Any = np) -> dict[str, Any]:
        return self.full.rates(t, self.full_state(x, u, p, xp), u, p, xp)

    def rhs(self, t: Any, x: Any, u: Any, p: Any, xp: Any = np) -> list[Any]:
        derivative = self.full.rhs(t, self.full_state(x, u, p, xp), u, p, xp)
        return [d for i, d in enumerate(derivative) if i != _DO]

    def measure(self, x: Any, u: Any, p: Any, xp: Any = np) -> list[Any]:
        return self.full.measure(self.full_state(x, u, p, xp), u, p, xp)


def _clip(value: Any, lo: Any, hi: Any, xp: Any) -> Any:
    return xp.fmin(xp.fmax(value, lo), hi)
