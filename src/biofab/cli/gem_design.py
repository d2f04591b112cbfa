"""``biofab gem design | envelope | minimal-medium``: strain design commands.

``design`` finds growth-coupled knockout sets (OptKnock-style MILP with a tilted
inner objective, each design verified by FVA), ``envelope`` draws production
envelopes, ``minimal-medium`` finds the fewest medium components (or the least
uptake) that still allow growth. Growth in 1/h, fluxes in mmol/gDW/h. Argument parsing
and printing only: the work is :mod:`biofab.metabolism.workflows`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from biofab.cli.gem import (
    JsonOption,
    MediaDbOption,
    MediumOption,
    ModelArg,
    out,
    print_frame,
    print_result,
    wrote,
)

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


def _split(text: str | None) -> tuple[str, ...]:
    return tuple(s.strip() for s in (text or "").split(",") if s.strip())


def _model(
    model: str, medium: str | None, media_db: Path | None, bound: list[str] | None
) -> dict[str, Any]:
    """The model fields shared by the requests (``--bound`` texts parsed)."""
    from biofab.metabolism.workflows import parse_bounds

    return {
        "model": model,
        "medium": medium,
        "media_db": media_db,
        "bounds": parse_bounds(bound or []),
    }


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
        mip_gap: Annotated[
            float,
            typer.Option(
                "--mip-gap", help="Stop at this relative MILP gap (0 = prove the design optimal)."
            ),
        ] = 1e-4,
        lump: Annotated[
            bool,
            typer.Option(
                "--lump/--no-lump",
                help="Compress first: drop blocked reactions, lump coupled ones "
                "(one candidate per coupled group).",
            ),
        ] = True,
        exclude_subsystem: Annotated[
            list[str] | None,
            typer.Option(
                "--exclude-subsystem",
                help="Leave this subsystem's reactions out of the candidates (repeatable).",
            ),
        ] = None,
        exclude_envelope_transport: Annotated[
            bool,
            typer.Option(
                "--exclude-envelope-transport",
                help="Leave out membrane/envelope synthesis, transport and tRNA charging "
                "(BiGG E. coli subsystem names, after Feist et al. 2010).",
            ),
        ] = False,
        method: Annotated[
            str,
            typer.Option(
                "--method",
                help="milp (OptKnock MILP, several designs) or search (exact search over "
                "deletions that hit the flux support: the one best design, no MILP gap).",
            ),
        ] = "milp",
        plot: PlotOption = None,
        json_out: JsonOption = False,
    ) -> None:
        """Growth-coupled knockouts for TARGET (OptKnock MILP on HiGHS, verified by FVA)."""
        from biofab.metabolism import workflows as wf
        from biofab.metabolism.design import ENVELOPE_AND_TRANSPORT_SUBSYSTEMS

        excluded = tuple(exclude_subsystem or ())
        if exclude_envelope_transport:
            excluded += ENVELOPE_AND_TRANSPORT_SUBSYSTEMS

        r = wf.design(
            wf.DesignRequest(
                **_model(model, medium, media_db, bound), target=target,
                max_knockouts=max_knockouts, min_growth=min_growth, absolute=absolute,
                candidates=None if candidates is None else _split(candidates),
                designs=designs, require_gpr=require_gpr, time_limit=time_limit, plot=plot,
                mip_gap=mip_gap, lump=lump, exclude_subsystems=excluded, method=method,
            )
        )  # fmt: skip
        if print_result(r, json_out):
            return
        res = r.result
        lo, hi = res.wild_type_production
        out.print(
            f"[bold]{escape(target)}[/] on {escape(model)}: wild type growth "
            f"{res.wild_type_growth:.4g} 1/h, "
            f"production {lo:.4g}..{hi:.4g} mmol/gDW/h at max growth"
        )
        n = res.candidate_counts
        if n:
            steps = (
                f"{n['reactions']} reactions -> {n['eligible']} eligible -> "
                f"{n['unblocked']} unblocked -> {n['non_essential']} non-essential"
            )
            steps += f" -> {n['lumped']} after lumping coupled reactions" if lump else ""
            out.print(f"candidates: {steps}" + ("" if lump else " (no lumping)"))
        out.print(
            f"{len(res.candidates)} candidate reactions, <= {max_knockouts} knockouts, "
            f"growth >= {res.min_growth:.4g} 1/h; {res.seconds:.1f} s ({res.status})"
        )
        if res.designs:
            print_frame(r.to_frame(), title="designs (production verified by FVA at max growth)")
        else:
            out.print("no growth-coupled design found")
        wrote(r.files)

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
        from biofab.metabolism import workflows as wf

        r = wf.envelope(
            wf.EnvelopeRequest(
                **_model(model, medium, media_db, bound), target=target,
                knockouts=_split(knockouts), points=points, plot=plot,
            )
        )  # fmt: skip
        if print_result(r, json_out):
            return
        for label, frame in r.curves.items():
            print_frame(frame, title=f"{target}: {label}")
        wrote(r.files)

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
        from biofab.metabolism import workflows as wf

        r = wf.minimal_medium(
            wf.MinimalMediumRequest(
                **_model(model, medium, media_db, bound), min_growth=min_growth,
                absolute=absolute, minimize=minimize,
            )
        )  # fmt: skip
        if print_result(r, json_out):
            return
        mm = r.uptake
        print_frame(
            r.to_frame(),
            title=f"minimal medium ({minimize}): {len(mm)} components, "
            f"uptake {mm.sum():.4g} mmol/gDW/h",
        )
