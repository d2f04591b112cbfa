"""Turnover numbers (kcat) from enzyme sequence, substrates and EC number, with uncertainty.

:class:`KcatModel` predicts log10 kcat (kcat in 1/s) from

* the protein sequence: amino-acid and dipeptide composition, log length and a few
  physico-chemical averages (no protein language model is needed or available offline);
* the substrates: the bitwise OR of RDKit Morgan fingerprints (radius 2; Rogers &
  Hahn 2010, J Chem Inf Model 50:742) of the molecules in ``reactant_smiles``
  (several molecules separated by ``.``), plus a few whole-molecule descriptors;
* the products (optional column ``product_smiles``): the same Morgan fingerprint
  (bits only; blank = no bits set);
* the EC number: levels 1-3 hashed into fixed one-hot blocks;
* priors (optional, on by default): (a) the similarity-weighted log10 kcat of the
  training enzymes with the most similar 3-mer profile, with the best cosine
  similarity; (b) the same for the most similar enzyme-substrate *pairs*, pair
  similarity = 3-mer cosine × Tanimoto of the reactant fingerprints (the same or a
  related enzyme acting on the same or a related substrate); (c) the leave-one-out
  mean log10 kcat of the row's EC class; (d) a kernel ridge regression on a kernel of
  3-mer cosine × reactant Tanimoto plus EC-class agreement (Allen's closed-form
  leave-one-out for training rows). Training rows get leave-one-out values so
  that the trees see these priors as they will be at prediction time, where a
  novel enzyme has only distant neighbours.

The feature set was chosen by 5-fold cross-validation inside CatPred's
``catpred_kcat_random_val.csv`` only (BENCHMARKS.md lists every candidate tried):
the pair prior and product bits each added about +0.01 to the CV Pearson r; assay
temperature/pH, taxonomy and substrate target encodings, 4-/5-mer neighbours and
other tree settings did not help and are not used.

A bootstrap ensemble of XGBoost regressors gives a mean, which is then blended
with the EC-class mean and the kernel ridge value, weights linear in the best
sequence similarity and fitted
on the same held-out residuals as the std (``shrink``): a distant enzyme leans on
its EC class. The predictive std is
a linear model of the expected |error| on the best sequence and enzyme-substrate
pair similarity to the training rows, the depth of the EC match, the spread of the
neighbours' kcats, the EC class's std and the distances of the mean and of the
neighbours' kcat from the EC-class mean, fitted to pooled out-of-bag residuals and
residuals of an internal cross-validation that holds out whole families (greedy
3-mer families; relatives never train for a held-out family; priors computed
without relatives), then scaled so mean ± std holds 68.3 % of them. The EC-class
statistics that describe a calibration row leave that row (and, for the grouped rows,
its relatives) out, as they are for a query. So the std
widens for an enzyme unlike the training rows; it is never below the members'
spread. (Format 2 calibrated one residual term on out-of-bag rows only and was
over-confident for new families.)

Data: CatPred-DB (Boorla & Maranas 2025, Nat Commun 16:2072), read with
:func:`load_catpred`. :class:`ECMeanBaseline` is the EC-class-mean baseline.
"""

from __future__ import annotations

import json
import math
import os
import re
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import numpy as np

from biofab.core.atomic import atomic_path, output_folder, write_atomic
from biofab.core.errors import InputError, NotEnoughDataError

if TYPE_CHECKING:
    import pandas as pd
    from scipy import sparse

KIND = "kcat"
MANIFEST = "manifest.json"
FORMAT_VERSION = 3

AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY"
# Ambiguity and rare codes accepted in a protein (B = D/N, Z = E/Q, J = I/L, X = any,
# U = selenocysteine, O = pyrrolysine); they count towards length only.
EXTRA_CODES = "BZJXUO"
_PROTEIN_OK = set(AMINO_ACIDS + EXTRA_CODES)
_AA_INDEX = {a: i for i, a in enumerate(AMINO_ACIDS)}

# Kyte & Doolittle 1982 (J Mol Biol 157:105) hydropathy index.
KYTE_DOOLITTLE = {
    "A": 1.8, "R": -4.5, "N": -3.5, "D": -3.5, "C": 2.5, "Q": -3.5, "E": -3.5,
    "G": -0.4, "H": -3.2, "I": 4.5, "L": 3.8, "K": -3.9, "M": 1.9, "F": 2.8,
    "P": -1.6, "S": -0.8, "T": -0.7, "W": -0.9, "Y": -1.3, "V": 4.2,
}  # fmt: skip

FP_BITS = 1024
FP_RADIUS = 2
EC_BUCKETS = 64  # per EC level (1, 2, 3)
KMER = 3
_EC_PATTERN = re.compile(r"^(\d+|-)(\.(\d+|-|n\d+)){0,3}$")

REQUIRED_COLUMNS = ("sequence", "reactant_smiles", "ec")
PRODUCTS = "product_smiles"  # optional column
TARGET = "log10_value"


# -- validation ----------------------------------------------------------------
def _is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value == ""


def clean_protein(value: object, *, row: int | None = None, file: str | None = None) -> str:
    """An upper-case protein sequence, or :class:`InputError` naming the row.

    Stop symbols ``*`` (anywhere), digits and letters that are no amino-acid code
    are refused; whitespace is dropped.
    """
    if _is_missing(value):
        raise InputError("missing protein sequence", file=file, row=row, column="sequence")
    seq = "".join(str(value).split()).upper()
    bad = sorted(set(seq) - _PROTEIN_OK)
    if bad:
        what = "stop codon '*' in protein" if "*" in bad else "not a protein sequence"
        raise InputError(
            what,
            file=file,
            row=row,
            column="sequence",
            expected="amino-acid letters",
            found="".join(bad),
        )
    return seq


def clean_ec(value: object, *, row: int | None = None, file: str | None = None) -> str:
    """An EC number such as ``1.1.1.-`` or ``''`` when missing; malformed ones raise."""
    if _is_missing(value):
        return ""
    ec = str(value).strip()
    if ec.upper().startswith("EC"):
        ec = ec[2:].strip(" :")
    if not _EC_PATTERN.match(ec):
        raise InputError(
            "malformed EC number",
            file=file,
            row=row,
            column="ec",
            expected="like 1.1.1.1 or 1.1.1.-",
            found=ec,
        )
    return ec


def ec_levels(ec: str, depth: int = 4) -> list[str]:
    """The known prefixes of ``ec`` up to ``depth`` levels (``'1.1.-.-'`` -> ``['1', '1.1']``)."""
    out: list[str] = []
    parts = ec.split(".") if ec else []
    for i, part in enumerate(parts[:depth]):
        if part == "-":
            break
        out.append(".".join(parts[: i + 1]))
    return out


def validate_frame(
    frame: pd.DataFrame,
    *,
    need_target: bool = False,
    file: str | None = None,
    allow_missing_sequence: bool = False,
) -> pd.DataFrame:
    """A checked copy of a kcat table: cleaned ``sequence``, ``reactant_smiles``, ``ec``.

    An optional ``product_smiles`` column is cleaned the same way as the reactants.
    Missing columns, bad proteins, malformed EC numbers, unparsable SMILES and (with
    ``need_target``) missing or non-numeric ``log10_value`` raise a one-line
    :class:`InputError` naming the row (data rows count from 1). A blank
    ``reactant_smiles`` is allowed and means "substrates unknown"; a blank
    ``sequence`` only with ``allow_missing_sequence``.
    """
    import pandas as pd

    need = list(REQUIRED_COLUMNS) + ([TARGET] if need_target else [])
    missing = [c for c in need if c not in frame.columns]
    if missing:
        have = [str(c) for c in frame.columns]
        raise InputError(
            "kcat table lacks required columns " + ", ".join(missing),
            file=file,
            expected="columns " + ", ".join(need) + " (reactant_smiles may be named smiles)",
            found="columns " + ", ".join(have[:12]) + (" ..." if len(have) > 12 else ""),
        )
    if len(frame) == 0:
        raise InputError("empty kcat table", file=file, expected="at least one row")
    df = frame.reset_index(drop=True).copy()
    df["sequence"] = [
        "" if allow_missing_sequence and _is_missing(s) else clean_protein(s, row=i, file=file)
        for i, s in enumerate(df["sequence"], start=1)
    ]
    df["ec"] = [clean_ec(e, row=i, file=file) for i, e in enumerate(df["ec"], start=1)]
    smiles = _clean_smiles_column(df, "reactant_smiles", file)
    df["reactant_smiles"] = smiles
    if PRODUCTS in df.columns:  # optional; absent means products unknown
        df[PRODUCTS] = _clean_smiles_column(df, PRODUCTS, file)
    if need_target:
        values = pd.to_numeric(df[TARGET], errors="coerce")
        for i, (raw, val) in enumerate(zip(df[TARGET], values, strict=True), start=1):
            if not math.isfinite(val):
                raise InputError(
                    "missing or invalid log10 kcat",
                    file=file,
                    row=i,
                    column=TARGET,
                    expected="a number (log10 of kcat in 1/s)",
                    found=None if _is_missing(raw) else raw,
                )
        df[TARGET] = values.astype(float)
    return df


