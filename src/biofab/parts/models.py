"""Sequence -> function models with uncertainty: k-mer ridge, k-mer boosting, CNN ensemble.

Every estimator is built for one *kind* of part, which fixes the alphabet and
the default length range it accepts:

========================  ========  ============
kind                      alphabet  length range
========================  ========  ============
``promoter``              DNA       50-200 nt
``rbs`` (5' UTR)          DNA       15-300 nt
``signal_peptide``        protein   10-80 aa
========================  ========  ============

``fit(sequences, y)`` checks every sequence (one-line ``InputError`` naming the
row) and returns the estimator; ``predict(sequences)`` returns ``(mean, std)``
in ``y``'s units, where ``std`` is the spread of an ensemble (bootstrap
resamples for the k-mer models, independently initialised networks for the
CNN): epistemic uncertainty, not measurement noise. The k-mer models, the CNN
(both through ``_Calibrated``) and ``PhysicsResidual`` scale it on grouped
out-of-fold errors so that ±1 std covers about 68 % of a new library's errors
(``calibration_``).

``save(directory)`` writes a model directory: ``manifest.json`` (format,
estimator, kind, alphabet, length range, hyper-parameters, training size) and
the fitted state in plain formats (``.npz``, XGBoost JSON, torch
``state_dict``; no pickle). :func:`load_model` reads any of them back and
refuses, in one line, a directory of another kind or estimator.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np

from biofab.core.atomic import require_folder
from biofab.core.errors import InputError, NotEnoughDataError
from biofab.parts.encoding import kmer_counts, one_hot
from biofab.parts.sequences import alphabet_letters, check_sequences

MANIFEST = "manifest.json"
FORMAT = "biofab.parts.model"
FORMAT_VERSION = 1

#: kind -> (alphabet, default min length, default max length)
KINDS: dict[str, tuple[str, int, int]] = {
    "promoter": ("dna", 50, 200),
    "rbs": ("dna", 15, 300),
    "signal_peptide": ("protein", 10, 80),
}


#: Where a calibrated model's "far from training" begins (``_Calibrated.novelty_threshold``).
NOVELTY_THRESHOLDS = ("training", "held-out", "off")


def kind_spec(kind: str) -> tuple[str, int, int]:
    """``(alphabet, min_length, max_length)`` of a kind; unknown kinds raise ``InputError``."""
    try:
        return KINDS[kind]
    except KeyError:
        raise InputError("unknown part kind", expected=" | ".join(KINDS), found=kind) from None


class SequenceModel:
    """Shared behaviour: checking sequences, the manifest, save and load.

    Subclasses set ``estimator`` (the manifest's name) and implement
    ``_fit(seqs, y)``, ``_predict_members(seqs) -> (k, n)``, ``_save_state(dir)``
    and ``_load_state(dir)``.
    """

    estimator: ClassVar[str] = ""

    def __init__(
        self,
        kind: str = "promoter",
        min_length: int | None = None,
        max_length: int | None = None,
        seed: int = 0,
    ) -> None:
        self.kind = kind
        self.min_length = min_length
        self.max_length = max_length
        self.seed = seed

    # -- parameters ---------------------------------------------------------------------
    def get_params(self) -> dict[str, Any]:
        """Constructor arguments (JSON-able), as scikit-learn's ``get_params``."""
        import inspect

        names = [
            p
            for cls in type(self).__mro__
            if cls is not object
            for p, spec in inspect.signature(cls.__init__).parameters.items()  # type: ignore[misc]
            if p != "self" and spec.kind is not spec.VAR_KEYWORD  # forwarded: named above
        ]
        return {n: getattr(self, n) for n in dict.fromkeys(names)}

    @property
    def alphabet(self) -> str:
        """``"dna"`` or ``"protein"``, from the kind."""
        return kind_spec(self.kind)[0]

    @property
    def length_range(self) -> tuple[int, int]:
        """Accepted ``(min, max)`` sequence length (nt or aa), inclusive."""
        _, lo, hi = kind_spec(self.kind)
        return (
            lo if self.min_length is None else self.min_length,
            hi if self.max_length is None else self.max_length,
        )

    def check(self, sequences: Sequence[str], file: str | None = None) -> list[str]:
        """Sequences checked against this model's alphabet and length range."""
        lo, hi = self.length_range
        return check_sequences(list(sequences), self.alphabet, lo, hi, file=file)

    # -- fit / predict ------------------------------------------------------------------
    def fit(
        self, sequences: Sequence[str], y: Sequence[float] | np.ndarray, *, progress: bool = False
    ) -> Self:
        """Train on ``sequences`` and their measured values ``y`` (any units; kept as given).

        ``progress``: report each trained ensemble member (``biofab.core.progress``).
        """
        seqs = self.check(sequences)
        ya = np.asarray(y, dtype=float).ravel()
        if len(ya) != len(seqs):
            raise InputError(
                "sequences and targets differ in number",
                expected=f"{len(seqs)} targets",
                found=len(ya),
            )
        if not np.isfinite(ya).all():
            row = int(np.flatnonzero(~np.isfinite(ya))[0]) + 1
            raise InputError("target is not a finite number", row=row, found=str(ya[row - 1]))
        if len(seqs) < 10:
            raise NotEnoughDataError(
                f"{self.estimator} needs at least 10 sequences, got {len(seqs)}"
            )
        from biofab.core.progress import progress as reporter

        t = time.perf_counter()
        total = self._progress_total()
        label = f"{self.estimator} {self.kind}: {len(seqs)} sequences, {self._progress_unit()}"
        with reporter(label, total, enabled=progress) as self._steps:
            self._fit(seqs, ya)
        del self._steps
        self.fit_time_s_ = time.perf_counter() - t
        self.n_train_ = len(seqs)
        lengths = [len(s) for s in seqs]
        self.train_lengths_ = (min(lengths), max(lengths))
        return self

    def predict_members(self, sequences: Sequence[str]) -> np.ndarray:
        """Each ensemble member's prediction ``(k, n)``, in ``y``'s units."""
        if not hasattr(self, "n_train_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted; call fit first")
        return self._predict_members(self.check(sequences))

    def predict(self, sequences: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Ensemble mean and std ``(n,)`` each, in ``y``'s units (std: ddof=1 across members).

        A single-member model has no uncertainty to report: its std is NaN ("none"),
        never 0, which would read as certainty."""
        P = self.predict_members(sequences)
        std = P.std(axis=0, ddof=1) if len(P) > 1 else np.full(P.shape[1], np.nan)
        return P.mean(axis=0), std

    def _fit(self, seqs: list[str], y: np.ndarray) -> None:
        raise NotImplementedError

    def _progress_total(self) -> int | None:
        """Steps :meth:`fit` reports: one per ensemble member."""
        return getattr(self, "n_members", None)

    def _progress_unit(self) -> str:
        return "members"

    def _member_done(self, note: str = "") -> None:
        """Called by ``_fit`` after each ensemble member (progress, when asked)."""
        steps = getattr(self, "_steps", None)
        if steps is not None:
            steps.advance(note=note)

    def _predict_members(self, seqs: list[str]) -> np.ndarray:
        raise NotImplementedError

    def _save_state(self, directory: Path) -> None:
        raise NotImplementedError

    def _load_state(self, directory: Path) -> None:
        raise NotImplementedError

    # -- persistence --------------------------------------------------------------------
    def manifest(self) -> dict[str, Any]:
        """What ``manifest.json`` records about this fitted model."""
        lo, hi = self.length_range
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "estimator": self.estimator,
            "kind": self.kind,
            "alphabet": self.alphabet,
            "length_range": [lo, hi],
            "params": self.get_params(),
            "n_train": getattr(self, "n_train_", None),
            "train_lengths": list(getattr(self, "train_lengths_", ())),
            "fit_time_s": getattr(self, "fit_time_s_", None),
        }

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write the model directory atomically; returns its path.

        The files go to a temporary directory beside ``directory``, which then
        replaces it. An existing directory is replaced only if it is itself a
        model directory (has a manifest) or empty; anything else raises
        ``InputError`` so a user's folder is never overwritten.
        """
        if not hasattr(self, "n_train_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted; call fit first")
        target = Path(directory)
        if target.exists() and not (
            target.is_dir() and ((target / MANIFEST).is_file() or not any(target.iterdir()))
        ):
            raise InputError(
                "output exists and is not a model directory",
                file=str(target),
                expected="a new path or a model directory to replace",
            )
        require_folder(target)  # the folder above the model directory: never made silently
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            self._save_state(tmp)
            (tmp / MANIFEST).write_text(json.dumps(self.manifest(), indent=2) + "\n")
            if target.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
                os.replace(target, old / "model")
                os.replace(tmp, target)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return target

    @classmethod
    def load(cls, directory: str | os.PathLike[str], kind: str | None = None) -> Self:
        """Read a directory written by :meth:`save` (this estimator; of ``kind`` if given)."""
        manifest = read_manifest(directory, kind)
        if manifest["estimator"] != cls.estimator:
            raise InputError(
                "model directory holds another estimator",
                file=str(directory),
                expected=cls.estimator,
                found=manifest["estimator"],
            )
        model = cls(**manifest["params"])
        model._load_state(Path(directory))
        model.n_train_ = manifest["n_train"]
        model.train_lengths_ = tuple(manifest["train_lengths"])
        model.fit_time_s_ = float(manifest.get("fit_time_s") or "nan")
        return model


def read_manifest(directory: str | os.PathLike[str], kind: str | None = None) -> dict[str, Any]:
    """The manifest of a model directory, checked (format, and ``kind`` when given)."""
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise InputError(
            "not a biofab parts model directory",
            file=str(directory),
            expected=f"a directory with {MANIFEST}",
        )
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise InputError("unreadable manifest", file=str(path), found=err.msg) from None
    if isinstance(manifest, dict) and manifest.get("kind") == "kcat" and "format" not in manifest:
        # a kcat model (biofab.parts.kcat) scores enzyme-substrate pairs, not sequences
        # alone: it predicts (`parts predict`) but cannot design, explain or take --kind
        raise InputError(
            "a kcat model cannot be used here",
            file=str(directory),
            expected=f"a {kind or 'promoter, rbs or signal_peptide'} sequence model",
            found="kcat",
        )
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise InputError("not a biofab parts model manifest", file=str(path), expected=FORMAT)
    if manifest.get("format_version", 0) > FORMAT_VERSION:
        raise InputError(
            "model written by a newer biofab",
            file=str(path),
            expected=f"format_version <= {FORMAT_VERSION}",
            found=manifest.get("format_version"),
        )
    if kind is not None and manifest.get("kind") != kind:
        raise InputError(
            "model directory is for another kind of part",
            file=str(directory),
            expected=kind,
            found=manifest.get("kind"),
        )
    return manifest


def load_model(directory: str | os.PathLike[str], kind: str | None = None) -> SequenceModel:
    """Load any parts model directory; ``kind`` (when given) must match its manifest."""
    manifest = read_manifest(directory, kind)
    cls = ESTIMATORS.get(str(manifest.get("estimator")))
    if cls is None:
        raise InputError(
            "unknown estimator in model directory",
            file=str(directory),
            expected=" | ".join(ESTIMATORS),
            found=manifest.get("estimator"),
        )
    return cls.load(directory, kind)


# -- grouped-fold calibration (k-mer models, CNN) -----------------------------------------


class _Calibrated(SequenceModel):
    """An ensemble whose ``std`` is calibrated on grouped out-of-fold errors.

    Subclasses implement ``_fit_members(seqs, y)`` (train ``n_members`` members, calling
    ``_member_done`` after each) and ``_predict_members(seqs) -> (k, n)``, and set the
    hyper-parameters through this ``__init__`` (``n_members``, ``calibration_folds``,
    ``calibration_groups``, ``calibration_clusters``, ``error_descriptors``,
    ``error_model``, ``novelty_threshold``).

    ``calibration_folds`` grouped folds of the training rows give out-of-fold errors of
    the same model (a copy refitted on each fold's training rows);
    ``calibration_groups="kmer-clusters"`` holds out whole clusters of k-mer composition
    (:func:`biofab.parts.calibration.composition_groups`, ``calibration_clusters``
    k-means clusters of 3-mer frequencies on DNA, 2-mers on protein), so the errors are
    those of sequences unlike the training ones; ``"random"``: plain KFold.
    :class:`biofab.parts.calibration.ErrorScale` learns their size from the members'
    spread (log) and the prediction (``error_descriptors="spread"``; ``"spread-only"``:
    the spread alone; ``"distance"`` adds the composition distance from the fold's
    training rows), scaled so ±1 std holds 68.3 % of them; ``error_model="scale"``: no
    error model, ``std = factor * spread`` (variance scaling; keeps the spread's
    ranking). Sequences far from training (:class:`biofab.parts.calibration.Novelty`)
    get their std multiplied and a warning (:meth:`predict_table`); the mean is never
    changed; ``novelty_threshold`` sets where "far" begins: ``"training"``, the 99th
    percentile of the training rows' own composition scores; ``"held-out"``, of the
    calibration folds' held-out rows' scores against their fold's training rows (further
    than a new composition cluster of the training library); ``"off"``, composition never
    widens (length still does). ``calibration_`` holds the out-of-fold coverage,
    Spearman(|error|, std) and Pearson r, calibrated and raw, and both thresholds.
    ``calibration_folds=0``: no calibration, std = the members' spread -- also what a model
    saved before calibration existed reports when loaded. A one-member ensemble has no
    spread to scale: no calibration, std NaN.
    """

    def __init__(
        self,
        kind: str = "promoter",
        n_members: int = 5,
        min_length: int | None = None,
        max_length: int | None = None,
        seed: int = 0,
        calibration_folds: int = 3,
        calibration_groups: str = "kmer-clusters",
        calibration_clusters: int = 20,
        error_descriptors: str = "spread",
        error_model: str = "scale",
        novelty_threshold: str = "training",
    ) -> None:
        super().__init__(kind, min_length, max_length, seed)
        self.n_members = n_members
        self.calibration_folds = calibration_folds
        self.calibration_groups = calibration_groups
        self.calibration_clusters = calibration_clusters
        self.error_descriptors = error_descriptors
        self.error_model = error_model
        self.novelty_threshold = novelty_threshold

    # -- calibration --------------------------------------------------------------------
    def _fit_members(self, seqs: list[str], y: np.ndarray) -> None:
        raise NotImplementedError

    def _novelty_k(self) -> int:
        """Composition k-mer size of the novelty score and the clusters: 3 on DNA, 2 on
        protein (8,000 amino-acid 3-mers would be mostly empty)."""
        return 3 if self.alphabet == "dna" else 2

    def _check_calibration(self) -> None:
        if not isinstance(self.calibration_folds, int) or not (
            self.calibration_folds == 0 or self.calibration_folds >= 2
        ):
            raise InputError(
                "calibration_folds must be 0 (no calibration) or at least 2",
                column="calibration_folds",
                found=self.calibration_folds,
            )
        if self.calibration_groups not in ("kmer-clusters", "random"):
            raise InputError(
                "unknown calibration_groups",
                expected="kmer-clusters | random",
                found=self.calibration_groups,
            )
        if not isinstance(self.calibration_clusters, int) or self.calibration_clusters < 2:
            raise InputError(
                "calibration_clusters must be an integer >= 2",
                column="calibration_clusters",
                found=self.calibration_clusters,
            )
        if self.error_model not in ("linear", "scale"):
            raise InputError(
                "unknown error_model", expected="linear | scale", found=self.error_model
            )
        if self.novelty_threshold not in NOVELTY_THRESHOLDS:
            raise InputError(
                "unknown novelty_threshold",
                expected=" | ".join(NOVELTY_THRESHOLDS),
                found=self.novelty_threshold,
            )
        if self.error_descriptors not in ("spread", "spread-only", "distance"):
            raise InputError(
                "unknown error_descriptors",
                expected="spread | spread-only | distance",
                found=self.error_descriptors,
            )
        if self.error_model == "scale" and self.error_descriptors == "distance":
            # variance scaling reads the spread alone; the distance would be ignored
            raise InputError(
                "error_descriptors 'distance' needs error_model 'linear'",
                column="error_descriptors",
                found=f"distance with error_model {self.error_model!r}",
            )

    def _calibrates(self) -> bool:
        return bool(self.calibration_folds) and self.n_members > 1

    def _progress_total(self) -> int | None:
        # Calibration refits every member on each fold first (most of the time on a
        # large k): those fits are steps too, so a long run is never silent.
        folds = self.calibration_folds if self._calibrates() else 0
        return self.n_members * (folds + 1)

    def _progress_unit(self) -> str:
        if self._calibrates():
            return f"members over {self.calibration_folds} calibration folds + the final fit"
        return "members"

    def _fit(self, seqs: list[str], y: np.ndarray) -> None:
        self._check_calibration()
        self.error_: Any = None
        self.novelty_: Any = None
        self.calibration_: dict[str, Any] | None = None
        # One member has no spread to scale: it reports no std (NaN), as it always did.
        if self._calibrates():
            self._calibrate(seqs, y)
        self._fit_members(seqs, y)

    def _calibration_splits(self, seqs: list[str]) -> tuple[list[Any], str]:
        from sklearn.model_selection import GroupKFold, KFold

        k = self.calibration_folds
        rows = np.arange(len(seqs))
        if self.calibration_groups == "kmer-clusters":
            from biofab.parts.calibration import composition_groups

            groups = composition_groups(
                seqs, self.calibration_clusters, self.alphabet, self._novelty_k(), self.seed
            )
            if len(set(groups)) >= k:
                how = (
                    f"GroupKFold({k}) over {len(set(groups))} k-means clusters of "
                    f"{self._novelty_k()}-mer composition"
                )
                return list(GroupKFold(k).split(rows, groups=groups)), how
        splits = list(KFold(k, shuffle=True, random_state=self.seed).split(rows))
        return splits, f"KFold({k}), shuffled"

    def _descriptors(
        self, seqs: list[str], mean: np.ndarray, spread: np.ndarray, novelty: Any
    ) -> np.ndarray:
        """What the error model reads: log spread and the prediction (``"spread"``), log
        spread alone (``"spread-only"``), or log spread, prediction and the log composition
        distance from the training rows (``"distance"``). Variance scaling
        (``error_model="scale"``) reads the log spread alone."""
        if self.error_descriptors == "spread-only" or self.error_model == "scale":
            return np.log(spread + 1e-3)[:, None]
        cols = [np.log(spread + 1e-3), mean]
        if self.error_descriptors == "distance":
            cols.append(np.log(novelty.score(seqs) + 1e-3))
        return np.column_stack(cols)

    def _calibrate(self, seqs: list[str], y: np.ndarray) -> None:
        """Out-of-fold errors of the same model on grouped folds -> ``error_``,
        ``novelty_`` and ``calibration_``."""
        from biofab.parts.calibration import ErrorScale, Novelty, interval_report

        splits, how = self._calibration_splits(seqs)
        params = {**self.get_params(), "calibration_folds": 0}
        mean, spread, held = np.zeros(len(y)), np.zeros(len(y)), np.zeros(len(y))
        width = {"spread-only": 1, "spread": 2}.get(self.error_descriptors, 3)
        D = np.zeros((len(y), 1 if self.error_model == "scale" else width))
        for tr, te in splits:
            sub = type(self)(**params)
            if hasattr(self, "_steps"):
                sub._steps = self._steps  # its member fits are our progress steps
            sub._fit_members([seqs[i] for i in tr], y[tr])
            te_seqs = [seqs[i] for i in te]
            P = sub._predict_members(te_seqs)
            mean[te] = P.mean(axis=0)
            spread[te] = P.std(axis=0, ddof=1) if len(P) > 1 else 0.0
            nov = Novelty(self.alphabet, self._novelty_k()).fit([seqs[i] for i in tr])
            D[te] = self._descriptors(te_seqs, mean[te], spread[te], nov)
            held[te] = nov.score(te_seqs)  # a new cluster's distance from its training rows
        err = np.abs(y - mean)
        self.error_ = ErrorScale(self.error_model).fit(D, err)
        self.novelty_ = Novelty(self.alphabet, self._novelty_k()).fit(seqs)
        thresholds = {"training": self.novelty_.threshold_}
        thresholds["held-out"] = Novelty.threshold_of(held)
        thresholds["off"] = float("inf")
        self.novelty_.threshold_ = thresholds[self.novelty_threshold]
        r = np.corrcoef(y, mean)[0, 1] if np.ptp(mean) > 0 else float("nan")
        self.calibration_ = {
            "split": how,
            "folds": self.calibration_folds,
            **interval_report(y, mean, self.error_.std(D)),
            "pearson_r": round(float(r), 4),
            "uncalibrated": interval_report(y, mean, spread),
            "novelty_threshold": {
                "used": self.novelty_threshold,
                "training": round(thresholds["training"], 4),
                "held-out": round(thresholds["held-out"], 4),
            },
        }

    # -- prediction ---------------------------------------------------------------------
    def predict(self, sequences: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Mean ``(n,)`` (the members' mean) and std ``(n,)`` in ``y``'s units: calibrated
        and widened far from training, or the members' spread when not calibrated."""
        if getattr(self, "error_", None) is None:
            return super().predict(sequences)
        table = self.predict_table(sequences)
        return table["prediction"].to_numpy(), table["std"].to_numpy()

    def predict_table(self, sequences: Sequence[str]) -> Any:
        """``prediction``, ``std``, ``ensemble_std`` (members' spread),
        ``distance_factor`` (std multiplier for distance from training, >= 1) and
        ``warning`` ("" or why a sequence is far from training). Not calibrated (a model
        saved before calibration existed, or ``calibration_folds=0``): ``prediction`` and
        ``std`` (the spread) only, as such a model always wrote."""
        import pandas as pd

        if not hasattr(self, "n_train_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted; call fit first")
        seqs = self.check(sequences)
        P = self._predict_members(seqs)
        mean = P.mean(axis=0)
        spread = P.std(axis=0, ddof=1) if len(P) > 1 else np.full(len(seqs), np.nan)
        if getattr(self, "error_", None) is None:
            return pd.DataFrame({"prediction": mean, "std": spread})
        factor = self.novelty_.factor(seqs)
        D = self._descriptors(seqs, mean, spread, self.novelty_)
        std, warn = self.error_.std(D) * factor, self.novelty_.warnings(seqs)
        return pd.DataFrame(
            {
                "prediction": mean,
                "std": std,
                "ensemble_std": spread,
                "distance_factor": factor,
                "warning": warn,
            }
        )

    # -- persistence --------------------------------------------------------------------
    def manifest(self) -> dict[str, Any]:
        out = super().manifest()
        out["calibration"] = getattr(self, "calibration_", None)
        return out

    def _save_calibration(self, directory: Path) -> None:
        if getattr(self, "error_", None) is None:
            return
        arrays = {f"error_{k}": v for k, v in self.error_.state().items()}
        arrays.update({f"novelty_{k}": v for k, v in self.novelty_.state().items()})
        np.savez(directory / "calibration.npz", **arrays)
        (directory / "calibration.json").write_text(json.dumps(self.calibration_, indent=2))

    def _load_calibration(self, directory: Path) -> None:
        from biofab.parts.calibration import ErrorScale, Novelty

        self.error_, self.novelty_, self.calibration_ = None, None, None
        if not (directory / "calibration.npz").is_file():
            # Saved before calibration existed (or with calibration_folds=0): the old
            # behaviour, std = the members' spread.
            self.calibration_folds = 0
            return
        with np.load(directory / "calibration.npz") as z:
            err = {k[len("error_") :]: z[k] for k in z.files if k.startswith("error_")}
            # a single-member model saves no error model (it has no std)
            self.error_ = ErrorScale.from_state(err) if err else None
            self.novelty_ = Novelty.from_state(
                {k[len("novelty_") :]: z[k] for k in z.files if k.startswith("novelty_")}
            )
        self.calibration_ = json.loads((directory / "calibration.json").read_text())


# -- k-mer models -------------------------------------------------------------------------


def _bootstrap(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, n, size=n)


class _KmerModel(_Calibrated):
    """k-mer counts of sizes ``1..k`` as features (column-scaled to unit variance).

    ``std`` is calibrated on grouped out-of-fold errors (:class:`_Calibrated`, whose
    ``calibration_folds=3``, ``calibration_groups``, ``calibration_clusters``,
    ``error_descriptors``, ``error_model`` and ``novelty_threshold`` it takes as
    keywords); the bootstrap spread alone covered 4-26 % of the errors on LaFleur's
    new-element splits (BENCHMARKS.md).
    """

    def __init__(
        self,
        kind: str = "promoter",
        k: int | None = None,
        n_members: int = 10,
        min_length: int | None = None,
        max_length: int | None = None,
        seed: int = 0,
        **calibration: Any,
    ) -> None:
        # calibration_folds, calibration_groups, ...: _Calibrated's, with its defaults
        super().__init__(kind, n_members, min_length, max_length, seed, **calibration)
        self.k = k

    @property
    def k_sizes(self) -> tuple[int, ...]:
        """k-mer sizes used: ``1..k``; ``k`` None means 4 on DNA (340 columns) and 2 on
        protein (420 columns: 4-mers of amino acids make 168,420, and boosting on them
        takes many minutes)."""
        k = self.k if self.k is not None else (4 if self.alphabet == "dna" else 2)
        if not 1 <= k <= 8:
            raise InputError("k-mer size out of range", column="k", expected="1..8", found=k)
        return tuple(range(1, k + 1))

    def _features(self, seqs: list[str]) -> Any:
        X = kmer_counts(seqs, self.k_sizes, self.alphabet)
        if not hasattr(self, "scale_"):
            # Unit variance per column, as a ridge penalty on raw counts would favour
            # frequent short k-mers; sparse stays sparse (no centring).
            sq = np.asarray(X.multiply(X).mean(axis=0)).ravel()
            mean = np.asarray(X.mean(axis=0)).ravel()
            std = np.sqrt(np.maximum(sq - mean**2, 0.0))
            self.scale_ = np.where(std > 1e-12, 1.0 / np.where(std > 1e-12, std, 1.0), 0.0)
        return X.multiply(self.scale_[None, :]).tocsr()

    def _fit(self, seqs: list[str], y: np.ndarray) -> None:
        # the column scaling is learnt again from these rows (a refit must not reuse it)
        if hasattr(self, "scale_"):
            del self.scale_
        super()._fit(seqs, y)


class KmerRidge(_KmerModel):
    """k-mer counts + ridge regression; std from a bootstrap ensemble of ridge fits.

    The penalty ``alpha`` is picked once by efficient leave-one-out (generalised
    cross-validation, scikit-learn ``RidgeCV``) on all training rows; each of
    ``n_members`` members then refits on a bootstrap resample. Fast (seconds on
    thousands of promoters) and a strong, position-free baseline.

    Attributes: ``alpha_`` (chosen penalty), ``coef_`` ``(k, p)``,
    ``intercept_`` ``(k,)``, ``scale_`` ``(p,)`` (per-column scaling).
    """

    estimator = "kmer-ridge"
    ALPHAS = (0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0)

    def _fit_members(self, seqs: list[str], y: np.ndarray) -> None:
        from sklearn.linear_model import Ridge, RidgeCV

        X = self._features(seqs)
        Xd = X.toarray() if X.shape[1] <= 5000 else X
        self.alpha_ = float(RidgeCV(alphas=self.ALPHAS).fit(Xd, y).alpha_)
        rng = np.random.default_rng(self.seed)
        coefs, icpts = [], []
        for _ in range(self.n_members):
            idx = _bootstrap(rng, len(y))
            r = Ridge(alpha=self.alpha_).fit(Xd[idx], y[idx])
            coefs.append(r.coef_)
            icpts.append(float(r.intercept_))
            self._member_done()
        self.coef_ = np.array(coefs)
        self.intercept_ = np.array(icpts)

    def _predict_members(self, seqs: list[str]) -> np.ndarray:
        X = self._features(seqs)
        return np.asarray(X @ self.coef_.T).T + self.intercept_[:, None]

    def _save_state(self, directory: Path) -> None:
        np.savez(
            directory / "ridge.npz",
            coef=self.coef_,
            intercept=self.intercept_,
            scale=self.scale_,
            alpha=self.alpha_,
        )
        self._save_calibration(directory)

    def _load_state(self, directory: Path) -> None:
        with np.load(directory / "ridge.npz") as z:
            self.coef_ = z["coef"]
            self.intercept_ = z["intercept"]
            self.scale_ = z["scale"]
            self.alpha_ = float(z["alpha"])
        self._load_calibration(directory)


class KmerBoost(_KmerModel):
    """k-mer counts + gradient-boosted trees (XGBoost); std from a bootstrap ensemble.

    Each of ``n_members`` boosters trains on its own bootstrap resample with its
    own seed. ``n_jobs`` threads per booster.
    """

    estimator = "kmer-boost"

    def __init__(
        self,
        kind: str = "promoter",
        k: int | None = None,
        n_members: int = 5,
        n_estimators: int = 400,
        max_depth: int = 6,
        learning_rate: float = 0.05,
        n_jobs: int = 2,
        min_length: int | None = None,
        max_length: int | None = None,
        seed: int = 0,
        **calibration: Any,
    ) -> None:
        super().__init__(kind, k, n_members, min_length, max_length, seed, **calibration)
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.n_jobs = n_jobs

    def _booster(self, seed: int) -> Any:
        from xgboost import XGBRegressor

        return XGBRegressor(
            n_estimators=self.n_estimators,
            max_depth=self.max_depth,
            learning_rate=self.learning_rate,
            subsample=0.8,
            colsample_bytree=0.5,
            tree_method="hist",
            n_jobs=self.n_jobs,
            random_state=seed,
        )

    def _fit_members(self, seqs: list[str], y: np.ndarray) -> None:
        X = self._features(seqs)
        rng = np.random.default_rng(self.seed)
        self.boosters_ = []
        for j in range(self.n_members):
            idx = _bootstrap(rng, len(y))
            self.boosters_.append(self._booster(self.seed + j).fit(X[idx], y[idx]))
            self._member_done()

    def _predict_members(self, seqs: list[str]) -> np.ndarray:
        X = self._features(seqs)
        return np.array([b.predict(X) for b in self.boosters_], dtype=float)

    def _save_state(self, directory: Path) -> None:
        np.save(directory / "scale.npy", self.scale_)
        for j, b in enumerate(self.boosters_):
            b.save_model(directory / f"booster_{j}.json")
        self._save_calibration(directory)

    def _load_state(self, directory: Path) -> None:
        self._load_calibration(directory)
        self.scale_ = np.load(directory / "scale.npy")
        self.boosters_ = []
        for j in range(self.n_members):
            b = self._booster(self.seed + j)
            b.load_model(directory / f"booster_{j}.json")
            self.boosters_.append(b)


# -- CNN ensemble -------------------------------------------------------------------------


def _resolve_device(device: str | None) -> Any:
    import torch

    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _make_net(n_letters: int, channels: int, kernel: int, layers: int, dropout: float) -> Any:
    """A 1-D CNN over ``(batch, letters, length)`` with masked global max + mean pooling.

    First a plain convolution, then ``layers - 1`` residual dilated convolutions
    (dilation 2, 4, ...) so the receptive field spans a -35 ... -10 pair
    (about 30 nt) with few weights. Activations at padding positions are zeroed
    after every layer, so a sequence gets the same output whatever the window
    it is padded into: the net accepts any length.
    """
    import torch
    from torch import nn

    class SequenceCNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.first = nn.Conv1d(n_letters, channels, kernel, padding=kernel // 2)
            self.convs = nn.ModuleList(
                nn.Conv1d(channels, channels, kernel, dilation=2**i, padding=(kernel // 2) * 2**i)
                for i in range(1, layers)
            )
            self.head = nn.Sequential(
                nn.Linear(2 * channels, channels),
                nn.ReLU(),
                nn.Dropout(dropout),
                nn.Linear(channels, 1),
            )

        def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            m = mask.unsqueeze(1).to(x.dtype)
            h = torch.relu(self.first(x)) * m
            for conv in self.convs:
                h = (h + torch.relu(conv(h))) * m
            hmax = h.masked_fill(m == 0, float("-inf")).amax(dim=-1)
            hmean = h.sum(dim=-1) / m.sum(dim=-1).clamp_min(1.0)
            return self.head(torch.cat([hmax, hmean], dim=1)).squeeze(1)

    return SequenceCNN()


class CNNEnsemble(_Calibrated):
    """Ensemble of 1-D CNNs (PyTorch) on one-hot sequences; mean and std across members.

    Members differ in initialisation seed, mini-batch order and the random
    ``val_fraction`` of the training rows each holds out for early stopping
    (training stops after ``patience`` epochs without a better validation
    loss; the best epoch's weights are kept). Global max + mean pooling over
    the real positions makes the prediction independent of padding, so a
    model trained on 73-nt promoters scores any length in its range.
    Targets are standardised internally. CUDA is used when available
    (``device=None``); ``n_jobs`` caps torch's CPU threads while training and
    predicting.

    ``std`` is calibrated as the k-mer models' (:class:`_Calibrated`, whose
    ``calibration_folds=3``, ``calibration_groups``, ``calibration_clusters``,
    ``error_descriptors``, ``error_model`` and ``novelty_threshold`` it takes as
    keywords): the ensemble is
    refitted on ``calibration_folds`` folds grouped by k-mer composition clusters and
    its spread scaled so ±1 std holds 68.3 % of the out-of-fold errors; far sequences
    get a wider std and a warning. That refit costs about 3x the training time (each
    fold trains on 2/3 of the rows, BENCHMARKS.md "CNN ensemble: calibrated std");
    ``calibration_folds=0`` skips it and reports the members' raw spread, as a model
    saved before calibration existed does.

    Attributes: ``states_`` (one ``state_dict`` per member), ``y_mean_``,
    ``y_std_``, ``epochs_`` (epochs each member ran), ``val_loss_`` (best
    validation MSE per member, standardised units), ``calibration_``.
    """

    estimator = "cnn"

    def __init__(
        self,
        kind: str = "promoter",
        n_members: int = 5,
        channels: int = 64,
        kernel: int = 9,
        layers: int = 3,
        dropout: float = 0.1,
        epochs: int = 40,
        batch_size: int = 64,
        lr: float = 2e-3,
        weight_decay: float = 1e-4,
        val_fraction: float = 0.1,
        patience: int = 5,
        device: str | None = None,
        n_jobs: int | None = 2,
        min_length: int | None = None,
        max_length: int | None = None,
        seed: int = 0,
        **calibration: Any,
    ) -> None:
        # calibration_folds, calibration_groups, ...: _Calibrated's, with its defaults
        super().__init__(kind, n_members, min_length, max_length, seed, **calibration)
        self.channels = channels
        self.kernel = kernel
        self.layers = layers
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.val_fraction = val_fraction
        self.patience = patience
        self.device = device
        self.n_jobs = n_jobs

    def _net(self) -> Any:
        n_letters = len(alphabet_letters(self.alphabet))
        return _make_net(n_letters, self.channels, self.kernel, self.layers, self.dropout)

    def _tensors(self, seqs: list[str], device: Any) -> tuple[Any, Any]:
        import torch

        X, mask = one_hot(seqs, self.alphabet)
        return torch.as_tensor(X, device=device), torch.as_tensor(mask, device=device)

    def _fit_members(self, seqs: list[str], y: np.ndarray) -> None:
        import torch

        from biofab.learn.torch_threads import torch_threads

        device = _resolve_device(self.device)
        self.y_mean_ = float(y.mean())
        self.y_std_ = float(y.std()) if y.std() > 1e-12 else 1.0
        X, M = self._tensors(seqs, device)
        Y = torch.as_tensor((y - self.y_mean_) / self.y_std_, dtype=torch.float32, device=device)
        n = len(seqs)
        n_val = max(1, round(self.val_fraction * n))
        self.states_: list[dict[str, Any]] = []
        self.epochs_: list[int] = []
        self.val_loss_: list[float] = []
        with torch_threads(self.n_jobs):
            for j in range(self.n_members):
                rng = np.random.default_rng([self.seed, j])
                perm = rng.permutation(n)
                val, train = perm[:n_val], perm[n_val:]
                torch.manual_seed(self.seed * 1000 + j)
                net = self._net().to(device)
                state, epochs, best = self._train_member(net, X, M, Y, train, val, rng)
                self.states_.append(state)
                self.epochs_.append(epochs)
                self.val_loss_.append(best)
                self._member_done(f"{epochs} epochs, validation loss {best:.3g}")
        self._nets: list[Any] | None = None

    def _train_member(
        self, net: Any, X: Any, M: Any, Y: Any, train: np.ndarray, val: np.ndarray, rng: Any
    ) -> tuple[dict[str, Any], int, float]:
        import torch

        opt = torch.optim.AdamW(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(self.epochs, 1))
        vi = torch.as_tensor(val, device=X.device)
        best, best_state, since, ran = float("inf"), None, 0, 0
        for epoch in range(1, self.epochs + 1):
            ran = epoch
            net.train()
            order = torch.as_tensor(rng.permutation(train), device=X.device)
            for b in range(0, len(order), self.batch_size):
                idx = order[b : b + self.batch_size]
                opt.zero_grad(set_to_none=True)
                loss = torch.mean((net(X[idx], M[idx]) - Y[idx]) ** 2)
                loss.backward()
                opt.step()
            sched.step()
            net.eval()
            with torch.no_grad():
                vloss = float(torch.mean((net(X[vi], M[vi]) - Y[vi]) ** 2))
            if vloss < best - 1e-4:
                best, since = vloss, 0
                best_state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
            else:
                since += 1
                if since >= self.patience:
                    break
        assert best_state is not None
        return best_state, ran, best

    def _members(self) -> list[Any]:
        if getattr(self, "_nets", None) is None:
            device = _resolve_device(self.device)
            nets = []
            for state in self.states_:
                net = self._net()
                net.load_state_dict(state)
                nets.append(net.to(device).eval())
            self._nets = nets
        assert self._nets is not None
        return self._nets

    def _predict_members(self, seqs: list[str]) -> np.ndarray:
        import torch

        from biofab.learn.torch_threads import torch_threads

        nets = self._members()
        device = next(nets[0].parameters()).device
        out = np.empty((len(nets), len(seqs)))
        chunk = 2048
        with torch.no_grad(), torch_threads(self.n_jobs):
            for s in range(0, len(seqs), chunk):
                X, M = self._tensors(seqs[s : s + chunk], device)
                for j, net in enumerate(nets):
                    out[j, s : s + chunk] = net(X, M).cpu().numpy()
        return out * self.y_std_ + self.y_mean_

    def _save_state(self, directory: Path) -> None:
        import torch

        torch.save(
            {
                "states": self.states_,
                "y_mean": self.y_mean_,
                "y_std": self.y_std_,
                "epochs": self.epochs_,
                "val_loss": self.val_loss_,
            },
            directory / "cnn.pt",
        )
        self._save_calibration(directory)

    def _load_state(self, directory: Path) -> None:
        import torch

        blob = torch.load(directory / "cnn.pt", map_location="cpu", weights_only=True)
        self.states_ = blob["states"]
        self.y_mean_ = float(blob["y_mean"])
        self.y_std_ = float(blob["y_std"])
        self.epochs_ = list(blob["epochs"])
        self.val_loss_ = list(blob["val_loss"])
        self._nets = None
        self._load_calibration(directory)


# -- physics residual ---------------------------------------------------------------------


def _hexamers(site: Any) -> np.ndarray:
    """``(n, 12)`` uint8 letters of each site's -35 then -10 hexamer."""
    words = (site["hex35"] + site["hex10"]).tolist()
    return np.frombuffer("".join(words).encode("ascii"), dtype=np.uint8).reshape(len(words), 12)


def _hexamer_distance(query: np.ndarray, train: np.ndarray) -> np.ndarray:
    """``(n, 2)``: fewest mismatches of each -35 and -10 hexamer to any training one."""
    out = np.zeros((len(query), 2))
    for k, part in enumerate((slice(0, 6), slice(6, 12))):
        ref = np.unique(train[:, part], axis=0)
        for s in range(0, len(query), 512):
            q = query[s : s + 512, part]
            out[s : s + 512, k] = (q[:, None, :] != ref[None, :, :]).sum(axis=2).min(axis=1)
    return out


#: Feature views of :class:`PhysicsResidual`'s members: each member learns from one.
RESIDUAL_VIEWS = ("all", "energy", "elements")
#: Site words the calibration folds are grouped by, in turn (``calibration_groups="elements"``).
CALIBRATION_GROUPS = ("hex10", "hex35", "up_word", "spacer_word")


class PhysicsResidual(SequenceModel):
    """Promoter strength = the calculator's energy + boosted corrections per element.

    Built to transfer to libraries it never saw (issue 14). Every promoter is
    located by the Promoter Calculator's energy scan (best forward sigma70
    site, :mod:`biofab.parts.promoter_energy`; the same terms for any sequence,
    no published ``dG`` columns needed) and described element by element
    (:mod:`biofab.parts.promoter_features`: the calculator's terms, one-hot
    bases of the -35, -10 and extended -10, spacer and discriminator lengths,
    UP-element A/T tracts, discriminator and ITR composition). The prediction
    is a straight line in ``dG_total`` (least squares on the training rows)
    plus the mean of ``n_members`` gradient-boosted trees (XGBoost, depth
    ``max_depth``) fitted to what the line misses. Members differ in *what*
    they learn, not only in their resample: member ``j`` sees the feature
    view ``RESIDUAL_VIEWS[j % 3]`` -- all columns, the energies and lengths
    only, or the element bases only -- on its own bootstrap sample.

    A 5'-trimmed promoter has lost its UP element: with ``trimmed_copies`` > 0
    the UP columns of a sequence whose UP window lies mostly outside it are
    *missing* (NaN, with the ``up_visible`` fraction as a column), and the
    boosters also learn from that share of the training rows 5'-cut right at their
    -35 (same measured strength), so without an UP they predict
    what the rest of the promoter says rather than reading the flank as a weak UP.

    ``std`` is calibrated, not the members' spread: ``calibration_folds``
    grouped folds of the training rows give out-of-fold errors, grouped by the -10, the
    -35, the UP and the spacer the scan finds, in turn (four sets of folds, so the
    errors include each kind of new element). ``calibration_groups="variants"``: the
    rows carrying the library's default word of that element
    (:func:`biofab.parts.promoter_features.chassis_rows`) always train and only the
    other rows are held out -- new elements beside a known chassis, as a next library
    looks; ``"elements"``: GroupKFold over every row (round 3); ``"h10"``: by the -10
    only. :class:`biofab.parts.calibration.ErrorScale` (``error_model``: ``"linear"``
    or ``"boosted"``) learns their size from the members' spread and the predicted
    strength (``error_descriptors="spread"``), or with ``"full"`` also from the
    correction's size (``|prediction - calculator line|``), the site's energy gap and
    competing sites, and each element's distance from the training ones
    (:class:`biofab.parts.promoter_features.ElementDistance`), scaled to 68.3 %
    coverage. Sequences far from training
    (length outside the training range, 3-mer composition beyond the 99th
    training percentile) get a wider std and a warning
    (:meth:`predict_table`), and their corrections shrink towards the
    calculator's line by that factor. ``calibration_`` holds the out-of-fold coverage
    and Spearman(|error|, std) of the calibrated std, overall and per grouping.

    ``line``: ``"total"`` (a line in ``dG_total``) or ``"terms"`` (the calculator's
    seven terms reweighted by least squares; lost on LaFleur's grouped folds, see
    BENCHMARKS.md).

    Units: the target's (any; e.g. LaFleur's ``log(TX/Txref)``). Kind:
    ``promoter`` only. ``upstream``: DNA placed before each sequence for the
    scan (default: the BioBrick prefix, as :class:`PromoterCalculator`).
    """

    estimator = "physics-residual"

    def __init__(
        self,
        kind: str = "promoter",
        n_members: int = 6,
        n_estimators: int = 300,
        max_depth: int = 3,
        learning_rate: float = 0.05,
        calibration_folds: int = 3,
        calibration_groups: str = "variants",
        error_model: str = "linear",
        trimmed_copies: float = 0.5,
        line: str = "total",
        error_descriptors: str = "spread",
        upstream: str | None = None,
        n_jobs: int = 1,
        min_length: int | None = None,
        max_length: int | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__(kind, min_length, max_length, seed)
        self.n_members = n_members
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.calibration_folds = calibration_folds
        self.calibration_groups = calibration_groups
        self.error_model = error_model
        self.trimmed_copies = trimmed_copies
        self.line = line
        self.error_descriptors = error_descriptors
        self.upstream = upstream
        self.n_jobs = n_jobs

    # -- features -----------------------------------------------------------------------
    def _upstream(self) -> str:
        """The flank the scan reads before each sequence: ``upstream`` (default: the
        BioBrick prefix), extended 5' by repeating itself to a whole UP window plus its
        spacer base, so a sequence cut right at its -35 still shows that -35 to the scan
        (whose UP is then read from the flank and marked missing) instead of forcing the
        scan onto a shifted, wrong site."""
        from biofab.parts.physics import BIOBRICK_PREFIX
        from biofab.parts.promoter_energy import UP_LENGTH

        up = BIOBRICK_PREFIX if self.upstream is None else self.upstream
        if not up:
            return up
        need = UP_LENGTH + 1
        while len(up) < need:
            up = up[-(need - len(up)) :] + up
        return up

    def _table(self, seqs: list[str]) -> tuple[Any, Any]:
        from biofab.parts.promoter_energy import EnergyScanner
        from biofab.parts.promoter_features import element_table

        scanner = EnergyScanner(upstream=self._upstream())
        return element_table(seqs, scanner, mask_missing=self.trimmed_copies > 0)

    def _view(self, columns: list[str], view: str) -> list[int]:
        from biofab.parts.promoter_features import ENERGY_COLUMNS

        energy = [
            i
            for i, c in enumerate(columns)
            if c in ENERGY_COLUMNS or c.startswith(("up_", "spacer_len", "disc_len"))
        ]
        if view == "energy":
            return energy
        if view == "elements":
            rest = [i for i in range(len(columns)) if i not in set(energy)]
            return [columns.index("dG_total"), *rest]
        return list(range(len(columns)))

    def _trimmed(
        self, seqs: list[str], site: Any, y: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Features, targets and source rows of a ``trimmed_copies`` share of the training
        rows with everything 5' of the -35 cut off (but the few bases that, with the flank,
        make a complete UP window, so the same site can be scanned); empty when none can be
        cut or the cut sequences have no site."""
        empty = (np.zeros((0, len(self.columns_))), np.zeros(0), np.zeros(0, dtype=int))
        if self.trimmed_copies <= 0:
            return empty
        from biofab.parts.promoter_energy import UP_LENGTH

        keep = max(0, UP_LENGTH + 1 - len(self._upstream()))
        cut = site["h35_start"].to_numpy() - keep
        lo = self.length_range[0]
        rng = np.random.default_rng(self.seed + 7919)
        pick = np.flatnonzero((cut > 0) & (np.array([len(s) for s in seqs]) - cut >= lo))
        pick = pick[rng.random(len(pick)) < self.trimmed_copies]
        if len(pick) == 0:
            return empty
        try:
            F, _ = self._table([seqs[i][cut[i] :] for i in pick])
        except InputError:
            return empty
        return F[self.columns_].to_numpy(dtype=float), y[pick], pick

    # -- fitting ------------------------------------------------------------------------
    def _fit(self, seqs: list[str], y: np.ndarray) -> None:
        from biofab.parts.calibration import ErrorScale, Novelty
        from biofab.parts.promoter_features import ElementDistance

        if self.kind != "promoter":
            raise InputError(
                "physics-residual models promoters only", expected="promoter", found=self.kind
            )
        if self.calibration_groups not in ("variants", "elements", "h10"):
            raise InputError(
                "unknown calibration_groups",
                expected="variants | elements | h10",
                found=self.calibration_groups,
            )
        if self.error_descriptors not in ("spread", "full"):
            raise InputError(
                "unknown error_descriptors",
                expected="spread | full",
                found=self.error_descriptors,
            )
        F, site = self._table(seqs)
        self.columns_ = [str(c) for c in F.columns]
        X = F.to_numpy(dtype=float)
        Xa, ya, src = self._trimmed(seqs, site, y)
        self.error_: ErrorScale | None = None
        self.calibration_: dict[str, Any] | None = None
        if self.n_members >= 2:
            self._calibrate(X, y, site, Xa, ya, src)
        # else: one member has no spread for the error model to read, so, as for the
        # k-mer models, no calibration and no std (NaN, "none"), never a made-up one.
        self._fit_core(X, y, Xa, ya, report=True)
        self.novelty_ = Novelty().fit(seqs)
        self.elements_ = ElementDistance().fit(site)

    def _calibrate(
        self, X: np.ndarray, y: np.ndarray, site: Any, Xa: np.ndarray, ya: np.ndarray,
        src: np.ndarray,
    ) -> None:  # fmt: skip
        """Fit ``error_`` on out-of-fold errors and report them in ``calibration_``."""
        from biofab.parts.calibration import ErrorScale, interval_report

        oof = self._out_of_fold(X, y, site, Xa, ya, src)
        D = np.vstack([o["D"] for o in oof])
        err = np.concatenate([np.abs(o["y"] - o["mean"]) for o in oof])
        self.error_ = ErrorScale(self.error_model).fit(D, err)
        per = {}
        for o in oof:
            per[o["group"]] = {
                **interval_report(o["y"], o["mean"], self.error_.std(o["D"])),
                "pearson_r": round(float(np.corrcoef(o["y"], o["mean"])[0, 1]), 4),
            }
        allm = np.concatenate([o["mean"] for o in oof])
        ally = np.concatenate([o["y"] for o in oof])
        self.calibration_ = {
            "split": oof[0]["how"],
            "folds": self.calibration_folds,
            **interval_report(ally, allm, self.error_.std(D)),
            "pearson_r": round(float(np.corrcoef(ally, allm)[0, 1]), 4),
            "uncalibrated": interval_report(ally, allm, np.concatenate([o["spread"] for o in oof])),
            "per_grouping": per,
        }

    def _calibration_splits(
        self, groups: np.ndarray, key: str, keys: tuple[str, ...]
    ) -> tuple[list[tuple[np.ndarray, np.ndarray]], str]:
        """``(train rows, test rows)`` pairs of one grouping and how they were made.

        ``calibration_groups="variants"``: the rows carrying the library's default element
        (:func:`biofab.parts.promoter_features.chassis_rows`) always train; the other rows
        are split by their word into ``calibration_folds`` groups, each held out in turn --
        a new element beside a known chassis, as a next library looks. ``"elements"`` /
        ``"h10"``: GroupKFold over every row (the default element's block is then one
        fold). Random folds when there are fewer distinct words than folds."""
        from sklearn.model_selection import GroupKFold, KFold

        from biofab.parts.promoter_features import chassis_rows

        k = max(2, self.calibration_folds)
        rows = np.arange(len(groups))
        if self.calibration_groups == "variants":
            chassis = chassis_rows(groups)
            var = rows[~chassis]
            if len(set(groups[var])) >= k:
                splits = [
                    (np.sort(np.concatenate([rows[chassis], var[tr]])), var[te])
                    for tr, te in GroupKFold(k).split(var, groups=groups[var])
                ]
                how = (
                    f"GroupKFold({k}) over the rows not carrying the default element (which "
                    "always trains), by the scanned " + ", ".join(keys) + " in turn"
                )
                return splits, how
        if len(set(groups)) >= k:
            how = f"GroupKFold({k}) by the scanned " + ", ".join(keys) + " in turn"
            return list(GroupKFold(k).split(rows, groups=groups)), how
        splits = list(KFold(k, shuffle=True, random_state=self.seed).split(rows))
        return splits, f"KFold({k}) (fewer distinct {key} than folds)"

    def _out_of_fold(
        self,
        X: np.ndarray,
        y: np.ndarray,
        site: Any,
        Xa: np.ndarray,
        ya: np.ndarray,
        src: np.ndarray,
    ) -> list[dict[str, Any]]:
        """Out-of-fold mean, member spread and error descriptors of the held-out rows
        (``rows``), one record per grouping (:meth:`_calibration_splits`). ``Xa``/``ya``:
        trimmed copies of rows ``src``, used for fitting in the folds that train on their
        row."""
        from biofab.parts.promoter_features import ElementDistance

        keys = CALIBRATION_GROUPS if self.calibration_groups != "h10" else ("hex10",)
        out = []
        for key in keys:
            groups = site[key].astype(str).to_numpy()
            splits, how = self._calibration_splits(groups, key, keys)
            rows = np.concatenate([te for _, te in splits])
            mean, spread = np.zeros(len(y)), np.zeros(len(y))
            D = np.zeros((len(y), 0))
            for tr, te in splits:
                sub = PhysicsResidual(**self.get_params())
                sub.columns_ = self.columns_
                inside = np.isin(src, tr)
                sub._fit_core(X[tr], y[tr], Xa[inside], ya[inside])
                P = sub._members_from_features(X[te])
                mean[te], spread[te] = P.mean(axis=0), P.std(axis=0, ddof=1)
                elem = ElementDistance().fit(site.iloc[tr]).describe(site.iloc[te])
                d = sub._descriptors(X[te], mean[te], spread[te], elem)
                if D.shape[1] == 0:
                    D = np.zeros((len(y), d.shape[1]))
                D[te] = d
            out.append(
                {
                    "group": key,
                    "how": how,
                    "rows": rows,
                    "mean": mean[rows],
                    "spread": spread[rows],
                    "D": D[rows],
                    "y": y[rows],
                }
            )
        return out

    def _line_columns(self) -> list[int]:
        from biofab.parts.promoter_energy import TERMS

        names = ("dG_total",) if self.line == "total" else TERMS
        return [self.columns_.index(c) for c in names]

    def _base(self, X: np.ndarray) -> np.ndarray:
        """The calculator's line: ``line_[0] + line_[1:] · terms`` (``dG_total`` alone,
        or its seven terms reweighted with ``line="terms"``)."""
        return self.line_[0] + X[:, self._line_columns()] @ self.line_[1:]

    def _descriptors(
        self, X: np.ndarray, mean: np.ndarray, spread: np.ndarray, elem: np.ndarray
    ) -> np.ndarray:
        """What the error model reads. ``error_descriptors="spread"``: the members' spread
        (log) and the prediction. ``"full"`` (round 3) adds the size of the correction to
        the calculator's line, the energy gap, competing sites and the elements' distances
        from the training ones (:class:`ElementDistance`); on LaFleur's variant folds those
        extra columns ranked new elements' errors worse (BENCHMARKS.md, round 5)."""
        first = [np.log(spread + 1e-3), mean]
        if self.error_descriptors == "spread":
            return np.column_stack(first)
        c = self.columns_
        return np.column_stack(
            [
                *first,
                np.log(np.abs(mean - self._base(X)) + 1e-2),
                X[:, c.index("second_gap")],
                np.log1p(X[:, c.index("n_sites_1kcal")]),
                elem,
            ]
        )

    def _fit_core(
        self,
        X: np.ndarray,
        y: np.ndarray,
        Xa: np.ndarray | None = None,
        ya: np.ndarray | None = None,
        report: bool = False,
    ) -> None:
        from xgboost import XGBRegressor

        if self.line not in ("total", "terms"):
            raise InputError("unknown line", expected="total | terms", found=self.line)
        A = np.column_stack([np.ones(len(y)), X[:, self._line_columns()]])
        self.line_ = np.linalg.lstsq(A, y, rcond=None)[0]
        resid = y - self._base(X)
        if Xa is not None and len(Xa):
            # Trimmed copies: the line is the calculator's on the cut sequence; the boosters
            # learn what it misses there with the UP columns missing.
            X = np.vstack([X, Xa])
            resid = np.concatenate([resid, ya - self._base(Xa)])
        rng = np.random.default_rng(self.seed)
        self.boosters_: list[Any] = []
        for j in range(max(1, self.n_members)):
            cols = self._view(self.columns_, RESIDUAL_VIEWS[j % len(RESIDUAL_VIEWS)])
            idx = _bootstrap(rng, len(resid))
            booster = XGBRegressor(
                n_estimators=self.n_estimators,
                max_depth=self.max_depth,
                learning_rate=self.learning_rate,
                subsample=0.8,
                colsample_bytree=0.5,
                tree_method="hist",
                n_jobs=self.n_jobs,
                random_state=self.seed + j,
            )
            self.boosters_.append(booster.fit(X[idx][:, cols], resid[idx]))
            if report:
                self._member_done(RESIDUAL_VIEWS[j % len(RESIDUAL_VIEWS)])

    # -- prediction ---------------------------------------------------------------------
    def _members_from_features(self, X: np.ndarray) -> np.ndarray:
        base = self._base(X)
        out = []
        for j, booster in enumerate(self.boosters_):
            cols = self._view(self.columns_, RESIDUAL_VIEWS[j % len(RESIDUAL_VIEWS)])
            out.append(base + booster.predict(X[:, cols]))
        return np.array(out, dtype=float)

    def _features_of(self, seqs: list[str]) -> np.ndarray:
        F, _ = self._table(seqs)
        return F[self.columns_].to_numpy(dtype=float)

    def _predict_members(self, seqs: list[str]) -> np.ndarray:
        return self._members_from_features(self._features_of(seqs))

    def predict(self, sequences: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Mean ``(n,)`` and calibrated std ``(n,)`` (target units), widened far from
        training; see :meth:`predict_table` for the members' spread and warnings."""
        table = self.predict_table(sequences)
        return table["prediction"].to_numpy(), table["std"].to_numpy()

    def predict_table(self, sequences: Sequence[str]) -> Any:
        """``prediction``, ``std`` (calibrated, widened far from training),
        ``ensemble_std`` (members' spread), ``distance_factor`` (std multiplier for
        distance from training, >= 1) and ``warning`` ("" or why a sequence is far)."""
        import pandas as pd

        if not hasattr(self, "n_train_"):
            raise RuntimeError("PhysicsResidual is not fitted; call fit first")
        seqs = self.check(sequences)
        F, site = self._table(seqs)
        X = F[self.columns_].to_numpy(dtype=float)
        P = self._members_from_features(X)
        factor = self.novelty_.factor(seqs)
        # Far from training the corrections are trusted less: they shrink towards the
        # calculator's line by the same factor that widens the std.
        base = self._base(X)
        mean = base + (P.mean(axis=0) - base) / factor
        if self.error_ is None or len(P) < 2:  # one member: no spread, no std ("none")
            spread = std = np.full(len(seqs), np.nan)
        else:
            spread = P.std(axis=0, ddof=1)
            elem = self.elements_.describe(site)
            std = self.error_.std(self._descriptors(X, mean, spread, elem)) * factor
        return pd.DataFrame(
            {
                "prediction": mean,
                "std": std,
                "ensemble_std": spread,
                "distance_factor": factor,
                "warning": self.novelty_.warnings(seqs),
            }
        )

    # -- persistence --------------------------------------------------------------------
    def manifest(self) -> dict[str, Any]:
        out = super().manifest()
        out["calibration"] = getattr(self, "calibration_", None)
        return out

    def _save_state(self, directory: Path) -> None:
        err = self.error_.state() if self.error_ is not None else {}
        nov = self.novelty_.state()
        arrays: dict[str, Any] = {"line": self.line_}
        arrays.update({f"error_{k}": v for k, v in err.items()})
        arrays.update({f"novelty_{k}": v for k, v in nov.items()})
        arrays.update({f"elements_{k}": v for k, v in self.elements_.state().items()})
        np.savez(directory / "residual.npz", **arrays)
        (directory / "columns.json").write_text(json.dumps(self.columns_))
        (directory / "calibration.json").write_text(json.dumps(self.calibration_, indent=2))
        for j, b in enumerate(self.boosters_):
            b.save_model(directory / f"booster_{j}.json")

    def _load_state(self, directory: Path) -> None:
        from xgboost import XGBRegressor

        from biofab.parts.calibration import ErrorScale, Novelty
        from biofab.parts.promoter_features import ElementDistance

        with np.load(directory / "residual.npz") as z:
            self.line_ = np.asarray(z["line"], dtype=float)
            err = {k[len("error_") :]: z[k] for k in z.files if k.startswith("error_")}
            # a single-member model saves no error model (it has no std)
            self.error_ = ErrorScale.from_state(err) if err else None
            self.novelty_ = Novelty.from_state(
                {k: z[f"novelty_{k}"] for k in ("mu", "sd", "threshold", "lengths")}
            )
            self.elements_ = ElementDistance.from_state(
                {k[len("elements_") :]: z[k] for k in z.files if k.startswith("elements_")}
            )
        if self.error_ is not None and len(self.error_.mu_) > 2:
            # saved before round 5 made the two-descriptor error model the default
            self.error_descriptors = "full"
        self.columns_ = json.loads((directory / "columns.json").read_text())
        self.calibration_ = json.loads((directory / "calibration.json").read_text())
        self.boosters_ = []
        for j in range(max(1, self.n_members)):
            b = XGBRegressor()
            b.load_model(directory / f"booster_{j}.json")
            self.boosters_.append(b)


ESTIMATORS: dict[str, type[SequenceModel]] = {
    KmerRidge.estimator: KmerRidge,
    KmerBoost.estimator: KmerBoost,
    CNNEnsemble.estimator: CNNEnsemble,
    PhysicsResidual.estimator: PhysicsResidual,
}


def make_model(estimator: str, kind: str, **params: Any) -> SequenceModel:
    """A new, unfitted estimator by manifest name (``cnn``, ``kmer-ridge``, ``kmer-boost``)."""
    kind_spec(kind)
    cls = ESTIMATORS.get(estimator)
    if cls is None:
        raise InputError("unknown model", expected=" | ".join(ESTIMATORS), found=estimator)
    return cls(kind=kind, **params)
