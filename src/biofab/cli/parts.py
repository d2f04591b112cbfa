"""``biofab parts``: train sequence -> function models and predict with them.

``train --kind promoter|rbs|signal_peptide DATA --out model.dir`` reads a CSV
(columns named by ``--sequence-column`` and ``--target-column``), checks every
sequence against the kind's alphabet and length range, fits the chosen model
and writes the model directory atomically. ``predict --model model.dir IN.csv
--out OUT.csv`` adds ``prediction`` and ``std`` to the input rows. ``design``
designs promoters (or any kind) with a trained model; ``design-rbs`` designs
RBSs for a target OSTIR translation initiation rate in a given mRNA context
(``--utr`` text before the RBS, ``--cds`` after it). Bad input
raises a one-line ``BiofabError`` (exit code 2); no output is left half-written.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from biofab.core.errors import InputError

parts_app = typer.Typer(
    help="Biological parts: sequence -> function models with uncertainty.", no_args_is_help=True
)

KIND_CHOICES = ("promoter", "rbs", "signal_peptide", "kcat")
MODEL_CHOICES = {"cnn": "cnn", "kmer-ridge": "kmer-ridge", "kmer-boost": "kmer-boost"}

JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
SequenceColumnOption = Annotated[
    str, typer.Option("--sequence-column", help="Column holding the sequences.")
]
ModelDirOption = Annotated[Path, typer.Option("--model", help="Model directory from `train`.")]


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def _echo(text: str) -> None:
    from rich.console import Console

    Console().print(text, highlight=False)


@parts_app.command("train")
def train(
    data: Annotated[Path, typer.Argument(help="CSV/TSV of sequences and measured values.")],
    kind: Annotated[str, typer.Option("--kind", help="promoter | rbs | signal_peptide | kcat")],
    out: Annotated[Path, typer.Option("--out", help="Model directory to write.")],
    sequence_column: SequenceColumnOption = "sequence",
    target_column: Annotated[
        str, typer.Option("--target-column", help="Column holding the measured values.")
    ] = "target",
    model: Annotated[str, typer.Option("--model", help="cnn | kmer-ridge | kmer-boost")] = "cnn",
    members: Annotated[
        int | None, typer.Option("--members", min=1, help="Ensemble size (default: model's).")
    ] = None,
    epochs: Annotated[
        int | None, typer.Option("--epochs", min=1, help="CNN: most training epochs.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    json_out: JsonOption = False,
) -> None:
    """Train a sequence -> function model of KIND on DATA and write it to --out."""
    from biofab.parts.models import kind_spec, make_model
    from biofab.parts.sequences import read_sequences

    if kind not in KIND_CHOICES:
        raise InputError("--kind: unknown part kind", expected=" | ".join(KIND_CHOICES), found=kind)
    if model not in MODEL_CHOICES:
        raise InputError("--model: unknown model", expected=" | ".join(MODEL_CHOICES), found=model)
    if kind == "kcat":
        _train_kcat(data, out, target_column, seed, json_out)
        return
    alphabet, lo, hi = kind_spec(kind)
    table = read_sequences(
        data,
        alphabet,
        sequence_column=sequence_column,
        target_column=target_column,
        min_length=lo,
        max_length=hi,
    )
    params: dict[str, Any] = {"seed": seed}
    if members is not None:
        params["n_members"] = members
    if epochs is not None:
        if model != "cnn":
            raise InputError("--epochs applies to --model cnn only", found=model)
        params["epochs"] = epochs
    est = make_model(MODEL_CHOICES[model], kind, **params)
    est.fit(table["sequence"].tolist(), table["target"].to_numpy())
    path = est.save(out)
    mean, _ = est.predict(table["sequence"].tolist())
    r_train = float(_pearson(table["target"].to_numpy(), mean))
    summary = {
        "model": str(path),
        "kind": kind,
        "estimator": est.estimator,
        "n_train": len(table),
        "train_pearson_r": r_train,
        "fit_time_s": round(est.fit_time_s_, 2),
    }
    if json_out:
        _print_json(summary)
    else:
        _echo(
            f"trained {est.estimator} ({kind}) on {len(table)} sequences in "
            f"{est.fit_time_s_:.1f} s; training-set Pearson r {r_train:.3f}; wrote {path}"
        )


def _pearson(a: Any, b: Any) -> float:
    import numpy as np

    if np.std(a) == 0 or np.std(b) == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


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
    import pandas as pd

    from biofab.core.atomic import atomic_path
    from biofab.parts.kcat import read_manifest
    from biofab.parts.models import load_model
    from biofab.parts.sequences import is_fasta, is_genbank, read_sequences

    if read_manifest(model).get("kind") == "kcat" and kind in (None, "kcat"):
        _predict_kcat(data, model, out, json_out)
        return
    est = load_model(model, kind)
    lo, hi = est.length_range
    table = read_sequences(
        data, est.alphabet, sequence_column=sequence_column, min_length=lo, max_length=hi
    )
    mean, std = est.predict(table["sequence"].tolist())
    head = data.read_text()[:1000] if data.is_file() else ""
    if data.is_file() and not is_fasta(data, head) and not is_genbank(data, head):
        sep = "\t" if data.suffix.lower() in (".tsv", ".tab") else ","
        frame = pd.read_csv(data, sep=sep, dtype=str, keep_default_na=False)
        frame[sequence_column] = table["sequence"].to_numpy()
    else:
        frame = table
    frame = frame.assign(prediction=mean, std=std)
    with atomic_path(out, suffix=".csv") as tmp:
        frame.to_csv(tmp, index=False)
    summary = {
        "model": str(model),
        "kind": est.kind,
        "estimator": est.estimator,
        "n": len(frame),
        "out": str(out),
        "prediction_min": float(mean.min()),
        "prediction_max": float(mean.max()),
        "mean_std": float(std.mean()),
    }
    if json_out:
        _print_json(summary)
    else:
        _echo(
            f"predicted {len(frame)} sequences with {est.estimator} ({est.kind}); "
            f"prediction {mean.min():.3g} .. {mean.max():.3g}, mean std {std.mean():.3g}; "
            f"wrote {out}"
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


def _constraints(
    gc: str,
    max_homopolymer: int | None,
    forbid: str | None,
    motifs: str | None,
    max_repeat: int | None,
    length: int | None = None,
) -> Any:
    """The lab's hard rules from the shared design options."""
    from biofab.parts.constraints import SequenceConstraints

    return SequenceConstraints(
        length=length,
        gc=_gc_range(gc),
        max_homopolymer=max_homopolymer,
        enzymes=_names(forbid),
        forbidden_motifs=_names(motifs),
        max_repeat=max_repeat,
    )