def _clean_smiles_column(df: pd.DataFrame, column: str, file: str | None) -> list[str]:
    """Stripped SMILES of ``column`` ('' when blank); unparsable ones raise, naming the row."""
    out = []
    for i, s in enumerate(df[column], start=1):
        text = "" if _is_missing(s) else str(s).strip()
        if text and _molecules(text) is None:
            raise InputError(
                "unparsable SMILES",
                file=file,
                row=i,
                column=column,
                expected="RDKit-readable SMILES, molecules separated by '.'",
                found=text if len(text) <= 60 else text[:57] + "...",
            )
        out.append(text)
    return out


def load_catpred(
    paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    target_column: str = TARGET,
    need_target: bool = True,
) -> pd.DataFrame:
    """Rows of one or more CatPred-DB (or same-shaped) CSV files, validated (see
    :func:`validate_frame`).

    Columns kept as read; ``sequence``, ``reactant_smiles`` (or ``smiles``), ``ec``
    cleaned and, with ``need_target``, ``target_column`` (log10 kcat, 1/s; renamed
    ``log10_value``) required; unparsable ``product_smiles`` become blank (products
    unknown). A ``source`` column names the file. Errors name the file and its data row.
    """
    import pandas as pd

    items = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    if not items:
        raise InputError("no CatPred file given")
    frames = []
    for path in items:
        p = Path(path)
        if not p.exists():
            raise InputError("CatPred file not found", file=str(p))
        try:
            raw = pd.read_csv(p)
        except pd.errors.EmptyDataError:
            raise InputError("empty kcat table", file=str(p)) from None
        except (pd.errors.ParserError, UnicodeDecodeError) as err:
            raise InputError(f"unreadable CSV ({err.__class__.__name__})", file=str(p)) from None
        raw = raw.drop(columns=[c for c in raw.columns if str(c).startswith("Unnamed")])
        raw = raw.rename(columns={"smiles": "reactant_smiles"})
        if target_column != TARGET and target_column in raw.columns:
            raw = raw.rename(columns={target_column: TARGET})
        if PRODUCTS in raw.columns:
            # Products are optional context; a few published product SMILES do not
            # parse in RDKit (e.g. test row 1932), so they count as unknown here.
            raw[PRODUCTS] = [
                s if isinstance(s, str) and _molecules(s.strip()) is not None else ""
                for s in raw[PRODUCTS]
            ]
        df = validate_frame(raw, need_target=need_target, file=str(p))
        df["source"] = p.name
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


# -- featurisation ---------------------------------------------------------------
_MOL_CACHE: dict[str, Any] = {}


def _molecules(smiles: str) -> list[Any] | None:
    """RDKit molecules of a '.'-separated SMILES, or None when one does not parse."""
    if smiles in _MOL_CACHE:
        return _MOL_CACHE[smiles]  # type: ignore[no-any-return,unused-ignore]
    from rdkit import Chem, RDLogger

    # Parse failures become InputErrors, not stderr noise.
    RDLogger.DisableLog("rdApp.*")  # type: ignore[attr-defined,unused-ignore]
    mols: list[Any] | None = []
    for part in smiles.split("."):
        if not part:
            continue
        mol = Chem.MolFromSmiles(part)
        if mol is None:
            mols = None
            break
        assert mols is not None
        mols.append(mol)
    _MOL_CACHE[smiles] = mols
    return mols


def protein_features(sequence: str) -> np.ndarray:
    """Amino-acid (20) and dipeptide (400) composition, log10 length and 7 averages.

    The averages: Kyte-Doolittle hydropathy, fractions of positive (KR), negative
    (DE), aromatic (FWY), tiny (AGS) and sulfur (CM) residues, and net charge per
    residue at neutral pH (K + R - D - E). Ambiguity codes count towards length only.
    An empty sequence (unknown protein) gives NaN everywhere.
    """
    if not sequence:
        return np.full(20 + 400 + 8, np.nan)
    n = len(sequence)
    idx = np.array([_AA_INDEX.get(a, -1) for a in sequence], dtype=int)
    aac = np.bincount(idx[idx >= 0], minlength=20).astype(float) / max(n, 1)
    pairs = idx[:-1] * 20 + idx[1:]
    ok = (idx[:-1] >= 0) & (idx[1:] >= 0)
    dpc = np.bincount(pairs[ok], minlength=400).astype(float) / max(n - 1, 1)

    def frac(letters: str) -> float:
        return float(sum(aac[_AA_INDEX[a]] for a in letters))

    hydro = float(sum(aac[i] * KYTE_DOOLITTLE[a] for a, i in _AA_INDEX.items()))
    phys = [
        math.log10(max(n, 1)),
        hydro,
        frac("KR"),
        frac("DE"),
        frac("FWY"),
        frac("AGS"),
        frac("CM"),
        frac("KR") - frac("DE"),
    ]
    return np.concatenate([aac, dpc, phys])


def substrate_features(smiles: str) -> np.ndarray:
    """Morgan fingerprint (OR over molecules, ``FP_BITS`` bits) and 5 descriptors.

    Descriptors: number of molecules, heavy atoms of the largest, its Crippen logP
    and TPSA, and total formal charge. Blank SMILES (unknown substrates) give NaN
    descriptors and an empty fingerprint, which the trees treat as missing.
    """
    fp = np.zeros(FP_BITS)
    if not smiles:
        return np.concatenate([fp, np.full(5, np.nan)])
    from rdkit.Chem import Crippen, rdFingerprintGenerator, rdMolDescriptors

    mols = _molecules(smiles)
    if mols is None:
        raise InputError("unparsable SMILES", found=smiles)
    gen = rdFingerprintGenerator.GetMorganGenerator(radius=FP_RADIUS, fpSize=FP_BITS)
    for mol in mols:
        fp = np.maximum(fp, gen.GetFingerprintAsNumPy(mol))
    if not mols:
        return np.concatenate([fp, np.full(5, np.nan)])
    big = max(mols, key=lambda m: m.GetNumHeavyAtoms())
    desc = [
        len(mols),
        big.GetNumHeavyAtoms(),
        Crippen.MolLogP(big),  # type: ignore[attr-defined,unused-ignore]
        rdMolDescriptors.CalcTPSA(big),
        sum(a.GetFormalCharge() for m in mols for a in m.GetAtoms()),
    ]
    return np.concatenate([fp, np.asarray(desc, dtype=float)])


def fingerprint_bits(smiles: str) -> np.ndarray:
    """Morgan fingerprint bits (OR over the '.'-separated molecules), ``FP_BITS`` long;
    all zero for a blank SMILES."""
    fp = np.zeros(FP_BITS)
    mols = _molecules(smiles) if smiles else []
    if mols is None:
        raise InputError("unparsable SMILES", found=smiles)
    if mols:
        from rdkit.Chem import rdFingerprintGenerator

        gen = rdFingerprintGenerator.GetMorganGenerator(radius=FP_RADIUS, fpSize=FP_BITS)
        for mol in mols:
            fp = np.maximum(fp, gen.GetFingerprintAsNumPy(mol))
    return fp


