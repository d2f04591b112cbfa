"""Mechanistic bioreactor twins: material balances with literature kinetics.

A :class:`ProcessModel` is a set of ordinary differential equations ``dx/dt = f(t, x, u, p)``
in hours, written once with *backend* functions so the same code evaluates with NumPy
(floats or arrays, for simulation and fitting) and with CasADi symbols (for automatic
differentiation in estimators and model predictive control)::

    f = model.rhs(t, x, u, p, xp=numpy)     # list of floats / arrays
    f = model.rhs(t, x, u, p, xp=casadi)    # list of CasADi expressions
    F = model.casadi_rhs()                  # ca.Function('f', [x, u, p], [dx])

``x``, ``u`` and ``p`` are indexable sequences ordered as ``model.states``,
``model.inputs`` and ``model.param_names``. The backend must provide ``exp``, ``fmax``,
``fmin`` and ``sqrt``; kinetics only use those and plain arithmetic (no ``if`` on values), so
they stay smooth enough for gradient-based optimisers and traceable by CasADi.

Two twins are provided:

- :class:`EColiFedBatch`: glucose-limited fed-batch of recombinant *E. coli* with overflow to
  acetate above a critical glucose uptake rate (Xu, Jahic & Enfors 1999, Biotechnol. Prog.
  15:81-90; Anane et al. 2017, Biochem. Eng. J. 125:23-30), acetate re-consumption with the
  spare respiratory capacity, dissolved-oxygen balance with kLa transfer, feed and volume, and
  an induction input that switches on product formation and a growth burden.
- :class:`ChoFedBatch`: CHO fed-batch with viable cells, glucose, glutamine, lactate, ammonia
  and antibody titer (Xing et al. 2010, Biotechnol. Prog. 26:208-219; parameter table as
  summarised by Kornecki & Strube 2018, Bioengineering 5:25, Table 2).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from biofab.core.errors import InputError

__all__ = [
    "ChoFedBatch",
    "EColiFedBatch",
    "ParamSpec",
    "ProcessModel",
    "ecoli_respiration",
    "scalar_backend",
]

Array = NDArray[np.float64]

# Plain-float backend: ~10x faster than NumPy scalars inside an ODE solver's Python loop.
# math.exp raises OverflowError where numpy would return inf; simulate() reports it.
scalar_backend = SimpleNamespace(exp=math.exp, fmax=max, fmin=min, sqrt=math.sqrt, log=math.log)


@dataclass(frozen=True)
class ParamSpec:
    """One model parameter: default value, unit, meaning and where the value comes from."""

    value: float
    unit: str
    description: str
    source: str


class ProcessModel:
    """Base class of bioreactor models (see the module docstring for the contract).

    Subclasses define the class attributes ``states``, ``units`` (state and output ->
    unit), ``inputs``, ``input_units``, ``input_defaults``, ``outputs``, ``param_specs``,
    ``volume_state`` and ``diluted`` (concentration states that a bolus of liquid dilutes),
    and implement :meth:`rhs` and :meth:`measure`.

    Parameters
    ----------
    params:
        Values replacing the documented defaults, by name (units as in ``param_specs``).
    """

    name: str = "process"
    states: tuple[str, ...] = ()
    units: dict[str, str] = {}  # noqa: RUF012 - read-only class tables
    inputs: tuple[str, ...] = ()
    input_units: dict[str, str] = {}  # noqa: RUF012
    input_defaults: dict[str, float] = {}  # noqa: RUF012
    outputs: tuple[str, ...] = ()
    param_specs: dict[str, ParamSpec] = {}  # noqa: RUF012
    volume_state: str = "V"
    diluted: tuple[str, ...] = ()

    def __init__(self, params: Mapping[str, float] | None = None, **overrides: float) -> None:
        values = {name: spec.value for name, spec in self.param_specs.items()}
        given = {**(params or {}), **overrides}
        self._check_names(given)
        values.update({k: float(v) for k, v in given.items()})
        self.params: dict[str, float] = values

    # -- names and vectors -------------------------------------------------------------
    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(self.param_specs)

    def _check_names(self, given: Mapping[str, Any]) -> None:
        unknown = sorted(set(given) - set(self.param_specs))
        if unknown:
            raise InputError(
                f"unknown parameter(s) {', '.join(unknown)} for {self.name}",
                expected=", ".join(self.param_specs),
            )

    def param_vector(self, p: Mapping[str, float] | None = None) -> Array:
        """Parameter vector (ordered as ``param_names``): the model's values, updated by ``p``."""
        given = dict(p or {})
        self._check_names(given)
        merged = {**self.params, **given}
        return np.array([float(merged[n]) for n in self.param_names])

    def state_vector(self, x0: Mapping[str, float] | Sequence[float]) -> Array:
        """Initial state vector from a mapping by state name (all states required) or a sequence."""
        if isinstance(x0, Mapping):
            missing = [s for s in self.states if s not in x0]
            extra = sorted(set(x0) - set(self.states))
            if missing or extra:
                raise InputError(
                    f"initial state of {self.name} must name every state exactly",
                    expected=", ".join(self.states),
                    found=f"missing {missing}, unknown {extra}",
                )
            values = [float(x0[s]) for s in self.states]
        else:
            values = [float(v) for v in x0]
            if len(values) != len(self.states):
                raise InputError(
                    f"initial state of {self.name} has the wrong length",
                    expected=f"{len(self.states)} values ({', '.join(self.states)})",
                    found=len(values),
                )
        arr = np.array(values)
        for name, value in zip(self.states, arr, strict=True):
            if not np.isfinite(value) or value < 0:
                raise InputError(
                    f"initial state '{name}' of {self.name} must be finite and >= 0",
                    found=float(value),
                )
        if arr[self.states.index(self.volume_state)] <= 0:
            raise InputError(f"initial volume of {self.name} must be > 0", found=float(value))
        return arr

    def input_vector(self, u: Mapping[str, float] | None = None) -> Array:
        """Input vector (ordered as ``inputs``): defaults updated by ``u``."""
        given = dict(u or {})
        unknown = sorted(set(given) - set(self.inputs))
        if unknown:
            raise InputError(
                f"unknown input(s) {', '.join(unknown)} for {self.name}",
                expected=", ".join(self.inputs),
            )
        merged = {**self.input_defaults, **given}
        return np.array([float(merged[n]) for n in self.inputs])

    def _unpack(self, p: Any, xp: Any = np) -> SimpleNamespace:
        if xp is scalar_backend:
            # The ODE loop passes the same float values thousands of times: cache the last.
            key = tuple(p)
            if self._unpack_key == key:
                return self._unpack_value
            value = SimpleNamespace(**dict(zip(self.param_names, key, strict=True)))
            self._unpack_key, self._unpack_value = key, value
            return value
        return SimpleNamespace(**{n: p[i] for i, n in enumerate(self.param_names)})

    _unpack_key: tuple[float, ...] | None = None
    _unpack_value: SimpleNamespace = SimpleNamespace()

    # -- the model -----------------------------------------------------------------------
    def rates(self, t: Any, x: Any, u: Any, p: Any, xp: Any = np) -> dict[str, Any]:
        """Specific and volumetric rates at one point (names and units per subclass)."""
        raise NotImplementedError

    def rhs(self, t: Any, x: Any, u: Any, p: Any, xp: Any = np) -> list[Any]:
        """Time derivatives of the states (state units per hour), one entry per state."""
        raise NotImplementedError

    def measure(self, x: Any, u: Any, p: Any, xp: Any = np) -> list[Any]:
        """Online signals ``outputs`` (units in ``units``), one entry per output."""
        raise NotImplementedError

    # -- CasADi --------------------------------------------------------------------------
    def _symbols(self) -> tuple[Any, Any, Any, Any]:
        import casadi as ca

        x = ca.SX.sym("x", len(self.states))
        u = ca.SX.sym("u", len(self.inputs))
        p = ca.SX.sym("p", len(self.param_names))
        return ca, x, u, p

    def casadi_rhs(self) -> Any:
        """``ca.Function('f', [x, u, p], [dx])`` of the autonomous right-hand side.

        The twins are time-invariant (time enters only through the inputs), so ``t`` is
        not an argument; the symbolic ``rhs`` is traced at ``t = 0``.
        """
        ca, x, u, p = self._symbols()
        dx = ca.vertcat(*self.rhs(0.0, x, u, p, xp=ca))
        return ca.Function("f", [x, u, p], [dx], ["x", "u", "p"], ["dx"])

    def casadi_measure(self) -> Any:
        """``ca.Function('h', [x, u, p], [y])`` of the online signals."""
        ca, x, u, p = self._symbols()
        y = ca.vertcat(*self.measure(x, u, p, xp=ca))
        return ca.Function("h", [x, u, p], [y], ["x", "u", "p"], ["y"])

    def describe(self) -> str:
        """Markdown table of the parameters with units and sources."""
        lines = ["| parameter | value | unit | meaning | source |", "|---|---|---|---|---|"]
        for name, spec in self.param_specs.items():
            lines.append(
                f"| {name} | {self.params[name]:g} | {spec.unit} | {spec.description} "
                f"| {spec.source} |"
            )
        return "\n".join(lines)

    def __repr__(self) -> str:
        changed = {k: v for k, v in self.params.items() if v != self.param_specs[k].value}
        return f"{type(self).__name__}({changed or ''})"


