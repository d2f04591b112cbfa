"""Rough edges of the parts CLI found by trying it as a user (issue 14, item 5), each
through the real ``biofab`` entry point: the published promoter tables read as they are,
missing-column errors that name what is expected, kcat on several files with CatPred's
own unparsable product SMILES, Wu 2020 sequences, seeds of another design length, the
k-mer size and the kcat row/enzyme counts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from biofab.parts.datasets import load_wu2020
from conftest import shared_data

LAFLEUR = "parts/promoters/lafleur2022_supp_data3.csv"
HOSSAIN = "parts/promoters/hossain2020_from_lafleur2022_supp.csv"
WU_ASSAYS = "parts/signal_peptides/wu2020_tidy_processed_sps.csv"
WU_SPS = "parts/signal_peptides/wu2020_signal_peptides.csv"
WU_PROTEINS = "parts/signal_peptides/wu2020_proteins.csv"
CATPRED_VAL = "enzymes/catpred_kcat_random_val.csv"
CATPRED_TEST = "enzymes/catpred_kcat_random_test.csv"


def biofab(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "BIOFAB_DB"}
    return subprocess.run(
        [sys.executable, "-m", "biofab.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=600,
    )


def refused(done: subprocess.CompletedProcess[str], *words: str) -> str:
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


@pytest.fixture(scope="module")
def lafleur_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("lafleur")
    done = biofab("parts", "train", shared_data(LAFLEUR), "--kind", "promoter", "--model",
                  "kmer-ridge", "--members", "3", "--out", "m.dir", cwd=folder)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "LaFleur 2022 table" in done.stdout and "5193 high-quality rows" in done.stdout
    assert "trained kmer-ridge (promoter) on 5193 sequences" in done.stdout
    assert "members" in done.stderr  # each ensemble member reported while training
    return folder / "m.dir"


def test_published_promoter_tables_train_and_predict_as_they_are(
    lafleur_model: Path, tmp_path: Path
) -> None:
    done = biofab("parts", "predict", shared_data(HOSSAIN), "--model", lafleur_model,
                  "--out", "hossain.csv", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = pd.read_csv(tmp_path / "hossain.csv")
    assert {"id", "sequence", "target", "calculator", "prediction", "std"} <= set(out.columns)
    assert len(out) > 4000 and out["prediction"].notna().all() and (out["std"] > 0).all()


def test_missing_column_says_what_is_expected_and_what_was_found(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("seq,y\nACGTACGTACGTACGTACGTACGT,1\n")
    line = refused(
        biofab("parts", "train", "t.csv", "--kind", "promoter", "--out", "m", cwd=tmp_path),
        "missing column",
        "expected a column named 'sequence'",
        "found 'columns seq, y'",
    )
    assert "t.csv" in line
    assert not (tmp_path / "m").exists()


def test_kcat_trains_on_several_files_despite_catpreds_unparsable_product(
    tmp_path: Path,
) -> None:
    # Row 1932 of CatPred's test file has a product SMILES RDKit cannot read.
    val = pd.read_csv(shared_data(CATPRED_VAL)).iloc[:120]
    test = pd.read_csv(shared_data(CATPRED_TEST)).iloc[1880:1960]
    from biofab.parts.kcat import _molecules

    unparsable = [s for s in test["product_smiles"] if isinstance(s, str) and not _molecules(s)]
    assert len(unparsable) == 1  # the published row this test is about
    val.to_csv(tmp_path / "val.csv", index=False)
    test.to_csv(tmp_path / "test.csv", index=False)
    done = biofab("parts", "train", "val.csv", "test.csv", "--kind", "kcat", "--out", "k.dir",
                  cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    n_enzymes = pd.concat([val, test])["sequence"].nunique()
    assert f"on 200 rows ({n_enzymes} distinct enzymes" in done.stdout

    done = biofab("parts", "predict", "test.csv", "--model", "k.dir", "--out", "p.csv",
                  cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"for 80 rows ({test['sequence'].nunique()} distinct enzymes)" in done.stdout

    bad = val.copy()
    bad.loc[bad.index[3], "reactant_smiles"] = "C1CC(("  # reactants still must parse
    bad.to_csv(tmp_path / "bad.csv", index=False)
    refused(
        biofab("parts", "train", "val.csv", "bad.csv", "--kind", "kcat", "--out", "x",
               cwd=tmp_path),
        "bad.csv", "row 4", "reactant_smiles", "unparsable SMILES",
    )  # fmt: skip
    assert not (tmp_path / "x").exists()


def test_wu2020_reads_the_shared_sequence_tables() -> None:
    frame = load_wu2020(
        shared_data(WU_ASSAYS), sequences=shared_data(WU_SPS), proteins=shared_data(WU_PROTEINS)
    )
    assert {"sequence", "mature_sequence"} <= set(frame.columns)
    assert frame["sequence"].str.startswith("M").all()
    assert frame["protein_id"].nunique() <= 24


def test_design_refuses_seeds_of_another_length_and_a_trust_region_without_seeds(
    lafleur_model: Path, tmp_path: Path
) -> None:
    seeds = pd.read_csv(shared_data(HOSSAIN)).iloc[:3]
    (tmp_path / "seeds.csv").write_text("sequence\n" + "\n".join(seeds["Promoter Sequence"]) + "\n")
    length = len(seeds["Promoter Sequence"].iloc[0])
    refused(
        biofab("parts", "design", "--model", lafleur_model, "--target", "-5", "--n", "2",
               "--seeds", "seeds.csv", "--length", str(length - 6), "--out", "d.fasta",
               cwd=tmp_path),
        "seed length differs from the design length", f"{length} nt",
    )  # fmt: skip
    refused(
        biofab("parts", "design", "--model", lafleur_model, "--target", "-5", "--n", "2",
               "--length", "80", "--max-mutations", "4", "--out", "d.fasta", cwd=tmp_path),
        "a trust region needs seeds",
    )  # fmt: skip
    assert not (tmp_path / "d.fasta").exists()


def test_kmer_size_option(tmp_path: Path) -> None:
    sps = pd.read_csv(shared_data(WU_SPS))
    table = pd.DataFrame(
        {"sequence": sps["sp_sequence"], "target": sps["sp_sequence"].str.count("L")}
    )
    table.to_csv(tmp_path / "sp.csv", index=False)
    done = biofab("parts", "train", "sp.csv", "--kind", "signal_peptide", "--model",
                  "kmer-ridge", "--members", "2", "--out", "sp.dir", "--json",
                  cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    manifest = json.loads((tmp_path / "sp.dir" / "manifest.json").read_text())
    assert manifest["params"]["k"] is None  # protein default: 1..2-mers
    with __import__("numpy").load(tmp_path / "sp.dir" / "ridge.npz") as z:
        assert z["scale"].shape == (420,)
    refused(
        biofab("parts", "train", "sp.csv", "--kind", "signal_peptide", "--k", "3",
               "--out", "x", cwd=tmp_path),
        "k applies to the k-mer models only",
    )  # fmt: skip
    refused(
        biofab("parts", "train", "sp.csv", "--kind", "signal_peptide", "--model", "kmer-boost",
               "--k", "9", "--out", "x", cwd=tmp_path),
        "k-mer size out of range", "1..8",
    )  # fmt: skip
