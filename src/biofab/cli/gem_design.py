"""``biofab gem design | envelope | minimal-medium``: strain design commands.

``design`` finds growth-coupled knockout sets (OptKnock-style MILP with a tilted
inner objective, each design verified by FVA), ``envelope`` draws production
envelopes, ``minimal-medium`` finds the fewest medium components (or the least
uptake) that still allow growth. Growth in 1/h, fluxes in mmol/gDW/h.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from biofab.cli.gem import (
    JsonOption,
    MediaDbOption,
    MediumOption,
    ModelArg,
    open_model,
    out,
    print_frame,
    print_json,
)
from biofab.core.atomic import write_atomic

if TYPE_CHECKING:
    import cobra

BoundOption = Annotated[
    list[str] | None,
    typer.Option(
        "--bound",
        help="Set a reaction's bounds, RXN=LB,UB (repeatable), e.g. EX_o2_e=0,1000 (anaerobic).",
    ),
]
TargetOption = Annotated[
    str, typer.Option("--target", help="Reaction to couple to growth, e.g. EX_succ_e.")
]
MinGrowthOption = Annotated[
    float,
    typer.Option(
        "--min-growth",
        help="Least growth: a fraction of wild-type maximal growth (default 0.1 = 10 %), "
        "or 1/h with --absolute.",
    ),
]
AbsoluteOption = Annotated[
    bool, typer.Option("--absolute", help="Read --min-growth as a rate in 1/h.")
]
PlotOption = Annotated[
    Path | None, typer.Option("--plot", help="Write the production envelope as HTML.")
]


def _split(text: str | None) -> list[str]:
    return [s.strip() for s in (text or "").split(",") if s.strip()]


def apply_bounds(model: cobra.Model, bounds: list[str] | None) -> None:
    """Apply ``RXN=LB,UB`` settings (``:`` also separates); one-line errors."""
    from biofab.core.errors import InputError, ModelError

    for item in bounds or []:
        rid, sep, rest = item.partition("=")
        parts = rest.replace(":", ",").split(",")
        if not sep or len(parts) != 2:
            raise InputError("bad --bound", expected="RXN=LB,UB", found=item)
        try:
            lo, hi = float(parts[0]), float(parts[1])
        except ValueError:
            raise InputError("bad --bound", expected="numbers LB,UB", found=item) from None
        if lo > hi:
            raise InputError("bad --bound: lower above upper", found=item)
        rid = rid.strip()
        if rid not in model.reactions:
            raise ModelError("unknown reaction in --bound", expected="a reaction id", found=rid)
        model.reactions.get_by_id(rid).bounds = (lo, hi)


def _load(
    model: str, medium: str | None, media_db: Path | None, bounds: list[str] | None
) -> cobra.Model:
    m = open_model(model, medium, media_db)
    apply_bounds(m, bounds)
    return m


def register(app: typer.Typer) -> None:
    """Add ``design``, ``envelope`` and ``minimal-medium`` to the ``gem`` app."""

    @app.command("design")
    def design(
        model: ModelArg,
        target: TargetOption,
        max_knockouts: Annotated[
            int, typer.Option("--max-knockouts", help="At most this many reaction deletions.")
        ] = 3,
        medium: MediumOption = None,
        media_db: MediaDbOption = None,
        bound: BoundOption = None,
        min_growth: MinGrowthOption = 0.1,
        absolute: AbsoluteOption = False,
        candidates: Annotated[
            str | None,
            typer.Option("--candidates", help="Comma-separated reactions that may be deleted."),
        ] = None,
        designs: Annotated[int, typer.Option("--designs", help="Distinct designs wanted.")] = 3,
        require_gpr: Annotated[
            bool, typer.Option("--require-gpr", help="Only delete reactions that have a GPR.")
        ] = False,
        time_limit: Annotated[
            float, typer.Option("--time-limit", help="Seconds per MILP solve.")
        ] = 60.0,
        plot: PlotOption = None,
        json_out: JsonOption = False,
    ) -> None:
        """Growth-coupled knockouts for TARGET (OptKnock MILP on HiGHS, verified by FVA)."""
        from biofab.metabolism.design import optknock
        from biofab.metabolism.envelope import envelope_figure, production_envelope

        m = _load(model, medium, media_db, bound)
        res = optknock(
            m,
            target,
            max_knockouts=max_knockouts,
            min_growth=min_growth,
            relative=not absolute,
            candidates=_split(candidates) if candidates is not None else None,
            n_designs=designs,
            require_gpr=require_gpr,
            time_limit=time_limit,
        )
        data = res.as_dict()
        data["model"] = model
        if plot is not None:
            from biofab.viz import html_page

            curves = {"wild type": production_envelope(m, target)}
            for d in res.designs[:3]:
                curves["Δ " + ", ".join(d.knockouts)] = production_envelope(m, target, d.knockouts)
            fig = envelope_figure(curves, target)
            page = html_page(
                f"Growth-coupled designs for {target}",
                [("Production envelopes", fig), ("Designs", res.frame())],
                subtitle=f"{model}: max {max_knockouts} knockouts, growth >= "
                f"{res.min_growth:.4g} 1/h; wild type grows at {res.wild_type_growth:.4g} 1/h",
            )
            data["plot"] = str(write_atomic(plot, page))
        if json_out:
            print_json(data)
            return
        lo, hi = res.wild_type_production
        out.print(
            f"[bold]{target}[/] on {model}: wild type growth {res.wild_type_growth:.4g} 1/h, "
            f"production {lo:.4g}..{hi:.4g} mmol/gDW/h at max growth"
        )
        out.print(
            f"{len(res.candidates)} candidate reactions, <= {max_knockouts} knockouts, "
            f"growth >= {res.min_growth:.4g} 1/h; {res.seconds:.1f} s ({res.status})"
        )
        if res.designs:
            print_frame(res.frame(), title="designs (production verified by FVA at max growth)")
        else:
            out.print("no growth-coupled design found")
        if plot is not None:
            out.print(f"wrote {data['plot']}")

    @app.command("envelope")
    def envelope(
        model: ModelArg,
        target: TargetOption,
        knockouts: Annotated[
            str | None,
            typer.Option("--knockouts", help="Comma-separated reaction or gene ids to delete."),
        ] = None,
        medium: MediumOption = None,
        media_db: MediaDbOption = None,
        bound: BoundOption = None,
        points: Annotated[int, typer.Option("--points", help="Growth rates sampled.")] = 20,
        plot: PlotOption = None,
        json_out: JsonOption = False,
    ) -> None:
        """Min and max TARGET flux vs growth, wild type and (with --knockouts) the design."""
        from biofab.metabolism.envelope import envelope_figure, production_envelope

        m = _load(model, medium, media_db, bound)
        curves = {"wild type": production_envelope(m, target, points=points)}
        kos = _split(knockouts)
        if kos:
            curves["Δ " + ", ".join(kos)] = production_envelope(m, target, kos, points=points)
        data: dict[str, object] = {
            "model": model,
            "target": target,
            "knockouts": kos,
            "envelopes": {k: v.to_dict(orient="list") for k, v in curves.items()},
        }
        if plot is not None:
            from biofab.viz import html_page

            page = html_page(
                f"Production envelope of {target}",
                [("Envelope", envelope_figure(curves, target))]
                + [(label, frame) for label, frame in curves.items()],
                subtitle=f"{model}; growth 1/h, flux mmol/gDW/h",
            )
            data["plot"] = str(write_atomic(plot, page))
        if json_out:
            print_json(data)
            return
        for label, frame in curves.items():
            print_frame(frame, title=f"{target}: {label}")
        if plot is not None:
            out.print(f"wrote {data['plot']}")

    @app.command("minimal-medium")
    def minimal_medium_cmd(
        model: ModelArg,
        medium: MediumOption = None,
        media_db: MediaDbOption = None,
        bound: BoundOption = None,
        min_growth: MinGrowthOption = 0.1,
        absolute: AbsoluteOption = False,
        minimize: Annotated[
            str,
            typer.Option(
                "--minimize", help="components (fewest compounds, MILP) or flux (least uptake)."
            ),
        ] = "components",
        json_out: JsonOption = False,
    ) -> None:
        """The fewest medium components (or least total uptake) that still allow growth."""
        from biofab.metabolism.minimal_medium import minimal_medium

        m = _load(model, medium, media_db, bound)
        mm = minimal_medium(m, min_growth, relative=not absolute, minimize=minimize)
        if json_out:
            print_json(
                {
                    "model": model,
                    "minimize": minimize,
                    "components": len(mm),
                    "total_uptake": float(mm.sum()),
                    "uptake": mm.to_dict(),
                }
            )
            return
        print_frame(
            mm.rename_axis("exchange").reset_index(),
            title=f"minimal medium ({minimize}): {len(mm)} components, "
            f"uptake {mm.sum():.4g} mmol/gDW/h",
        )