# ---------------------------------------------------------------------------------------
# E. coli
# ---------------------------------------------------------------------------------------

# Elemental constants for the oxygen and CO2 balances (Roels 1983, *Energetics and Kinetics
# in Biotechnology*): glucose and acetate are CH2O (30 g/C-mol, degree of reduction 4);
# biomass CH1.8O0.5N0.2 (24.6 g/C-mol, degree of reduction 4.2 with NH3 as N source).
_MW_CH2O = 30.0
_MW_X = 24.6
_GAMMA_X = 4.2
_MW_O2 = 32.0

_XU = "Xu, Jahic & Enfors 1999, Biotechnol. Prog. 15:81-90"
_ANANE = "Anane et al. 2017, Biochem. Eng. J. 125:23-30"
_ASSUMED = "biofab assumption (typical lab bioreactor)"


def _o2_per_substrate(yield_x: Any) -> Any:
    """g O2 per g CH2O substrate that is oxidised while making ``yield_x`` g biomass (electron
    balance: 4 electrons per O2)."""
    return (4.0 / _MW_CH2O - yield_x * _GAMMA_X / _MW_X) / 4.0 * _MW_O2


def _co2_per_substrate(yield_x: Any, yield_other: Any = 0.0) -> Any:
    """mol CO2 per g CH2O substrate (carbon balance), ``yield_other`` g of a CH2O product."""
    return 1.0 / _MW_CH2O - yield_x / _MW_X - yield_other / _MW_CH2O


