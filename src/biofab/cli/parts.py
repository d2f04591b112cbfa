"""``biofab parts``: train sequence -> function models, predict, design, explain, export.

Argument parsing and printing only: each command builds a request of
:mod:`biofab.parts.workflows`, runs it and prints its result (a summary line or
``--json``). ``train --kind promoter|rbs|signal_peptide|kcat DATA --out model.dir`` fits
a model; ``predict`` adds ``prediction`` and ``std`` to the input rows; ``design``
designs sequences with a trained model; ``design-rbs`` designs RBSs for a target OSTIR
translation initiation rate in a given mRNA context (``--utr`` before the RBS, ``--cds``
after it); ``explain`` writes in-silico mutagenesis; ``export`` writes FASTA, GenBank or
SBOL3. Bad input raises a one-line ``BiofabError`` (exit code 2); no output is left
half-written.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from biofab.core.errors import InputError

if TYPE_CHECKING:
    from biofab.parts.workflows import DesignRules

parts_app = typer.Typer(
    help="Biological parts: sequence -> function models with uncertainty.", no_args_is_help=True
)

JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
SequenceColumnOption = Annotated[
    str, typer.Option("--sequence-column", help="Column holding the sequences.")
]
ModelDirOption = Annotated[Path, typer.Option("--model", help="Model directory from `train`.")]


def _echo(text: str) -> None:
    from biofab.cli.console import console

    console().print(text, highlight=False)


def _done(result: Any, json_out: bool) -> bool:
    """Print the result as JSON when asked; True when nothing else is to be printed."""
    if json_out:
        sys.stdout.write(result.to_json())
    return json_out


@parts_app.command("train")
def train(
    data: Annotated[
        list[Path],
        typer.Argument(
            help="CSV/TSV file(s) of sequences and measured values (several are concatenated; "
            "the LaFleur 2022 and Hossain 2020 promoter tables are read as published)."
        ),
    ],
    kind: Annotated[str, typer.Option("--kind", help="promoter | rbs | signal_peptide | kcat")],
    out: Annotated[Path, typer.Option("--out", help="Model directory to write.")],
    sequence_column: SequenceColumnOption = "sequence",
    target_column: Annotated[
        str | None,
        typer.Option(
            "--target-column",
            help="Column holding the measured values (default: target; kcat: log10_value).",
        ),
    ] = None,
    model: Annotated[
        str, typer.Option("--model", help="cnn | kmer-ridge | kmer-boost | physics-residual")
    ] = "cnn",
    members: Annotated[
        int | None, typer.Option("--members", min=1, help="Ensemble size (default: model's).")
    ] = None,
    epochs: Annotated[
        int | None, typer.Option("--epochs", min=1, help="CNN: most training epochs.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    k: Annotated[
        int | None,
        typer.Option("--k", help="k-mer models: largest k-mer size (default 4 DNA, 2 protein)."),
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Train a sequence -> function model of KIND on DATA and write it to --out."""
    from biofab.parts import workflows as wf

    request = wf.TrainRequest(
        tuple(data), kind, out, sequence_column, target_column, model, members, epochs, seed,
        k, progress=not json_out,
    )  # fmt: skip
    r = wf.train(request)
    if _done(r, json_out):
        return
    for note in r.notes:
        _echo(f"read {note}")
    n = len(r.table)
    if r.kind == "kcat":
        enzymes = r.table["sequence"].nunique()
        _echo(
            f"trained a kcat model on {n} rows ({enzymes} distinct enzymes; log10 kcat, 1/s); "
            f"wrote {r.model}"
        )
        c = r.calibration or {}
        if c.get("grouped_coverage_68") is not None:
            rho = c.get("grouped_spearman_abs_error_std")
            _echo(
                f"std calibrated on held-out enzyme families: +-1 std covers "
                f"{c['grouped_coverage_68']:.0%} of their errors"
                + (f", Spearman(|error|, std) {rho:.2f}" if rho is not None else "")
            )
        return
    _echo(
        f"trained {r.estimator} ({r.kind}) on {n} sequences in {r.fit_time_s:.1f} s; "
        f"training-set Pearson r {r.train_pearson_r:.3f}; wrote {r.model}"
    )
    if r.calibration:
        c = r.calibration
        _echo(
            f"std calibrated on {c['split']}: +-1 std covers {c['coverage_1std']:.0%} of "
            f"out-of-fold errors, Spearman(|error|, std) {c['spearman_abs_error_std']:.2f}"
        )
    elif r.uncertainty() is not None:
        _echo(f"std: {r.uncertainty()}")