def _write_designs(out: Path, designs: Any, value: str) -> None:
    """FASTA (headers carry ``value`` and std) and the full table as CSV beside it."""
    from biofab.core.atomic import write_atomic

    fasta = "".join(
        f">{r.name} {value}={r.prediction:.4g} std={r.std:.3g}\n{r.sequence}\n"
        for r in designs.itertuples()
    )
    write_atomic(out, fasta)
    write_atomic(out.with_suffix(".csv"), designs.to_csv(index=False))


def _design_summary(out: Path, designs: Any, wanted: int, constraints: Any) -> dict[str, Any]:
    """What ``design`` and ``design-rbs`` report: files, counts, prediction range."""
    some = len(designs) > 0
    return {
        "out": str(out),
        "table": str(out.with_suffix(".csv")),
        "designs": len(designs),
        "wanted": wanted,
        "constraints": constraints,
        "prediction_min": float(designs["prediction"].min()) if some else None,
        "prediction_max": float(designs["prediction"].max()) if some else None,
    }


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
    from biofab.parts.design import design_sequences
    from biofab.parts.models import load_model
    from biofab.parts.sequences import read_sequences

    if (target is None) == (not maximize):
        raise InputError("give exactly one of --target and --maximize", found="both or neither")
    est = load_model(model, kind)
    lo, hi = est.length_range
    start = None
    if seeds is not None:
        table = read_sequences(seeds, est.alphabet, min_length=lo, max_length=hi)
        start = dict(zip(table["id"].astype(str), table["sequence"], strict=True))
        length = length or int(table["sequence"].str.len().mode().iloc[0])
    if length is None or not lo <= length <= hi:
        raise InputError(
            "--length outside the model's range", expected=f"{lo}..{hi} nt", found=length
        )
    constraints = _constraints(gc, max_homopolymer, forbid, motifs, max_repeat, length)
    if start is not None:
        start = {k: v for k, v in start.items() if len(v) == length}

    def predict(sequences: list[str]) -> tuple[Any, Any]:
        return est.predict(sequences)

    designs = design_sequences(
        predict,
        constraints,
        target=target,
        maximize=maximize,
        n=n,
        length=length,
        seeds=start,
        uncertainty_penalty=penalty,
        min_distance=min_distance,
        steps=steps,
        seed=seed,
        progress=not json_out,
        max_mutations=max_mutations,
    )
    _write_designs(out, designs, "prediction")
    summary = {
        **_design_summary(out, designs, n, constraints.describe()),
        "min_pairwise_distance": int(designs["nearest_distance"].min())
        if len(designs) > 1
        else None,
    }
    if json_out:
        _print_json(summary)
        return
    short = (
        f" (only {len(designs)} of {n} met every constraint and the distance)"
        if len(designs) < n
        else ""
    )
    _echo(f"{len(designs)} designs{short}; wrote {out} and {out.with_suffix('.csv')}")


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
    from biofab.parts.interpret import IMPORTANCE, saturation_mutagenesis, write_report
    from biofab.parts.models import load_model
    from biofab.parts.sequences import check_sequence, read_sequences

    if (sequence is None) == (in_file is None):
        raise InputError("give exactly one of --sequence and --in", found="both or neither")
    if importance not in IMPORTANCE:
        raise InputError(
            "--importance: unknown summary", expected=" | ".join(IMPORTANCE), found=importance
        )
    est = load_model(model, kind)
    lo, hi = est.length_range
    if in_file is not None:
        table = read_sequences(
            in_file, est.alphabet, sequence_column=sequence_column, min_length=lo, max_length=hi
        )
        items = list(zip(table["id"].astype(str), table["sequence"], strict=True))[:limit]
    else:
        items = [("sequence", check_sequence(sequence, est.alphabet, lo, hi, column="--sequence"))]
    maps = [
        saturation_mutagenesis(
            est.predict, s, alphabet=est.alphabet, how=importance, name=name, max_length=hi
        )
        for name, s in items
    ]
    write_report(
        out, maps, subtitle=f"model {model} ({est.estimator}, {est.kind}); importance: {importance}"
    )
    summary = {
        "out": str(out),
        "model": str(model),
        "estimator": est.estimator,
        "sequences": [
            {
                "name": m.name,
                "length": len(m.sequence),
                "prediction": m.reference,
                "std": m.reference_std,
                "most_important_position": int(m.importance.argmax()) + 1,
                "largest_gain": float(m.delta.max()),
                "largest_loss": float(m.delta.min()),
            }
            for m in maps
        ],
    }
    if json_out:
        _print_json(summary)
        return
    _echo(f"explained {len(maps)} sequence(s) with {est.estimator}; wrote {out}")


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
    from biofab.parts.export import export_format, export_parts, read_export_input

    f = export_format(fmt, out)
    table = read_export_input(data, kind, model=model_name)
    path = export_parts(table, out, kind, f, namespace=namespace, detect_boxes=detect_boxes)
    summary = {
        "out": str(path),
        "format": f,
        "kind": kind,
        "n": len(table),
        "with_prediction": bool("prediction" in table and table["prediction"].notna().any()),
    }
    if json_out:
        _print_json(summary)
    else:
        _echo(f"exported {len(table)} {kind} part(s) as {f}; wrote {path}")


