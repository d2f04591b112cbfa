"""Hard sequence constraints and the model-guided designer.

The predictor here is a real, deterministic sequence -> number function (a
sigma70 core-promoter match score), not a trained model: best match to the
-35 box TTGACA and the -10 box TATAAT with a 15-19 nt spacer (17 best), so
0 <= mean <= 12 matching bases. Its std grows away from 50 % GC, which lets
the tests see the uncertainty penalty at work.
"""

from __future__ import annotations

import numpy as np
import pytest

from biofab.core import InputError, Sequence
from biofab.core.parameters import reverse_complement
from biofab.parts.constraints import (
    ENZYME_SITES,
    SequenceConstraints,
    enzyme_site,
    gc_content,
    longest_homopolymer,
)
from biofab.parts.design import SequenceDesigner, design_sequences, hamming, select_diverse

_BOX35 = "TTGACA"
_BOX10 = "TATAAT"


def _onehot(seqs: list[str]) -> np.ndarray:
    arr = np.frombuffer("".join(seqs).encode(), dtype=np.uint8).reshape(len(seqs), -1)
    return arr[:, :, None] == np.frombuffer(b"ACGT", dtype=np.uint8)[None, None, :]


def _box_matches(x: np.ndarray, box: str) -> np.ndarray:
    """(n, L - len(box) + 1) number of bases matching ``box`` at each start."""
    w = len(box)
    idx = ["ACGT".index(b) for b in box]
    starts = x.shape[1] - w + 1
    return sum(x[:, j : j + starts, k].astype(int) for j, k in enumerate(idx))