def _bucket(text: str, buckets: int) -> int:
    return zlib.crc32(text.encode()) % buckets  # stable across processes, unlike hash()


def ec_features(ec: str) -> np.ndarray:
    """EC levels 1-3 one-hot, each level's prefix hashed into ``EC_BUCKETS`` slots."""
    out = np.zeros(3 * EC_BUCKETS)
    for level, prefix in enumerate(ec_levels(ec, depth=3)):
        out[level * EC_BUCKETS + _bucket(prefix, EC_BUCKETS)] = 1.0
    return out


def featurize(frame: pd.DataFrame) -> np.ndarray:
    """Feature matrix ``(n_rows, n_features)`` of a validated kcat table (no priors).

    Blocks: protein (428), reactants (``FP_BITS`` + 5), EC (3 × ``EC_BUCKETS``),
    products (``FP_BITS``; zeros when the table has no ``product_smiles``).
    """
    prot: dict[str, np.ndarray] = {}
    subs: dict[str, np.ndarray] = {}
    prods: dict[str, np.ndarray] = {}
    products = frame[PRODUCTS] if PRODUCTS in frame.columns else [""] * len(frame)
    rows = []
    for seq, smi, ec, prod in zip(
        frame["sequence"], frame["reactant_smiles"], frame["ec"], products, strict=True
    ):
        if seq not in prot:
            prot[seq] = protein_features(seq)
        if smi not in subs:
            subs[smi] = substrate_features(smi)
        if prod not in prods:
            prods[prod] = fingerprint_bits(prod)
        rows.append(np.concatenate([prot[seq], subs[smi], ec_features(ec), prods[prod]]))
    return np.vstack(rows)


