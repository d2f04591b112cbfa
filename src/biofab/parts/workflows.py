"""Parts workflows: a typed request in, a typed result out, and the files written.

One function per job of the parts pillar — :func:`train`, :func:`predict`,
:func:`design`, :func:`design_rbs`, :func:`explain`, :func:`export`,
:func:`signal_peptides`, :func:`secretion_fit`, :func:`secretion_predict` — holding what
``biofab parts`` used to do itself (reading and checking the sequences, building the
estimator, running the search, writing the outputs). The CLI parses arguments and prints;
a web service calls the same functions. Every result has ``to_frame()`` (its main table),
``to_dict()`` / ``to_json()`` (what ``--json`` prints) and ``files`` (paths written, in
order).

Bad input raises a :class:`~biofab.core.errors.BiofabError` (one line) before anything is
written; every output is written atomically once everything is computed. Units: predictions
are in the model's target units (promoters/RBSs as trained, RBS design in OSTIR log10 TIR
au, kcat models log10 kcat in 1/s); lengths in nt (aa for signal peptides).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from biofab.core.errors import InputError

if TYPE_CHECKING:
    from biofab.parts.constraints import SequenceConstraints
    from biofab.parts.interpret import MutagenesisMap

__all__ = [
    "ESTIMATORS",
    "KINDS",
    "DesignRbsRequest",
    "DesignRequest",
    "DesignResult",
    "DesignRules",
    "ExplainRequest",
    "ExplainResult",
    "ExportRequest",
    "ExportResult",
    "PredictRequest",
    "PredictResult",
    "SecretionFitRequest",
    "SecretionFitResult",
    "SecretionPredictRequest",
    "SecretionPredictResult",
    "SignalPeptidesRequest",
    "SignalPeptidesResult",
    "TrainRequest",
    "TrainResult",
    "design",
    "design_rbs",
    "explain",
    "export",
    "predict",
    "read_dna",
    "read_protein",
    "secretion_fit",
    "secretion_predict",
    "signal_peptides",
    "train",
]

KINDS = ("promoter", "rbs", "signal_peptide", "kcat")
"""Part kinds :func:`train` fits: three sequence kinds and ``kcat`` (enzyme + substrate)."""
ESTIMATORS = ("cnn", "kmer-ridge", "kmer-boost", "physics-residual")
"""Sequence estimators by manifest name (``kcat`` always uses its XGBoost ensemble)."""
SEQUENCE_TARGET = "target"
"""Default target column of a sequence kind's training table."""


# ---------------------------------------------------------------------------------------
# shared helpers
# ---------------------------------------------------------------------------------------


def _dumps(data: Any) -> str:
    """Strict JSON: NumPy scalars as numbers, NaN and infinities as null (``NaN`` is
    not JSON; ``jq`` and most parsers refuse it)."""

    def plain(x: Any) -> Any:
        return x.item() if hasattr(x, "item") else str(x)

    def finite(x: Any) -> Any:
        if isinstance(x, dict):
            return {k: finite(v) for k, v in x.items()}
        if isinstance(x, list | tuple):
            return [finite(v) for v in x]
        if hasattr(x, "item") and getattr(x, "ndim", 1) == 0:
            x = x.item()
        if isinstance(x, float) and not math.isfinite(x):
            return None
        return x

    return json.dumps(finite(data), indent=2, default=plain) + "\n"


def _choice(value: str, what: str, options: Sequence[str]) -> str:
    if value not in options:
        raise InputError(f"unknown {what}", column=what, expected=" | ".join(options), found=value)
    return value


def _at_least(value: int, what: str, low: int) -> int:
    if value < low:
        raise InputError(f"{what} too small", column=what, expected=f">= {low}", found=value)
    return value


def _finite(value: float | None, what: str) -> None:
    if value is not None and not math.isfinite(value):
        raise InputError(f"{what} must be finite", column=what, found=value)


def _distinct(*paths: Path | None) -> None:
    given = [Path(p).resolve() for p in paths if p is not None]
    if len(set(given)) != len(given):
        raise InputError("two outputs name the same file", found=[str(p) for p in paths if p])


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    if np.std(a) == 0 or np.std(b) == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def read_dna(text: str, what: str) -> str:
    """A DNA string given inline or as a FASTA/text file (first record), checked."""
    from biofab.parts.sequences import check_sequence, parse_fasta, read_text_file

    value = text.strip()
    path = Path(value)
    if value and len(value) < 4096 and path.is_file():
        raw = read_text_file(path, "a DNA FASTA or sequence")
        value = parse_fasta(raw, file=str(path))[1][0] if raw.lstrip().startswith(">") else raw
        value = "".join(value.split())
    return check_sequence(value, "dna", column=what)


def read_protein(text: str, what: str) -> str:
    """A protein given inline or as a FASTA/text file (first record), checked (>= 3 aa)."""
    from biofab.parts.sequences import check_sequence, parse_fasta, read_text_file

    value = text.strip()
    path = Path(value)
    file = None
    if value and len(value) < 4096 and (path.is_file() or "/" in value or "." in value):
        raw = read_text_file(path, "a protein FASTA or sequence")
        file = str(path)
        value = parse_fasta(raw, file=file)[1][0] if raw.lstrip().startswith(">") else raw
        value = "".join(value.split())
    return check_sequence(value, "protein", min_length=3, file=file, column=what)


def _read_table(path: Path) -> pd.DataFrame:
    """A user's CSV/TSV (by suffix); one-line errors for unreadable, unparsable or empty."""
    import io

    from biofab.parts.sequences import read_text_file

    text = read_text_file(path, "a CSV table")
    sep = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        msg = str(err).splitlines()[0] if str(err) else "parse error"
        raise InputError("cannot parse as a table", file=str(path), found=msg) from None
    if len(frame) == 0:
        raise InputError("empty file", file=str(path), expected="at least one data row", found="0")
    return frame


