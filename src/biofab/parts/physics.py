"""Physics-based part predictors behind the learned models' interface.

Two published biophysical models, wrapped so that anything that takes a
biofab parts model (the designer, a benchmark, a report) takes them too:

* :class:`PromoterCalculator` -- the Salis lab Promoter Calculator (LaFleur,
  Hossain & Salis 2022, Nat Commun 13:5159; PyPI ``promotercalculator``): a
  free-energy model of sigma70 RNA polymerase binding and initiation;
* :class:`TranslationRateCalculator` -- OSTIR (Roots et al. 2021, J Open Source
  Softw 6:3362; PyPI ``ostir``), the open-source re-implementation of the RBS
  Calculator v1 (Salis, Mirsky & Voigt 2009, Nat Biotechnol 27:946) on
  ViennaRNA's Python API (PyPI ``ViennaRNA``).

Each is usable three ways:

(a) directly: ``predict(sequences) -> (mean, std)`` like
    :class:`~biofab.parts.models.KmerBoost`, with ``kind`` (``"promoter"`` or
    ``"rbs"``), ``alphabet`` and ``length_range``; ``fit`` is a no-op that
    returns the estimator, so it drops into code written for fitted models;
(b) as features: ``features(sequences)`` returns the model's free-energy terms
    per sequence (a DataFrame), e.g. to add to a learned model's inputs
    (:func:`physics_features` picks the right model for a kind);
(c) as an independent judge of designs made with another model.

``std`` is a documented constant (the models have no per-sequence
uncertainty): see each class. Neither model needs fitting; both are imported
lazily (the packages are optional dependencies) and a missing package raises a
one-line :class:`~biofab.core.errors.InputError` that names the pip package.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Self

import numpy as np

from biofab.core.errors import InputError
from biofab.parts.sequences import check_sequence, check_sequences

if TYPE_CHECKING:
    import pandas as pd

#: BioBrick prefix (RFC 10: EcoRI, NotI, XbaI): the default sequence placed
#: upstream of a promoter for the calculator, which needs 25 nt upstream of the
#: -35 hexamer (a 24-nt UP element and one spacer base); LaFleur's UP elements
#: are only 16 nt, so a bare library member has no complete site.
BIOBRICK_PREFIX = "GAATTCGCGGCCGCTTCTAGAG"

# Calibration of the calculator's dG_total (kcal/mol, package 1.2.4, forward
# strand, BIOBRICK_PREFIX upstream) onto LaFleur 2022's Supplementary Data 3
# scale: least squares of the published "Predicted log(TX/Txref)" column on
# dG_total over 1,000 seeded random high-quality rows (see
# .helpers/parts_physics_notes.md for the command and fit statistics).
_LAFLEUR_SLOPE = 0.9577
_LAFLEUR_INTERCEPT = -0.1562
#: RMSE (LaFleur units) of the calibrated prediction against the *observed*
#: "Observed log(TX/Txref)" on those 1,000 rows. In-sample for the calculator:
#: its parameters were fitted on this library.
_LAFLEUR_RMSE = 0.404

#: Package constants (E. coli K-12 MG1655): Tx_rate = K exp(-BETA dG_total).
_CALC_K = 42.0
_CALC_BETA = 1.636217004872062

#: E. coli 16S rRNA 3' end read as the anti-Shine-Dalgarno (OSTIR's default).
ECOLI_ANTI_SD = "ACCTCCTTA"
#: Constant std of OSTIR's log10 TIR: log10(2.3). Salis et al. 2009 report that
#: the RBS Calculator predicts expression within 2.3-fold on average (mean
#: error, not re-measured here: the shared data hold no RBS library).
OSTIR_LOG10_STD = math.log10(2.3)

START_CODONS = ("ATG", "GTG", "TTG")
#: log10 TIR reported when OSTIR finds no 16S rRNA binding for the start codon
#: (it then returns no result): TIR = 1 au, the level of the weakest bound sites.
NO_BINDING_LOG10_TIR = 0.0


def _quiet_import_ostir() -> Any:
    """``ostir.run_ostir``; OSTIR warns on import when ViennaRNA's *programs* are
    not on PATH, which the Python API used here does not need."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from ostir import run_ostir
    except ImportError as err:
        raise InputError(
            f"OSTIR is not installed ({err})", expected="pip install ostir ViennaRNA"
        ) from None
    return run_ostir