def _dna_argument(text: str, option: str) -> str:
    """A DNA string given inline or as a FASTA/text file (first record)."""
    from biofab.parts.sequences import check_sequence, parse_fasta

    value = text.strip()
    path = Path(value)
    if value and len(value) < 4096 and path.is_file():
        raw = path.read_text()
        value = parse_fasta(raw, file=str(path))[1][0] if raw.lstrip().startswith(">") else raw
        value = "".join(value.split())
    return check_sequence(value, "dna", column=option)


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
    from biofab.parts.rbs import design_rbs

    if sum([target is not None, maximize, minimize]) != 1:
        raise InputError(
            "give exactly one of --target, --maximize and --minimize", found="none or several"
        )
    cds_seq = _dna_argument(cds, "--cds")
    utr_seq = _dna_argument(utr, "--utr") if utr.strip() else ""
    constraints = _constraints(gc, max_homopolymer, forbid, motifs, max_repeat)
    designs = design_rbs(
        cds_seq,
        upstream=utr_seq,
        target=target,
        maximize=not minimize,
        length=length,
        n=n,
        constraints=constraints,
        min_distance=min_distance,
        steps=steps,
        seed=seed,
        progress=not json_out,
    )
    _write_designs(out, designs, "log10_tir")
    summary = {
        **_design_summary(
            out, designs, n, designs.attrs.get("constraints", constraints.describe())
        ),
        "model": "OSTIR log10 TIR (au)",
        "elapsed_s": round(float(designs.attrs.get("elapsed_s", 0.0)), 2),
    }
    if json_out:
        _print_json(summary)
        return
    short = f" (only {len(designs)} of {n} found)" if len(designs) < n else ""
    _echo(
        f"{len(designs)} RBS designs{short}, log10 TIR "
        f"{summary['prediction_min']:.3g} .. {summary['prediction_max']:.3g}; "
        f"wrote {out} and {out.with_suffix('.csv')}"
    )