def _kcat_table(paths: Sequence[Path], target_column: str | None) -> pd.DataFrame:
    """Users' kcat CSVs: ``sequence``, ``smiles`` (or ``reactant_smiles``), ``ec``[, target],
    read as :func:`~biofab.parts.kcat.load_catpred` reads CatPred's own files (unparsable
    product SMILES count as unknown products)."""
    from biofab.parts.kcat import TARGET, load_catpred
    from biofab.parts.sequences import read_text_file

    for path in paths:
        read_text_file(path, "a CSV with sequence, smiles and ec columns")
    return load_catpred(list(paths), target_column or TARGET, need_target=target_column is not None)


def _paths(data: Path | Sequence[Path]) -> list[Path]:
    items = [Path(data)] if isinstance(data, (str, Path)) else [Path(p) for p in data]
    if not items:
        raise InputError("no data file given", expected="at least one CSV/FASTA file")
    return items


def _sequence_table(
    path: Path, alphabet: str, lo: int, hi: int, sequence_column: str, target_column: str | None
) -> tuple[pd.DataFrame, str | None]:
    """``id, sequence[, target]`` of one file, and a note when it is a published library
    table recognised by its columns (LaFleur 2022, Hossain 2020; see
    :func:`biofab.parts.datasets.library_table`)."""
    from biofab.parts.sequences import check_sequences, read_sequences

    if alphabet == "dna" and sequence_column == "sequence":
        from biofab.parts.datasets import LAFLEUR_TARGET, library_table

        found = library_table(path)
        if found is not None:
            frame, note = found
            if target_column not in (None, "target", LAFLEUR_TARGET):
                # its promoter is built from element columns for its own target only
                raise InputError(
                    "a published promoter table is read with its own target",
                    file=str(path),
                    column=target_column,
                    expected=f"no --target-column, or '{LAFLEUR_TARGET}'",
                    found=target_column,
                )
            check_sequences(frame["sequence"].tolist(), "dna", lo, hi, file=str(path))
            return frame, f"{path.name}: {note}"
    table = read_sequences(
        path,
        alphabet,
        sequence_column=sequence_column,
        target_column=target_column,
        min_length=lo,
        max_length=hi,
    )
    return table, None


# ---------------------------------------------------------------------------------------
# train
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainRequest:
    """Train a sequence -> function model of ``kind`` on the table(s) ``data`` (one file or
    several, read alike and concatenated); write ``out``. The published promoter tables
    (LaFleur 2022 Supplementary Data 3, Hossain 2020) are read as they are.

    ``target_column``: None takes the kind's default, ``target`` for the sequence kinds and
    ``log10_value`` (log10 kcat, 1/s; CatPred-DB's name) for ``kcat``. ``estimator``:
    ``cnn`` | ``kmer-ridge`` | ``kmer-boost`` (sequence kinds) | ``physics-residual``
    (promoters: the calculator's energy + element-wise corrections, calibrated std);
    ``members``: ensemble size (None: the estimator's); ``epochs``: CNN only; ``k``: k-mer
    models only, largest k-mer size (None: 4 on DNA, 2 on protein). ``progress``: report
    each ensemble member.
    """

    data: Path | tuple[Path, ...]
    kind: str
    out: Path
    sequence_column: str = "sequence"
    target_column: str | None = None
    estimator: str = "cnn"
    members: int | None = None
    epochs: int | None = None
    seed: int = 0
    k: int | None = None
    progress: bool = False


@dataclass
class TrainResult:
    """The model directory written and its in-sample fit (sequence kinds)."""

    model: str
    kind: str
    estimator: str
    table: pd.DataFrame
    train_pearson_r: float | None = None
    fit_time_s: float | None = None
    files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: out-of-fold interval coverage of the model's std (models that calibrate it)
    calibration: dict[str, Any] | None = None

    def uncertainty(self) -> str | None:
        """What the model's std is (sequence kinds): ``none (single-member ensemble)``
        when it has none (NaN), ``calibrated`` when ``calibration`` measured its coverage,
        else the members' raw spread, whose coverage nobody measured."""
        if self.kind == "kcat" or "std" not in self.table.columns:
            return None
        if bool(self.table["std"].isna().all()):
            return "none (single-member ensemble)"
        if self.calibration is not None:
            return "calibrated"
        return "ensemble spread, not calibrated (coverage not measured)"

    def to_frame(self) -> pd.DataFrame:
        """The training rows (``sequence``, ``target``; sequence kinds with ``prediction``)."""
        return self.table.copy()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "model": self.model,
            "kind": self.kind,
            "estimator": self.estimator,
            "n_train": len(self.table),
        }
        if self.kind == "kcat":
            out["n_enzymes"] = int(self.table["sequence"].nunique())
        if self.train_pearson_r is not None:
            out["train_pearson_r"] = self.train_pearson_r
            out["fit_time_s"] = self.fit_time_s
        if self.calibration is not None:
            out["calibration"] = self.calibration
        uncertainty = self.uncertainty()
        if uncertainty is not None:
            out["uncertainty"] = uncertainty
        out["notes"] = self.notes
        out["files"] = self.files
        return out

    def to_json(self) -> str:
        return _dumps(self.to_dict())


