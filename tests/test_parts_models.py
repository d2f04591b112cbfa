"""Parts pillar: sequence validation, published loaders, encodings, models, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from biofab.cli.parts import parts_app
from biofab.core.errors import BiofabError, InputError
from biofab.parts.datasets import load_lafleur, load_wu2020
from biofab.parts.encoding import kmer_counts, kmer_names, one_hot
from biofab.parts.models import CNNEnsemble, KmerBoost, KmerRidge, load_model
from biofab.parts.sequences import check_sequence, read_sequences
from conftest import shared_data

LAFLEUR = "parts/promoters/lafleur2022_supp_data3.csv"
WU = "parts/signal_peptides/wu2020_tidy_processed_sps.csv"


def _one_line(err: pytest.ExceptionInfo[BiofabError]) -> str:
    text = str(err.value)
    assert "\n" not in text
    return text


@pytest.fixture(scope="module")
def promoters() -> pd.DataFrame:
    return load_lafleur(shared_data(LAFLEUR))


@pytest.fixture(scope="module")
def subset(promoters: pd.DataFrame) -> pd.DataFrame:
    return promoters.sample(1000, random_state=0).reset_index(drop=True)


def _random_dna(n: int, rng: np.random.Generator) -> str:
    return "".join(rng.choice(list("ACGT"), size=n))


# -- validation ---------------------------------------------------------------------------


def test_check_sequence_cleans_and_flags_each_problem() -> None:
    assert check_sequence(" acgt\n") == "ACGT"
    assert check_sequence("MKV*", "protein") == "MKV"  # trailing stop dropped
    with pytest.raises(InputError) as e:
        check_sequence("ACGNT", file="x.csv", row=3)
    assert "x.csv, row 3, column 'sequence'" in _one_line(e)
    assert "'N' at position 4" in str(e.value)
    with pytest.raises(InputError, match="stop codon"):
        check_sequence("MK*V", "protein")
    with pytest.raises(InputError, match="non-amino-acid letter 'B'"):
        check_sequence("MKBV", "protein")
    with pytest.raises(InputError, match=r"length out of range.*expected 50-200 nt; found '40 nt'"):
        check_sequence("A" * 40, "dna", 50, 200)
    with pytest.raises(InputError, match="missing sequence"):
        check_sequence(float("nan"))


def test_read_sequences_csv_and_fasta(tmp_path: Path) -> None:
    csv = tmp_path / "lib.csv"
    csv.write_text("name,seq,value\np1,ACGTACGT,1.5\np2,ggccaatt,-2\n")
    t = read_sequences(csv, sequence_column="seq", target_column="value", id_column="name")
    assert list(t.columns) == ["id", "sequence", "target"]
    assert t["sequence"].tolist() == ["ACGTACGT", "GGCCAATT"]
    assert t["target"].tolist() == [1.5, -2.0]
    fa = tmp_path / "sp.fasta"
    fa.write_text(">sp1 desc\nMKKLL\nAVA\n>sp2\nMRRL*\n")
    f = read_sequences(fa, "protein")
    assert f["id"].tolist() == ["sp1", "sp2"]
    assert f["sequence"].tolist() == ["MKKLLAVA", "MRRL"]


@pytest.mark.parametrize(
    ("text", "kwargs", "match"),
    [
        ("", {}, "empty file"),
        ("sequence\n", {}, "empty file"),
        ("sequence,y\nACGT,1\nACXT,2\n", {}, "row 2, column 'sequence'.*non-DNA letter 'X'"),
        ("sequence,y\nACGT,1\n", {"target_column": "z"}, "column 'z'.*missing column"),
        ("sequence,y\nACGT,1\nACGT,high\n", {"target_column": "y"}, "row 2, column 'y'"),
        ("sequence\nACGT\nACGTACGTAC\n", {"max_length": 8}, "row 2.*expected 1-8 nt"),
        (">a\nMK*KL\n", {"alphabet": "protein"}, "row 1.*stop codon"),
        (">a\nMKJL\n", {"alphabet": "protein"}, "non-amino-acid letter 'J'"),
        (">a\nACGT\n", {"target_column": "y"}, "FASTA file has no target"),
    ],
)
def test_read_sequences_bad_input(
    tmp_path: Path, text: str, kwargs: dict[str, object], match: str
) -> None:
    suffix = ".fasta" if text.startswith(">") else ".csv"
    path = tmp_path / f"bad{suffix}"
    path.write_text(text)
    with pytest.raises(InputError, match=match) as e:
        read_sequences(path, **kwargs)  # type: ignore[arg-type]
    assert str(path) in _one_line(e)


# -- published data -----------------------------------------------------------------------


def test_load_lafleur_real_file(promoters: pd.DataFrame) -> None:
    full = load_lafleur(shared_data(LAFLEUR), high_quality=False)
    assert len(full) == 13481
    assert len(promoters) == 5193 == int(full["high_quality"].sum())
    assert list(promoters.columns) == ["id", "sequence", "target", "calculator", "high_quality"]
    lengths = full["sequence"].str.len()
    assert lengths.min() == 57 and lengths.max() == 87
    # Row 0 of the file: UP + h35 + spacer + h10 + disc + ITR.
    assert full.loc[0, "sequence"] == (
        "TTTTCTATCTACGTACTTGACACTATTTCCTATTTCTCTTATAATCCCCGCGGCTCTACCTTAGTTTGTACGTT"
    )
    assert full.loc[0, "target"] == pytest.approx(-3.386326274)
    assert full.loc[0, "calculator"] == pytest.approx(-3.844826703)


def test_load_wu2020_real_file() -> None:
    path = shared_data(WU)
    every = load_wu2020(path, correct_only=False, controls=True)
    assert len(every) == 4176
    w = load_wu2020(path)
    assert w["correct"].all() and not w["family"].isin(["positive", "negative"]).any()
    assert {"sp_id", "protein_id", "assay_value"} <= set(w.columns)
    assert 0 < len(w) < 3939
    with pytest.raises(InputError, match="signal peptide without a sequence"):
        load_wu2020(path, sequences={"sps10-1": "MKKLLAVAL"})


# -- encodings ----------------------------------------------------------------------------


def test_one_hot_centres_and_masks() -> None:
    X, mask = one_hot(["ACG", "ACGTA"], "dna")
    assert X.shape == (2, 4, 5) and mask.shape == (2, 5)
    assert mask[0].tolist() == [False, True, True, True, False]
    assert X[0, :, 0].sum() == 0 and X[0, 0, 1] == 1  # 'A' at the first real position
    assert (X.sum(axis=1) == mask).all()


def test_kmer_counts() -> None:
    K = kmer_counts(["AAAC", "ACGTACGT"], (1, 2), "dna").toarray()
    names = kmer_names((1, 2), "dna")
    assert K.shape == (2, 20)
    assert K[0, names.index("A")] == 3 and K[0, names.index("AA")] == 2
    assert K[1, 4:].sum() == 7  # 8 - 2 + 1 dinucleotides


# -- models -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cnn(subset: pd.DataFrame) -> CNNEnsemble:
    m = CNNEnsemble(n_members=2, channels=16, epochs=3, n_jobs=1, device="cpu", seed=0)
    return m.fit(subset["sequence"].tolist(), subset["target"].to_numpy())


def test_cnn_accepts_any_length_in_range(cnn: CNNEnsemble, subset: pd.DataFrame) -> None:
    rng = np.random.default_rng(1)
    seqs = [_random_dna(50, rng), _random_dna(200, rng), subset.loc[0, "sequence"]]
    mean, std = cnn.predict(seqs)
    assert mean.shape == std.shape == (3,)
    assert np.isfinite(mean).all() and (std > 0).all()
    # Padding does not change a prediction: alone or beside a 200-nt sequence.
    alone, _ = cnn.predict([seqs[2]])
    assert alone[0] == pytest.approx(mean[2], abs=1e-5)
    with pytest.raises(InputError, match="expected 50-200 nt"):
        cnn.predict([_random_dna(201, rng)])
    # Learnt something in three epochs: correlated with the training targets.
    fitted, _ = cnn.predict(subset["sequence"].tolist())
    assert np.corrcoef(fitted, subset["target"])[0, 1] > 0.3


def test_save_load_round_trip_and_wrong_kind(
    cnn: CNNEnsemble, subset: pd.DataFrame, tmp_path: Path
) -> None:
    seqs, y = subset["sequence"].tolist()[:300], subset["target"].to_numpy()[:300]
    ridge = KmerRidge(k=3, n_members=4).fit(seqs, y)
    boost = KmerBoost(k=2, n_members=2, n_estimators=20, n_jobs=1).fit(seqs, y)
    for est in (cnn, ridge, boost):
        d = est.save(tmp_path / est.estimator)
        manifest = json.loads((d / "manifest.json").read_text())
        assert manifest["kind"] == "promoter" and manifest["alphabet"] == "dna"
        assert manifest["length_range"] == [50, 200]
        back = load_model(d, kind="promoter")
        assert type(back) is type(est)
        m0, s0 = est.predict(seqs[:50])
        m1, s1 = back.predict(seqs[:50])
        np.testing.assert_allclose(m1, m0, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(s1, s0, rtol=1e-6, atol=1e-6)
        assert (s0 > 0).all()
    with pytest.raises(InputError, match=r"another kind of part.*expected signal_peptide") as e:
        load_model(tmp_path / "cnn", kind="signal_peptide")
    _one_line(e)
    with pytest.raises(InputError, match="another estimator"):
        KmerRidge.load(tmp_path / "cnn")
    with pytest.raises(InputError, match="not a biofab parts model directory"):
        load_model(tmp_path)
    (tmp_path / "user").mkdir()
    (tmp_path / "user" / "notes.txt").write_text("keep me")
    with pytest.raises(InputError, match="not a model directory"):
        ridge.save(tmp_path / "user")
    assert (tmp_path / "user" / "notes.txt").read_text() == "keep me"


def test_signal_peptide_kind_uses_protein_alphabet() -> None:
    rng = np.random.default_rng(0)
    seqs = ["M" + "".join(rng.choice(list("ACDEFGHIKLMNPQRSTVWY"), size=24)) for _ in range(40)]
    y = rng.normal(size=40)
    m = KmerRidge(kind="signal_peptide", k=1, n_members=3).fit(seqs, y)
    mean, _std = m.predict(seqs[:5])
    assert mean.shape == (5,)
    with pytest.raises(InputError, match="stop codon"):
        m.predict(["MKK*LLAVALAVAL"])


# -- CLI ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_csv(subset: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "promoters.csv"
    subset.head(300).rename(columns={"sequence": "seq", "target": "log_tx"})[
        ["id", "seq", "log_tx"]
    ].to_csv(path, index=False)
    return path


@pytest.mark.parametrize("model", ["kmer-ridge", "cnn"])
def test_cli_train_predict(small_csv: Path, tmp_path: Path, model: str) -> None:
    runner = CliRunner()
    mdir = tmp_path / "model.dir"
    extra = ["--epochs", "1", "--members", "2"] if model == "cnn" else []
    res = runner.invoke(
        parts_app,
        [
            "train",
            "--kind",
            "promoter",
            str(small_csv),
            "--out",
            str(mdir),
            "--sequence-column",
            "seq",
            "--target-column",
            "log_tx",
            "--model",
            model,
            "--json",
            *extra,
        ],
    )
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output)
    assert summary["n_train"] == 300 and summary["kind"] == "promoter"
    assert summary["uncertainty"] == "calibrated"
    assert 0 < summary["calibration"]["coverage_1std"] <= 1
    inp = tmp_path / "in.csv"
    rng = np.random.default_rng(3)
    pd.DataFrame(
        {"name": ["a", "b"], "sequence": [_random_dna(50, rng), _random_dna(200, rng)]}
    ).to_csv(inp, index=False)
    out = tmp_path / "out.csv"
    res = runner.invoke(
        parts_app, ["predict", "--model", str(mdir), str(inp), "--out", str(out), "--json"]
    )
    assert res.exit_code == 0, res.output
    pred = pd.read_csv(out)
    # Calibrated models (k-mer, CNN, like physics-residual) add the spread and a warning.
    extra = ["ensemble_std", "distance_factor", "warning"]
    assert list(pred.columns) == ["name", "sequence", "prediction", "std", *extra]
    assert (pred["std"] > 0).all()


def test_cli_bad_input_exit_2_and_no_output(small_csv: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    mdir = tmp_path / "model.dir"
    res = runner.invoke(
        parts_app,
        [
            "train",
            "--kind",
            "promoter",
            str(small_csv),
            "--out",
            str(mdir),
            "--model",
            "kmer-ridge",
            "--sequence-column",
            "seq",
            "--target-column",
            "log_tx",
        ],
    )
    assert res.exit_code == 0, res.output
    cases = {
        "dna": "sequence\n" + "ACGT" * 15 + "\n" + "ACGU" * 15 + "\n",
        "short": "sequence\n" + "ACGT" * 5 + "\n",
        "empty": "",
    }
    for name, text in cases.items():
        inp = tmp_path / f"{name}.csv"
        inp.write_text(text)
        out = tmp_path / f"{name}_out.csv"
        res = runner.invoke(
            parts_app, ["predict", "--model", str(mdir), str(inp), "--out", str(out)]
        )
        assert isinstance(res.exception, InputError), (name, res.output)
        assert res.exception.exit_code == 2
        assert str(inp) in str(res.exception)
        assert not out.exists()
    res = runner.invoke(
        parts_app,
        [
            "predict",
            "--model",
            str(mdir),
            str(inp),
            "--out",
            str(tmp_path / "x.csv"),
            "--kind",
            "rbs",
        ],
    )
    assert isinstance(res.exception, InputError) and "another kind" in str(res.exception)
    bad = tmp_path / "bad_train.csv"
    bad.write_text("seq,log_tx\n" + "ACGT" * 15 + ",1\n" + "ACGTN" * 12 + ",2\n")
    res = runner.invoke(
        parts_app,
        [
            "train",
            "--kind",
            "promoter",
            str(bad),
            "--out",
            str(tmp_path / "m2"),
            "--sequence-column",
            "seq",
            "--target-column",
            "log_tx",
            "--model",
            "kmer-ridge",
        ],
    )
    assert isinstance(res.exception, InputError) and "row 2" in str(res.exception)
    assert not (tmp_path / "m2").exists()
    res = runner.invoke(
        parts_app, ["train", "--kind", "enzyme", str(bad), "--out", str(tmp_path / "m3")]
    )
    assert isinstance(res.exception, InputError) and "unknown part kind" in str(res.exception)


def test_real_entry_point_exit_2(small_csv: Path, tmp_path: Path) -> None:
    """``biofab parts ...`` as a user runs it: bad input is one line and exit code 2."""
    import subprocess
    import sys

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "biofab.cli", "parts", *args],
            capture_output=True,
            text=True,
            timeout=300,
        )

    mdir = tmp_path / "model.dir"
    args = ["--sequence-column", "seq", "--target-column", "log_tx", "--model", "kmer-ridge"]
    res = cli("train", "--kind", "promoter", str(small_csv), "--out", str(mdir), *args)
    assert res.returncode == 0, res.stderr
    inp = tmp_path / "in.csv"
    inp.write_text("sequence\n" + "ACGT" * 15 + "\n" + "ACGU" * 15 + "\n")
    out = tmp_path / "out.csv"
    res = cli("predict", "--model", str(mdir), str(inp), "--out", str(out))
    assert res.returncode == 2, res.stderr
    line = res.stderr.strip()
    assert line.startswith("error: ") and "\n" not in line and "row 2" in line
    assert not out.exists()


def test_cli_design_meets_every_constraint(small_csv: Path, tmp_path: Path) -> None:
    from biofab.parts.constraints import SequenceConstraints

    runner = CliRunner()
    mdir = tmp_path / "model.dir"
    args = ["--sequence-column", "seq", "--target-column", "log_tx", "--model", "kmer-ridge"]
    res = runner.invoke(
        parts_app, ["train", "--kind", "promoter", str(small_csv), "--out", str(mdir), *args]
    )
    assert res.exit_code == 0, res.output
    out = tmp_path / "designs.fasta"
    rules = [
        "--gc",
        "0.35:0.65",
        "--max-homopolymer",
        "4",
        "--forbid",
        "BsaI,EcoRI",
        "--max-repeat",
        "12",
    ]
    res = runner.invoke(
        parts_app,
        ["design", "--model", str(mdir), "--target", "-2.5", "--n", "6", "--length", "80",
         "--min-distance", "8", "--steps", "60", "--out", str(out), "--json", *rules],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output)
    seqs = [line for line in out.read_text().splitlines() if not line.startswith(">")]
    assert len(seqs) == summary["designs"] >= 1
    check = SequenceConstraints(
        length=80, gc=(0.35, 0.65), max_homopolymer=4, enzymes=("BsaI", "EcoRI"), max_repeat=12
    )
    assert all(check.ok(s) for s in seqs)
    assert summary["min_pairwise_distance"] is None or summary["min_pairwise_distance"] >= 8
    res = runner.invoke(
        parts_app,
        ["design", "--model", str(mdir), "--maximize", "--target", "1", "--out", str(out)],
    )
    assert isinstance(res.exception, InputError) and res.exception.exit_code == 2
    short = tmp_path / "x.fa"
    res = runner.invoke(
        parts_app,
        ["design", "--model", str(mdir), "--maximize", "--length", "20", "--out", str(short)],
    )
    assert isinstance(res.exception, InputError) and not short.exists()