def _ctmi(T: Any, tmin: Any, topt: Any, tmax: Any, xp: Any) -> Any:
    """Cardinal temperature model with inflection (Rosso et al. 1993, J. Theor. Biol.
    162:447-463): 0 at ``tmin`` and ``tmax``, 1 at ``topt``. ``T`` is clamped into
    [tmin, tmax] so the expression stays branch-free."""
    Tc = xp.fmin(xp.fmax(T, tmin), tmax)
    num = (Tc - tmax) * (Tc - tmin) ** 2
    den = (topt - tmin) * ((topt - tmin) * (Tc - topt) - (topt - tmax) * (topt + tmin - 2 * Tc))
    return num / den


def ecoli_respiration(k: Any, qS_ox: Any, qS_of: Any, qA_cons: Any, X: Any) -> tuple[Any, Any, Any]:
    """Specific O2 uptake (g O2/g/h), ``OUR`` and ``CER`` (mmol/L/h) of :class:`EColiFedBatch`
    from its carbon fluxes (g/g/h) and biomass ``X`` (g/L), by the electron and carbon
    balances of its docstring; ``k`` holds the yields ``Yxs``, ``Yxs_of``, ``Yxa``, ``Yas``
    and ``ms`` as attributes. The same expressions as :meth:`EColiFedBatch.rates`, for
    models (hybrids) that change the fluxes and must keep the gas balances closed."""
    qO2 = (
        _o2_per_substrate(k.Yxs) * (qS_ox - k.ms)
        + _MW_O2 / _MW_CH2O * k.ms
        + _o2_per_substrate(k.Yxs_of + 4.0 * k.Yas / _MW_CH2O * _MW_X / _GAMMA_X) * qS_of
        + _o2_per_substrate(k.Yxa) * qA_cons
    )
    qCO2 = (
        _co2_per_substrate(k.Yxs) * (qS_ox - k.ms)
        + k.ms / _MW_CH2O
        + _co2_per_substrate(k.Yxs_of, k.Yas) * qS_of
        + _co2_per_substrate(k.Yxa) * qA_cons
    )
    return qO2, qO2 * X / _MW_O2 * 1000.0, qCO2 * X * 1000.0