def train(request: TrainRequest) -> TrainResult:
    """Read and check the table, fit the estimator, write the model directory."""
    kind = _choice(request.kind, "part kind", KINDS)
    estimator = _choice(request.estimator, "model", ESTIMATORS)
    if kind == "kcat":
        _kcat_options(request, estimator)
    if request.members is not None:
        _at_least(request.members, "members", 1)
    if request.epochs is not None:
        _at_least(request.epochs, "epochs", 1)
        if estimator != "cnn":
            raise InputError("epochs apply to the cnn model only", found=estimator)
    if request.k is not None:
        if not estimator.startswith("kmer"):
            raise InputError("k applies to the k-mer models only", column="k", found=estimator)
        if not 1 <= request.k <= 8:
            raise InputError(
                "k-mer size out of range", column="k", expected="1..8", found=request.k
            )
    paths = _paths(request.data)
    if kind == "kcat":
        return _train_kcat(request, paths)
    from biofab.parts.models import kind_spec, make_model

    alphabet, lo, hi = kind_spec(kind)
    target = request.target_column or SEQUENCE_TARGET
    read = [_sequence_table(p, alphabet, lo, hi, request.sequence_column, target) for p in paths]
    table = pd.concat([t[["id", "sequence", "target"]] for t, _ in read], ignore_index=True)
    notes = [note for _, note in read if note is not None]
    params: dict[str, Any] = {"seed": request.seed}
    if request.members is not None:
        params["n_members"] = request.members
    if request.epochs is not None:
        params["epochs"] = request.epochs
    if request.k is not None:
        params["k"] = request.k
    est = make_model(estimator, kind, **params)
    est.fit(table["sequence"].tolist(), table["target"].to_numpy(), progress=request.progress)
    mean, std = est.predict(table["sequence"].tolist())
    path = est.save(request.out)
    return TrainResult(
        str(path),
        kind,
        est.estimator,
        table.assign(prediction=mean, std=std),
        float(_pearson(table["target"].to_numpy(), mean)),
        round(est.fit_time_s_, 2),
        [str(path)],
        notes,
        getattr(est, "calibration_", None),
    )


def _kcat_options(request: TrainRequest, estimator: str) -> None:
    """The kcat model has its own estimator and columns: options of the sequence models
    are refused in one line rather than silently ignored (``cnn`` is only the default)."""
    given = {
        "model": estimator != "cnn",
        "epochs": request.epochs is not None,
        "k": request.k is not None,
        "sequence_column": request.sequence_column != "sequence",
    }
    ignored = [name for name, on in given.items() if on]
    if ignored:
        raise InputError(
            "option(s) of the sequence models do not apply to the kcat model",
            column=ignored[0],
            expected="with --kind kcat only --members, --seed and --target-column",
            found=", ".join(ignored),
        )


def _train_kcat(request: TrainRequest, paths: list[Path]) -> TrainResult:
    from biofab.parts.kcat import TARGET, KcatModel

    table = _kcat_table(paths, request.target_column or TARGET)
    params: dict[str, Any] = {"seed": request.seed}
    if request.members is not None:
        params["n_members"] = request.members
    est = KcatModel(**params).fit(table, progress=request.progress)
    path = est.save(request.out)
    # Coverage and error-std rank correlation on the model's internal grouped folds
    # (families held out) and out-of-bag rows: how far to trust its std.
    return TrainResult(
        str(path),
        "kcat",
        "kcat-xgboost",
        table,
        files=[str(path)],
        calibration=est.calibration_,
    )


# ---------------------------------------------------------------------------------------
# predict
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PredictRequest:
    """Predict the sequences of ``data`` (CSV/TSV, FASTA or GenBank; kcat: CSV with
    ``sequence``, ``smiles``, ``ec``) with the model directory ``model``; write ``out`` (the
    input rows plus ``prediction`` and ``std``). ``kind``: refuse a model of another kind."""

    data: Path
    model: Path
    out: Path
    sequence_column: str = "sequence"
    kind: str | None = None


@dataclass
class PredictResult:
    """The input rows with ``prediction`` and ``std`` (the model's target units)."""

    model: str
    kind: str
    estimator: str
    frame: pd.DataFrame
    files: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        return self.frame.copy()

    def to_dict(self) -> dict[str, Any]:
        mean, std = self.frame["prediction"], self.frame["std"]
        # A single-member ensemble has no std (NaN): say so instead of a number.
        no_std = bool(std.isna().all())
        extra: dict[str, Any] = {"uncertainty": "none (single-member ensemble)"} if no_std else {}
        if "warning" in self.frame.columns:
            extra["far_from_training"] = int((self.frame["warning"].fillna("") != "").sum())
        return {
            "model": self.model,
            "kind": self.kind,
            "estimator": self.estimator,
            "n": len(self.frame),
            "out": self.files[0] if self.files else None,
            "prediction_min": float(mean.min()),
            "prediction_max": float(mean.max()),
            "mean_std": None if no_std else float(std.mean()),
            **extra,
            "files": self.files,
        }

    def to_json(self) -> str:
        return _dumps(self.to_dict())


def _input_rows(data: Path, sequence_column: str, table: pd.DataFrame) -> pd.DataFrame:
    """A table keeps its own columns (sequences cleaned); FASTA/GenBank give ``id``,
    ``sequence``."""
    from biofab.parts.sequences import is_fasta, is_genbank

    head = data.read_text()[:1000] if data.is_file() else ""
    if data.is_file() and not is_fasta(data, head) and not is_genbank(data, head):
        sep = "\t" if data.suffix.lower() in (".tsv", ".tab") else ","
        frame = pd.read_csv(data, sep=sep, dtype=str, keep_default_na=False)
        frame[sequence_column] = table["sequence"].to_numpy()
        return frame
    return table


