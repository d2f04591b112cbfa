"""``Scenario``: a dynamic-FBA experiment read from YAML and validated up front.

A scenario names a model, the reactor's initial state, the tracked
extracellular species with their uptake kinetics, an optional feed schedule and
how to integrate. Units: concentrations g/L, biomass gDW/L, volume L, feed rate
L/h, time h, molecular weights g/mol, ``vmax`` mmol/gDW/h, constants ``km`` and
inhibition/repression constants g/L.

Every field is checked before a simulation starts (unknown keys, missing
fields, negative values, species that refer to each other, and, with
:meth:`Scenario.check_model`, reaction ids the model lacks), so that a bad file
fails with one :class:`~biofab.core.scenario_yaml.ScenarioError` line naming the
file and the key path, never half-way through a run.

Example (the reference scenario, ``examples/dfba/hanly_henson_2011.yaml``)::

    model: iJO1366
    bounds: {EX_o2_e: [0, 1000]}          # anaerobic
    biomass: {initial: 0.03}
    species:
      glucose:
        exchange: EX_glc__D_e
        mw: 180.16
        initial: 15.5
        uptake: {vmax: 10.5, km: 0.0027, inhibitors: {ethanol: 20.0}}
      ...
    t_end: 12
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from biofab.core.errors import ModelError
from biofab.core.scenario_yaml import Reader, read_yaml

if TYPE_CHECKING:
    import cobra

METHODS = ("LSODA", "BDF", "Radau", "RK45", "RK23", "DOP853")
STAGE_WORDS = ("total_flux",)


@dataclass(frozen=True)
class Uptake:
    """Michaelis–Menten uptake with non-competitive inhibition and repression.

    ``v = vmax * S / (km + S) * prod_i 1 / (1 + I_i / K_i) * prod_j 1 / (1 + R_j / K_j)``
    (mmol/gDW/h; S, I, R and the constants in g/L), the form of Hanly & Henson
    (2011, Biochem Eng J 55:1, eqs. 1–2): a product such as ethanol inhibits
    uptake, a preferred sugar such as glucose represses another's. Both factors
    have the same algebraic form; the two names record the biology.
    """

    vmax: float
    km: float
    inhibitors: tuple[tuple[str, float], ...] = ()
    repressors: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class Species:
    """A tracked extracellular compound: its exchange reaction, g/mol and g/L.

    Species without ``uptake`` are products: they may be secreted but not taken up.
    """

    name: str
    exchange: str
    mw: float
    initial: float
    uptake: Uptake | None = None


@dataclass(frozen=True)
class FeedSegment:
    """Feed at ``rate`` L/h from ``start`` to ``end`` h, with the listed species at g/L."""

    start: float
    end: float
    rate: float
    concentrations: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class Stage:
    """One lexicographic stage after growth: minimise total flux (``reaction`` None)
    or optimise ``reaction`` in direction ``sense``."""

    reaction: str | None = None
    sense: str = "min"

    def __str__(self) -> str:
        return "total_flux" if self.reaction is None else f"{self.sense} {self.reaction}"


@dataclass(frozen=True)
class Scenario:
    """A validated dynamic-FBA scenario (see the module docstring for the YAML)."""

    model: str
    species: tuple[Species, ...]
    t_end: float
    biomass_initial: float
    volume: float = 1.0
    biomass_reaction: str | None = None
    medium: str | None = None
    bounds: tuple[tuple[str, float, float], ...] = ()
    feed: tuple[FeedSegment, ...] = ()
    stages: tuple[Stage, ...] = (Stage(),)
    method: str = "LSODA"
    rtol: float = 1e-6
    atol: float = 1e-8
    exhausted_below: float = 1e-3
    output_interval: float | None = None
    on_infeasible: str = "stop"
    name: str = ""
    source: str | None = None
    base_dir: Path | None = field(default=None, compare=False)

    # -- reading ----------------------------------------------------------------
    @classmethod
    def from_yaml(cls, path: str | Path) -> Scenario:
        """Read and validate a scenario file (relative model paths resolve next to it)."""
        return cls.from_dict(read_yaml(path), source=str(path), base_dir=Path(path).parent)

    @classmethod
    def from_dict(
        cls, data: Any, *, source: str | None = None, base_dir: Path | None = None
    ) -> Scenario:
        """Validate a parsed scenario mapping; errors name ``source`` and the field."""
        r = Reader(source)
        top = r.mapping(data, "")
        r.keys(
            top,
            "",
            required=("model", "species", "t_end", "biomass"),
            optional=(
                "name",
                "medium",
                "bounds",
                "volume",
                "feed",
                "secondary",
                "solver",
                "events",
                "output",
                "on_infeasible",
            ),
        )
        model = r.text(top["model"], "model")
        biomass = r.mapping(top["biomass"], "biomass")
        r.keys(biomass, "biomass", required=("initial",), optional=("reaction",))
        x0 = r.number(biomass["initial"], "biomass.initial", positive=True)
        bio_rxn = r.text(biomass["reaction"], "biomass.reaction") if "reaction" in biomass else None
        species = _species(r, top["species"])
        names = {s.name for s in species}
        t_end = r.number(top["t_end"], "t_end", positive=True)
        volume = r.number(top.get("volume", 1.0), "volume", positive=True)
        bounds = _bounds(r, top.get("bounds") or {})
        feed = _feed(r, top.get("feed") or [], names, t_end)
        stages = _stages(r, top.get("secondary", ["total_flux"]))
        solver = r.mapping(top.get("solver") or {}, "solver")
        r.keys(solver, "solver", optional=("method", "rtol", "atol"))
        method = r.choice(solver.get("method", "LSODA"), "solver.method", METHODS)
        rtol = r.number(solver.get("rtol", 1e-6), "solver.rtol", positive=True)
        atol = r.number(solver.get("atol", 1e-8), "solver.atol", positive=True)
        events = r.mapping(top.get("events") or {}, "events")
        r.keys(events, "events", optional=("exhausted_below",))
        thr = r.number(events.get("exhausted_below", 1e-3), "events.exhausted_below", positive=True)
        output = r.mapping(top.get("output") or {}, "output")
        r.keys(output, "output", optional=("interval",))
        interval = output.get("interval")
        if interval is not None:
            interval = r.number(interval, "output.interval", positive=True)
        on_inf = r.choice(top.get("on_infeasible", "stop"), "on_infeasible", ("stop", "dormant"))
        medium = r.text(top["medium"], "medium") if top.get("medium") is not None else None
        return cls(
            model=model,
            species=species,
            t_end=t_end,
            biomass_initial=x0,
            volume=volume,
            biomass_reaction=bio_rxn,
            medium=medium,
            bounds=bounds,
            feed=feed,
            stages=stages,
            method=method,
            rtol=rtol,
            atol=atol,
            exhausted_below=thr,
            output_interval=interval,
            on_infeasible=on_inf,
            name=str(top.get("name") or Path(source or "scenario").stem),
            source=source,
            base_dir=base_dir,
        )

    # -- model checks -------------------------------------------------------------
    def model_source(self) -> str:
        """The model argument for :func:`~biofab.metabolism.load_model`: a shipped name,
        or a path resolved relative to the scenario file."""
        if self.base_dir is not None and not Path(self.model).is_absolute():
            candidate = self.base_dir / self.model
            if candidate.exists():
                return str(candidate)
        return self.model

    def check_model(self, model: cobra.Model) -> None:
        """Raise :class:`ModelError` naming the field of any reaction id ``model`` lacks."""
        ids = {r.id for r in model.reactions}

        def need(rxn: str, where: str) -> None:
            if rxn not in ids:
                raise ModelError(
                    "unknown reaction id",
                    file=self.source,
                    column=where,
                    expected=f"a reaction of model {model.id or self.model}",
                    found=rxn,
                )

        exchanges = {r.id for r in model.exchanges}
        for s in self.species:
            need(s.exchange, f"species.{s.name}.exchange")
            if s.exchange not in exchanges:
                raise ModelError(
                    "not an exchange reaction",
                    file=self.source,
                    column=f"species.{s.name}.exchange",
                    expected="a boundary reaction (EX_..._e)",
                    found=s.exchange,
                )
        for rxn, _, _ in self.bounds:
            need(rxn, f"bounds.{rxn}")
        if self.biomass_reaction is not None:
            need(self.biomass_reaction, "biomass.reaction")
        for i, st in enumerate(self.stages):
            if st.reaction is not None:
                need(st.reaction, f"secondary[{i}]")


def _species(r: Reader, data: Any) -> tuple[Species, ...]:
    table = r.mapping(data, "species")
    if not table:
        r.fail("species", "no species listed", "at least one tracked species")
    out = []
    for name, spec in table.items():
        where = f"species.{name}"
        d = r.mapping(spec, where)
        r.keys(d, where, required=("exchange", "mw", "initial"), optional=("uptake",))
        kin = None
        if d.get("uptake") is not None:
            u = r.mapping(d["uptake"], f"{where}.uptake")
            r.keys(
                u, f"{where}.uptake", required=("vmax", "km"), optional=("inhibitors", "repressors")
            )
            terms = {}
            for kind in ("inhibitors", "repressors"):
                m = r.mapping(u.get(kind) or {}, f"{where}.uptake.{kind}")
                terms[kind] = tuple(
                    (other, r.number(k, f"{where}.uptake.{kind}.{other}", positive=True))
                    for other, k in m.items()
                )
                for other, _ in terms[kind]:
                    if other not in table:
                        r.fail(
                            f"{where}.uptake.{kind}.{other}",
                            "names an untracked species",
                            ", ".join(table),
                            other,
                        )
            kin = Uptake(
                vmax=r.number(u["vmax"], f"{where}.uptake.vmax", nonneg=True),
                km=r.number(u["km"], f"{where}.uptake.km", positive=True),
                inhibitors=terms["inhibitors"],
                repressors=terms["repressors"],
            )
        out.append(
            Species(
                name=name,
                exchange=r.text(d["exchange"], f"{where}.exchange"),
                mw=r.number(d["mw"], f"{where}.mw", positive=True),
                initial=r.number(d["initial"], f"{where}.initial", nonneg=True),
                uptake=kin,
            )
        )
    exchanges = [s.exchange for s in out]
    dup = {e for e in exchanges if exchanges.count(e) > 1}
    if dup:
        r.fail("species", "two species share an exchange reaction", found=sorted(dup)[0])
    return tuple(out)


def _bounds(r: Reader, data: Any) -> tuple[tuple[str, float, float], ...]:
    table = r.mapping(data, "bounds")
    out = []
    for rxn, pair in table.items():
        where = f"bounds.{rxn}"
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            r.fail(where, "expected [lower, upper]", found=pair)
        lo, hi = (r.number(v, where) for v in pair)
        if lo > hi:
            r.fail(where, "lower bound above upper bound", "lower <= upper", pair)
        out.append((rxn, lo, hi))
    return tuple(out)


def _feed(r: Reader, data: Any, names: set[str], t_end: float) -> tuple[FeedSegment, ...]:
    if not isinstance(data, list):
        r.fail("feed", "expected a list of feed segments", found=type(data).__name__)
    segs = []
    for i, item in enumerate(data):
        where = f"feed[{i}]"
        d = r.mapping(item, where)
        r.keys(d, where, required=("start", "rate"), optional=("end", "concentrations"))
        start = r.number(d["start"], f"{where}.start", nonneg=True)
        end = r.number(d.get("end", t_end), f"{where}.end", nonneg=True)
        if end <= start:
            r.fail(f"{where}.end", "feed ends before it starts", f"> {start:g}", end)
        conc = r.mapping(d.get("concentrations") or {}, f"{where}.concentrations")
        pairs = []
        for sp, c in conc.items():
            if sp not in names:
                r.fail(f"{where}.concentrations.{sp}", "unknown species", ", ".join(names), sp)
            pairs.append((sp, r.number(c, f"{where}.concentrations.{sp}", nonneg=True)))
        segs.append(
            FeedSegment(start, end, r.number(d["rate"], f"{where}.rate", nonneg=True), tuple(pairs))
        )
    segs.sort(key=lambda s: s.start)
    for a, b in itertools.pairwise(segs):
        if b.start < a.end:
            r.fail("feed", "feed segments overlap", found=f"{a.start:g}-{a.end:g} and {b.start:g}")
    return tuple(segs)


def _stages(r: Reader, data: Any) -> tuple[Stage, ...]:
    if data is None or data == "none":
        return ()
    items = data if isinstance(data, list) else [data]
    out = []
    for i, item in enumerate(items):
        where = f"secondary[{i}]"
        if item == "total_flux":
            out.append(Stage())
            continue
        d = r.mapping(item, where)
        r.keys(d, where, required=("reaction",), optional=("sense",))
        sense = r.choice(d.get("sense", "max"), f"{where}.sense", ("max", "min"))
        out.append(Stage(r.text(d["reaction"], f"{where}.reaction"), sense))
    return tuple(out)