class EColiFedBatch(ProcessModel):
    """Glucose-limited fed-batch of recombinant *E. coli* with overflow metabolism.

    States (units): ``X`` biomass (g/L), ``S`` glucose (g/L), ``A`` acetate (g/L), ``P``
    product (g/L), ``DO`` dissolved oxygen (% of air saturation), ``V`` broth volume (L).

    Inputs: ``F`` feed rate (L/h) of a glucose solution at ``Sf`` g/L, ``T`` temperature (°C),
    ``ind`` induction (0 before, 1 after adding the inducer).

    Kinetics (specific rates per g biomass per hour)::

        fT    = CTMI(T) / CTMI(37)                                   temperature factor
        qS    = fT qS_max S / (Ks + S + S²/Kis) · 1/(1 + A/Kia)       Haldane + acetate (Xu 1999)
        fO    = DO / (K_DO + DO)                                     oxygen limitation
        cap   = fT qS_crit fO                                         respiratory capacity
        qSox  = min(qS, cap),  qSof = qS - qSox                       overflow above qS_crit
        qAc   = min(fT qA_max A/(Ka + A), max(cap - qS, 0))           uses spare capacity
        mu    = (1 - burden ind) [Yxs (qSox - ms) + Yxs_of qSof + Yxa qAc]
        qP    = ind fT (alpha max(mu, 0) + beta)                       Luedeking-Piret
        qO2   = Yos(Yxs)(qSox - ms) + 1.067 ms + Yos(Yxs_of) qSof + Yos(Yxa) qAc   electron balance

    Balances (D = F/V)::

        dX/dt = mu X - D X           dS/dt = -qS X + D (Sf - S)
        dA/dt = (Yas qSof - qAc) X - D A      dP/dt = qP X - D P
        dDO/dt = kLa (100 - DO) - 100 OUR / C_O2_sat     (OUR in mmol/L/h)
        dV/dt = F

    The dissolved-oxygen balance neglects dilution by the feed (its time constant, 1/kLa, is
    seconds, against hours for dilution). Oxygen uptake and CO2 evolution follow from
    electron and carbon balances on CH2O substrates and CH1.8O0.5N0.2 biomass, so the
    respiratory quotient is an outcome (≈1.1 on glucose), not a parameter. Product carbon is
    neglected in those balances (a few % of the carbon). Acetate re-consumption only uses
    respiratory capacity that glucose leaves free, so acetate is taken up when glucose is
    limiting (Xu et al. 1999; Anane et al. 2017 model the same switch through acetate
    cycling).

    Outputs: ``OUR`` and ``CER`` (mmol/L/h), ``DO`` (% sat), ``RQ`` (mol/mol).
    """

    name = "E. coli fed-batch"
    states = ("X", "S", "A", "P", "DO", "V")
    units = {  # noqa: RUF012
        "X": "g/L",
        "S": "g/L",
        "A": "g/L",
        "P": "g/L",
        "DO": "%",
        "V": "L",
        "OUR": "mmol/L/h",
        "CER": "mmol/L/h",
        "RQ": "mol/mol",
    }
    inputs = ("F", "T", "ind")
    input_units = {"F": "L/h", "T": "°C", "ind": "0/1"}  # noqa: RUF012
    input_defaults = {"F": 0.0, "T": 37.0, "ind": 0.0}  # noqa: RUF012
    outputs = ("OUR", "CER", "DO", "RQ")
    volume_state = "V"
    diluted = ("X", "S", "A", "P")
    param_specs = {  # noqa: RUF012
        "qS_max": ParamSpec(1.25, "g/g/h", "maximum specific glucose uptake rate", _XU),
        "Ks": ParamSpec(0.05, "g/L", "glucose saturation constant", _XU),
        "Kis": ParamSpec(80.0, "g/L", "glucose (Haldane) inhibition constant", _ASSUMED),
        "Kia": ParamSpec(9.0, "g/L", "acetate inhibition of glucose uptake", _XU),
        "qS_crit": ParamSpec(
            1.1,
            "g/g/h",
            "critical glucose uptake rate (respiratory capacity); set so batch overflow is "
            "≈9 % C/C of glucose",
            _XU,
        ),
        "qA_max": ParamSpec(0.15, "g/g/h", "maximum acetate uptake rate (0.12-0.18)", _XU),
        "Ka": ParamSpec(0.05, "g/L", "acetate saturation constant", _ANANE),
        "Yxs": ParamSpec(0.5, "g/g", "biomass yield on oxidised glucose", _XU),
        "Yxs_of": ParamSpec(0.15, "g/g", "biomass yield on overflow glucose", _ANANE),
        "Yxa": ParamSpec(0.4, "g/g", "biomass yield on acetate", _XU),
        "Yas": ParamSpec(
            0.667, "g/g", "acetate per overflow glucose (2 acetate per glucose)", "stoichiometry"
        ),
        "ms": ParamSpec(0.04, "g/g/h", "maintenance glucose uptake", _XU),
        "K_DO": ParamSpec(1.0, "% sat", "oxygen saturation constant (≈2 µM)", _ASSUMED),
        "kLa": ParamSpec(600.0, "1/h", "volumetric oxygen transfer coefficient", _ASSUMED),
        "C_O2_sat": ParamSpec(
            0.21, "mmol/L", "O2 solubility at 37 °C under air (Henry's law)", "Henry's law"
        ),
        "Sf": ParamSpec(500.0, "g/L", "glucose concentration of the feed", _ASSUMED),
        "alpha": ParamSpec(0.1, "g/g", "growth-associated product yield", _ASSUMED),
        "beta": ParamSpec(0.01, "g/g/h", "non-growth-associated product rate", _ASSUMED),
        "burden": ParamSpec(
            0.3, "-", "fractional growth loss after induction (metabolic burden)", _ASSUMED
        ),
        "T_min": ParamSpec(
            5.0, "°C", "minimum growth temperature", "Rosso et al. 1993, J. Theor. Biol."
        ),
        "T_opt": ParamSpec(
            40.0, "°C", "optimal growth temperature", "Rosso et al. 1993, J. Theor. Biol."
        ),
        "T_max": ParamSpec(
            47.0, "°C", "maximum growth temperature", "Rosso et al. 1993, J. Theor. Biol."
        ),
    }

    def rates(self, t: Any, x: Any, u: Any, p: Any, xp: Any = np) -> dict[str, Any]:
        """Specific rates (g/g/h, ``mu`` in 1/h) and volumetric ``OUR``/``CER`` (mmol/L/h)."""
        k = self._unpack(p, xp)
        X, S, A, _P, DO, _V = (x[i] for i in range(6))
        F, T, ind = u[0], u[1], u[2]
        S = xp.fmax(S, 0.0)
        A = xp.fmax(A, 0.0)
        DO = xp.fmax(DO, 0.0)
        X = xp.fmax(X, 0.0)
        fT = _ctmi(T, k.T_min, k.T_opt, k.T_max, xp) / _ctmi(37.0, k.T_min, k.T_opt, k.T_max, xp)
        qS = fT * k.qS_max * S / (k.Ks + S + S * S / k.Kis) / (1.0 + A / k.Kia)
        fO = DO / (k.K_DO + DO)
        cap = fT * k.qS_crit * fO
        qSox = xp.fmin(qS, cap)
        qSof = qS - qSox
        qAc = xp.fmin(fT * k.qA_max * A / (k.Ka + A), xp.fmax(cap - qS, 0.0))
        mu = (1.0 - k.burden * ind) * (k.Yxs * (qSox - k.ms) + k.Yxs_of * qSof + k.Yxa * qAc)
        qP = ind * fT * (k.alpha * xp.fmax(mu, 0.0) + k.beta)
        ms_o2 = _MW_O2 / _MW_CH2O  # full oxidation of CH2O: 1.067 g O2/g
        qO2 = (  # g O2/g/h
            _o2_per_substrate(k.Yxs) * (qSox - k.ms)
            + ms_o2 * k.ms
            + _o2_per_substrate(k.Yxs_of + 4.0 * k.Yas / _MW_CH2O * _MW_X / _GAMMA_X) * qSof
            + _o2_per_substrate(k.Yxa) * qAc
        )
        qCO2 = (  # mol/g/h
            _co2_per_substrate(k.Yxs) * (qSox - k.ms)
            + k.ms / _MW_CH2O
            + _co2_per_substrate(k.Yxs_of, k.Yas) * qSof
            + _co2_per_substrate(k.Yxa) * qAc
        )
        our = qO2 * X / _MW_O2 * 1000.0
        cer = qCO2 * X * 1000.0
        return {
            "mu": mu,
            "qS": qS,
            "qS_ox": qSox,
            "qS_of": qSof,
            "qA_prod": k.Yas * qSof,
            "qA_cons": qAc,
            "qP": qP,
            "qO2": qO2,
            "OUR": our,
            "CER": cer,
            "F": F,
        }

    def rhs(self, t: Any, x: Any, u: Any, p: Any, xp: Any = np) -> list[Any]:
        k = self._unpack(p, xp)
        r = self.rates(t, x, u, p, xp)
        X, S, A, P, DO, V = (x[i] for i in range(6))
        F = u[0]
        D = F / V
        return [
            r["mu"] * X - D * X,
            -r["qS"] * X + D * (k.Sf - S),
            (r["qA_prod"] - r["qA_cons"]) * X - D * A,
            r["qP"] * X - D * P,
            k.kLa * (100.0 - DO) - 100.0 * r["OUR"] / k.C_O2_sat,
            F,
        ]

    def measure(self, x: Any, u: Any, p: Any, xp: Any = np) -> list[Any]:
        r = self.rates(0.0, x, u, p, xp)
        rq = r["CER"] / xp.fmax(r["OUR"], 1e-9)
        return [r["OUR"], r["CER"], x[4], rq]