@parts_app.command("predict")
def predict(
    data: Annotated[Path, typer.Argument(help="CSV with a 'sequence' column (or FASTA).")],
    model: ModelDirOption,
    out: Annotated[Path, typer.Option("--out", help="CSV to write (input + prediction, std).")],
    sequence_column: SequenceColumnOption = "sequence",
    kind: Annotated[
        str | None, typer.Option("--kind", help="Refuse a model of another kind.")
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Predict DATA's sequences with a trained model; write prediction and std to --out."""
    from biofab.parts import workflows as wf

    r = wf.predict(wf.PredictRequest(data, model, out, sequence_column, kind))
    if _done(r, json_out):
        return
    s = r.to_dict()
    if r.kind == "kcat":
        enzymes = r.frame["sequence"].nunique()
        _echo(
            f"predicted log10 kcat (1/s) for {s['n']} rows ({enzymes} distinct enzymes); "
            f"wrote {out}"
        )
        return
    std = (
        "no std (single-member ensemble)"
        if s["mean_std"] is None
        else (f"mean std {s['mean_std']:.3g}")
    )
    _echo(
        f"predicted {s['n']} sequences with {r.estimator} ({r.kind}); prediction "
        f"{s['prediction_min']:.3g} .. {s['prediction_max']:.3g}, {std}; wrote {out}"
    )
    if s.get("far_from_training"):
        widened = ": their std is widened" if s["mean_std"] is not None else ""
        _echo(
            f"{s['far_from_training']} sequences are far from the training rows (see the "
            f"'warning' column){widened}"
        )


def _gc_range(text: str) -> tuple[float, float]:
    try:
        lo, hi = (float(x) for x in text.split(":"))
    except ValueError:
        raise InputError(
            "--gc: bad range", expected="LO:HI fractions, e.g. 0.35:0.65", found=text
        ) from None
    return lo, hi


def _names(text: str | None) -> tuple[str, ...]:
    return tuple(s.strip() for s in (text or "").split(",") if s.strip())


GcOption = Annotated[str, typer.Option("--gc", help="GC fraction range LO:HI.")]
HomopolymerOption = Annotated[
    int | None, typer.Option("--max-homopolymer", help="Longest single-base run allowed.")
]
ForbidOption = Annotated[
    str | None, typer.Option("--forbid", help="Enzymes whose sites must not occur: BsaI,EcoRI")
]
MotifsOption = Annotated[
    str | None,
    typer.Option("--motifs", help="Other forbidden motifs (IUPAC), comma-separated."),
]
RepeatOption = Annotated[
    int | None, typer.Option("--max-repeat", help="Longest direct repeat allowed, nt.")
]
DistanceOption = Annotated[
    int, typer.Option("--min-distance", help="Least Hamming distance between designs.")
]


def _rules(
    gc: str, max_homopolymer: int | None, forbid: str | None, motifs: str | None, repeat: int | None
) -> DesignRules:
    """The lab's hard rules from the shared design options."""
    from biofab.parts.workflows import DesignRules

    return DesignRules(_gc_range(gc), max_homopolymer, _names(forbid), _names(motifs), repeat)


@parts_app.command("design")
def design(
    model: ModelDirOption,
    out: Annotated[Path, typer.Option("--out", help="FASTA of the designs (+ .csv beside it).")],
    kind: Annotated[
        str, typer.Option("--kind", help="Refuse a model of another kind.")
    ] = "promoter",
    target: Annotated[
        float | None, typer.Option("--target", help="Aim at this predicted value.")
    ] = None,
    maximize: Annotated[bool, typer.Option("--maximize", help="Maximise the prediction.")] = False,
    n: Annotated[int, typer.Option("--n", min=1, help="Designs wanted.")] = 20,
    length: Annotated[int | None, typer.Option("--length", help="Design length, nt.")] = None,
    seeds: Annotated[
        Path | None, typer.Option("--seeds", help="Start from these sequences (CSV or FASTA).")
    ] = None,
    gc: GcOption = "0:1",
    max_homopolymer: HomopolymerOption = None,
    forbid: ForbidOption = None,
    motifs: MotifsOption = None,
    max_repeat: RepeatOption = None,
    min_distance: DistanceOption = 5,
    penalty: Annotated[
        float, typer.Option("--penalty", help="Score penalty per unit of predicted std.")
    ] = 1.0,
    max_mutations: Annotated[
        int | None,
        typer.Option("--max-mutations", help="Trust region: most changes from a seed (--seeds)."),
    ] = None,
    steps: Annotated[int, typer.Option("--steps", min=1, help="Annealing steps.")] = 200,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    json_out: JsonOption = False,
) -> None:
    """Design sequences with a trained model under the lab's hard constraints."""
    from biofab.parts import workflows as wf

    rules = _rules(gc, max_homopolymer, forbid, motifs, max_repeat)
    r = wf.design(
        wf.DesignRequest(
            model, out, kind, target, maximize, n, length, seeds, rules, min_distance,
            penalty, max_mutations, steps, seed, progress=not json_out,
        )
    )  # fmt: skip
    if _done(r, json_out):
        return
    got = len(r.designs)
    short = f" (only {got} of {n} met every constraint and the distance)" if got < n else ""
    _echo(f"{got} designs{short}; wrote {' and '.join(r.files)}")


@parts_app.command("explain")
def explain(
    model: ModelDirOption,
    out: Annotated[Path, typer.Option("--out", help="HTML report to write.")],
    sequence: Annotated[
        str | None, typer.Option("--sequence", help="One sequence to explain.")
    ] = None,
    in_file: Annotated[
        Path | None, typer.Option("--in", help="CSV (column 'sequence') or FASTA of sequences.")
    ] = None,
    sequence_column: SequenceColumnOption = "sequence",
    kind: Annotated[
        str | None, typer.Option("--kind", help="Refuse a model of another kind.")
    ] = None,
    importance: Annotated[
        str, typer.Option("--importance", help="Per-position summary: max | mean of |change|.")
    ] = "max",
    limit: Annotated[
        int, typer.Option("--limit", min=1, help="Explain at most this many sequences.")
    ] = 20,
    json_out: JsonOption = False,
) -> None:
    """In-silico saturation mutagenesis: heatmap and per-position importance in HTML."""
    from biofab.parts import workflows as wf

    r = wf.explain(
        wf.ExplainRequest(model, out, sequence, in_file, sequence_column, kind, importance, limit)
    )
    if not _done(r, json_out):
        _echo(f"explained {len(r.maps)} sequence(s) with {r.estimator}; wrote {out}")


@parts_app.command("export")
def export_cmd(
    data: Annotated[
        Path,
        typer.Argument(
            help="Table with 'sequence' (+ optional id/name, prediction, std, model), "
            "e.g. the CSV from `parts design` or `parts predict`; FASTA/GenBank/SBOL3 convert."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="File to write.")],
    kind: Annotated[
        str, typer.Option("--kind", help="promoter | rbs | signal_peptide | cds")
    ] = "promoter",
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="fasta | genbank | sbol3 (default: from --out's suffix)."),
    ] = None,
    model_name: Annotated[
        str | None,
        typer.Option("--model-name", help="Predictor's name, when the table has no 'model'."),
    ] = None,
    namespace: Annotated[
        str, typer.Option("--namespace", help="SBOL3 namespace URI of the exported objects.")
    ] = "https://biofab.example.org/parts",
    detect_boxes: Annotated[
        bool,
        typer.Option(
            "--detect-boxes/--no-detect-boxes",
            help="Promoters: annotate sigma70 -35/-10 boxes found near consensus.",
        ),
    ] = True,
    json_out: JsonOption = False,
) -> None:
    """Export parts as FASTA, GenBank (annotated, with predictions) or validated SBOL3."""
    from biofab.parts import workflows as wf

    r = wf.export(wf.ExportRequest(data, out, kind, fmt, model_name, namespace, detect_boxes))
    if not _done(r, json_out):
        _echo(f"exported {len(r.parts)} {kind} part(s) as {r.format}; wrote {r.files[0]}")


