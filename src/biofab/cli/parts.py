"""``biofab parts``: train sequence -> function models and predict with them.

``train --kind promoter|rbs|signal_peptide DATA --out model.dir`` reads a CSV
(columns named by ``--sequence-column`` and ``--target-column``), checks every
sequence against the kind's alphabet and length range, fits the chosen model
and writes the model directory atomically. ``predict --model model.dir IN.csv
--out OUT.csv`` adds ``prediction`` and ``std`` to the input rows. Bad input
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

KIND_CHOICES = ("promoter", "rbs", "signal_peptide")
MODEL_CHOICES = {"cnn": "cnn", "kmer-ridge": "kmer-ridge", "kmer-boost": "kmer-boost"}

JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def _echo(text: str) -> None:
    from rich.console import Console

    Console().print(text, highlight=False)


@parts_app.command("train")
def train(
    data: Annotated[Path, typer.Argument(help="CSV/TSV of sequences and measured values.")],
    kind: Annotated[str, typer.Option("--kind", help="promoter | rbs | signal_peptide")],
    out: Annotated[Path, typer.Option("--out", help="Model directory to write.")],
    sequence_column: Annotated[
        str, typer.Option("--sequence-column", help="Column holding the sequences.")
    ] = "sequence",
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
    model: Annotated[Path, typer.Option("--model", help="Model directory from `train`.")],
    out: Annotated[Path, typer.Option("--out", help="CSV to write (input + prediction, std).")],
    sequence_column: Annotated[
        str, typer.Option("--sequence-column", help="Column holding the sequences.")
    ] = "sequence",
    kind: Annotated[
        str | None, typer.Option("--kind", help="Refuse a model of another kind.")
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Predict DATA's sequences with a trained model; write prediction and std to --out."""
    import pandas as pd

    from biofab.core.atomic import atomic_path
    from biofab.parts.models import load_model
    from biofab.parts.sequences import is_fasta, read_sequences

    est = load_model(model, kind)
    lo, hi = est.length_range
    table = read_sequences(
        data, est.alphabet, sequence_column=sequence_column, min_length=lo, max_length=hi
    )
    mean, std = est.predict(table["sequence"].tolist())
    if data.is_file() and not is_fasta(data, data.read_text()[:1000]):
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


@parts_app.command("design")
def design(
    model: Annotated[Path, typer.Option("--model", help="Model directory from `train`.")],
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
    gc: Annotated[str, typer.Option("--gc", help="GC fraction range LO:HI.")] = "0:1",
    max_homopolymer: Annotated[int | None, typer.Option("--max-homopolymer")] = None,
    forbid: Annotated[
        str | None, typer.Option("--forbid", help="Enzymes whose sites must not occur: BsaI,EcoRI")
    ] = None,
    motifs: Annotated[
        str | None,
        typer.Option("--motifs", help="Other forbidden motifs (IUPAC), comma-separated."),
    ] = None,
    max_repeat: Annotated[
        int | None, typer.Option("--max-repeat", help="Longest direct repeat allowed, nt.")
    ] = None,
    min_distance: Annotated[
        int, typer.Option("--min-distance", help="Least Hamming distance between designs.")
    ] = 5,
    penalty: Annotated[
        float, typer.Option("--penalty", help="Score penalty per unit of predicted std.")
    ] = 1.0,
    steps: Annotated[int, typer.Option("--steps", min=1, help="Annealing steps.")] = 200,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    json_out: JsonOption = False,
) -> None:
    """Design sequences with a trained model under the lab's hard constraints."""
    from biofab.core.atomic import write_atomic
    from biofab.parts.constraints import SequenceConstraints
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
    constraints = SequenceConstraints(
        length=length,
        gc=_gc_range(gc),
        max_homopolymer=max_homopolymer,
        enzymes=_names(forbid),
        forbidden_motifs=_names(motifs),
        max_repeat=max_repeat,
    )
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
    )
    fasta = "".join(
        f">{r.name} prediction={r.prediction:.4g} std={r.std:.3g}\n{r.sequence}\n"
        for r in designs.itertuples()
    )
    write_atomic(out, fasta)
    write_atomic(out.with_suffix(".csv"), designs.to_csv(index=False))
    summary = {
        "out": str(out),
        "table": str(out.with_suffix(".csv")),
        "designs": len(designs),
        "wanted": n,
        "constraints": constraints.describe(),
        "prediction_min": float(designs["prediction"].min()) if len(designs) else None,
        "prediction_max": float(designs["prediction"].max()) if len(designs) else None,
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
