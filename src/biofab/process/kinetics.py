"""A fed-batch model declared in the scenario YAML: Monod/Haldane uptake, yields, inhibition.

For a user's own organism the built-in twins (E. coli, CHO) carry the wrong kinetics. A
*declaration* names the species and the rate laws; :func:`model_class` turns it into a
:class:`~biofab.process.models.ProcessModel` subclass, written once with backend functions
like the built-in twins, so it simulates with NumPy, differentiates with CasADi, fits with
``process fit`` and serves as the base of a hybrid model. YAML (inside a scenario with
``model: kinetics``)::

    kinetics:
      name: S. cerevisiae fed-batch
      biomass: X
      substrates:                      # uptake: monod | haldane
        S: {uptake: haldane, q_max: 2.0, K: 0.1, Ki: 50, yield: 0.49, maintenance: 0.02,
            feed: 500}
        E: {uptake: monod, q_max: 0.2, K: 0.1, yield: 0.7, repressed_by: S, K_repression: 0.05}
      overflow: {substrate: S, metabolite: E, q_crit: 0.35, yield: 0.48, biomass_yield: 0.05}
      product: {state: P, alpha: 0.01, beta: 0.001}
      inhibition: [{by: E, K: 30}]     # non-competitive, on every uptake
      death: 0.002                     # 1/h
      oxygen: {yield: 0.033, maintenance: 0.1}   # g biomass per mmol O2; mmol O2/g/h
      signals: {X: biomass, S: substrate, E: ethanol, P: product}

States: biomass, each substrate, the overflow metabolite (if not already a substrate), the
product, and ``V``; all concentrations g/L, ``V`` in L. Input: ``F`` (L/h) of a feed that
holds ``<S>f`` g/L of each substrate. Rate laws (specific, g/g/h; ``mu`` 1/h)::

    I        = Π_j KI<j> / (KI<j> + C_j)                          non-competitive inhibition
    f_S      = S/(K<S> + S)  (Monod, 1942)   or  S/(K<S> + S + S²/Ki<S>)  (Haldane/Andrews 1968)
    R_S      = KR<S> / (KR<S> + C_r)                               repression by substrate r
    q_S      = q<S>_max f_S I R_S
    overflow (Sonnleitner & Käppeli 1986, Biotechnol. Bioeng. 28:927-937):
    q_ox     = min(q_S, q<S>_crit),   q_of = q_S - q_ox
    mu       = Σ_S Yx<S> (q_S,ox - m<S>) + Yx<S>_of q_of              Pirt (1965) maintenance
    q_P      = alpha max(mu, 0) + beta                             Luedeking & Piret (1959)
    q_O2     = mu / YxO2 + mO2   (mmol/g/h),  OUR = q_O2 X   (mmol/L/h)

Balances (``D = F/V``)::

    dX/dt = (mu - kd) X - D X
    dS/dt = -q_S X + D (<S>f - S)
    dE/dt = (Y<E><S> q_of - q_E) X - D E       (q_E only if E is also a substrate)
    dP/dt = q_P X - D P
    dV/dt = F

Parameter names follow the species names (for substrate ``S``: ``qS_max``, ``KS``,
``KiS``, ``YxS``, ``mS``, ``Sf``, ``KRS``; overflow of ``S`` into ``E``: ``qS_crit``,
``YES``, ``YxS_of``; inhibition by ``E``: ``KIE``; ``alpha``, ``beta``, ``kd``, ``YxO2``,
``mO2``), so ``--set Sf=500`` and a scenario's ``parameters:`` block override them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from biofab.core.scenario_yaml import Reader
from biofab.process.models import ParamSpec, ProcessModel

__all__ = ["Declaration", "DeclaredModel", "model_class", "read_declaration"]

UPTAKE = ("monod", "haldane")
_SOURCE = "scenario YAML (kinetics)"


@dataclass(frozen=True)
class Substrate:
    """One substrate: its state name, rate law and the state that represses its uptake."""

    name: str
    uptake: str = "monod"
    repressed_by: str | None = None


@dataclass(frozen=True)
class Overflow:
    """Overflow of ``substrate`` uptake above ``q_crit`` into ``metabolite``."""

    substrate: str
    metabolite: str


@dataclass(frozen=True)
class Declaration:
    """A validated kinetics declaration (see the module docstring); ``values`` are the
    parameter values by name, ``signals`` the standard batch-data signal of each state."""

    name: str
    biomass: str
    substrates: tuple[Substrate, ...]
    overflow: Overflow | None = None
    product: str | None = None
    inhibitors: tuple[str, ...] = ()
    death: bool = False
    oxygen: bool = False
    signals: dict[str, str] = field(default_factory=dict)
    values: dict[str, float] = field(default_factory=dict)

    @property
    def states(self) -> tuple[str, ...]:
        names = [self.biomass, *(s.name for s in self.substrates)]
        if self.overflow is not None and self.overflow.metabolite not in names:
            names.append(self.overflow.metabolite)
        if self.product is not None:
            names.append(self.product)
        return (*names, "V")

    def to_dict(self) -> dict[str, Any]:
        """The declaration as YAML/JSON data (:func:`read_declaration` reads it back)."""
        subs: dict[str, Any] = {}
        v = self.values
        for s in self.substrates:
            n = s.name
            d: dict[str, Any] = {
                "uptake": s.uptake,
                "q_max": v[f"q{n}_max"],
                "K": v[f"K{n}"],
                "yield": v[f"Yx{n}"],
                "maintenance": v[f"m{n}"],
                "feed": v[f"{n}f"],
            }
            if s.uptake == "haldane":
                d["Ki"] = v[f"Ki{n}"]
            if s.repressed_by is not None:
                d["repressed_by"] = s.repressed_by
                d["K_repression"] = v[f"KR{n}"]
            subs[n] = d
        out: dict[str, Any] = {"name": self.name, "biomass": self.biomass, "substrates": subs}
        if self.overflow is not None:
            o, m = self.overflow.substrate, self.overflow.metabolite
            out["overflow"] = {
                "substrate": o,
                "metabolite": m,
                "q_crit": v[f"q{o}_crit"],
                "yield": v[f"Y{m}{o}"],
                "biomass_yield": v[f"Yx{o}_of"],
            }
        if self.product is not None:
            out["product"] = {"state": self.product, "alpha": v["alpha"], "beta": v["beta"]}
        if self.inhibitors:
            out["inhibition"] = [{"by": j, "K": v[f"KI{j}"]} for j in self.inhibitors]
        if self.death:
            out["death"] = v["kd"]
        if self.oxygen:
            out["oxygen"] = {"yield": v["YxO2"], "maintenance": v["mO2"]}
        if self.signals:
            out["signals"] = dict(self.signals)
        return out


# ---------------------------------------------------------------------------------------
# Reading (validation at the edge: every error names the file and the key path)
# ---------------------------------------------------------------------------------------


def _name(r: Reader, value: Any, key: str) -> str:
    text = r.text(value, key)
    if not text.isidentifier() or text == "V":
        r.fail(key, "not a usable state name", "an identifier other than V", text)
    return text


def read_declaration(data: Any, source: str | None = None, key: str = "kinetics") -> Declaration:
    """Validate a ``kinetics:`` mapping; errors name ``source`` and the key path."""
    from biofab.process.batchdata import SIGNALS

    r = Reader(source)
    top = r.mapping(data, key)
    r.keys(
        top,
        key,
        required=("biomass", "substrates"),
        optional=(
            "name",
            "overflow",
            "product",
            "inhibition",
            "death",
            "oxygen",
            "signals",
        ),
    )
    values: dict[str, float] = {}

    def num(value: Any, k: str, pname: str, positive: bool = True) -> None:
        values[pname] = r.number(value, k, positive=positive, nonneg=True)

    biomass = _name(r, top["biomass"], f"{key}.biomass")
    subs_raw = r.mapping(top["substrates"], f"{key}.substrates")
    if not subs_raw:
        r.fail(f"{key}.substrates", "no substrate", "at least one substrate")
    substrates = []
    for n, body in subs_raw.items():
        k = f"{key}.substrates.{n}"
        n = _name(r, n, k)
        if n == biomass:
            r.fail(k, "a substrate cannot be the biomass", f"a name other than {biomass}", n)
        d = r.mapping(body, k)
        r.keys(
            d,
            k,
            required=("q_max", "K", "yield"),
            optional=("uptake", "Ki", "maintenance", "feed", "repressed_by", "K_repression"),
        )
        uptake = r.choice(d.get("uptake", "monod"), f"{k}.uptake", UPTAKE)
        num(d["q_max"], f"{k}.q_max", f"q{n}_max")
        num(d["K"], f"{k}.K", f"K{n}")
        num(d["yield"], f"{k}.yield", f"Yx{n}")
        num(d.get("maintenance", 0.0), f"{k}.maintenance", f"m{n}", positive=False)
        num(d.get("feed", 0.0), f"{k}.feed", f"{n}f", positive=False)
        if uptake == "haldane":
            if "Ki" not in d:
                r.fail(f"{k}.Ki", "missing key", "Ki (g/L) for Haldane uptake")
            num(d["Ki"], f"{k}.Ki", f"Ki{n}")
        elif "Ki" in d:
            r.fail(f"{k}.Ki", "Ki is only used by uptake: haldane", "no Ki for monod", d["Ki"])
        rep = None
        if d.get("repressed_by") is not None:
            rep = _name(r, d["repressed_by"], f"{k}.repressed_by")
            if "K_repression" not in d:
                r.fail(f"{k}.K_repression", "missing key", "K_repression (g/L) with repressed_by")
            num(d["K_repression"], f"{k}.K_repression", f"KR{n}")
        substrates.append(Substrate(n, uptake, rep))
    names = {biomass, *(s.name for s in substrates)}
    overflow = None
    if top.get("overflow") is not None:
        k = f"{key}.overflow"
        d = r.mapping(top["overflow"], k)
        r.keys(d, k, required=("substrate", "metabolite", "q_crit", "yield", "biomass_yield"))
        o = r.choice(d["substrate"], f"{k}.substrate", [s.name for s in substrates])
        m = _name(r, d["metabolite"], f"{k}.metabolite")
        if m in (biomass, o):
            r.fail(f"{k}.metabolite", "must be a new species", f"not {biomass} or {o}", m)
        num(d["q_crit"], f"{k}.q_crit", f"q{o}_crit")
        num(d["yield"], f"{k}.yield", f"Y{m}{o}")
        num(d["biomass_yield"], f"{k}.biomass_yield", f"Yx{o}_of", positive=False)
        overflow = Overflow(o, m)
        names.add(m)
    product = None
    if top.get("product") is not None:
        k = f"{key}.product"
        d = r.mapping(top["product"], k)
        r.keys(d, k, required=("state",), optional=("alpha", "beta"))
        product = _name(r, d["state"], f"{k}.state")
        if product in names:
            r.fail(f"{k}.state", "name already used", "a new species", product)
        num(d.get("alpha", 0.0), f"{k}.alpha", "alpha", positive=False)
        num(d.get("beta", 0.0), f"{k}.beta", "beta", positive=False)
        names.add(product)
    for s in substrates:
        if s.repressed_by is not None and s.repressed_by not in names:
            r.fail(
                f"{key}.substrates.{s.name}.repressed_by",
                "unknown species",
                "one of " + ", ".join(sorted(names)),
                s.repressed_by,
            )
    inhibitors = []
    for i, item in enumerate(r.sequence(top.get("inhibition") or [], f"{key}.inhibition")):
        k = f"{key}.inhibition[{i}]"
        d = r.mapping(item, k)
        r.keys(d, k, required=("by", "K"))
        by = r.choice(d["by"], f"{k}.by", sorted(names - {biomass}))
        if by in inhibitors:
            r.fail(f"{k}.by", "inhibitor listed twice", "each species once", by)
        num(d["K"], f"{k}.K", f"KI{by}")
        inhibitors.append(by)
    death = top.get("death") is not None
    if death:
        num(top["death"], f"{key}.death", "kd", positive=False)
    oxygen = top.get("oxygen") is not None
    if oxygen:
        k = f"{key}.oxygen"
        d = r.mapping(top["oxygen"], k)
        r.keys(d, k, required=("yield",), optional=("maintenance",))
        num(d["yield"], f"{k}.yield", "YxO2")
        num(d.get("maintenance", 0.0), f"{k}.maintenance", "mO2", positive=False)
    signals: dict[str, str] = {}
    if top.get("signals") is not None:
        k = f"{key}.signals"
        raw = r.mapping(top["signals"], k)
        for state, sig in raw.items():
            if state not in names:
                r.fail(f"{k}.{state}", "unknown species", "one of " + ", ".join(sorted(names)))
            signals[str(state)] = r.choice(sig, f"{k}.{state}", list(SIGNALS))
        if len(set(signals.values())) != len(signals):
            r.fail(k, "two species map to one signal", "one signal per species", signals)
    name = r.text(top["name"], f"{key}.name") if top.get("name") is not None else "declared"
    return Declaration(
        name=name,
        biomass=biomass,
        substrates=tuple(substrates),
        overflow=overflow,
        product=product,
        inhibitors=tuple(inhibitors),
        death=death,
        oxygen=oxygen,
        signals=signals,
        values=values,
    )


# ---------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------

_UNITS = {
    "q_max": ("g/g/h", "maximum specific uptake rate"),
    "K": ("g/L", "saturation (Monod) constant"),
    "Ki": ("g/L", "substrate (Haldane) inhibition constant"),
    "Yx": ("g/g", "biomass yield"),
    "m": ("g/g/h", "maintenance uptake (Pirt)"),
    "f": ("g/L", "concentration in the feed"),
    "KR": ("g/L", "repression constant"),
}


def _specs(decl: Declaration) -> dict[str, ParamSpec]:
    v = decl.values
    out: dict[str, ParamSpec] = {}

    def add(name: str, unit: str, what: str) -> None:
        out[name] = ParamSpec(v[name], unit, what, _SOURCE)

    for s in decl.substrates:
        n = s.name
        add(f"q{n}_max", "g/g/h", f"maximum specific uptake rate of {n}")
        add(f"K{n}", "g/L", f"saturation constant of {n}")
        if s.uptake == "haldane":
            add(f"Ki{n}", "g/L", f"Haldane inhibition constant of {n}")
        add(f"Yx{n}", "g/g", f"biomass yield on {n}")
        add(f"m{n}", "g/g/h", f"maintenance uptake of {n}")
        add(f"{n}f", "g/L", f"{n} in the feed")
        if s.repressed_by is not None:
            add(f"KR{n}", "g/L", f"repression of {n} uptake by {s.repressed_by}")
    if decl.overflow is not None:
        o, m = decl.overflow.substrate, decl.overflow.metabolite
        add(f"q{o}_crit", "g/g/h", f"critical {o} uptake (respiratory capacity)")
        add(f"Y{m}{o}", "g/g", f"{m} per overflow {o}")
        add(f"Yx{o}_of", "g/g", f"biomass yield on overflow {o}")
    if decl.product is not None:
        add("alpha", "g/g", "growth-associated product yield (Luedeking-Piret)")
        add("beta", "g/g/h", "non-growth-associated product rate (Luedeking-Piret)")
    for j in decl.inhibitors:
        add(f"KI{j}", "g/L", f"non-competitive inhibition constant of {j}")
    if decl.death:
        add("kd", "1/h", "specific death rate")
    if decl.oxygen:
        add("YxO2", "g/mmol", "biomass yield on oxygen")
        add("mO2", "mmol/g/h", "maintenance oxygen uptake")
    return out


class DeclaredModel(ProcessModel):
    """Base of the models :func:`model_class` builds; ``declaration`` holds the structure."""

    declaration: Declaration
    _pi: dict[str, int]
    _xi: dict[str, int]

    def rates(self, t: Any, x: Any, u: Any, p: Any, xp: Any = np) -> dict[str, Any]:
        """Specific rates: ``mu`` (1/h), ``q<S>`` per substrate, ``q_of``, ``qP`` (g/g/h);
        ``OUR`` (mmol/L/h) when the declaration has an oxygen yield."""
        d = self.declaration
        pi, xi = self._pi, self._xi

        def k(name: str) -> Any:
            return p[pi[name]]

        def c(name: str) -> Any:
            return xp.fmax(x[xi[name]], 0.0)

        inhibit: Any = 1.0
        for j in d.inhibitors:
            inhibit = inhibit * k(f"KI{j}") / (k(f"KI{j}") + c(j))
        out: dict[str, Any] = {}
        mu: Any = 0.0
        q_of: Any = 0.0
        for s in d.substrates:
            n = s.name
            S = c(n)
            den = k(f"K{n}") + S
            if s.uptake == "haldane":
                den = den + S * S / k(f"Ki{n}")
            q = k(f"q{n}_max") * S / den * inhibit
            if s.repressed_by is not None:
                q = q * k(f"KR{n}") / (k(f"KR{n}") + c(s.repressed_by))
            q_ox = q
            if d.overflow is not None and d.overflow.substrate == n:
                q_ox = xp.fmin(q, k(f"q{n}_crit"))
                q_of = q - q_ox
                mu = mu + k(f"Yx{n}_of") * q_of
            mu = mu + k(f"Yx{n}") * (q_ox - k(f"m{n}"))
            out[f"q{n}"] = q
        out["mu"] = mu
        out["q_of"] = q_of
        if d.product is not None:
            out["qP"] = k("alpha") * xp.fmax(mu, 0.0) + k("beta")
        if d.oxygen:
            out["OUR"] = (mu / k("YxO2") + k("mO2")) * c(d.biomass)
        out["F"] = u[0]
        return out

    def rhs(self, t: Any, x: Any, u: Any, p: Any, xp: Any = np) -> list[Any]:
        d = self.declaration
        pi, xi = self._pi, self._xi
        r = self.rates(t, x, u, p, xp)
        F = u[0]
        V = x[xi["V"]]
        D = F / V
        X = x[xi[d.biomass]]
        Xp = xp.fmax(X, 0.0)
        dx: dict[str, Any] = {}
        kd = p[pi["kd"]] if d.death else 0.0
        dx[d.biomass] = (r["mu"] - kd) * X - D * X
        for s in d.substrates:
            n = s.name
            dx[n] = -r[f"q{n}"] * Xp + D * (p[pi[f"{n}f"]] - x[xi[n]])
        if d.overflow is not None:
            o, m = d.overflow.substrate, d.overflow.metabolite
            made = p[pi[f"Y{m}{o}"]] * r["q_of"] * Xp
            dx[m] = dx[m] + made if m in dx else made - D * x[xi[m]]
        if d.product is not None:
            dx[d.product] = r["qP"] * Xp - D * x[xi[d.product]]
        dx["V"] = F
        return [dx[s] for s in self.states]

    def measure(self, x: Any, u: Any, p: Any, xp: Any = np) -> list[Any]:
        if not self.declaration.oxygen:
            return []
        return [self.rates(0.0, x, u, p, xp)["OUR"]]


def model_class(decl: Declaration) -> type[DeclaredModel]:
    """A :class:`DeclaredModel` subclass for ``decl`` (class tables as the built-in twins
    have them), so ``cls(params)`` works like ``EColiFedBatch(params)``."""
    states = decl.states
    units: dict[str, str] = {s: "g/L" for s in states}
    units["V"] = "L"
    outputs: tuple[str, ...] = ()
    if decl.oxygen:
        units["OUR"] = "mmol/L/h"
        outputs = ("OUR",)
    specs = _specs(decl)
    attrs: dict[str, Any] = {
        "name": decl.name,
        "states": states,
        "units": units,
        "inputs": ("F",),
        "input_units": {"F": "L/h"},
        "input_defaults": {"F": 0.0},
        "outputs": outputs,
        "param_specs": specs,
        "volume_state": "V",
        "diluted": tuple(s for s in states if s != "V"),
        "declaration": decl,
        "_pi": {n: i for i, n in enumerate(specs)},
        "_xi": {n: i for i, n in enumerate(states)},
        "__doc__": f"Declared fed-batch model '{decl.name}' (see biofab.process.kinetics).",
    }
    return type("DeclaredFedBatch", (DeclaredModel,), attrs)


def signal_map(decl: Declaration) -> dict[str, tuple[str, str]]:
    """Model name -> (standard batch signal, model unit), as
    :data:`biofab.process.scenario.SIGNAL_MAP` holds for the built-in twins."""
    from biofab.process.batchdata import SIGNALS

    out = {name: (sig, SIGNALS[sig].unit) for name, sig in decl.signals.items()}
    out.setdefault("V", ("volume", "L"))
    out.setdefault("F", ("feed_rate", "L/h"))
    if decl.oxygen:
        out.setdefault("OUR", ("OUR", "mmol/L/h"))
    return out


def values_of(decl: Declaration) -> Mapping[str, float]:
    """The declaration's parameter values by name."""
    return dict(decl.values)
