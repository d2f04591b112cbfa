"""``biofab gem essentiality | biolog``: a model's phenotype predictions scored against
measurements. Argument parsing and printing only: the work is
:mod:`biofab.metabolism.workflows` (protocols in :mod:`biofab.metabolism.phenotypes`).

Without ``--json`` the per-gene / per-well table is always written (``--out``, default
``<model>.essentiality.csv`` / ``<model>.biolog.csv`` in the working directory) and the
disagreements are printed; with ``--json`` every row is in the JSON and a file is
written only when ``--out`` names one.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from biofab.cli.gem import (
    JsonOption,
    MediaDbOption,
    ModelArg,
    out,
    print_frame,
    print_result,
    wrote,
)

if TYPE_CHECKING:
    import pandas as pd

ThresholdOption = Annotated[
    float,
    typer.Option(
        "--threshold", help="Growth below (essentiality) / above (Biolog) this × reference."
    ),
]
TableOption = Annotated[
    Path | None,
    typer.Option(
        "--out",
        help="Per-gene / per-well table (CSV); default without --json: <model>.<command>.csv.",
    ),
]


def _source_option(plate: str) -> object:
    return typer.Option(
        f"--{plate}-source",
        help=f"Compound of the base medium that {plate} wells replace (repeatable); "
        f"default: found from the medium's composition.",
    )


def _default_table(model: str, command: str, given: Path | None, json_out: bool) -> Path | None:
    """The table's path: ``--out``, else ``<model stem>.<command>.csv`` unless ``--json``."""
    if given is not None or json_out:
        return given
    name = Path(model).name
    for suffix in (".gz", ".xml", ".sbml", ".json", ".mat", ".yml", ".yaml"):
        name = name.removesuffix(suffix)
    return Path(f"{name}.{command}.csv")


def warn(lines: list[str]) -> None:
    """Each warning on its own line, user text escaped."""
    for line in lines:
        out.print(f"[yellow]warning:[/] {escape(line)}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add ``essentiality`` and ``biolog`` to ``app`` (the ``gem`` group)."""

    @app.command("essentiality")
    def essentiality_cmd(
        model: ModelArg,
        truth: Annotated[Path, typer.Option("--truth", help="TSV: bigg_id, phenotype (E/NE).")],
        medium: Annotated[
            str | None, typer.Option("--medium", help="Medium name or file; default: model's.")
        ] = None,
        media_db: MediaDbOption = None,
        threshold: ThresholdOption = 0.01,
        unlisted_nonessential: Annotated[
            bool,
            typer.Option(
                "--unlisted-nonessential",
                help="Count model genes absent from the table as non-essential.",
            ),
        ] = False,
        output: TableOption = None,
        json_out: JsonOption = False,
    ) -> None:
        """Predict gene essentiality (growth < threshold × wild type) and score it."""
        from biofab.metabolism import workflows as wf

        table = _default_table(model, "essentiality", output, json_out)
        r = wf.essentiality(
            wf.EssentialityRequest(
                model, truth, medium, media_db, threshold, unlisted_nonessential, out=table
            )
        )
        if print_result(r, json_out):
            return
        res = r.report
        warn(r.warnings)
        out.print(
            f"{escape(model)}: {res['genes_scored']} genes scored (model "
            f"{res['genes_in_model']}, table {res['genes_in_truth']}); essential when growth "
            f"< {threshold:g} × {res['wild_type_growth']:.4g} 1/h",
            highlight=False,
            soft_wrap=True,
        )
        print_scores(res["scores"])
        _disagreements(r.table(), "genes")
        wrote(r.files)

    @app.command("biolog")
    def biolog_cmd(
        model: ModelArg,
        truth: Annotated[
            Path, typer.Option("--truth", help="Folder of biolog_{carbon,nitrogen,...}.tsv.")
        ],
        medium: Annotated[
            str,
            typer.Option(
                "--medium",
                help="Base medium; each well's compound replaces its carbon, nitrogen, "
                "phosphorus or sulfur source (found from the composition, or named below).",
            ),
        ] = "M9",
        media_db: MediaDbOption = None,
        threshold: ThresholdOption = 0.01,
        carbon: Annotated[list[str] | None, _source_option("carbon")] = None,
        nitrogen: Annotated[list[str] | None, _source_option("nitrogen")] = None,
        phosphorus: Annotated[list[str] | None, _source_option("phosphorus")] = None,
        sulfur: Annotated[list[str] | None, _source_option("sulfur")] = None,
        output: TableOption = None,
        json_out: JsonOption = False,
    ) -> None:
        """Predict Biolog growth: each well's compound replaces the base medium's own
        source of the plate's element; score against the measured plates."""
        from biofab.metabolism import workflows as wf

        given = {"carbon": carbon, "nitrogen": nitrogen, "phosphorus": phosphorus}
        given["sulfur"] = sulfur
        sources = {k: tuple(v) for k, v in given.items() if v}
        table = _default_table(model, "biolog", output, json_out)
        r = wf.biolog(
            wf.BiologRequest(model, truth, medium, media_db, threshold, sources, out=table)
        )
        if print_result(r, json_out):
            return
        res = r.report
        warn(r.warnings)
        replaced = "; ".join(
            f"{p} {', '.join(c) if c else '(none)'}" for p, c in res["base_sources"].items()
        )
        out.print(
            f"{escape(model)}: {res['tests']} wells, {res['without_exchange']} compounds "
            f"without an exchange (predicted no growth); growth when > {threshold:g} × "
            f"{res['base_growth']:.4g} 1/h on {escape(medium)}",
            highlight=False,
            soft_wrap=True,
        )
        out.print(f"  replaced sources: {escape(replaced)}", highlight=False, soft_wrap=True)
        print_scores(res["scores"])
        _disagreements(r.table(), "wells")
        wrote(r.files)


def _disagreements(frame: pd.DataFrame, what: str) -> None:
    if frame.empty:
        return
    wrong = frame[~frame["agree"]].drop(columns="agree")
    if len(wrong):
        print_frame(wrong, title=f"{what} where prediction and measurement disagree", limit=15)


def print_scores(s: dict[str, float]) -> None:
    """Confusion counts and the scores derived from them, two lines."""
    out.print(
        f"  n {int(s['n'])}  TP {int(s['tp'])}  FP {int(s['fp'])}  TN {int(s['tn'])}  "
        f"FN {int(s['fn'])}"
    )
    out.print(
        f"  accuracy {s['accuracy']:.3f}  precision {s['precision']:.3f}  "
        f"recall {s['recall']:.3f}  MCC {s['mcc']:.3f}"
    )