def _kcat_table(path: Path, target_column: str | None) -> Any:
    """A user's kcat CSV: ``sequence``, ``smiles`` (or ``reactant_smiles``), ``ec``[, target]."""
    import pandas as pd

    from biofab.parts.kcat import TARGET, validate_frame
    from biofab.parts.sequences import read_text_file

    read_text_file(path, "a CSV with sequence, smiles and ec columns")
    frame = pd.read_csv(path)
    frame = frame.rename(columns={"smiles": "reactant_smiles"})
    if target_column is not None and target_column in frame.columns:
        frame = frame.rename(columns={target_column: TARGET})
    return validate_frame(frame, need_target=target_column is not None, file=str(path))


def _train_kcat(data: Path, out: Path, target_column: str, seed: int, json_out: bool) -> None:
    from biofab.parts.kcat import KcatModel

    target = "log10_value" if target_column == "target" else target_column
    table = _kcat_table(data, target)
    est = KcatModel(seed=seed).fit(table)
    path = est.save(out)
    summary = {
        "model": str(path),
        "kind": "kcat",
        "estimator": "kcat-xgboost",
        "n_train": len(table),
    }
    if json_out:
        _print_json(summary)
    else:
        _echo(f"trained a kcat model on {len(table)} enzymes (log10 kcat, 1/s); wrote {path}")


def _predict_kcat(data: Path, model: Path, out: Path, json_out: bool) -> None:
    from biofab.core.atomic import write_atomic
    from biofab.parts.kcat import KcatModel

    table = _kcat_table(data, None)
    mean, std = KcatModel.load(model).predict(table)
    frame = table.assign(prediction=mean, std=std)
    write_atomic(out, frame.to_csv(index=False))
    summary = {"model": str(model), "kind": "kcat", "n": len(frame), "out": str(out)}
    if json_out:
        _print_json(summary)
    else:
        _echo(f"predicted log10 kcat (1/s) for {len(frame)} enzymes; wrote {out}")