def predict(request: PredictRequest) -> PredictResult:
    """Load the model, read and check the sequences, predict, write the table."""
    from biofab.core.atomic import write_atomic
    from biofab.parts.kcat import KcatModel, read_manifest
    from biofab.parts.models import load_model

    if read_manifest(request.model).get("kind") == "kcat" and request.kind in (None, "kcat"):
        table = _kcat_table([request.data], None)
        mean, std = KcatModel.load(request.model).predict(table)
        result = PredictResult(
            str(request.model), "kcat", "kcat-xgboost", table.assign(prediction=mean, std=std)
        )
    else:
        est = load_model(request.model, request.kind)
        lo, hi = est.length_range
        table, note = _sequence_table(
            request.data, est.alphabet, lo, hi, request.sequence_column, None
        )
        # A published library keeps its id, measured target and calculator columns.
        frame = table if note else _input_rows(request.data, request.sequence_column, table)
        if hasattr(est, "predict_table"):
            # Calibrated models add the members' spread and a distance-from-training warning.
            extra = est.predict_table(table["sequence"].tolist())
            frame = frame.assign(**{c: extra[c].to_numpy() for c in extra.columns})
        else:
            mean, std = est.predict(table["sequence"].tolist())
            frame = frame.assign(prediction=mean, std=std)
        result = PredictResult(str(request.model), est.kind, est.estimator, frame)
    write_atomic(request.out, result.frame.to_csv(index=False))
    result.files = [str(request.out)]
    return result


# ---------------------------------------------------------------------------------------
# design and design_rbs
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DesignRules:
    """The lab's hard rules on every design: GC fraction range, longest single-base run,
    enzymes whose sites must not occur (both strands), other forbidden IUPAC motifs and the
    longest direct repeat (nt). None: no limit."""

    gc: tuple[float, float] = (0.0, 1.0)
    max_homopolymer: int | None = None
    enzymes: tuple[str, ...] = ()
    motifs: tuple[str, ...] = ()
    max_repeat: int | None = None

    def constraints(self, length: int | None = None) -> SequenceConstraints:
        from biofab.parts.constraints import SequenceConstraints

        return SequenceConstraints(
            length=length,
            gc=self.gc,
            max_homopolymer=self.max_homopolymer,
            enzymes=self.enzymes,
            forbidden_motifs=self.motifs,
            max_repeat=self.max_repeat,
        )


@dataclass(frozen=True)
class DesignRequest:
    """Design ``n`` sequences with the model directory ``model``: aim at ``target`` or
    ``maximize`` (exactly one), ``length`` nt (default: the commonest length of ``seeds``),
    starting from ``seeds`` (CSV or FASTA) when given, each kept within ``max_mutations`` of
    its seed; designs at least ``min_distance`` apart (Hamming), score penalised ``penalty``
    per unit of predicted std. ``out``: FASTA, with the full table as ``.csv`` beside it."""

    model: Path
    out: Path
    kind: str = "promoter"
    target: float | None = None
    maximize: bool = False
    n: int = 20
    length: int | None = None
    seeds: Path | None = None
    rules: DesignRules = DesignRules()
    min_distance: int = 5
    penalty: float = 1.0
    max_mutations: int | None = None
    steps: int = 200
    seed: int = 0
    progress: bool = False


@dataclass(frozen=True)
class DesignRbsRequest:
    """Design ``n`` RBSs of ``length`` nt (12-35) between the fixed 5'UTR ``utr`` and the
    CDS start ``cds`` (each DNA inline or a FASTA/text file) for a ``target`` OSTIR log10
    TIR (au), or the strongest (``maximize``) or weakest (``minimize``): exactly one.
    ``out``: FASTA, with the full table as ``.csv`` beside it."""

    cds: str
    out: Path
    utr: str = ""
    target: float | None = None
    maximize: bool = False
    minimize: bool = False
    n: int = 10
    length: int = 30
    rules: DesignRules = DesignRules()
    min_distance: int = 3
    steps: int = 60
    seed: int = 0
    progress: bool = False


@dataclass
class DesignResult:
    """The designs (``name``, ``sequence``, ``prediction``, ``std``, ...) and the rules."""

    designs: pd.DataFrame
    wanted: int
    constraints: list[str]
    value: str
    extra: dict[str, Any] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        return self.designs.copy()

    def to_dict(self) -> dict[str, Any]:
        some = len(self.designs) > 0
        return {
            "out": self.files[0] if self.files else None,
            "table": self.files[1] if len(self.files) > 1 else None,
            "designs": len(self.designs),
            "wanted": self.wanted,
            "constraints": self.constraints,
            "prediction_min": float(self.designs["prediction"].min()) if some else None,
            "prediction_max": float(self.designs["prediction"].max()) if some else None,
            **self.extra,
            "files": self.files,
        }

    def to_json(self) -> str:
        return _dumps(self.to_dict())

    def fasta(self) -> str:
        """The designs as FASTA, headers carrying the predicted value and std."""
        return "".join(
            f">{r.name} {self.value}={r.prediction:.4g} std={r.std:.3g}\n{r.sequence}\n"
            for r in self.designs.itertuples()
        )


def _write_designs(out: Path, result: DesignResult) -> None:
    from biofab.core.atomic import write_atomic

    table = out.with_suffix(".csv")
    _distinct(out, table)
    fasta, csv = result.fasta(), result.designs.to_csv(index=False)
    write_atomic(out, fasta)
    write_atomic(table, csv)
    result.files = [str(out), str(table)]


def _design_checks(n: int, steps: int, min_distance: int) -> None:
    _at_least(n, "n", 1)
    _at_least(steps, "steps", 1)
    _at_least(min_distance, "min_distance", 0)