@parts_app.command("design-rbs")
def design_rbs_command(
    cds: Annotated[
        str, typer.Option("--cds", help="CDS start (DNA, begins ATG/GTG/TTG) or a FASTA file.")
    ],
    out: Annotated[Path, typer.Option("--out", help="FASTA of the designs (+ .csv beside it).")],
    utr: Annotated[
        str, typer.Option("--utr", help="Fixed 5'UTR text before the RBS (DNA or FASTA file).")
    ] = "",
    target: Annotated[
        float | None, typer.Option("--target", help="Wanted log10 TIR (OSTIR au).")
    ] = None,
    maximize: Annotated[bool, typer.Option("--maximize", help="Strongest RBSs.")] = False,
    minimize: Annotated[bool, typer.Option("--minimize", help="Weakest RBSs.")] = False,
    n: Annotated[int, typer.Option("--n", min=1, help="Designs wanted.")] = 10,
    length: Annotated[int, typer.Option("--length", help="RBS length, nt (12-35).")] = 30,
    gc: GcOption = "0:1",
    max_homopolymer: HomopolymerOption = None,
    forbid: ForbidOption = None,
    motifs: MotifsOption = None,
    max_repeat: RepeatOption = None,
    min_distance: DistanceOption = 3,
    steps: Annotated[int, typer.Option("--steps", min=1, help="Annealing steps.")] = 60,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    json_out: JsonOption = False,
) -> None:
    """Design RBSs for a target translation initiation rate (OSTIR) in an mRNA context."""
    from biofab.parts import workflows as wf

    rules = _rules(gc, max_homopolymer, forbid, motifs, max_repeat)
    r = wf.design_rbs(
        wf.DesignRbsRequest(
            cds, out, utr, target, maximize, minimize, n, length, rules, min_distance,
            steps, seed, progress=not json_out,
        )
    )  # fmt: skip
    if _done(r, json_out):
        return
    got, s = len(r.designs), r.to_dict()
    short = f" (only {got} of {n} found)" if got < n else ""
    span = f", log10 TIR {s['prediction_min']:.3g} .. {s['prediction_max']:.3g}" if got else ""
    _echo(f"{got} RBS designs{short}{span}; wrote {' and '.join(r.files)}")
