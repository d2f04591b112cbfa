"""Physics predictors (Promoter Calculator, OSTIR) and OSTIR-guided RBS design.

Real packages (``promotercalculator``, ``ostir`` on ViennaRNA), no mocks; skipped
when they are not installed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from biofab.cli.parts import parts_app
from biofab.core.errors import InputError
from biofab.parts.constraints import SequenceConstraints
from biofab.parts.physics import (
    PromoterCalculator,
    TranslationRateCalculator,
    physics_features,
)
from biofab.parts.rbs import design_rbs

pytest.importorskip("promoter_calculator")
pytest.importorskip("RNA")
pytest.importorskip("ostir")

# LaFleur 2022 library member 0 (consensus -35 TTGACA / -10 TATAAT) and the same
# promoter with both hexamers destroyed.
UP, SPACER, DISC, ITR = "TTTTCTATCTACGTAC", "CTATTTCCTATTTCTCT", "CCCCGCGG", "CTCTACCTTAGTTTGTACGTT"
STRONG = UP + "TTGACA" + SPACER + "TATAAT" + DISC + ITR
WEAK = UP + "GCCGCG" + SPACER + "GCGCGC" + DISC + ITR

# Start of sfGFP's CDS; a strong Shine-Dalgarno UTR (BBa_B0034-like) and poly-A.
CDS = "ATGCGTAAAGGCGAAGAGCTGTTCACTGGTGTCGTCCCTATTCTGGTGGAACTGGATGGTGATGTCAACGGTCAT"
STRONG_UTR = "TTCTAGAGAAAGAGGAGAAATACTAG"
POLY_A = "A" * 26


def test_promoter_calculator_consensus_beats_broken_boxes() -> None:
    calc = PromoterCalculator(units="ln_tx")
    mean, std = calc.predict([STRONG, WEAK])
    assert np.all(np.isfinite(mean)) and np.all(std > 0)
    assert mean[0] > mean[1] + 2.0  # ln units: consensus boxes are far stronger
    # LaFleur units fall as transcription rises, as in Supplementary Data 3.
    lafleur, _ = PromoterCalculator().predict([STRONG, WEAK])
    assert lafleur[0] < lafleur[1]
    assert -5.0 < lafleur[0] < -2.5  # library member 0: published column -3.84
    feats = calc.features([STRONG])
    assert feats.loc[0, "hex35"] == "TTGACA" and feats.loc[0, "hex10"] == "TATAAT"
    num = physics_features([STRONG], "promoter")
    assert "dG_total" in num.columns and np.isfinite(num.to_numpy(dtype=float)).all()


def test_promoter_calculator_bad_input() -> None:
    with pytest.raises(InputError, match="non-DNA letter"):
        PromoterCalculator().predict(["ACGTN" * 15])
    with pytest.raises(InputError, match="no complete sigma70"):
        PromoterCalculator(upstream="").predict([STRONG[:40]])
    with pytest.raises(InputError, match="unknown units"):
        PromoterCalculator(units="log2").predict([STRONG])


def test_ostir_strong_sd_beats_poly_a() -> None:
    model = TranslationRateCalculator(cds=CDS)
    mean, std = model.predict([STRONG_UTR, POLY_A])
    assert np.all(np.isfinite(mean)) and np.all(std > 0)
    assert mean[0] > mean[1] + 0.5  # > 3-fold
    feats = model.features([STRONG_UTR])
    assert feats.loc[0, "bound"] and feats.loc[0, "dG_rRNA:mRNA"] < -5
    # Whole-mRNA mode gives the same number.
    whole = TranslationRateCalculator(start=len(STRONG_UTR) + 1)
    assert whole.predict([STRONG_UTR + CDS])[0][0] == pytest.approx(mean[0])


def test_ostir_bad_context() -> None:
    with pytest.raises(InputError, match="start codon"):
        TranslationRateCalculator(cds="CCC" + CDS).predict([STRONG_UTR])
    with pytest.raises(InputError, match="cds"):
        TranslationRateCalculator(cds="ATGXYZ").predict([STRONG_UTR])
    with pytest.raises(InputError, match="cds="):
        TranslationRateCalculator().predict([STRONG_UTR])


def test_design_rbs_hits_target_under_constraints() -> None:
    base = SequenceConstraints(
        gc=(0.3, 0.6), max_homopolymer=4, enzymes=("BsaI", "EcoRI", "XbaI"), max_repeat=8
    )
    target = 3.5
    designs = design_rbs(
        CDS,
        upstream="GGGAGA",
        target=target,
        length=25,
        n=4,
        constraints=base,
        steps=20,
        chains=8,
        progress=False,
    )
    assert len(designs) == 4
    assert (np.abs(designs["prediction"] - target) <= 0.25).all()
    full = SequenceConstraints(**{**base.to_dict(), "length": 25, "upstream": "GGGAGA"})
    for s in designs["sequence"]:
        assert full.ok(s) and not full.violations(s)
    # The independent re-score agrees with what the designer saw.
    again, _ = TranslationRateCalculator(cds=CDS, upstream="GGGAGA").predict(
        designs["sequence"].tolist()
    )
    np.testing.assert_allclose(again, designs["prediction"])
    assert designs["mrna_5utr"].str.startswith("GGGAGA").all()


def test_cli_design_rbs(tmp_path: Path) -> None:
    out = tmp_path / "rbs.fasta"
    res = CliRunner().invoke(
        parts_app,
        [
            "design-rbs",
            "--cds",
            CDS,
            "--utr",
            "GGGAGA",
            "--maximize",
            "--n",
            "2",
            "--length",
            "20",
            "--steps",
            "5",
            "--forbid",
            "BsaI",
            "--out",
            str(out),
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    assert out.read_text().count(">") == 2 and out.with_suffix(".csv").is_file()


def test_cli_design_rbs_bad_cds_exit_2_no_output(tmp_path: Path) -> None:
    out = tmp_path / "rbs.fasta"
    runner = CliRunner()
    for cds in ("ATGNNNAAA" + CDS, "TTAGGC" + CDS):
        res = runner.invoke(
            parts_app, ["design-rbs", "--cds", cds, "--target", "3", "--out", str(out)]
        )
        assert isinstance(res.exception, InputError), res.output
        assert res.exception.exit_code == 2
        assert "\n" not in str(res.exception)
        assert not out.exists() and not out.with_suffix(".csv").exists()
    res = runner.invoke(parts_app, ["design-rbs", "--cds", CDS, "--out", str(out)])
    assert isinstance(res.exception, InputError) and not out.exists()