def tanimoto(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Tanimoto similarities ``(len(a), len(b))`` of 0/1 fingerprint rows (0 for empty ones)."""
    inter = a @ b.T
    union = a.sum(axis=1)[:, None] + b.sum(axis=1)[None, :] - inter
    return np.asarray(inter / np.maximum(union, 1.0))


def kmer_profiles(sequences: Iterable[str]) -> sparse.csr_matrix:
    """L2-normalised 3-mer count vectors (sparse, 8000 columns) of protein sequences."""
    from scipy import sparse

    indptr, cols, vals = [0], [], []
    for seq in sequences:
        idx = np.array([_AA_INDEX.get(a, -1) for a in seq], dtype=int)
        if len(idx) >= KMER:
            codes = idx[:-2] * 400 + idx[1:-1] * 20 + idx[2:]
            ok = (idx[:-2] >= 0) & (idx[1:-1] >= 0) & (idx[2:] >= 0)
            uniq, counts = np.unique(codes[ok], return_counts=True)
        else:
            uniq, counts = np.zeros(0, dtype=int), np.zeros(0, dtype=int)
        norm = math.sqrt(float(np.sum(counts.astype(float) ** 2))) or 1.0
        cols.extend(uniq.tolist())
        vals.extend((counts / norm).tolist())
        indptr.append(len(cols))
    return sparse.csr_matrix(
        (np.asarray(vals, dtype=float), np.asarray(cols, dtype=int), np.asarray(indptr)),
        shape=(len(indptr) - 1, 20**KMER),
    )


# -- EC baseline -----------------------------------------------------------------
class ECMeanBaseline:
    """Mean log10 kcat of the training rows sharing the longest known EC prefix.

    A query with EC ``a.b.c.d`` gets the mean of the training rows with EC
    ``a.b.c.d``; when there are none, of those under ``a.b.c``, then ``a.b``, then
    ``a``; then the global mean. ``predict`` returns log10 kcat (1/s) means and the
    std of the training rows of the class used (the global std for classes with
    fewer than 2 rows).

    Attributes
    ----------
    means_, stds_, counts_ : dict[str, float | int]
        Per EC prefix (all levels, ``''`` = global).
    """

    def fit(self, frame: pd.DataFrame, y: Iterable[float] | None = None) -> Self:
        ecs = [clean_ec(e, row=i) for i, e in enumerate(frame["ec"], start=1)]
        target = np.asarray(frame[TARGET] if y is None else list(y), dtype=float)
        if target.size == 0:
            raise NotEnoughDataError("ECMeanBaseline needs at least one training row")
        groups: dict[str, list[float]] = {"": list(target)}
        for ec, val in zip(ecs, target, strict=True):
            for prefix in ec_levels(ec):
                groups.setdefault(prefix, []).append(float(val))
        gstd = float(np.std(target)) if target.size > 1 else 1.0
        self.means_ = {k: float(np.mean(v)) for k, v in groups.items()}
        self.stds_ = {
            k: float(np.std(v, ddof=1)) if len(v) > 1 else gstd for k, v in groups.items()
        }
        self.counts_ = {k: len(v) for k, v in groups.items()}
        return self

    def lookup(self, ec: str) -> str:
        """The longest prefix of ``ec`` that the training rows have (``''`` = global)."""
        for prefix in reversed(ec_levels(ec)):
            if prefix in self.means_:
                return prefix
        return ""

    def predict(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """``(mean, std)`` of log10 kcat (kcat in 1/s) for each row of ``frame``."""
        keys = [self.lookup(clean_ec(e, row=i)) for i, e in enumerate(frame["ec"], start=1)]
        return (
            np.array([self.means_[k] for k in keys]),
            np.array([self.stds_[k] for k in keys]),
        )

    def loo_predict(self, frame: pd.DataFrame, y: np.ndarray) -> np.ndarray:
        """Leave-one-out class means for the training rows themselves (log10 kcat)."""
        out = np.empty(len(y))
        sums = {k: self.means_[k] * self.counts_[k] for k in self.means_}
        for i, (ec, val) in enumerate(zip(frame["ec"], y, strict=True)):
            out[i] = np.nan
            for prefix in [*reversed(ec_levels(ec)), ""]:
                n = self.counts_.get(prefix, 0) - 1
                if n >= 1:
                    out[i] = (sums[prefix] - val) / n
                    break
        return out


# -- the model -------------------------------------------------------------------
_PARAMS = (
    "n_members", "n_estimators", "max_depth", "learning_rate", "subsample",
    "colsample_bytree", "min_child_weight", "max_bin", "priors", "n_neighbors",
    "far_fraction", "family_similarity", "calibration_folds", "shrink", "prior_weight",
    "sequence_svd", "kernel_prior", "kernel_ridge", "kernel_ec_weight", "kernel_blend",
    "kernel_margin", "blend_neighbors", "n_jobs", "seed",
)  # fmt: skip

_ONE_SIGMA = 0.682689
_N_PRIORS = 5  # prior columns the trees see; two more feed the std only


def _ec_depth(baseline: ECMeanBaseline, ecs: Iterable[str]) -> np.ndarray:
    """EC levels (0-4) shared with the training class a row's EC prior comes from."""
    return np.array([len(ec_levels(baseline.lookup(ec))) for ec in ecs], dtype=float)


def _ec_stats_allowed(
    ecs: Sequence[str], y: np.ndarray, allowed: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The EC-class statistics :class:`ECMeanBaseline` gives, computed for each row of
    ``allowed`` (``(n_rows, n_train)`` bool) from the allowed training rows only:
    mean and std (ddof 1) of log10 kcat of the rows sharing its longest EC prefix
    and that prefix's depth (0-4). No shared prefix: the allowed rows' global mean and
    depth 0; a class of one row: the global std. NaN when no row is allowed. ``ecs``
    are the training rows' EC numbers; rows of ``allowed`` are training rows too (same
    order). So a training row's own value never enters the class statistics that
    describe it, as for a query."""
    n_rows = allowed.shape[0]
    a = allowed.astype(float)
    cnt_all = a.sum(axis=1)
    ok = cnt_all > 0
    mean = np.full(n_rows, np.nan)
    mean[ok] = (a[ok] @ y) / cnt_all[ok]
    sq = np.full(n_rows, np.nan)
    sq[ok] = (a[ok] @ y**2) / cnt_all[ok]
    gvar = (sq - mean**2) * cnt_all / np.maximum(cnt_all - 1, 1)
    gstd = np.where(cnt_all > 1, np.sqrt(np.clip(gvar, 0, None)), 1.0)
    std = np.where(ok, gstd, np.nan)
    depth_out = np.zeros(n_rows)
    done = np.zeros(n_rows, dtype=bool)
    levels = [ec_levels(ec) for ec in ecs]
    for depth in (4, 3, 2, 1):
        codes: dict[str, int] = {}
        code = np.array(
            [
                codes.setdefault(lv[depth - 1], len(codes)) if len(lv) >= depth else -1
                for lv in levels
            ]
        )
        mine = code[:n_rows]
        same = ((mine[:, None] == code[None, :]) & (mine[:, None] >= 0) & allowed).astype(float)
        cnt = same.sum(axis=1)
        use = (cnt > 0) & ~done
        m = (same[use] @ y) / cnt[use]
        mean[use] = m
        var = ((same[use] @ y**2) / cnt[use] - m**2) * cnt[use] / np.maximum(cnt[use] - 1, 1)
        std[use] = np.where(cnt[use] > 1, np.sqrt(np.clip(var, 0, None)), gstd[use])
        depth_out[use] = depth
        done |= use
    return mean, std, depth_out


def _families(sim: np.ndarray, threshold: float) -> np.ndarray:
    """Greedy families of training rows: each unassigned row in turn takes every
    unassigned row with 3-mer cosine >= ``threshold`` (rows of one sequence share one)."""
    n = sim.shape[0]
    fam = np.full(n, -1)
    k = 0
    for i in range(n):
        if fam[i] >= 0:
            continue
        fam[(sim[i] >= threshold) & (fam < 0)] = k
        fam[i] = k
        k += 1
    return fam


class KcatModel:
    """Bootstrap ensemble of gradient-boosted trees predicting log10 kcat (1/s).

    Parameters
    ----------
    n_members, seed:
        Ensemble size; every member's bootstrap resample and XGBoost seed derive
        from ``seed``.
    n_estimators, max_depth, learning_rate, subsample, colsample_bytree, min_child_weight,
    max_bin:
        Passed to each ``xgboost.XGBRegressor``.
    priors:
        Add the nearest-neighbour and EC-class priors as features (module docstring).
    n_neighbors:
        Neighbours averaged for the sequence prior.
    far_fraction:
        Fraction of training rows (drawn with ``seed``) whose priors are computed
        without their relatives (training enzymes with 3-mer cosine >=
        ``family_similarity``), so the trees learn how far to trust a prior from
        the best similarity that comes with it, as they must for a new family.
        0 (default) = every training row gets leave-one-out priors: the grouped
        CV inside CatPred's val file preferred it (r 0.318 vs 0.298 at 0.5 and
        0.303 at 1.0; BENCHMARKS.md).
    family_similarity:
        3-mer cosine similarity at or above which two enzymes count as relatives
        (0.15 keeps about 90 % of the CatPred pairs that share a 40 %-identity
        cluster and about 1 % of the others).
    calibration_folds:
        Folds of the internal grouped cross-validation that calibrates the std
        (families by ``family_similarity``; relatives of a fold never train for
        it); 0 = calibrate on out-of-bag rows only.
    shrink:
        Blend the ensemble's mean with the EC-class mean, weights linear in the
        best sequence similarity (``shrink_coef_``), fitted on the same pooled
        out-of-bag and grouped out-of-fold rows as the std: towards the EC mean
        when the nearest training enzyme is distant. Needs ``calibration_folds``.
        On by default: grouped CV inside CatPred's val file, r 0.343 vs 0.318
        without, random CV unchanged (0.493 vs 0.492; BENCHMARKS.md).
    prior_weight:
        How much likelier than any other column each of the five prior columns is
        to be drawn for a tree (XGBoost ``feature_weights`` under
        ``colsample_bytree``); 1 = uniform.
    sequence_svd:
        Add this many coordinates of a truncated SVD of the training enzymes' 3-mer
        profiles (a dense sequence embedding); 0 = off (16: CV r 0.517 vs 0.508).
    kernel_prior, kernel_ridge, kernel_ec_weight:
        Add a kernel ridge regression's prediction as a sixth prior (ridge
        ``kernel_ridge``; kernel = 3-mer cosine × reactant Tanimoto +
        ``kernel_ec_weight`` × shared EC levels / 4 × (1 + Tanimoto) / 2). Training
        rows get its exact leave-one-out value (and, for the internal grouped folds,
        its value without their relatives), like the other priors.
    kernel_blend:
        Also put the kernel ridge value (and its product with the best similarity)
        into the ``shrink`` blend. Kernel prior + blend: random 5-fold CV r inside
        CatPred's val file 0.540 vs 0.508 (fold seed 0, screened), 0.554 vs 0.516
        (fresh fold seeds 1-2, confirmation; BENCHMARKS.md).
    kernel_margin:
        With ``kernel_prior``: every tree model starts from the kernel ridge value
        (XGBoost ``base_margin``) and learns the residual from it, instead of starting
        from the training mean and using that value as one feature among many.
    blend_neighbors:
        With ``shrink`` and ``kernel_blend``: also put the enzyme and
        enzyme-substrate-pair kNN priors, and their products with their best
        similarities, into the blend (a second-level linear model over the trees,
        the kernel ridge, the neighbours and the EC class).
    n_jobs:
        XGBoost threads per member.

    Attributes
    ----------
    members_ : list of fitted ``xgboost.XGBRegressor``
    std_coef_ : ndarray (8,)
        Linear model of the expected |error| (log10 units) on ``[1, best sequence
        similarity, best enzyme-substrate pair similarity, shared EC levels / 4,
        weighted std of the enzyme neighbours' log10 kcat, std of the EC class,
        |mean - EC prior|, |kNN prior - EC prior|]``.
    std_scale_ : float
        Factor on that model so mean ± std holds 68.3 % of the calibration residuals
        (out-of-bag rows and internal grouped out-of-fold rows, pooled).
    shrink_coef_ : ndarray (5,), (7,) or (11,), or None
        With ``shrink``: weights of ``[1, ensemble mean, EC prior, mean × best
        similarity, EC prior × best similarity]`` (with ``kernel_blend`` also
        ``kernel ridge value, kernel value × best similarity``, with ``blend_neighbors``
        also ``kNN prior, kNN × best similarity, pair kNN prior, pair kNN × best pair
        similarity``) giving the reported mean.
    kernel_alpha_ : ndarray (n_train,) or None
        Dual coefficients of the kernel ridge prior (``kernel_mean_`` its offset).
    calibration_ : dict
        Coverage of ±1 std and ±1.96 std, Spearman(|error|, std), Pearson r and RMSE
        on the internal grouped folds (``grouped_*``) and out-of-bag rows (``oob_*``).
    oob_coverage_68_ : float
    oob_rmse_ : float
    n_features_in_ : int
    """

    # Keep the calibration rows' matrices after fit (large; for the std screen only).
    _keep_fit_data = False

    def __init__(
        self,
        n_members: int = 8,
        n_estimators: int = 300,
        max_depth: int = 6,
        learning_rate: float = 0.05,
        subsample: float = 0.8,
        colsample_bytree: float = 0.3,
        min_child_weight: float = 2.0,
        max_bin: int = 32,
        priors: bool = True,
        n_neighbors: int = 5,
        far_fraction: float = 0.0,
        family_similarity: float = 0.15,
        calibration_folds: int = 4,
        shrink: bool = True,
        prior_weight: float = 1.0,
        sequence_svd: int = 0,
        kernel_prior: bool = True,
        kernel_ridge: float = 0.3,
        kernel_ec_weight: float = 1.0,
        kernel_blend: bool = True,
        kernel_margin: bool = False,
        blend_neighbors: bool = False,
        n_jobs: int = 1,
        seed: int = 0,
    ) -> None:
        self.n_members = n_members
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.min_child_weight = min_child_weight
        self.max_bin = max_bin
        self.priors = priors
        self.n_neighbors = n_neighbors
        self.far_fraction = far_fraction
        self.family_similarity = family_similarity
        self.calibration_folds = calibration_folds
        self.shrink = shrink
        self.prior_weight = prior_weight
        self.sequence_svd = sequence_svd
        self.kernel_prior = kernel_prior
        self.kernel_ridge = kernel_ridge
        self.kernel_ec_weight = kernel_ec_weight
        self.kernel_blend = kernel_blend
        self.kernel_margin = kernel_margin
        self.blend_neighbors = blend_neighbors
        self.n_jobs = n_jobs
        self.seed = seed

    def get_params(self) -> dict[str, Any]:
        """The ``__init__`` hyper-parameters, by name."""
        return {k: getattr(self, k) for k in _PARAMS}

    # priors ------------------------------------------------------------------
    def _knn(self, sim: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Similarity-weighted mean log10 kcat of the ``n_neighbors`` most similar
        training rows, the best similarity and the weighted std of those neighbours'
        values; ``sim`` is ``(n_rows, n_train)`` with excluded training rows at
        ``-inf`` (a row with none left gets NaN, 0, NaN)."""
        k = min(self.n_neighbors, sim.shape[1])
        top = np.argpartition(-sim, k - 1, axis=1)[:, :k]
        tsim = np.take_along_axis(sim, top, axis=1)
        valid = np.isfinite(tsim)
        w = np.where(valid, np.clip(np.where(valid, tsim, 0.0), 1e-6, None) ** 4, 0.0)
        total = w.sum(axis=1)
        knn = np.full(len(sim), np.nan)
        has = total > 0
        vals = self.ref_y_[top]
        knn[has] = np.sum(w * vals, axis=1)[has] / total[has]
        spread = np.full(len(sim), np.nan)
        dev = (vals - knn[:, None]) ** 2
        spread[has] = np.sqrt(np.sum(w * dev, axis=1)[has] / total[has])
        best = np.where(valid.any(axis=1), np.max(np.where(valid, tsim, -1.0), axis=1), 0.0)
        return knn, np.clip(best, 0.0, None), spread

    def _similarities(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """3-mer cosine and reactant Tanimoto of each row to each training row."""
        prof = kmer_profiles(frame["sequence"])
        sim = (prof @ self.ref_profiles_.T).toarray()
        fps = np.vstack([fingerprint_bits(s) for s in frame["reactant_smiles"]])
        return sim, tanimoto(fps, self.ref_fps_)

    def _priors_from(
        self,
        frame: pd.DataFrame,
        sim: np.ndarray,
        tan: np.ndarray,
        exclude: np.ndarray | None,
        kernel: np.ndarray | None = None,
    ) -> np.ndarray:
        """Columns: kNN log10 kcat and best similarity by enzyme, the same by
        enzyme-substrate pair, EC-class mean (log10 kcat) -- the trees' priors
        (``_N_PRIORS``) -- then, for the std only, the spread of the enzyme
        neighbours' log10 kcat and the EC class's std. ``exclude`` marks training rows
        each row may not use (None: prediction, every training row counts)."""
        s = sim if exclude is None else np.where(exclude, -np.inf, sim)
        knn, best, kspread = self._knn(s)
        pknn, pbest, _ = self._knn(
            s * tan if exclude is None else np.where(exclude, -np.inf, sim * tan)
        )
        blank = np.asarray([not q for q in frame["sequence"]])
        knn[blank], best[blank], kspread[blank] = np.nan, np.nan, np.nan
        blank |= np.asarray([not q for q in frame["reactant_smiles"]])
        pknn[blank], pbest[blank] = np.nan, np.nan
        if exclude is None:
            ecm, ec_std = self.ec_baseline_.predict(frame)
            depth = _ec_depth(self.ec_baseline_, frame["ec"])
        else:
            # Training rows: class statistics without the excluded rows (the row itself
            # at least), or a row's own extreme value would widen the std it is
            # calibrated against.
            ecm, ec_std, depth = _ec_stats_allowed(
                list(self.ref_frame_["ec"]), self.ref_y_, ~exclude
            )
        if kernel is None:
            kernel = self._kernel_predict(frame, sim, tan)
        return np.column_stack([knn, best, pknn, pbest, ecm, kspread, ec_std, depth, kernel])

    # kernel ridge prior ---------------------------------------------------------
    def _kernel(self, ecs: Sequence[str], sim: np.ndarray, tan: np.ndarray) -> np.ndarray:
        """``(n_rows, n_train)`` kernel: 3-mer cosine × reactant Tanimoto plus
        ``kernel_ec_weight`` × (shared EC levels / 4) × (1 + Tanimoto) / 2: the same
        enzyme on the same substrate counts most, an enzyme of the same EC class
        on a similar substrate next."""
        shared = np.zeros(sim.shape)
        ref = [ec_levels(e) for e in self.ref_frame_["ec"]]
        mine = [ec_levels(e) for e in ecs]
        for depth in (1, 2, 3, 4):
            codes: dict[str, int] = {}
            c = np.array(
                [
                    codes.setdefault(lv[depth - 1], len(codes)) if len(lv) >= depth else -1
                    for lv in [*mine, *ref]
                ]
            )
            q, r = c[: len(mine)], c[len(mine) :]
            shared += (q[:, None] == r[None, :]) & (q[:, None] >= 0)
        s = np.clip(sim, 0.0, None)
        return s * tan + self.kernel_ec_weight * shared / 4 * (0.5 + 0.5 * tan)

    def _fit_kernel(self, ecs: Sequence[str], sim: np.ndarray, tan: np.ndarray) -> Any:
        """Fit the kernel ridge regression on the training rows; return their
        leave-one-out predictions and the inverse ``(K + ridge I)^-1`` (for
        leave-relatives-out values), or ``(None, None)`` when off."""
        if not self.kernel_prior:
            self.kernel_alpha_ = None
            return None, None
        K = self._kernel(ecs, sim, tan)
        K = (K + K.T) / 2
        self.kernel_mean_ = float(np.mean(self.ref_y_))
        H = np.linalg.inv(K + self.kernel_ridge * np.eye(len(K)))
        self.kernel_alpha_ = H @ (self.ref_y_ - self.kernel_mean_)
        # Closed-form leave-one-out (Allen's PRESS): y_i - alpha_i / H_ii.
        loo = self.ref_y_ - self.kernel_alpha_ / np.diag(H)
        return loo, H

    def _kernel_leave_out(self, H: np.ndarray, exclude: np.ndarray) -> np.ndarray:
        """Kernel ridge prediction of each training row from a fit without the rows
        ``exclude`` marks for it (its relatives): ``y_B - (H_BB)^-1 alpha_B`` for the
        left-out block B, exact for a fixed mean."""
        alpha = self.kernel_alpha_
        assert alpha is not None
        y = self.ref_y_ - self.kernel_mean_
        out = np.empty(len(y))
        cache: dict[bytes, np.ndarray] = {}
        for i in range(len(y)):
            block = np.flatnonzero(exclude[i])
            key = block.tobytes()
            if key not in cache:
                sol = np.linalg.solve(H[np.ix_(block, block)], alpha[block])
                cache[key] = y[block] - sol
            out[i] = cache[key][np.searchsorted(block, i)]
        return out + self.kernel_mean_

    def _kernel_predict(self, frame: pd.DataFrame, sim: np.ndarray, tan: np.ndarray) -> np.ndarray:
        """Kernel ridge prediction (log10 kcat) for query rows; NaN when off."""
        if getattr(self, "kernel_alpha_", None) is None:
            return np.full(len(frame), np.nan)
        K = self._kernel(list(frame["ec"]), sim, tan)
        return np.asarray(self.kernel_mean_ + K @ self.kernel_alpha_)

    def _tree_priors(self, priors: np.ndarray) -> np.ndarray:
        """The prior columns the trees see: kNN, best similarity, pair kNN, best pair
        similarity, EC-class mean, and with ``kernel_prior`` the kernel ridge value."""
        cols = [0, 1, 2, 3, 4] + ([8] if self.kernel_prior else [])
        return priors[:, cols]

    def _std_inputs(self, priors: np.ndarray, mean: np.ndarray) -> np.ndarray:
        """``[1, best similarity, best pair similarity, shared EC levels / 4,
        neighbours' spread, EC class std, |mean - EC prior|, |kNN prior - EC prior|]``
        (log10 units; unknown -> 0 or the global std). The last two: where the model
        or the neighbours disagree with the EC class, errors run larger."""
        gstd = self.ec_baseline_.stds_[""]
        ecm = priors[:, 4]
        z = np.column_stack(
            [
                np.ones(len(priors)),
                np.nan_to_num(priors[:, 1], nan=0.0),
                np.nan_to_num(priors[:, 3], nan=0.0),
                priors[:, 7] / 4,
                np.nan_to_num(priors[:, 5], nan=gstd),
                np.nan_to_num(priors[:, 6], nan=gstd),
                np.nan_to_num(np.abs(mean - ecm), nan=0.0),
                np.nan_to_num(np.abs(priors[:, 0] - ecm), nan=0.0),
            ]
        )
        return z

    def _fit_svd(self, sequences: Iterable[str]) -> np.ndarray | None:
        """``(sequence_svd, 8000)`` right singular vectors of the training enzymes'
        3-mer profiles (each distinct sequence once), or None when off: a dense
        sequence embedding the trees can split on, where 8000 sparse 3-mers cannot."""
        if self.sequence_svd <= 0:
            return None
        from sklearn.decomposition import TruncatedSVD

        uniq = sorted({s for s in sequences if s})
        k = min(self.sequence_svd, max(len(uniq) - 1, 1))
        svd = TruncatedSVD(n_components=k, random_state=self.seed)
        svd.fit(kmer_profiles(uniq))
        return np.asarray(svd.components_, dtype=float)

    def _features(self, df: pd.DataFrame) -> np.ndarray:
        """:func:`featurize` plus, with ``sequence_svd``, the 3-mer profile's SVD
        coordinates (NaN for a blank sequence)."""
        F = featurize(df)
        comp = getattr(self, "svd_components_", None)
        if comp is None:
            return F
        emb = np.asarray(kmer_profiles(df["sequence"]) @ comp.T)
        emb[np.asarray([not q for q in df["sequence"]])] = np.nan
        return np.hstack([F, emb])

    def _margin(self, X: np.ndarray) -> np.ndarray | None:
        """The trees' starting value per row with ``kernel_margin`` (the kernel ridge
        value, the last column of ``X``), else None (XGBoost's own base score)."""
        if not (self.kernel_margin and self.kernel_prior and self.priors):
            return None
        return np.asarray(X[:, -1], dtype=float)

    def _fit_regressor(self, reg: Any, X: np.ndarray, y: np.ndarray) -> None:
        """Fit one tree model; ``prior_weight`` sets how much likelier than any other
        column each prior column is to be drawn for a tree (``colsample_bytree``)."""
        kw: dict[str, Any] = {"base_margin": self._margin(X)}
        if self.priors and self.prior_weight != 1.0:
            w = np.ones(X.shape[1])
            w[-(_N_PRIORS + int(self.kernel_prior)) :] = self.prior_weight
            # A constructor setting since XGBoost 3 (passing it to fit is deprecated).
            reg.set_params(feature_weights=w)
        reg.fit(X, y, **kw)

    def _regressor(self, seed: int) -> Any:
        import xgboost as xgb

        return xgb.XGBRegressor(
            n_estimators=self.n_estimators,
            max_depth=self.max_depth,
            learning_rate=self.learning_rate,
            subsample=self.subsample,
            colsample_bytree=self.colsample_bytree,
            min_child_weight=self.min_child_weight,
            n_jobs=self.n_jobs,
            random_state=seed,
            tree_method="hist",
            max_bin=self.max_bin,
        )

    def _check_settings(self) -> None:
        """The kernel prior's and the priors' settings, checked before any work."""
        positive = {"kernel_ridge": self.kernel_ridge, "prior_weight": self.prior_weight}
        for name, value in positive.items():
            if not (math.isfinite(value) and value > 0):
                raise InputError(f"KcatModel {name} must be > 0", expected="> 0", found=value)
        if not (math.isfinite(self.kernel_ec_weight) and self.kernel_ec_weight >= 0):
            raise InputError(
                "KcatModel kernel_ec_weight must be >= 0",
                expected=">= 0",
                found=self.kernel_ec_weight,
            )
        # Options that only act on top of others: refused alone rather than ignored.
        needs = {
            "kernel_margin": (self.kernel_margin, ("priors", "kernel_prior")),
            "blend_neighbors": (self.blend_neighbors, ("shrink", "kernel_blend")),
        }
        for name, (on, required) in needs.items():
            off = [r for r in required if not getattr(self, r)]
            if on and off:
                raise InputError(
                    f"KcatModel {name} needs {' and '.join(required)}",
                    expected=" and ".join(f"{r}=True" for r in required),
                    found=", ".join(f"{r}=False" for r in off),
                )
        if int(self.sequence_svd) != self.sequence_svd or self.sequence_svd < 0:
            raise InputError(
                "KcatModel sequence_svd must be a whole number >= 0 (0: off)",
                expected="0, 1, 2, ...",
                found=self.sequence_svd,
            )

    def fit(
        self, frame: pd.DataFrame, y: Iterable[float] | None = None, *, progress: bool = False
    ) -> Self:
        """Fit on a kcat table (columns ``sequence``, ``reactant_smiles``, ``ec`` and
        ``log10_value`` = log10 kcat in 1/s, or ``y`` given separately).

        ``progress``: report each ensemble member and calibration fold
        (``biofab.core.progress``)."""
        import pandas as pd

        from biofab.core.progress import progress as reporter

        self._check_settings()
        df = frame.copy()
        if y is not None:
            df[TARGET] = list(y)
        df = validate_frame(df, need_target=True)
        if len(df) < 10:
            raise NotEnoughDataError(f"KcatModel needs at least 10 rows, got {len(df)}")
        target = df[TARGET].to_numpy(dtype=float)
        n = len(target)
        self.ec_baseline_ = ECMeanBaseline().fit(df)
        self.ref_y_ = target
        self.ref_profiles_ = kmer_profiles(df["sequence"])
        self.svd_components_ = self._fit_svd(df["sequence"])
        self.ref_fps_ = np.vstack([fingerprint_bits(s) for s in df["reactant_smiles"]])
        self.ref_frame_ = pd.DataFrame({"ec": df["ec"]})
        rng = np.random.default_rng(self.seed)
        sim, tan = self._similarities(df)
        related = sim >= self.family_similarity
        np.fill_diagonal(related, True)
        loo, H = self._fit_kernel(list(df["ec"]), sim, tan)
        kfar = None if H is None else self._kernel_leave_out(H, related)
        near = self._priors_from(df, sim, tan, np.eye(n, dtype=bool), loo)  # leave-one-out
        far = self._priors_from(df, sim, tan, related, kfar)  # leave-relatives-out
        is_far = rng.random(n) < self.far_fraction
        mixed = np.where(is_far[:, None], far, near)
        F = self._features(df)
        X = np.hstack([F, self._tree_priors(mixed)]) if self.priors else F
        Xfar = np.hstack([F, self._tree_priors(far)]) if self.priors else F
        folds = self.calibration_folds if self.calibration_folds >= 2 else 0
        self.members_ = []
        oob_sum, oob_sq, oob_n = np.zeros(n), np.zeros(n), np.zeros(n)
        with reporter("kcat model fit", self.n_members + folds, enabled=progress) as steps:
            for _ in range(self.n_members):
                idx = rng.integers(0, n, n)
                reg = self._regressor(int(rng.integers(0, 2**31 - 1)))
                self._fit_regressor(reg, X[idx], target[idx])
                self.members_.append(reg)
                out = np.setdiff1d(np.arange(n), idx)
                pred = reg.predict(X[out], base_margin=self._margin(X[out]))
                oob_sum[out] += pred
                oob_sq[out] += pred**2
                oob_n[out] += 1
                steps.advance(note="ensemble member")
            grp_pred = self._grouped_oof(X, Xfar, target, sim, related, folds, rng, steps)
        seen = oob_n > 0
        oob_mean = oob_sum[seen] / oob_n[seen]
        oob_res = target[seen] - oob_mean
        ok = np.isfinite(grp_pred)
        self.shrink_coef_ = None
        if self.shrink and ok.sum() > 10:
            S = np.vstack([self._stack(oob_mean, mixed[seen]), self._stack(grp_pred[ok], far[ok])])
            coef, *_ = np.linalg.lstsq(S, np.concatenate([target[seen], target[ok]]), rcond=None)
            self.shrink_coef_ = coef
            oob_mean = self._stack(oob_mean, mixed[seen]) @ coef
            oob_res = target[seen] - oob_mean
            grp_pred[ok] = self._stack(grp_pred[ok], far[ok]) @ coef
        grp_res = target[ok] - grp_pred[ok]
        if self._keep_fit_data:  # for benchmarks/parts_kcat_std_screen.py only
            self._fit_data = {
                "sim": sim, "tan": tan, "related": related, "far": far, "F": F, "X": X,
                "Xfar": Xfar, "ok": ok, "grp_pred": grp_pred, "target": target,
                "ec": list(df["ec"]),
            }  # fmt: skip
        z_oob = self._std_inputs(mixed[seen], oob_mean)
        z_grp = self._std_inputs(far[ok], grp_pred[ok])
        res = np.concatenate([oob_res, grp_res])
        Z = np.vstack([z_oob, z_grp])
        coef, *_ = np.linalg.lstsq(Z, np.abs(res), rcond=None)
        self.std_coef_ = coef
        g = self._std_shape(Z)
        self.std_scale_ = _scale_for(np.abs(res), g)
        std_oob = np.maximum(
            self.std_scale_ * g[: len(oob_res)],
            np.sqrt(np.clip(oob_sq[seen] / oob_n[seen] - oob_mean**2, 0, None)),
        )
        self.calibration_ = {"n_oob": int(seen.sum()), **_calibration("oob", oob_res, std_oob)}
        if len(grp_res):
            std_grp = self.std_scale_ * g[len(oob_res) :]
            self.calibration_.update(
                {"n_grouped": len(grp_res), **_calibration("grouped", grp_res, std_grp)}
            )
            if len(grp_res) > 2:
                r = np.corrcoef(grp_pred[ok], target[ok])[0, 1]
                self.calibration_["grouped_r"] = float(r)
        self.oob_coverage_68_ = self.calibration_["oob_coverage_68"]
        self.oob_rmse_ = float(np.sqrt(np.mean(oob_res**2)))
        self.n_features_in_ = X.shape[1]
        return self

    def _grouped_oof(
        self,
        X: np.ndarray,
        Xfar: np.ndarray,
        target: np.ndarray,
        sim: np.ndarray,
        related: np.ndarray,
        folds: int,
        rng: np.random.Generator,
        steps: Any,
    ) -> np.ndarray:
        """Out-of-fold predictions with whole families held out (NaN where none): a
        fold's relatives never train for it and its rows' priors omit their
        relatives, as for a new family. One tree model per fold."""
        pred = np.full(len(target), np.nan)
        if folds < 2:
            return pred
        fam = _families(sim, self.family_similarity)
        fold = rng.permutation(fam.max() + 1)[fam] % folds
        self._calibration_fold = fold
        for k in range(folds):
            test = fold == k
            train = ~test & ~related[:, test].any(axis=1)
            if test.any() and train.sum() >= 10:
                reg = self._regressor(int(rng.integers(0, 2**31 - 1)))
                self._fit_regressor(reg, X[train], target[train])
                pred[test] = reg.predict(Xfar[test], base_margin=self._margin(Xfar[test]))
            steps.advance(note="calibration fold")
        return pred

    def _stack(self, mean: np.ndarray, priors: np.ndarray) -> np.ndarray:
        """Inputs of the ``shrink`` blend; with ``kernel_blend`` also the kernel ridge
        value and its product with the best similarity."""
        S = _stack_inputs(mean, priors)
        if not self.kernel_blend:
            return S
        best = np.nan_to_num(priors[:, 1], nan=0.0)
        kr = np.where(np.isfinite(priors[:, 8]), priors[:, 8], mean)
        S = np.column_stack([S, kr, kr * best])
        if not self.blend_neighbors:
            return S
        knn = np.where(np.isfinite(priors[:, 0]), priors[:, 0], mean)
        pknn = np.where(np.isfinite(priors[:, 2]), priors[:, 2], mean)
        pbest = np.nan_to_num(priors[:, 3], nan=0.0)
        return np.column_stack([S, knn, knn * best, pknn, pknn * pbest])

    def _std_shape(self, z: np.ndarray) -> np.ndarray:
        """Expected |error| from the std inputs, floored at 0.2 log10 units."""
        return np.clip(z @ self.std_coef_, 0.2, None)

    def _check_fitted(self) -> None:
        if not hasattr(self, "members_"):
            raise NotEnoughDataError("KcatModel is not fitted; call fit() or load() first")

    def predict(
        self, frame: pd.DataFrame, *, allow_missing_sequence: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(mean, std)`` of log10 kcat (kcat in 1/s) for each row of ``frame``.

        ``std`` (log10 units) grows as the nearest training enzyme and
        enzyme-substrate pair get less similar and the EC class match gets
        shallower (``std_coef_``, calibrated on grouped out-of-fold and out-of-bag
        training rows); it is never below the members' spread. With
        ``allow_missing_sequence`` a blank ``sequence`` makes the protein features
        missing instead of an error.
        """
        self._check_fitted()
        df = validate_frame(frame, allow_missing_sequence=allow_missing_sequence)
        sim, tan = self._similarities(df)
        prior = self._priors_from(df, sim, tan, None)
        F = self._features(df)
        X = np.hstack([F, self._tree_priors(prior)]) if self.priors else F
        margin = self._margin(X)
        preds = np.vstack([m.predict(X, base_margin=margin) for m in self.members_])
        mean = preds.mean(axis=0)
        spread = preds.std(axis=0)
        if self.shrink_coef_ is not None:
            mean = self._stack(mean, prior) @ self.shrink_coef_
        shape = self._std_shape(self._std_inputs(prior, mean))
        return mean, np.maximum(self.std_scale_ * shape, spread)

    # persistence -------------------------------------------------------------
    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write the model to ``directory`` (manifest.json with ``kind: kcat``, members,
        reference data for the priors). Files are written atomically, manifest last."""
        from scipy import sparse

        self._check_fitted()
        d = output_folder(directory)
        for i, reg in enumerate(self.members_):
            with atomic_path(d / f"member_{i}.json", suffix=".json") as tmp:
                reg.save_model(str(tmp))
        with atomic_path(d / "reference.npz", suffix=".npz") as tmp:
            prof = sparse.csr_matrix(self.ref_profiles_)
            with open(tmp, "wb") as fh:
                np.savez_compressed(
                    fh,
                    y=self.ref_y_,
                    data=prof.data,
                    indices=prof.indices,
                    indptr=prof.indptr,
                    ec=np.asarray(self.ref_frame_["ec"], dtype=str),
                    fps=np.packbits(self.ref_fps_.astype(np.uint8), axis=1),
                    kernel_alpha=np.zeros(0) if self.kernel_alpha_ is None else self.kernel_alpha_,
                    kernel_mean=np.float64(getattr(self, "kernel_mean_", 0.0)),
                    svd=np.zeros((0, 20**KMER))
                    if self.svd_components_ is None
                    else self.svd_components_,
                )
        manifest = {
            "kind": KIND,
            "format_version": FORMAT_VERSION,
            "target": "log10 kcat (kcat in 1/s)",
            "params": self.get_params(),
            "std_coef": [float(c) for c in self.std_coef_],
            "std_scale": self.std_scale_,
            "shrink_coef": None
            if self.shrink_coef_ is None
            else [float(c) for c in self.shrink_coef_],
            "calibration": self.calibration_,
            "oob_coverage_68": self.oob_coverage_68_,
            "oob_rmse": self.oob_rmse_,
            "n_features": self.n_features_in_,
            "n_train": len(self.ref_y_),
            "features": {
                "fp_bits": FP_BITS,
                "fp_radius": FP_RADIUS,
                "ec_buckets": EC_BUCKETS,
                "kmer": KMER,
            },
        }
        write_atomic(d / MANIFEST, json.dumps(manifest, indent=2))
        return d

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> KcatModel:
        """A model saved by :meth:`save`; another kind's directory raises InputError."""
        import pandas as pd
        import xgboost as xgb
        from scipy import sparse

        d = Path(directory)
        manifest = read_manifest(d)
        if manifest.get("kind") != KIND:
            raise InputError(
                "model directory holds another kind of model",
                file=str(d),
                expected=f"kind '{KIND}'",
                found=manifest.get("kind"),
            )
        if manifest.get("format_version") != FORMAT_VERSION:
            raise InputError(
                "kcat model saved by another biofab version; retrain it",
                file=str(d),
                expected=f"format_version {FORMAT_VERSION}",
                found=manifest.get("format_version"),
            )
        # Options added after a model was saved are off in it.
        model = cls(
            **{
                "prior_weight": 1.0,
                "sequence_svd": 0,
                "kernel_prior": False,
                "kernel_blend": False,
                "kernel_margin": False,
                "blend_neighbors": False,
                **manifest["params"],
            }
        )
        model.members_ = []
        for i in range(model.n_members):
            reg = xgb.XGBRegressor()
            reg.load_model(str(d / f"member_{i}.json"))
            model.members_.append(reg)
        with np.load(d / "reference.npz") as ref:
            model.ref_y_ = ref["y"]
            model.ref_profiles_ = sparse.csr_matrix(
                (ref["data"], ref["indices"], ref["indptr"]), shape=(len(ref["y"]), 20**KMER)
            )
            ecs = [str(e) for e in ref["ec"]]
            model.ref_fps_ = np.unpackbits(ref["fps"], axis=1, count=FP_BITS).astype(float)
            svd = ref["svd"] if "svd" in ref.files else np.zeros((0, 20**KMER))
            model.svd_components_ = np.asarray(svd, dtype=float) if len(svd) else None
            alpha = ref["kernel_alpha"] if "kernel_alpha" in ref.files else np.zeros(0)
            model.kernel_alpha_ = np.asarray(alpha, dtype=float) if len(alpha) else None
            model.kernel_mean_ = float(ref["kernel_mean"]) if "kernel_mean" in ref.files else 0.0
        model.ref_frame_ = pd.DataFrame({"ec": ecs})
        model.ec_baseline_ = ECMeanBaseline().fit(pd.DataFrame({"ec": ecs, TARGET: model.ref_y_}))
        model.std_coef_ = np.asarray(manifest["std_coef"], dtype=float)
        model.std_scale_ = float(manifest["std_scale"])
        shrink = manifest.get("shrink_coef")
        model.shrink_coef_ = None if shrink is None else np.asarray(shrink, dtype=float)
        model.calibration_ = dict(manifest["calibration"])
        model.oob_coverage_68_ = float(manifest["oob_coverage_68"])
        model.oob_rmse_ = float(manifest["oob_rmse"])
        model.n_features_in_ = int(manifest["n_features"])
        return model


def read_manifest(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest.json of a saved model directory (InputError when absent or broken)."""
    d = Path(directory)
    path = d / MANIFEST
    if not path.is_file():
        raise InputError("not a biofab model directory (no manifest.json)", file=str(d))
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InputError("unreadable model manifest", file=str(path)) from None
    if not isinstance(manifest, dict):
        raise InputError("unreadable model manifest", file=str(path))
    return manifest


def _stack_inputs(mean: np.ndarray, priors: np.ndarray) -> np.ndarray:
    """``[1, mean, EC prior, mean × best similarity, EC prior × best similarity]``."""
    best = np.nan_to_num(priors[:, 1], nan=0.0)
    ecm = np.where(np.isfinite(priors[:, 4]), priors[:, 4], mean)
    return np.column_stack([np.ones(len(mean)), mean, ecm, mean * best, ecm * best])


def _scale_for(abs_res: np.ndarray, shape: np.ndarray, level: float = _ONE_SIGMA) -> float:
    """Smallest ``c > 0`` with ``mean(abs_res <= c * shape) >= level``."""
    return float(np.quantile(abs_res / shape, level, method="higher"))


def _calibration(prefix: str, residual: np.ndarray, std: np.ndarray) -> dict[str, float | None]:
    """Coverage of mean ± std and ± 1.96 std, Spearman(|error|, std) (None when std is
    constant), RMSE."""
    from scipy.stats import spearmanr

    err = np.abs(residual)
    rho = float(spearmanr(err, std)[0]) if len(err) > 2 and np.ptp(std) > 0 else None
    return {
        f"{prefix}_coverage_68": float(np.mean(err <= std)),
        f"{prefix}_coverage_95": float(np.mean(err <= 1.959964 * std)),
        f"{prefix}_spearman_abs_error_std": rho,
        f"{prefix}_rmse": float(np.sqrt(np.mean(residual**2))),
    }


# -- predictor for the metabolism pillar -----------------------------------------
def _strip_compartment(met_id: str) -> str:
    head, sep, tail = met_id.rpartition("_")
    return head if sep and 0 < len(tail) <= 2 else met_id


def reaction_frame(
    reactions: Sequence[Any],
    sequences: Mapping[str, str],
    smiles: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """One kcat-table row per COBRApy reaction (duck-typed: ``genes``, ``metabolites``,
    ``annotation``).

    The sequence is that of the reaction's first gene (by id) found in
    ``sequences`` (blank when none; the model then leans on substrates and EC);
    substrates are the reactants' SMILES from ``smiles`` (by metabolite id, then by
    the id without its compartment suffix, then the metabolite's ``smiles``
    annotation); products' SMILES likewise go to ``product_smiles``; EC is the
    reaction's first ``ec-code`` annotation.
    """
    import pandas as pd

    smiles = smiles or {}
    rows = []
    for rxn in reactions:
        seq = ""
        for gene in sorted(getattr(rxn, "genes", ()), key=lambda g: g.id):
            if gene.id in sequences:
                seq = sequences[gene.id]
                break
        parts: list[str] = []
        products: list[str] = []
        for met, coef in getattr(rxn, "metabolites", {}).items():
            ann = getattr(met, "annotation", {}) or {}
            smi = smiles.get(met.id) or smiles.get(_strip_compartment(met.id)) or ann.get("smiles")
            if isinstance(smi, list):
                smi = smi[0] if smi else None
            if smi:
                (parts if coef < 0 else products).append(str(smi))
        ec = (getattr(rxn, "annotation", {}) or {}).get("ec-code", "")
        if isinstance(ec, list):
            ec = ec[0] if ec else ""
        rows.append(
            {
                "sequence": seq,
                "reactant_smiles": ".".join(parts),
                "ec": ec,
                PRODUCTS: ".".join(products),
            }
        )
    return pd.DataFrame(rows, columns=["sequence", "reactant_smiles", "ec", PRODUCTS])


def predictor(
    model: KcatModel,
    sequences: Mapping[str, str] | None = None,
    smiles: Mapping[str, str] | None = None,
) -> Callable[[Any], tuple[np.ndarray, np.ndarray]]:
    """A callable ``f(reactions_or_frame) -> (log10 kcat mean, log10 std)``, kcat in 1/s.

    ``f`` takes a kcat table (DataFrame with ``sequence``, ``reactant_smiles``,
    ``ec``) or a list of COBRApy reactions, turned into rows by
    :func:`reaction_frame` with ``sequences`` (gene id -> protein) and ``smiles``
    (metabolite id -> SMILES). It fits
    ``biofab.metabolism.kcats.kcats_from_predictor``.
    """
    model._check_fitted()
    seqs = dict(sequences or {})

    def predict(items: Any) -> tuple[np.ndarray, np.ndarray]:
        import pandas as pd

        if isinstance(items, pd.DataFrame):
            frame = items
        else:
            frame = reaction_frame(list(items), seqs, smiles)
        if len(frame) == 0:
            return np.zeros(0), np.zeros(0)
        # A reaction whose genes have no known sequence still gets a prediction,
        # from substrates and EC, with its protein features missing.
        return model.predict(frame, allow_missing_sequence=True)

    return predict