def sigma70(seqs: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Sigma70 consensus match score (bases, 0-12) and a GC-dependent std."""
    x = _onehot(seqs)
    m35 = _box_matches(x, _BOX35)
    m10 = _box_matches(x, _BOX10)
    best = np.full(len(seqs), -np.inf)
    for spacer in range(15, 20):
        off = 6 + spacer
        n = m10.shape[1] - off
        if n <= 0:
            continue
        total = m35[:, :n] + m10[:, off : off + n] - 0.5 * abs(spacer - 17)
        best = np.maximum(best, total.max(axis=1))
    gc = x[:, :, 1:3].sum(axis=(1, 2)) / x.shape[1]
    return best, 0.1 + 2.0 * np.abs(gc - 0.5)


ALL_ENZYMES = ("BsaI", "BsmBI", "BbsI", "SapI", "EcoRI", "BamHI", "XbaI", "SpeI")
ALL_ENZYMES += ("PstI", "NotI", "XhoI", "NdeI")


def lab_constraints(length: int = 60) -> SequenceConstraints:
    return SequenceConstraints(
        length=length,
        gc=(0.35, 0.65),
        max_homopolymer=4,
        enzymes=ALL_ENZYMES,
        forbidden_motifs=("GCNGC",),
        max_repeat=8,
        fixed={0: "G", -1: "C"},
        upstream="GGTCT",  # a BsaI site would form if the design started with C
    )


# ---------------------------------------------------------------- constraints


def test_enzyme_table_and_unknown_enzyme() -> None:
    for name, site in [("BsaI", "GGTCTC"), ("BsmBI", "CGTCTC"), ("BbsI", "GAAGAC")]:
        assert enzyme_site(name.upper()) == (name, site)
    for name in ("SapI", "EcoRI", "BamHI", "XbaI", "SpeI", "PstI", "NotI", "XhoI", "NdeI"):
        assert name in ENZYME_SITES
    with pytest.raises(InputError) as err:
        SequenceConstraints(enzymes=("BsaI", "FooI"))
    msg = str(err.value)
    assert "\n" not in msg and "FooI" in msg and "BsaI" in msg and "EcoRI" in msg


@pytest.mark.parametrize("enzyme", ["BsaI", "BsmBI", "BbsI", "SapI", "EcoRI", "NotI"])
def test_sites_found_on_both_strands(enzyme: str) -> None:
    c = SequenceConstraints(enzymes=(enzyme,))
    site = ENZYME_SITES[enzyme]
    fwd = "AAAAC" + site + "CAAAA"
    rev = "AAAAC" + reverse_complement(site) + "CAAAA"
    for seq, strand in [(fwd, "forward"), (rev, "reverse")]:
        v = c.violations(seq)
        assert not c.ok(seq)
        assert any(enzyme in r for r in v), v
        if reverse_complement(site) != site:
            assert any(strand in r and "at 5" in r for r in v), v
    assert c.ok("AAAACGATCGCAAAA") and c.violations("AAAACGATCGCAAAA") == []


def test_bsai_on_reverse_strand_named_as_such() -> None:
    c = SequenceConstraints(enzymes=("BsaI",))
    v = c.violations("TTTGAGACCTTT")  # GAGACC = reverse complement of GGTCTC
    assert v == ["BsaI site GGTCTC on the reverse strand at 3"]


def test_motifs_iupac_and_regex_both_strands() -> None:
    c = SequenceConstraints(forbidden_motifs=("GCNGC", "AAC{3}"))
    assert not c.ok("TTGCAGCTT")  # GCNGC, palindromic
    assert not c.ok("TTAACCCTT")  # regex forward
    assert not c.ok("TTGGGTTTT")  # regex on the reverse strand (GGGTT -> AACCC)
    assert c.ok("TTGCAACTT")
    with pytest.raises(InputError):
        SequenceConstraints(forbidden_motifs=("A[",))


def test_site_across_flank_junction() -> None:
    c = SequenceConstraints(enzymes=("BsaI",), upstream="AAGGTCT")
    assert not c.ok("CAAAA")
    assert "BsaI site GGTCTC on the forward strand at -5" in c.violations("CAAAA")
    assert c.ok("AAAAA")
    with pytest.raises(InputError, match="flank itself"):
        SequenceConstraints(enzymes=("BsaI",), downstream="GGTCTC")


def test_gc_and_homopolymer_limits() -> None:
    c = SequenceConstraints(gc=(0.4, 0.6), max_homopolymer=3)
    assert c.ok("ACGTACGTAC")
    assert any("GC 0.200" in r for r in c.violations("ATATATATGC"))
    assert any("GC 0.800" in r for r in c.violations("GCGCGCGCAT"))
    v = c.violations("ACGAAAAGTC")
    assert any("homopolymer Ax4 at 3" in r for r in v) and not c.ok("ACGAAAAGTC")
    assert c.ok("ACGAAAGGTC")
    assert gc_content("GGCA") == 0.75 and longest_homopolymer("ACCCGT") == 3


def test_direct_repeats() -> None:
    c = SequenceConstraints(max_repeat=5)
    seq = "ACGTTGCA" + "TTAGCC" + "GAGAGT" + "TTAGCC"
    assert not c.ok(seq)
    assert c.violations(seq) == ["direct repeat TTAGCC (6 nt > 5) at 8 and 20"]
    assert c.ok("ACGTTGCA" + "TTAGCC" + "GAGAGT" + "TTAGCA")


def test_fixed_positions_and_motifs() -> None:
    c = SequenceConstraints(length=12, fixed={0: "A", -1: "T"}, fixed_motifs={3: "TANAAT"})
    assert c.ok("ACCTAGAATGGT")
    v = c.violations("CCCTAGAATGGA")
    assert (
        "position 0 must be A (fixed), found C" in v
        and "position 11 must be T (fixed), found A" in v
    )
    assert not any("position 5" in r for r in c.violations("ACCTACCATGGT"))  # N is free
    assert any("position 6" in r for r in c.violations("ACCTAGCATGGT"))
    assert c.violations("ACGT") == ["length 4, expected 12"]
    rng = np.random.default_rng(1)
    for s in c.random(20, rng):
        assert s[0] == "A" and s[-1] == "T" and s[3:5] == "TA" and s[6:9] == "AAT"


def test_impossible_constraints_are_one_line_errors() -> None:
    cases = [
        dict(length=10, gc=(0.9, 1.0), fixed={0: "A", 1: "T"}),  # fixed A/T cap GC at 0.8
        dict(length=10, gc=(0.55, 0.58)),  # no whole number of G/C in 5.5..5.8
        dict(length=20, enzymes=("BsaI",), fixed_motifs={2: "GGTCTC"}),
        dict(length=20, max_homopolymer=3, fixed_motifs={2: "AAAA"}),
        dict(length=20, max_repeat=3, fixed_motifs={0: "ACGT", 10: "ACGT"}),
        dict(length=5, fixed={7: "A"}),
        dict(gc=(0.7, 0.3)),
        dict(max_homopolymer=0),
        dict(fixed={0: "X"}),
    ]
    for kw in cases:
        with pytest.raises(InputError) as err:
            SequenceConstraints(**kw)  # type: ignore[arg-type]
        assert "\n" not in str(err.value)


def test_random_sequences_meet_tight_constraints() -> None:
    c = lab_constraints(80)
    seqs = c.random(30, np.random.default_rng(0))
    assert len(set(seqs)) == 30
    for s in seqs:
        assert c.ok(s) and c.violations(s) == [] and not s.startswith("C")


def test_local_mutant_check_agrees_with_full_check() -> None:
    c = lab_constraints(60)
    rng = np.random.default_rng(5)
    parents = c.random(20, rng)
    agree = rejected = 0
    for parent in parents:
        for _ in range(50):
            pos = sorted(rng.choice(np.arange(1, 59), size=int(rng.integers(1, 4)), replace=False))
            s = list(parent)
            for p in pos:
                s[p] = "ACGT".replace(s[p], "")[int(rng.integers(3))]
            mutant = "".join(s)
            assert c.ok_mutant(mutant, pos) == c.ok(mutant), (parent, mutant, pos)
            agree += 1
            rejected += not c.ok(mutant)
    assert agree == 1000 and rejected > 50  # both outcomes exercised


def test_project_keeps_most_of_a_seed() -> None:
    c = lab_constraints(60)
    good = c.random(1, np.random.default_rng(3))[0]
    assert c.project(good, np.random.default_rng(0)) == good
    bad = good[:20] + "GGTCTC" + good[26:]  # plant a BsaI site
    fixed = c.project(bad, np.random.default_rng(0))
    assert c.ok(fixed) and hamming(fixed, bad) <= 6


def test_parameter_round_trip() -> None:
    param = Sequence(alphabet="ACGT", length=30, fixed={3: "A"}, forbidden_motifs=("GAATTC",))
    c = SequenceConstraints.from_parameter(param, gc=(0.3, 0.7), enzymes=("BsaI",))
    assert c.length == 30 and c.fixed == {3: "A"}
    back = c.to_parameter()
    assert back.length == 30 and back.fixed == {3: "A"}
    assert set(back.forbidden_motifs) == {"GAATTC", "GGTCTC"}
    # The core parameter then rejects a reverse-strand BsaI site as well.
    seq = "CCCA" + "GAGACC" + "C" * 20
    assert back.problem(seq) is not None and not c.ok(seq)
    assert SequenceConstraints.from_dict(c.to_dict()) == c
    with pytest.raises(InputError):
        SequenceConstraints.from_parameter(Sequence(alphabet="ACDEFGHIKLMNPQRSTVWY", length=5))
    with pytest.raises(InputError):
        SequenceConstraints.from_dict({"gc": [0.4, 0.6], "colour": "red"})


# ---------------------------------------------------------------- design


def test_selection_is_diverse() -> None:
    seqs = ["AAAAAA", "AAAAAT", "TTTTTT", "AAATTT", "CCCCCC"]
    idx = select_diverse(seqs, np.array([5.0, 4.0, 3.0, 2.0, 1.0]), 3, 3)
    assert idx == [0, 2, 3]


@pytest.fixture(scope="module")
def target_run() -> tuple[SequenceDesigner, object]:
    designer = SequenceDesigner(
        sigma70,
        lab_constraints(60),
        target=9.0,
        uncertainty_penalty=0.5,
        n=8,
        min_distance=10,
        steps=120,
        seed=7,
        progress=False,
    )
    return designer, designer.design()


def test_design_reaches_target_and_obeys_everything(target_run) -> None:  # type: ignore[no-untyped-def]
    designer, df = target_run
    c = designer.constraints.with_length(60)
    assert len(df) == 8 and designer.shortfall_ == 0
    assert list(df.columns) == [
        "name",
        "sequence",
        "prediction",
        "std",
        "score",
        "gc",
        "nearest_distance",
        "origin",
        "origin_distance",
    ]
    for s in df["sequence"]:
        assert c.violations(s) == []  # 100 % constraint-clean
    mean, std = sigma70(list(df["sequence"]))
    np.testing.assert_allclose(df["prediction"], mean)
    np.testing.assert_allclose(df["std"], std)
    assert np.all(np.abs(mean - 9.0) <= 0.5)
    seqs = list(df["sequence"])
    dists = [hamming(a, b) for i, a in enumerate(seqs) for b in seqs[i + 1 :]]
    assert min(dists) >= 10 and df["nearest_distance"].min() >= 10
    assert df["score"].is_monotonic_decreasing
    assert designer.designs_per_minute_ > 0 and df.attrs["n_evaluated"] > 100
    # Random starts score far from 9 (a random 60-mer matches about 7 bases).
    assert designer.best_history_[-1] > designer.best_history_[0]


def test_design_is_reproducible(target_run) -> None:  # type: ignore[no-untyped-def]
    _, df = target_run
    again = SequenceDesigner(
        sigma70,
        lab_constraints(60),
        target=9.0,
        uncertainty_penalty=0.5,
        n=8,
        min_distance=10,
        steps=120,
        seed=7,
        progress=False,
    ).design()
    assert list(again["sequence"]) == list(df["sequence"])


def test_maximize_from_seed_library_with_penalty() -> None:
    c = SequenceConstraints(gc=(0.3, 0.7), max_homopolymer=5, enzymes=("BsaI", "EcoRI"))
    rng = np.random.default_rng(11)
    library = {f"p{i}": "".join(rng.choice(list("ACGT"), 50)) for i in range(6)}
    library["p_bsai"] = "GGTCTC" + library["p0"][6:]  # a member with a BsaI site
    df = design_sequences(
        sigma70,
        c,
        n=4,
        seeds=library,
        min_distance=4,
        steps=60,
        uncertainty_penalty=2.0,
        seed=1,
        progress=True,  # exercise the Rich bar (transient, on stderr)
    )
    assert len(df) == 4 and set(df["origin"]) <= set(library)
    assert all(c.ok(s) for s in df["sequence"])
    mean, _ = sigma70(list(library.values()))
    assert df["prediction"].min() > mean.max()  # better than every seed
    assert df["std"].max() < 0.5  # the penalty keeps GC near 50 %


def test_trust_region_keeps_designs_near_their_seeds() -> None:
    c = SequenceConstraints(gc=(0.3, 0.7), max_homopolymer=5)
    rng = np.random.default_rng(5)
    library = {f"p{i}": "".join(rng.choice(list("ACGT"), 50)) for i in range(8)}
    free = design_sequences(sigma70, c, n=4, seeds=library, steps=80, seed=2, progress=False)
    near = design_sequences(
        sigma70, c, n=4, seeds=library, steps=80, seed=2, progress=False, max_mutations=3
    )
    assert near["origin_distance"].max() <= 3 < free["origin_distance"].max()
    assert all(c.ok(s) for s in near["sequence"])
    with pytest.raises(InputError, match="max_mutations"):
        design_sequences(sigma70, c, n=2, seeds=library, max_mutations=0)


def test_bad_design_inputs_are_one_line_errors() -> None:
    c = SequenceConstraints(length=20)
    bad = [
        dict(min_distance=21),
        dict(n=0),
        dict(uncertainty_penalty=-1.0),
        dict(target=float("nan")),
        dict(steps=-1),
    ]
    for kw in bad:
        with pytest.raises(InputError) as err:
            SequenceDesigner(sigma70, c, progress=False, **kw).design()  # type: ignore[arg-type]
        assert "\n" not in str(err.value)
    with pytest.raises(InputError, match="length"):
        design_sequences(sigma70, SequenceConstraints(), n=2)
    with pytest.raises(InputError, match="row 2"):
        design_sequences(sigma70, None, seeds=["ACGTACGTAC", "ACGTNCGTAC"], n=2)
    with pytest.raises(InputError, match="row 2"):
        design_sequences(sigma70, None, seeds=["ACGTACGTAC", "ACGTACG"], n=2)
    with pytest.raises(InputError, match="nothing to design"):
        design_sequences(sigma70, SequenceConstraints(fixed_motifs={0: "ACGTACGT"}), length=8)

    def broken(seqs: list[str]) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros(len(seqs) + 1), np.zeros(len(seqs) + 1)

    with pytest.raises(InputError, match="wrong length"):
        design_sequences(broken, c, n=2, steps=2)
