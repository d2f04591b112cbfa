"""Element reads of the promoter scan (issue 14 item 1): the spacing prior re-places a -35
that the calculator's flat spacing term lets slip onto a decoy window a base off, keeps the
calculator's -10 and start site, leaves a real 16- or 18-nt spacer alone, and is refused
when it is not a finite number >= 0. Synthetic sequences only (no shared data)."""

from __future__ import annotations

import numpy as np
import pytest

from biofab.core.errors import InputError
from biofab.parts.promoter_energy import SPACER_CONSENSUS, EnergyScanner
from biofab.parts.promoter_features import SPACER_PRIOR, element_table

#: the prior tested in BENCHMARKS.md (the default stays 0)
PRIOR = 0.5

# A designed sigma70 promoter: 30 nt upstream, a -35 three mismatches from TTGACA, a 17-nt
# spacer, the consensus -10, a 7-nt discriminator and a 20-nt transcribed region. One base
# 5' of the designed -35, "TTTAAA" (T from the upstream + TTAAA) scores better in the
# calculator's trinucleotide tables than "TTAAAG" by more than its 18-nt spacing costs.
UPSTREAM = "CTGCTCTCTGTAAAGCTAATCGCGAGTGTT"
MINUS35 = "TTAAAG"
SPACER = "GCCTGTATGAACGAGTA"
MINUS10 = "TATAAT"
DISC = "ATATCTA"
ITR = "GTCGAAACGAAGCAAAGATG"
DECOY = UPSTREAM + MINUS35 + SPACER + MINUS10 + DISC + ITR
H35, H10 = len(UPSTREAM), len(UPSTREAM) + 6 + len(SPACER)


def test_decoy_minus35_misread_by_the_calculator_placement_read_right_with_the_prior() -> None:
    scanner = EnergyScanner()
    old = scanner.scan([DECOY]).iloc[0]
    new = scanner.scan([DECOY], spacer_prior=PRIOR).iloc[0]
    # the calculator's own placement: right -10, -35 shifted onto the decoy (18-nt spacer)
    assert old["h10_start"] == H10 and old["h35_start"] == H35 - 1
    assert old["hex35"] == "TTTAAA" and old["spacer_length"] == 18
    # the spacing prior reads the designed elements
    assert new["h35_start"] == H35 and new["hex35"] == MINUS35
    assert new["spacer_length"] == len(SPACER) == SPACER_CONSENSUS
    assert new["up_start"] == H35 - 25
    # -10 and start site stay the calculator's; the terms are the calculator's at the site
    # read, so the total can only be higher than the calculator's best
    assert (new["h10_start"], new["tss"]) == (old["h10_start"], old["tss"])
    assert new["hex10"] == MINUS10
    assert new["dG_total"] >= old["dG_total"]
    terms = ["dG_10", "dG_35", "dG_disc", "dG_ITR", "dG_ext10", "dG_spacer", "dG_UP"]
    assert new[terms].sum() - old[terms].sum() == pytest.approx(new["dG_total"] - old["dG_total"])
    # the calculator's landscape descriptors do not depend on the read
    assert new["n_sites_1kcal"] == old["n_sites_1kcal"]
    assert new["second_gap"] == pytest.approx(old["second_gap"])


def test_element_table_reads_the_calculators_site_by_default_and_the_prior_on_request() -> None:
    assert SPACER_PRIOR == 0.0
    _, default = element_table([DECOY])
    assert default["hex35"].iloc[0] == "TTTAAA"
    _, site = element_table([DECOY], spacer_prior=PRIOR)
    assert site["hex35"].iloc[0] == MINUS35
    assert site["spacer_word"].iloc[0] == SPACER
    assert site["up_word"].iloc[0] == UPSTREAM[-25:-1]  # 24 nt, one free base before the -35
    _, plain = element_table([DECOY], spacer_prior=0.0)
    assert plain["hex35"].iloc[0] == "TTTAAA"


@pytest.mark.parametrize("spacer", [16, 18])
def test_a_real_non_consensus_spacing_is_kept(spacer: int) -> None:
    """Consensus hexamers 16 or 18 nt apart: the energy evidence outweighs the prior."""
    rng = np.random.default_rng(spacer)
    seqs = []
    for _ in range(20):
        fill = "".join(rng.choice(list("ACGT"), 30 + spacer + 27))
        seqs.append(fill[:30] + "TTGACA" + fill[30 : 30 + spacer] + "TATAAT" + fill[30 + spacer :])
    site = EnergyScanner().scan(seqs, spacer_prior=PRIOR)
    assert (site["spacer_length"] == spacer).mean() >= 0.95
    assert (site["h35_start"] == 30).mean() >= 0.95


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf")])
def test_bad_spacer_prior_is_refused_in_one_line(bad: float) -> None:
    with pytest.raises(InputError, match="spacer_prior") as err:
        EnergyScanner().scan([DECOY], spacer_prior=bad)
    assert "\n" not in str(err.value)


def test_energies_best_keeps_the_calculators_terms_and_moves_only_the_reads() -> None:
    feats, site = element_table([DECOY], spacer_prior=PRIOR, energies="best")
    plain_feats, plain = element_table([DECOY], spacer_prior=0.0)
    assert site["hex35"].iloc[0] == MINUS35 and plain["hex35"].iloc[0] == "TTTAAA"
    for col in ("dG_total", "dG_35", "dG_UP", "dG_spacer"):
        assert site[col].iloc[0] == plain[col].iloc[0]
        assert feats[col].iloc[0] == plain_feats[col].iloc[0]
    # the -35 one-hot columns follow the read, not the calculator's site
    assert feats["h35_0T"].iloc[0] == 1.0 and feats["h35_5G"].iloc[0] == 1.0
    assert plain_feats["h35_5A"].iloc[0] == 1.0
    with pytest.raises(InputError, match="energies"):
        element_table([DECOY], energies="site")