class _PhysicsModel:
    """Shared behaviour: no fitting, alphabet and length checks, (mean, std)."""

    kind: ClassVar[str] = ""
    estimator: ClassVar[str] = ""
    alphabet: ClassVar[str] = "dna"
    length_range: tuple[int, int] = (1, 10_000)

    def fit(self, sequences: Any = None, y: Any = None) -> Self:
        """Nothing to fit (published parameters); returns ``self``."""
        return self

    def check(self, sequences: Sequence[str]) -> list[str]:
        """Sequences cleaned (upper case) and checked: A/C/G/T, length in range."""
        if isinstance(sequences, str):
            sequences = [sequences]
        lo, hi = self.length_range
        return check_sequences(list(sequences), "dna", lo, hi)

    def features(self, sequences: Sequence[str]) -> pd.DataFrame:
        raise NotImplementedError

    def _mean(self, table: pd.DataFrame) -> np.ndarray:
        raise NotImplementedError

    def _std(self) -> float:
        raise NotImplementedError

    def predict(self, sequences: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """``(mean, std)`` arrays, one value per sequence (units: see the class)."""
        table = self.features(sequences)
        mean = self._mean(table)
        return mean, np.full(mean.shape, self._std())


class PromoterCalculator(_PhysicsModel):
    """The Promoter Calculator's prediction for the best sigma70 site of a sequence.

    The calculator scores every promoter configuration (24-nt UP, -35 hexamer,
    15-20 nt spacer, -10 hexamer, 6-10 nt discriminator, 20-nt initial
    transcribed region) by a linear free-energy model. For a sequence this
    wrapper reports the **lowest dG_total over every transcription start site
    inside the sequence, on the forward strand** (a designed promoter is meant
    to fire forward), scanned in ``upstream + sequence + downstream``. The
    flanks are context only: they may supply the UP element's start or the
    ITR's end, but the TSS must lie in the sequence. A sequence with no complete
    site (under 58 nt upstream of any in-sequence TSS with the flank, or under
    20 nt after it) raises ``InputError``.

    Parameters
    ----------
    upstream, downstream:
        Fixed DNA around the sequence (default: the BioBrick prefix upstream,
        nothing downstream).
    units:
        ``"lafleur"`` (default): LaFleur 2022's ``log(TX/Txref)`` scale, via a
        linear calibration of dG_total onto the published calculator column
        (r = 0.99). NB: in Supplementary Data 3 that scale *falls* as
        transcription rises (``Observed log(TX/Txref)`` = -ln(TXave) - 2.85,
        r = -0.9998): lower is stronger, as for the models trained on it.
        ``"ln_tx"``: ln of the package's Tx_rate = 42 exp(-1.636 dG_total)
        (E. coli constants; higher is stronger). ``"dg"``: dG_total, kcal/mol.
    std:
        Constant model error to report; default: the RMSE of the calibrated
        prediction against LaFleur's observed values, 0.404 on the LaFleur scale
        (in-sample: the calculator was fitted on that library), converted to the
        other units by the calibration slope.
    """

    kind = "promoter"
    estimator = "promoter-calculator"
    length_range = (20, 1000)
    UNITS: ClassVar[tuple[str, ...]] = ("lafleur", "ln_tx", "dg")
    FEATURES: ClassVar[tuple[str, ...]] = (
        "dG_total",
        "dG_10",
        "dG_35",
        "dG_disc",
        "dG_ITR",
        "dG_ext10",
        "dG_spacer",
        "dG_UP",
        "dG_bind",
    )

    def __init__(
        self,
        upstream: str = BIOBRICK_PREFIX,
        downstream: str = "",
        units: str = "lafleur",
        std: float | None = None,
    ) -> None:
        self.upstream = upstream
        self.downstream = downstream
        self.units = units
        self.std = std
        self._calc: Any = None

    def _calculator(self) -> Any:
        if self.units not in self.UNITS:
            raise InputError("unknown units", expected=" | ".join(self.UNITS), found=self.units)
        for name in ("upstream", "downstream"):
            flank = getattr(self, name)
            if flank:
                check_sequence(flank, "dna", column=name)
        if self._calc is None:
            self._calc = new_promoter_calculator()
        return self._calc

    def features(self, sequences: Sequence[str]) -> pd.DataFrame:
        """Free-energy terms (kcal/mol) of each sequence's best forward sigma70 site.

        Columns: ``dG_total, dG_10, dG_35, dG_disc, dG_ITR, dG_ext10, dG_spacer,
        dG_UP, dG_bind`` (the calculator's terms), ``tss`` (0-based TSS in the
        sequence), ``spacer_length``, ``discriminator_length`` (nt), and the
        element sequences ``hex35, hex10``.
        """
        import pandas as pd

        calc = self._calculator()
        seqs = self.check(sequences)
        up = self.upstream.upper()
        down = self.downstream.upper()
        rows = []
        for i, s in enumerate(seqs):
            full = up + s + down
            states, _ = calc.predict(
                full, TSS_range=[len(up), len(up) + len(s)], callback=lambda: None
            )
            if not states:
                raise InputError(
                    "no complete sigma70 promoter site in the sequence (with its flanks)",
                    row=i + 1,
                    column="sequence",
                    expected=">= 58 nt upstream and 20 nt downstream of a TSS",
                    found=f"{len(s)} nt + {len(up)} nt upstream + {len(down)} nt downstream",
                )
            best = min(states.values(), key=lambda r: r["dG_total"])
            row = {k: float(best[k]) for k in self.FEATURES}
            row.update(
                tss=int(best["TSS"]) - len(up),
                spacer_length=len(best["spacer"]),
                discriminator_length=len(best["disc"]),
                hex35=best["hex35"],
                hex10=best["hex10"],
            )
            rows.append(row)
        return pd.DataFrame(rows)

    def _mean(self, table: pd.DataFrame) -> np.ndarray:
        dg = table["dG_total"].to_numpy(dtype=float)
        if self.units == "lafleur":
            return _LAFLEUR_SLOPE * dg + _LAFLEUR_INTERCEPT
        if self.units == "ln_tx":
            return math.log(_CALC_K) - _CALC_BETA * dg
        return dg

    def _std(self) -> float:
        if self.std is not None:
            return float(self.std)
        if self.units == "lafleur":
            return _LAFLEUR_RMSE
        if self.units == "ln_tx":
            return _LAFLEUR_RMSE * _CALC_BETA / _LAFLEUR_SLOPE
        return _LAFLEUR_RMSE / _LAFLEUR_SLOPE


class TranslationRateCalculator(_PhysicsModel):
    """OSTIR's translation initiation rate (TIR) for an mRNA; prediction = log10 TIR.

    TIR is in the RBS Calculator's arbitrary units, TIR = K exp(-beta dG_total)
    with OSTIR 1.1's constants (ln K = 7.279, beta = 0.400 mol/kcal, calibrated
    by OSTIR on the Salis 2009 data), so one log10 unit is a 10-fold change in
    expression. OSTIR folds the mRNA within 35 nt of the start codon.

    Parameters
    ----------
    cds:
        Start of the coding sequence (must begin with ATG, GTG or TTG). When
        given, each sequence passed to :meth:`predict` is the 5'UTR (or the RBS
        between ``upstream`` and the CDS) and the mRNA scored is
        ``upstream + sequence + cds``, initiating at the CDS's first codon.
        When ``None``, each sequence is a whole mRNA and ``start`` says where.
    upstream:
        Fixed 5'UTR text before the sequence (DNA letters; default none).
    start:
        1-based position of the start codon in ``upstream + sequence``, used
        only without ``cds``.
    anti_sd:
        3' end of the 16S rRNA, 9 nt (default E. coli ``ACCTCCTTA``).
    std:
        Constant model error, log10 units; default log10(2.3) = 0.36, the mean
        fold error the RBS Calculator paper reports (Salis et al. 2009).
    """

    kind = "rbs"
    estimator = "ostir"
    length_range = (1, 10_000)
    FEATURES: ClassVar[tuple[str, ...]] = (
        "dG_total",
        "dG_rRNA:mRNA",
        "dG_mRNA",
        "dG_spacing",
        "dG_standby",
        "dG_start_codon",
    )

    def __init__(
        self,
        cds: str | None = None,
        upstream: str = "",
        start: int | None = None,
        anti_sd: str = ECOLI_ANTI_SD,
        std: float | None = None,
    ) -> None:
        self.cds = cds
        self.upstream = upstream
        self.start = start
        self.anti_sd = anti_sd
        self.std = std

    def context(self) -> tuple[str, str]:
        """``(upstream, cds)`` checked and upper-cased (cds ``""`` when not given)."""
        up = check_sequence(self.upstream, "dna", column="upstream") if self.upstream else ""
        if self.cds is None:
            if self.start is None:
                raise InputError("give the CDS start (cds=) or the start codon position (start=)")
            return up, ""
        cds = check_sequence(self.cds, "dna", min_length=3, column="cds")
        if cds[:3] not in START_CODONS:
            raise InputError(
                "the CDS must begin with a start codon",
                column="cds",
                expected=" | ".join(START_CODONS),
                found=cds[:3],
            )
        return up, cds

    def features(self, sequences: Sequence[str]) -> pd.DataFrame:
        """OSTIR's terms (kcal/mol) per sequence, plus ``tir`` (au), ``log10_tir``,
        ``rbs_distance`` (nt from the 16S-binding site to the start codon),
        ``start`` (1-based start codon position in the mRNA scored) and
        ``bound`` (False when OSTIR found no 16S rRNA binding: the terms are
        then NaN and log10 TIR is the floor :data:`NO_BINDING_LOG10_TIR`)."""
        import pandas as pd

        run_ostir = _quiet_import_ostir()
        from ostir.ostir_calculations import OstirConstants

        log_k, beta = float(OstirConstants.logK), float(OstirConstants.Beta)
        up, cds = self.context()
        asd = check_sequence(self.anti_sd, "dna", 9, 9, column="anti_sd")
        seqs = self.check(sequences)
        rows = []
        for i, s in enumerate(seqs):
            mrna = up + s + cds
            start = len(up) + len(s) + 1 if cds else int(self.start or 0)
            if not 1 <= start <= len(mrna) - 2:
                raise InputError(
                    "start codon position outside the mRNA",
                    row=i + 1,
                    expected=f"1..{len(mrna) - 2}",
                    found=start,
                )
            if mrna[start - 1 : start + 2] not in START_CODONS:
                raise InputError(
                    "no start codon at the start position",
                    row=i + 1,
                    expected=" | ".join(START_CODONS),
                    found=mrna[start - 1 : start + 2],
                )
            hits = run_ostir(mrna, start=start, end=start, aSD=asd, threads=1, verbosity=0)
            hit = next((h for h in hits if int(h["start_position"]) == start), None)
            if hit is None:
                # OSTIR drops a start codon when no 16S rRNA binding is found in
                # its window: a dead RBS, reported at the floor value.
                row = dict.fromkeys(self.FEATURES, math.nan)
                row.update(tir=10.0**NO_BINDING_LOG10_TIR, log10_tir=NO_BINDING_LOG10_TIR)
                row.update(rbs_distance=-1, start=start, bound=False)
                rows.append(row)
                continue
            row = {k: float(hit[k]) for k in self.FEATURES}
            # OSTIR rounds TIR to 4 decimals (0 for weak sites); recompute it
            # from dG_total with OSTIR's own constants instead.
            ln_tir = log_k - beta * row["dG_total"]
            row.update(
                tir=math.exp(ln_tir),
                log10_tir=ln_tir / math.log(10.0),
                rbs_distance=int(hit["RBS_distance_bp"]),
                start=start,
                bound=True,
            )
            rows.append(row)
        return pd.DataFrame(rows)

    def _mean(self, table: pd.DataFrame) -> np.ndarray:
        return table["log10_tir"].to_numpy(dtype=float)

    def _std(self) -> float:
        return OSTIR_LOG10_STD if self.std is None else float(self.std)


def physics_features(sequences: Sequence[str], kind: str, **options: Any) -> pd.DataFrame:
    """Per-sequence physics features for a part ``kind``.

    ``promoter``: :meth:`PromoterCalculator.features` (numeric columns only);
    ``rbs``: :meth:`TranslationRateCalculator.features` (``options`` must give
    the context, e.g. ``cds=...``). ``options`` go to the model's constructor.
    """
    model: _PhysicsModel
    if kind == "promoter":
        model = PromoterCalculator(**options)
    elif kind == "rbs":
        model = TranslationRateCalculator(**options)
    else:
        raise InputError("no physics model for this kind", expected="promoter | rbs", found=kind)
    table = model.features(sequences)
    return table.select_dtypes(include="number")


def new_promoter_calculator() -> Any:
    """A quiet instance of the installed package's ``Promoter_Calculator`` (a one-line
    ``InputError`` naming the pip package when it is missing)."""
    try:
        from promoter_calculator.promoter_calculator import Promoter_Calculator
    except ImportError as err:
        raise InputError(
            f"the Promoter Calculator is not installed ({err})",
            expected="pip install promotercalculator",
        ) from None
    return Promoter_Calculator(verbosity=0)
