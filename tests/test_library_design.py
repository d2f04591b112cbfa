"""Library design for the build step (issue 17, item 1): codons, coverage, primers, export, CLI."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from itertools import product
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from biofab.core.errors import InputError
from biofab.core.space import Space
from biofab.parts.library_design import (
    ECOLI_CODON,
    CodonSet,
    LibraryDesign,
    check_cds,
    expand,
    primers,
    reverse_complement,
    translate,
    write_variants,
)
from biofab.parts.variants import GB1_PARENT, GB1_POSITIONS, SiteLibrary

#: GB1 coding DNA written with E. coli's most used codons (a stand-in for the lab's plasmid)
GB1_CDS = "".join(ECOLI_CODON[a] for a in GB1_PARENT) + "TAA"
#: vector sequence after the stop codon (pET-style XhoI site + His tag), for the V54 flank
DOWNSTREAM = "CTCGAGCACCACCACCACCACCACTGAGATCCGGCTGCTAACAAAGCCC"


# -- codon sets ------------------------------------------------------------------------------


def test_named_codon_sets() -> None:
    nnk = CodonSet.parse("NNK")
    assert nnk.n_codons == 32 and len(nnk.residues) == 20
    assert nnk.stop_fraction == pytest.approx(1 / 32)  # TAG only
    ndt = CodonSet.parse("NDT")
    assert (ndt.n_codons, ndt.residues, ndt.stop_fraction) == (12, "CDFGHILNRSVY", 0.0)
    trick = CodonSet.parse("22c")  # Kille et al. 2013: 22 codons, 20 amino acids, no stop
    assert trick.n_codons == 22 and len(trick.residues) == 20 and trick.stop_fraction == 0
    probs = trick.residue_probabilities()
    assert probs["L"] == pytest.approx(2 / 22) and probs["V"] == pytest.approx(2 / 22)
    assert probs["W"] == pytest.approx(1 / 22)
    assert CodonSet.parse("NDT:12+VHG:9+TGG:1").residue_probabilities() == pytest.approx(probs)
    own = CodonSet.parse("GCT,TGG")
    assert own.residues == "AW" and own.codon_for("W") == "TGG"
    assert len(expand("NNN")) == 64 and expand("ATG") == ["ATG"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [("NNX", "not a degenerate codon"), ("NN", "not a degenerate codon"), ("NDT:-1", "positive")],
)
def test_bad_codon_sets(spec: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        CodonSet.parse(spec)


def test_site_library_allows_what_the_codons_encode() -> None:
    design = LibraryDesign(GB1_PARENT, GB1_POSITIONS, {"V54": "NDT"}, default="NNK")
    assert design.library.allowed["V54"] == "CDFGHILNRSVY"
    assert design.library.allowed["V39"] == "ACDEFGHIKLMNPQRSTVWY"
    assert isinstance(design.library.space(), Space)
    assert design.n_variants == 20**3 * 12 and design.n_codon_combinations == 32**3 * 12
    assert design.stop_fraction == pytest.approx(1 - (31 / 32) ** 3)
    with pytest.raises(InputError, match="not a site"):
        LibraryDesign(GB1_PARENT, GB1_POSITIONS, {"K10": "NDT"})
    with pytest.raises(InputError, match="encodes under two residues"):
        LibraryDesign(GB1_PARENT, [39], "TGG")


# -- coverage --------------------------------------------------------------------------------


def test_equiprobable_library_follows_the_poisson_formula() -> None:
    ndt = LibraryDesign(GB1_PARENT, [39], "NDT")
    # L = -V ln(1 - C) for V equally likely variants (Reetz et al. 2008): 12 -> 35.9 -> 36
    assert ndt.clones_for_coverage(0.95) == math.ceil(-12 * math.log(0.05))
    assert ndt.expected_coverage(36) >= 0.95 > ndt.expected_coverage(35)
    assert ndt.expected_coverage(0) == 0


def test_grouped_coverage_equals_the_sum_over_every_variant() -> None:
    design = LibraryDesign(GB1_PARENT, [39, 40], {"V39": "NNK", "D40": "22c"})
    a, b = (cs.residue_probabilities() for cs in design.codon_sets.values())
    p = np.array([a[x] * b[y] for x, y in product(a, b) if "*" not in (x, y)])
    assert len(p) == design.n_variants == 400
    for clones in (100, 1000, 3000):
        assert design.expected_coverage(clones) == pytest.approx(np.mean(-np.expm1(-clones * p)))


def test_coverage_holds_when_clones_are_drawn() -> None:
    """Draw clones codon by codon from the DNA mix: the mean coverage at the computed
    number of clones is 95 % (binomial sampling: within 1 %)."""
    design = LibraryDesign(GB1_PARENT, [39, 40], "NNK")
    need = design.clones_for_coverage(0.95)
    rng = np.random.default_rng(0)
    sets = list(design.codon_sets.values())
    probs = [cs.codon_probabilities() for cs in sets]
    from biofab.parts.library_design import _genetic_code

    code = _genetic_code()
    seen = []
    for _ in range(60):
        residues = [
            np.array([code[c] for c in rng.choice(list(pr), size=need, p=list(pr.values()))])
            for pr in probs
        ]
        variants = {a + b for a, b in zip(*residues, strict=True) if "*" not in a + b}
        seen.append(len(variants) / design.n_variants)
    assert abs(np.mean(seen) - 0.95) < 0.01
    assert need > 3 * 32 * 32 * 400 / 1024 * 0.9  # more than 3x V: NNK is biased and has stops


def test_budget_too_small_for_coverage_is_one_line() -> None:
    design = LibraryDesign(GB1_PARENT, GB1_POSITIONS, "NNK")
    with pytest.raises(InputError) as err:
        design.check_budget(384)
    text = str(err.value)
    assert "160,000 variants needs 1,430,761 clones for 95% coverage" in text
    assert "budget is 384" in text and "\n" not in text
    small = LibraryDesign(GB1_PARENT, [39], "NDT")
    assert small.check_budget(96) == 36


# -- primers ---------------------------------------------------------------------------------


def test_primers_carry_the_degenerate_codons_in_parent_context() -> None:
    design = LibraryDesign(GB1_PARENT, GB1_POSITIONS, {"V54": "22c"}, default="NNK")
    table = primers(design, GB1_CDS, downstream=DOWNSTREAM, target_tm=60)
    template = GB1_CDS + DOWNSTREAM
    fwd = table[table["direction"] == "forward"]
    rev = table[table["direction"] == "reverse"]
    assert len(fwd) == 1 + 3 and len(rev) == len(fwd)  # V39-G41 share one primer; V54 has 3
    assert set(fwd["sites"]) == {"V39/D40/G41", "V54"}
    for f, r in zip(fwd.itertuples(), rev.itertuples(), strict=True):
        assert r.sequence == reverse_complement(f.sequence)
        assert f.flank_5p_tm >= 60 and f.flank_3p_tm >= 60
    first = fwd.iloc[0]["sequence"]
    i = first.index("NNKNNKNNK")
    left, right = first[:i], first[i + 9 :]
    assert template.find(left + GB1_CDS[114:123] + right) >= 0  # parent around V39-G41
    assert template[114:123] == "GTGGATGGC"  # V39 D40 G41 codons in the parent
    v54 = fwd[fwd["sites"] == "V54"]
    assert v54["mix_fraction"].sum() == pytest.approx(1.0)
    assert sorted(v54["codons"]) == ["NDT", "TGG", "VHG"]


def test_bad_cds_and_short_flank() -> None:
    design = LibraryDesign(GB1_PARENT, GB1_POSITIONS, "NNK")
    with pytest.raises(InputError, match="too close to the end of the CDS"):
        primers(design, GB1_CDS)
    with pytest.raises(InputError, match=r"does not translate to the parent \(residue 2"):
        check_cds("ATGAAA" + GB1_CDS[6:], GB1_PARENT)
    with pytest.raises(InputError, match="not whole codons"):
        check_cds(GB1_CDS[:-1], GB1_PARENT)
    with pytest.raises(InputError, match="non-DNA letter"):
        check_cds(GB1_CDS.replace("ATG", "AUG", 1), GB1_PARENT)


# -- export ----------------------------------------------------------------------------------


def test_export_fasta_and_genbank(tmp_path: Path) -> None:
    from Bio import SeqIO

    design = LibraryDesign(GB1_PARENT, GB1_POSITIONS, "22c")
    lib = design.library
    chosen = lib.frame(["FWAA", "V39F", "WT"])
    chosen["prediction"] = [8.7, 2.0, 1.0]
    gb = write_variants(
        lib, chosen, tmp_path / "v.gb", cds=GB1_CDS, codon_sets=design.codon_sets,
        values=["prediction"],
    )  # fmt: skip
    records = list(SeqIO.parse(gb, "genbank"))
    assert [r.id for r in records] == ["V39F_D40W_G41A_V54A", "V39F", "WT"]
    for rec, code in zip(records, ["FWAA", "FDGV", "VDGV"], strict=True):
        protein = translate(str(rec.seq))
        assert protein == lib.sequence(lib.parse(code)) + "*"
    labels = [f.qualifiers["label"][0] for f in records[0].features if f.type == "misc_feature"]
    assert labels == ["V39F", "D40W", "G41A", "V54A"]
    assert "prediction=8.7" in records[0].description
    fa = write_variants(lib, chosen, tmp_path / "v.fasta")
    proteins = [str(r.seq) for r in SeqIO.parse(fa, "fasta")]
    assert proteins == lib.sequences(chosen)


def test_export_refuses_duplicates_and_writes_nothing(tmp_path: Path) -> None:
    lib = SiteLibrary(GB1_PARENT, GB1_POSITIONS)
    with pytest.raises(InputError, match="listed twice"):
        write_variants(lib, lib.frame(["FWAA", "V39F/D40W/G41A/V54A"]), tmp_path / "x.fasta")
    assert not list(tmp_path.iterdir())
    with pytest.raises(InputError, match="cannot tell the export format"):
        write_variants(lib, lib.frame(["FWAA"]), tmp_path / "x.txt")


# -- the CLI, through the real entry point -----------------------------------------------------


def biofab(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "BIOFAB_DB"}
    return subprocess.run(
        [sys.executable, "-m", "biofab.cli", *map(str, args)],
        capture_output=True, text=True, cwd=cwd, env=env, timeout=300,
    )  # fmt: skip


def refused(done: subprocess.CompletedProcess[str], *words: str) -> str:
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def test_cli_design_focus_export(tmp_path: Path) -> None:
    (tmp_path / "gb1.faa").write_text(f">gb1\n{GB1_PARENT}\n")
    (tmp_path / "gb1.fna").write_text(f">gb1 cds\n{GB1_CDS}\n")
    done = biofab(
        "parts", "library", "design", "--parent", "gb1.faa", "--sites", "V39,D40,G41,V54",
        "--codons", "NDT", "--site-codons", "V54=22c", "--parent-dna", "gb1.fna",
        "--downstream", DOWNSTREAM, "--out", "lib", "--json", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["n_variants"] == 12**3 * 20 and summary["n_primers"] == 2 * (1 + 3)
    assert sorted(p.name for p in (tmp_path / "lib").iterdir()) == [
        "library.html", "library.json", "primers.csv", "sites.csv", "space.yaml",
    ]  # fmt: skip
    space = Space.from_yaml(tmp_path / "lib" / "space.yaml")
    assert space.names == ["V39", "D40", "G41", "V54"]
    page = (tmp_path / "lib" / "library.html").read_text()
    assert "Coverage against clones screened" in page and "plotly" in page
    order = pd.read_csv(tmp_path / "lib" / "primers.csv")
    assert {"name", "sequence", "mix_fraction"} <= set(order.columns)

    done = biofab("parts", "library", "focus", "--library", "lib/library.json", "--n", "12",
                  "--top", "0.05", "--out", "round1.csv", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    first = pd.read_csv(tmp_path / "round1.csv")
    assert len(first) == 12 and first["variant"].is_unique
    assert set(first["V54"]) <= set("ACDEFGHIKLMNPQRSTVWY")

    first[["variant"]].head(3).to_csv(tmp_path / "chosen.csv", index=False)
    done = biofab("parts", "library", "export", "chosen.csv", "--library", "lib/library.json",
                  "--out", "chosen.gb", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "wrote 3 DNA sequences (genbank)" in done.stdout


def test_cli_bad_input_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    refused(
        biofab("parts", "library", "design", "--parent", GB1_PARENT, "--sites", "V39,D40,G41,V54",
               "--budget", "384", "--out", "lib", cwd=tmp_path),
        "needs 1,430,761 clones for 95% coverage", "budget is 384",
    )  # fmt: skip
    from biofab.parts import library_workflows as wf

    for parent, sites, words in [
        (GB1_PARENT, "V39,V99", "site V99: position beyond the parent sequence"),
        (GB1_PARENT[:-1] + "J", "V39", "non-amino-acid letter 'J' at position 56"),
        (GB1_PARENT, "D39", "site D39: the parent has another residue there"),
    ]:
        with pytest.raises(InputError, match=words):
            wf.design(wf.DesignRequest(parent, sites, tmp_path / "lib"))
    (tmp_path / "dup.csv").write_text("variant,fitness\nFWAA,8.7\nVDGV,1\nV39F/D40W/G41A/V54A,8\n")
    refused(
        biofab("parts", "library", "export", "dup.csv", "--parent", GB1_PARENT, "--sites",
               "V39,D40,G41,V54", "--out", "dup.fasta", cwd=tmp_path),
        "dup.csv, row 3", "listed twice",
    )  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dup.csv"]