# ---------------------------------------------------------------------------------------
# CHO
# ---------------------------------------------------------------------------------------

_XING = "Xing et al. 2010, Biotechnol. Prog. 26:208-219 (via Kornecki & Strube 2018, Table 2)"
_KS = "Kornecki & Strube 2018, Bioengineering 5:25, Table 2 (experimental)"


class ChoFedBatch(ProcessModel):
    """CHO fed-batch: viable cells, glucose, glutamine, lactate, ammonia and titer.

    States (units): ``Xv`` viable cell density (1e6 cells/mL), ``Glc``, ``Gln``, ``Lac``,
    ``Amm`` (mM), ``P`` antibody titer (mg/L), ``V`` volume (L). Input: ``F`` feed rate (L/h)
    of a feed medium with ``Glc_f`` and ``Gln_f`` mM.

    With ``Xv`` in 1e6 cells/mL (= 1e9 cells/L), a specific rate in pmol/cell/h gives mM/h
    per unit of ``Xv``, a yield in 1e9 cells/mmol converts ``mu Xv`` into mM/h, and a
    productivity in pg/cell/h gives mg/L/h per unit of ``Xv``. Kinetics after Xing et al.
    (2010)::

        mu   = mu_max Glc/(K_glc+Glc) Gln/(K_gln+Gln) KI_lac/(KI_lac+Lac) KI_amm/(KI_amm+Amm)
        mu_d = kd Lac/(KD_lac+Lac) Amm/(KD_amm+Amm)          lactate and ammonia driven death
        qGlc = mu/Y_x_glc + m_glc Glc/(K_glc+Glc)
        qGln = mu/Y_x_gln + a1 Gln/(a2+Gln)
        qLac = Y_lac_glc qGlc - qLac_max Lac/(K_lac+Lac) KI_glc_lac/(KI_glc_lac+Glc)
        qAmm = Y_amm_gln qGln,   qP = q_mab

    The lactate-uptake term (the "lactate shift" once glucose runs low) is a biofab
    addition with illustrative parameters; Xing et al. (2010) produce lactate only. The
    glucose maintenance term is made to vanish with glucose so glucose cannot go negative.
    Balances: ``dXv/dt = (mu - mu_d - D) Xv``, ``dC/dt = q Xv + D (C_f - C)``, ``dV/dt = F``.

    Output: ``OUR`` (mmol/L/h) = qO2 Xv.
    """

    name = "CHO fed-batch"
    states = ("Xv", "Glc", "Gln", "Lac", "Amm", "P", "V")
    units = {  # noqa: RUF012
        "Xv": "1e6 cells/mL",
        "Glc": "mM",
        "Gln": "mM",
        "Lac": "mM",
        "Amm": "mM",
        "P": "mg/L",
        "V": "L",
        "OUR": "mmol/L/h",
    }
    inputs = ("F",)
    input_units = {"F": "L/h"}  # noqa: RUF012
    input_defaults = {"F": 0.0}  # noqa: RUF012
    outputs = ("OUR",)
    volume_state = "V"
    diluted = ("Xv", "Glc", "Gln", "Lac", "Amm", "P")
    param_specs = {  # noqa: RUF012
        "mu_max": ParamSpec(0.039, "1/h", "maximum specific growth rate", _KS),
        "kd": ParamSpec(0.004, "1/h", "maximum specific death rate", _KS),
        "K_glc": ParamSpec(1.0, "mM", "glucose saturation constant", _KS),
        "K_gln": ParamSpec(0.047, "mM", "glutamine saturation constant", _XING),
        "KI_lac": ParamSpec(43.0, "mM", "lactate inhibition of growth", _XING),
        "KI_amm": ParamSpec(6.51, "mM", "ammonia inhibition of growth", _XING),
        "KD_lac": ParamSpec(45.8, "mM", "lactate constant of death", _XING),
        "KD_amm": ParamSpec(6.51, "mM", "ammonia constant of death", _XING),
        "Y_x_glc": ParamSpec(0.357, "1e9 cells/mmol", "cell yield on glucose", _KS),
        "Y_x_gln": ParamSpec(0.974, "1e9 cells/mmol", "cell yield on glutamine", _XING),
        "Y_lac_glc": ParamSpec(0.70, "mol/mol", "lactate per glucose", _KS),
        "Y_amm_gln": ParamSpec(0.67, "mol/mol", "ammonia per glutamine", _XING),
        "m_glc": ParamSpec(0.0692, "pmol/cell/h", "glucose maintenance", _XING),
        "a1": ParamSpec(0.0032, "pmol/cell/h", "glutamine maintenance, maximum", _XING),
        "a2": ParamSpec(2.1, "mM", "glutamine maintenance, saturation", _XING),
        "qLac_max": ParamSpec(
            0.02, "pmol/cell/h", "maximum lactate uptake (lactate shift)", "biofab assumption"
        ),
        "K_lac": ParamSpec(5.0, "mM", "lactate uptake saturation", "biofab assumption"),
        "KI_glc_lac": ParamSpec(
            1.0, "mM", "glucose repression of lactate uptake", "biofab assumption"
        ),
        "q_mab": ParamSpec(1.51, "pg/cell/h", "specific antibody productivity", _KS),
        "qO2": ParamSpec(
            0.3, "pmol/cell/h", "specific O2 uptake (typical CHO 0.1-0.5)", "biofab assumption"
        ),
        "Glc_f": ParamSpec(500.0, "mM", "glucose in the feed medium", "biofab assumption"),
        "Gln_f": ParamSpec(50.0, "mM", "glutamine in the feed medium", "biofab assumption"),
    }

    def rates(self, t: Any, x: Any, u: Any, p: Any, xp: Any = np) -> dict[str, Any]:
        """Specific rates: ``mu``, ``mu_d`` (1/h), ``qGlc``.. (pmol/cell/h), ``qP`` (pg/cell/h)."""
        k = self._unpack(p, xp)
        Xv, Glc, Gln, Lac, Amm = (xp.fmax(x[i], 0.0) for i in range(5))
        fglc = Glc / (k.K_glc + Glc)
        mu = (
            k.mu_max
            * fglc
            * Gln
            / (k.K_gln + Gln)
            * k.KI_lac
            / (k.KI_lac + Lac)
            * k.KI_amm
            / (k.KI_amm + Amm)
        )
        mu_d = k.kd * Lac / (k.KD_lac + Lac) * Amm / (k.KD_amm + Amm)
        qGlc = mu / k.Y_x_glc + k.m_glc * fglc
        qGln = mu / k.Y_x_gln + k.a1 * Gln / (k.a2 + Gln)
        qLac = k.Y_lac_glc * qGlc - k.qLac_max * Lac / (k.K_lac + Lac) * k.KI_glc_lac / (
            k.KI_glc_lac + Glc
        )
        return {
            "mu": mu,
            "mu_d": mu_d,
            "qGlc": qGlc,
            "qGln": qGln,
            "qLac": qLac,
            "qAmm": k.Y_amm_gln * qGln,
            "qP": k.q_mab + 0.0 * Xv,
            "OUR": k.qO2 * Xv,
        }

    def rhs(self, t: Any, x: Any, u: Any, p: Any, xp: Any = np) -> list[Any]:
        k = self._unpack(p, xp)
        r = self.rates(t, x, u, p, xp)
        Xv, Glc, Gln, Lac, Amm, P, V = (x[i] for i in range(7))
        F = u[0]
        D = F / V
        Xp = xp.fmax(Xv, 0.0)
        return [
            (r["mu"] - r["mu_d"]) * Xv - D * Xv,
            -r["qGlc"] * Xp + D * (k.Glc_f - Glc),
            -r["qGln"] * Xp + D * (k.Gln_f - Gln),
            r["qLac"] * Xp - D * Lac,
            r["qAmm"] * Xp - D * Amm,
            r["qP"] * Xp - D * P,
            F,
        ]

    def measure(self, x: Any, u: Any, p: Any, xp: Any = np) -> list[Any]:
        return [self.rates(0.0, x, u, p, xp)["OUR"]]