def _design_predictor(est: Any, penalty: float) -> tuple[Any, bool]:
    """The model's ``predict`` for the designer, and whether the model has no std.

    A single-member ensemble's std is NaN ("none"): with a penalty on std there is
    nothing to penalise, so it is refused in one line; with ``penalty`` 0 the designer
    scores the mean alone."""
    if getattr(est, "n_members", 2) >= 2:
        return est.predict, False
    if penalty > 0:
        raise InputError(
            "the model has no std (a single-member ensemble), so the uncertainty penalty "
            "cannot apply",
            column="penalty",
            expected="--penalty 0, or a model trained with --members 2 or more",
            found=penalty,
        )

    def mean_only(sequences: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        mean, _ = est.predict(sequences)
        return mean, np.zeros(len(mean))

    return mean_only, True


def design(request: DesignRequest) -> DesignResult:
    """Design sequences with a trained model under the lab's hard rules; write them."""
    from biofab.parts.design import design_sequences
    from biofab.parts.models import load_model
    from biofab.parts.sequences import read_sequences

    if (request.target is None) == (not request.maximize):
        raise InputError("give exactly one of target and maximize", found="both or neither")
    _finite(request.target, "target")
    _design_checks(request.n, request.steps, request.min_distance)
    _distinct(request.out, request.out.with_suffix(".csv"))
    est = load_model(request.model, request.kind)
    predictor, no_std = _design_predictor(est, request.penalty)
    lo, hi = est.length_range
    length, start = request.length, None
    if request.seeds is not None:
        table = read_sequences(request.seeds, est.alphabet, min_length=lo, max_length=hi)
        start = dict(zip(table["id"].astype(str), table["sequence"], strict=True))
        length = length or int(table["sequence"].str.len().mode().iloc[0])
    if length is None or not lo <= length <= hi:
        raise InputError(
            "length outside the model's range",
            column="length",
            expected=f"{lo}..{hi} nt",
            found=length,
        )
    if start is not None:
        other = next(((k, len(v)) for k, v in start.items() if len(v) != length), None)
        if other is not None:  # a seed of another length could be neither mutated nor kept
            raise InputError(
                "seed length differs from the design length",
                file=str(request.seeds),
                column="sequence",
                expected=f"every seed {length} nt (the design length; --length sets it)",
                found=f"{other[1]} nt (seed {other[0]})",
            )
    elif request.max_mutations is not None:
        raise InputError(
            "a trust region needs seeds", column="max_mutations", expected="--seeds FILE"
        )
    constraints = request.rules.constraints(length)
    designs = design_sequences(
        predictor,
        constraints,
        target=request.target,
        maximize=request.maximize,
        n=request.n,
        length=length,
        seeds=start,
        uncertainty_penalty=request.penalty,
        min_distance=request.min_distance,
        steps=request.steps,
        seed=request.seed,
        progress=request.progress,
        max_mutations=request.max_mutations,
    )
    if no_std:
        designs = designs.assign(std=np.nan)  # the model has none; 0 would read as certainty
    nearest = int(designs["nearest_distance"].min()) if len(designs) > 1 else None
    result = DesignResult(
        designs,
        request.n,
        constraints.describe(),
        "prediction",
        {"min_pairwise_distance": nearest},
    )
    _write_designs(request.out, result)
    return result


def design_rbs(request: DesignRbsRequest) -> DesignResult:
    """Design RBSs for a translation initiation rate (OSTIR) in their mRNA context."""
    from biofab.parts.rbs import design_rbs as search

    if sum([request.target is not None, request.maximize, request.minimize]) != 1:
        raise InputError(
            "give exactly one of target, maximize and minimize", found="none or several"
        )
    _finite(request.target, "target")
    _design_checks(request.n, request.steps, request.min_distance)
    _distinct(request.out, request.out.with_suffix(".csv"))
    cds = read_dna(request.cds, "cds")
    utr = read_dna(request.utr, "utr") if request.utr.strip() else ""
    constraints = request.rules.constraints()
    designs = search(
        cds,
        upstream=utr,
        target=request.target,
        maximize=not request.minimize,
        length=request.length,
        n=request.n,
        constraints=constraints,
        min_distance=request.min_distance,
        steps=request.steps,
        seed=request.seed,
        progress=request.progress,
    )
    result = DesignResult(
        designs,
        request.n,
        designs.attrs.get("constraints", constraints.describe()),
        "log10_tir",
        {
            "model": "OSTIR log10 TIR (au)",
            "elapsed_s": round(float(designs.attrs.get("elapsed_s", 0.0)), 2),
        },
    )
    _write_designs(request.out, result)
    return result


# ---------------------------------------------------------------------------------------
# explain
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExplainRequest:
    """In-silico saturation mutagenesis of one ``sequence`` or of the first ``limit``
    sequences of ``sequences`` (CSV with ``sequence_column`` or FASTA), exactly one, with the
    model directory ``model``; ``importance``: per-position summary of |change| (``max`` |
    ``mean``); ``out``: HTML report (heatmaps and importance)."""

    model: Path
    out: Path
    sequence: str | None = None
    sequences: Path | None = None
    sequence_column: str = "sequence"
    kind: str | None = None
    importance: str = "max"
    limit: int = 20


@dataclass
class ExplainResult:
    """One mutagenesis map per sequence."""

    model: str
    estimator: str
    maps: list[MutagenesisMap]
    files: list[str] = field(default_factory=list)

    def summaries(self) -> list[dict[str, Any]]:
        """Per sequence: prediction, std, most important position (1-based), extremes."""
        return [
            {
                "name": m.name,
                "length": len(m.sequence),
                "prediction": m.reference,
                "std": m.reference_std,
                "most_important_position": int(m.importance.argmax()) + 1,
                "largest_gain": float(m.delta.max()),
                "largest_loss": float(m.delta.min()),
            }
            for m in self.maps
        ]

    def to_frame(self) -> pd.DataFrame:
        """One row per sequence (see :meth:`summaries`)."""
        return pd.DataFrame(self.summaries())

    def to_dict(self) -> dict[str, Any]:
        return {
            "out": self.files[0] if self.files else None,
            "model": self.model,
            "estimator": self.estimator,
            "sequences": self.summaries(),
            "files": self.files,
        }

    def to_json(self) -> str:
        return _dumps(self.to_dict())


def explain(request: ExplainRequest) -> ExplainResult:
    """Mutate every position to every letter, predict, write the HTML report."""
    from biofab.parts.interpret import IMPORTANCE, saturation_mutagenesis, write_report
    from biofab.parts.models import load_model
    from biofab.parts.sequences import check_sequence, read_sequences

    if (request.sequence is None) == (request.sequences is None):
        raise InputError(
            "give exactly one of a sequence and a file of sequences", found="both or neither"
        )
    if request.importance not in IMPORTANCE:
        raise InputError(
            "unknown summary",
            column="importance",
            expected=" | ".join(IMPORTANCE),
            found=request.importance,
        )
    _at_least(request.limit, "limit", 1)
    est = load_model(request.model, request.kind)
    lo, hi = est.length_range
    if request.sequences is not None:
        table = read_sequences(
            request.sequences,
            est.alphabet,
            sequence_column=request.sequence_column,
            min_length=lo,
            max_length=hi,
        )
        pairs = zip(table["id"].astype(str), table["sequence"], strict=True)
        items = list(pairs)[: request.limit]
    else:
        seq = check_sequence(request.sequence, est.alphabet, lo, hi, column="sequence")
        items = [("sequence", seq)]
    maps = [
        saturation_mutagenesis(
            est.predict, s, alphabet=est.alphabet, how=request.importance, name=name, max_length=hi
        )
        for name, s in items
    ]
    subtitle = f"model {request.model} ({est.estimator}, {est.kind}); importance: "
    write_report(request.out, maps, subtitle=subtitle + request.importance)
    return ExplainResult(str(request.model), est.estimator, maps, [str(request.out)])


# ---------------------------------------------------------------------------------------
# export
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportRequest:
    """Export the parts of ``data`` (a table with ``sequence`` [+ id/name, prediction, std,
    model], or FASTA/GenBank/SBOL3 to convert) as ``format`` (``fasta`` | ``genbank`` |
    ``sbol3``; None: from ``out``'s suffix). ``model_name``: the predictor's name when the
    table has no ``model`` column; ``detect_boxes``: annotate sigma70 -35/-10 boxes of
    promoters."""

    data: Path
    out: Path
    kind: str = "promoter"
    format: str | None = None
    model_name: str | None = None
    namespace: str = "https://biofab.example.org/parts"
    detect_boxes: bool = True


@dataclass
class ExportResult:
    """The parts exported and the format written."""

    parts: pd.DataFrame
    kind: str
    format: str
    files: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        return self.parts.copy()

    def to_dict(self) -> dict[str, Any]:
        predicted = "prediction" in self.parts and self.parts["prediction"].notna().any()
        return {
            "out": self.files[0] if self.files else None,
            "format": self.format,
            "kind": self.kind,
            "n": len(self.parts),
            "with_prediction": bool(predicted),
            "files": self.files,
        }

    def to_json(self) -> str:
        return _dumps(self.to_dict())


def export(request: ExportRequest) -> ExportResult:
    """Read and check the parts, then write them in the chosen format."""
    from biofab.parts.export import export_format, export_parts, read_export_input

    fmt = export_format(request.format, request.out)
    table = read_export_input(request.data, request.kind, model=request.model_name)
    path = export_parts(
        table,
        request.out,
        request.kind,
        fmt,
        namespace=request.namespace,
        detect_boxes=request.detect_boxes,
    )
    return ExportResult(table, request.kind, fmt, [str(path)])


# ---------------------------------------------------------------------------------------
# signal peptides and secretion
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignalPeptidesRequest:
    """Rank the natural Sec signal peptides of ``proteome`` (protein FASTA; SPs up to
    ``max_len`` aa, 15-60) and ``generate`` rule-passing variants of them for fusion to the
    ``mature`` protein (inline or FASTA file, without its own SP), by rule score or, with
    ``model`` (a ``signal_peptide`` model directory), by its prediction; write the top ``n``
    as CSV to ``out``."""

    proteome: Path
    mature: str
    out: Path
    model: Path | None = None
    n: int = 20
    generate: int = 50
    max_len: int = 40
    seed: int = 0


@dataclass
class SignalPeptidesResult:
    """The top candidates, best first, and how many were natural and generated."""

    ranked: pd.DataFrame
    natural: int
    generated: int
    model: str | None
    files: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        return self.ranked.copy()

    def to_dict(self) -> dict[str, Any]:
        top = self.ranked.iloc[0]
        return {
            "out": self.files[0] if self.files else None,
            "natural": self.natural,
            "generated": self.generated,
            "written": len(self.ranked),
            "model": self.model,
            "best": {"id": top["id"], "sequence": top["sequence"], "origin": top["origin"]},
            "files": self.files,
        }

    def to_json(self) -> str:
        return _dumps(self.to_dict())


def signal_peptides(request: SignalPeptidesRequest) -> SignalPeptidesResult:
    """Mine, generate, rank and write signal peptide candidates."""
    from biofab.core.atomic import write_atomic
    from biofab.parts.signal_peptide import (
        extract_candidates,
        generate_candidates,
        rank_candidates,
    )

    _at_least(request.n, "n", 1)
    _at_least(request.generate, "generate", 0)
    if not 15 <= request.max_len <= 60:
        raise InputError("max_len out of range", expected="15..60 aa", found=request.max_len)
    mature = read_protein(request.mature, "mature")
    natural = extract_candidates(request.proteome, max_len=request.max_len)
    if len(natural) == 0:
        raise InputError(
            "no protein in the proteome starts with a rule-passing signal peptide",
            file=str(request.proteome),
            expected="at least one Sec signal peptide",
            found="0",
        )
    frames = [natural]
    if request.generate:
        frames.append(generate_candidates(natural, request.generate, seed=request.seed))
    pool = pd.concat(frames, ignore_index=True)
    ranked = rank_candidates(pool, mature, model=request.model).head(request.n)
    write_atomic(request.out, ranked.to_csv(index=False))
    return SignalPeptidesResult(
        ranked,
        len(natural),
        len(frames[1]) if request.generate else 0,
        None if request.model is None else str(request.model),
        [str(request.out)],
    )


SECRETION_ESTIMATORS = ("auto", "matrix", "ridge", "boost")


@dataclass(frozen=True)
class SecretionFitRequest:
    """Fit a secretion model on ``data`` and write it as JSON to ``out``.

    ``data``: a long CSV/TSV with the three named columns (+ ``sequence``,
    ``mature_sequence`` and ``family`` for a sequence model), or, with ``wu2020``, the Wu
    2020 table (verified rows, z-scored per condition), whose sequences come from the
    ``sequences`` (SP id -> sequence) and ``proteins`` (protein id -> mature sequence)
    tables. ``estimator``: ``matrix`` (:class:`~biofab.parts.secretion.SecretionMatrix`,
    SPs by id, ``rank`` factors, ``n_boot`` members), ``ridge``/``boost``
    (:class:`~biofab.parts.secretion_sequence.SequenceSecretionModel` over ``enzyme``
    groups: family, id or none), ``auto`` = ridge when sequences are there, else matrix."""

    data: Path
    out: Path
    wu2020: bool = False
    sp_column: str = "sp_id"
    protein_column: str = "protein_id"
    activity_column: str = "activity"
    rank: int = 2
    n_boot: int = 20
    seed: int = 0
    sequences: Path | None = None
    proteins: Path | None = None
    estimator: str = "auto"
    enzyme: str = "family"


@dataclass
class SecretionFitResult:
    """The fitted secretion model (matrix or sequence) and its training cells."""

    model: Any
    cells: pd.DataFrame
    files: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        """The training cells: ``sp_id``, ``protein_id``, ``activity`` (+ sequences)."""
        return self.cells.copy()

    def to_dict(self) -> dict[str, Any]:
        est = self.model
        common = {
            "out": self.files[0] if self.files else None,
            "signal_peptides": int(self.cells["sp_id"].nunique()),
            "proteins": int(self.cells["protein_id"].nunique()),
            "cells": int(est.n_cells_),
        }
        if hasattr(est, "rank"):
            return {
                **common,
                "estimator": "matrix",
                "rank": est.rank,
                "n_boot": est.n_boot,
                "files": self.files,
            }
        return {
            **common,
            "estimator": est.estimator,
            "enzyme": est.enzyme,
            "members": est.n_members,
            "alpha": est.alpha_ if est.estimator == "ridge" else None,
            # Held-out coverage of +-1 std on the training data's own folds (grouped by SP),
            # before and after the variance scaling the model applies.
            "calibration": est.calibration_,
            "files": self.files,
        }

    def to_json(self) -> str:
        return _dumps(self.to_dict())


def _secretion_cells(request: SecretionFitRequest) -> pd.DataFrame:
    if not request.wu2020 and (request.sequences is not None or request.proteins is not None):
        # they were silently ignored: the sequences of a user's own table are its columns
        raise InputError(
            "sequence tables apply to the Wu 2020 table only",
            column="sequences" if request.sequences is not None else "proteins",
            expected="--wu2020 with --sequences and --proteins, or sequence and "
            "mature_sequence columns in DATA",
            found="no --wu2020",
        )
    if request.wu2020:
        from biofab.parts.datasets import load_wu2020
        from biofab.parts.secretion import wu2020_activity, wu2020_cells

        if (request.sequences is None) != (request.proteins is None):
            raise InputError(
                "give both sequence tables or neither",
                expected="--sequences SP_CSV and --proteins PROTEIN_CSV",
                found=f"only {'--sequences' if request.sequences else '--proteins'}",
            )
        readings = load_wu2020(request.data, sequences=request.sequences, proteins=request.proteins)
        return wu2020_cells(readings) if request.sequences else wu2020_activity(readings)
    named = {
        request.sp_column: "sp_id",
        request.protein_column: "protein_id",
        request.activity_column: "activity",
    }
    frame = _read_table(request.data)
    have = [str(c) for c in frame.columns]
    for name, role in named.items():
        if name not in frame.columns:
            from biofab.parts.datasets import WU2020_COLUMNS

            hint = (
                " (this is the Wu 2020 table: add --wu2020)"
                if set(WU2020_COLUMNS) <= set(have)
                else ""
            )
            option = "--" + {"sp_id": "sp", "protein_id": "protein"}.get(role, role) + "-column"
            raise InputError(
                "missing column",
                file=str(request.data),
                column=name,
                expected=f"a column '{name}' ({option} names another){hint}",
                found="columns " + ", ".join(have[:12]) + (" ..." if len(have) > 12 else ""),
            )
    return frame.rename(columns=named)


def _secretion_estimator(request: SecretionFitRequest, cells: pd.DataFrame) -> str:
    if request.estimator not in SECRETION_ESTIMATORS:
        raise InputError(
            "unknown secretion estimator",
            expected=", ".join(SECRETION_ESTIMATORS),
            found=request.estimator,
        )
    has_seq = {"sequence", "mature_sequence"} <= set(cells.columns)
    if request.estimator == "auto":
        return "ridge" if has_seq else "matrix"
    if request.estimator != "matrix" and not has_seq:
        missing = "sequence" if "sequence" not in cells.columns else "mature_sequence"
        raise InputError(
            f"a {request.estimator} secretion model needs sequences",
            file=str(request.data),
            column=missing,
            expected="columns sequence and mature_sequence (or --wu2020 with "
            "--sequences and --proteins)",
        )
    return request.estimator


def secretion_fit(request: SecretionFitRequest) -> SecretionFitResult:
    """Read the readings, fit the matrix or sequence model, write its JSON."""
    from biofab.core.atomic import write_atomic

    _at_least(request.rank, "rank", 0)
    _at_least(request.n_boot, "n_boot", 0)
    cells = _secretion_cells(request)
    kind = _secretion_estimator(request, cells)
    # an option of the other estimator was silently ignored; defaults: rank 2, family
    other = "rank" if kind != "matrix" and request.rank != 2 else None
    if kind == "matrix" and request.enzyme != "family":
        other = "enzyme"
    if other is not None:
        raise InputError(
            f"{other} does not apply to the {kind} secretion model",
            column=other,
            expected="rank with the matrix (SPs by id), enzyme with ridge or boost (sequences)",
            found=getattr(request, other),
        )
    est: Any
    if kind == "matrix":
        from biofab.parts.secretion import SecretionMatrix

        est = SecretionMatrix(rank=request.rank, n_boot=request.n_boot, seed=request.seed)
        est.fit(cells)
    else:
        from biofab.parts.secretion_sequence import SequenceSecretionModel

        _at_least(request.n_boot, "n_boot", 2)
        est = SequenceSecretionModel(
            estimator=kind, enzyme=request.enzyme, n_members=request.n_boot, seed=request.seed
        ).fit(cells)
    write_atomic(request.out, json.dumps(est.to_dict()) + "\n")
    return SecretionFitResult(est, cells, [str(request.out)])


@dataclass(frozen=True)
class SecretionPredictRequest:
    """Rank SPs for ``protein`` with the secretion model JSON ``model``; write a CSV.

    A matrix model ranks the SPs it was fitted on for a training protein. A sequence
    model ranks its training SPs, or the never-measured ``candidates`` (FASTA or CSV with
    ``sequence``), for a training protein or, given its ``mature`` sequence (inline or
    FASTA) and ``family``, a new one."""

    model: Path
    protein: str
    out: Path
    candidates: Path | None = None
    mature: str | None = None
    family: str | None = None


@dataclass
class SecretionPredictResult:
    """SPs for the protein: predicted activity and std (and the measured value for a
    matrix model), best first."""

    protein: str
    ranked: pd.DataFrame
    files: list[str] = field(default_factory=list)
    #: what the user should know about how the ranking was made (e.g. an unknown family)
    notes: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        return self.ranked.copy()

    def to_dict(self) -> dict[str, Any]:
        best = self.ranked.iloc[0]
        return {
            "out": self.files[0] if self.files else None,
            "protein": self.protein,
            "n": len(self.ranked),
            "best": {
                "sp_id": best["sp_id"],
                "prediction": float(best["prediction"]),
                "std": float(best["std"]),
            },
            "notes": self.notes,
            "files": self.files,
        }

    def to_json(self) -> str:
        return _dumps(self.to_dict())


def _candidate_sps(path: Path) -> pd.DataFrame:
    from biofab.parts.sequences import read_sequences

    id_column = None
    if path.suffix.lower() in (".csv", ".tsv", ".tab"):
        header = _read_table(path).columns
        id_column = next((c for c in ("sp_id", "id") if c in header), None)
    table = read_sequences(path, "protein", id_column=id_column, min_length=5, max_length=80)
    return pd.DataFrame({"sp_id": table["id"].astype(str), "sequence": table["sequence"]})


def secretion_predict(request: SecretionPredictRequest) -> SecretionPredictResult:
    """Load the model JSON, rank the SPs for the protein, write the ranking."""
    from biofab.core.atomic import write_atomic
    from biofab.parts.secretion import SecretionMatrix
    from biofab.parts.secretion_sequence import FORMAT, SequenceSecretionModel
    from biofab.parts.sequences import read_text_file

    text = read_text_file(request.model, "a secretion model JSON")
    try:
        state = json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError("unreadable model JSON", file=str(request.model), found=err.msg) from None
    notes = []
    if isinstance(state, dict) and state.get("format") == FORMAT:
        model = SequenceSecretionModel.from_dict(state)
        sps = None if request.candidates is None else _candidate_sps(request.candidates)
        mature = None if request.mature is None else read_protein(request.mature, "mature")
        ranked = model.rank_signal_peptides(request.protein, sps, mature, request.family)
        groups = list(getattr(model, "groups_", []))
        if model.enzyme == "family" and request.family and request.family not in groups:
            # allowed (a new family), but a typo would silently lose the family's terms
            notes.append(
                f"family '{request.family}' is not one the model was trained on "
                f"({', '.join(groups)}): ranked without family terms"
            )
    else:
        if request.candidates is not None or request.mature is not None or request.family:
            raise InputError(
                "a matrix model knows SPs and proteins by id only",
                file=str(request.model),
                expected="a sequence model (secretion-fit --estimator ridge) for new sequences "
                "or a family",
            )
        ranked = SecretionMatrix.from_dict(state).rank_signal_peptides(request.protein)
    write_atomic(request.out, ranked.to_csv(index=False))
    return SecretionPredictResult(request.protein, ranked, [str(request.out)], notes)
