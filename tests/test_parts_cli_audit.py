"""What a user hit trying the parts CLI from docs/parts.md (issues 14 and 17), each through
the real ``biofab`` entry point: a single-member model says it has no std everywhere
(``train --json``, ``predict``, ``design``), ``train --json`` says what the std is and
is strict JSON, and one-line refusals that name what is missing."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from conftest import shared_data
from test_parts_cli_edges import CATPRED_VAL, HOSSAIN, LAFLEUR, WU_SPS, biofab, refused


def strict_json(text: str) -> dict[str, object]:
    """Parse as a strict parser (jq, JavaScript) would: NaN/Infinity are not JSON."""

    def refuse(name: str) -> None:
        raise AssertionError(f"not JSON: {name}")

    return json.loads(text, parse_constant=refuse)  # type: ignore[no-any-return]


def test_single_member_physics_residual_has_no_std_anywhere(tmp_path: Path) -> None:
    pytest.importorskip("promoter_calculator")
    # Trained on the published table as the docs show, with one member: its std used
    # to come out of a calibration fitted on NaN spreads (coverage 0.0, Spearman NaN in
    # the JSON, NumPy warnings on stderr).
    done = biofab("parts", "train", shared_data(LAFLEUR), "--kind", "promoter", "--model",
                  "physics-residual", "--members", "1", "--out", "one.dir", "--json",
                  cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Warning" not in done.stderr
    report = strict_json(done.stdout)
    assert report["uncertainty"] == "none (single-member ensemble)"
    assert "calibration" not in report

    seeds = pd.read_csv(shared_data(HOSSAIN))["Promoter Sequence"].iloc[:5]
    pd.DataFrame({"sequence": seeds}).to_csv(tmp_path / "q.csv", index=False)
    done = biofab("parts", "predict", "q.csv", "--model", "one.dir", "--out", "p.csv",
                  cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "no std (single-member ensemble)" in done.stdout
    assert "widened" not in done.stdout  # there is no std to widen
    out = pd.read_csv(tmp_path / "p.csv")
    assert out["std"].isna().all() and out["ensemble_std"].isna().all()  # never 0
    assert out["prediction"].notna().all()

    # design: an uncertainty penalty on a model with no std is refused in one line ...
    refused(
        biofab("parts", "design", "--model", "one.dir", "--target", "-4", "--n", "2",
               "--length", "80", "--out", "d.fasta", cwd=tmp_path),
        "no std", "single-member", "--penalty 0",
    )  # fmt: skip
    assert not (tmp_path / "d.fasta").exists()
    # ... and without one the designer scores the mean alone, reporting no std
    done = biofab("parts", "design", "--model", "one.dir", "--target", "-4", "--n", "2",
                  "--length", "80", "--penalty", "0", "--steps", "5", "--out", "d.fasta",
                  cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    designs = pd.read_csv(tmp_path / "d.csv")
    assert len(designs) >= 1 and designs["std"].isna().all()


def test_train_json_says_what_the_std_is(tmp_path: Path) -> None:
    sps = pd.read_csv(shared_data(WU_SPS))
    table = pd.DataFrame(
        {"sequence": sps["sp_sequence"], "target": sps["sp_sequence"].str.count("L")}
    )
    table.to_csv(tmp_path / "sp.csv", index=False)
    expected = {
        ("kmer-ridge", "1"): "none (single-member ensemble)",
        ("kmer-ridge", "3"): "calibrated",
        ("cnn", "2"): "calibrated",  # the CNN calibrates its std as the k-mer models do
    }
    for (model, members), uncertainty in expected.items():
        extra = ["--epochs", "1"] if model == "cnn" else []
        done = biofab("parts", "train", "sp.csv", "--kind", "signal_peptide", "--model", model,
                      "--members", members, *extra, "--out", f"{model}{members}.dir", "--json",
                      cwd=tmp_path)  # fmt: skip
        assert done.returncode == 0, done.stderr
        report = strict_json(done.stdout)
        assert report["uncertainty"] == uncertainty, (model, members)
        assert ("calibration" in report) == (uncertainty == "calibrated")
    # the summary line says it too
    done = biofab("parts", "train", "sp.csv", "--kind", "signal_peptide", "--model",
                  "kmer-ridge", "--members", "1", "--out", "again.dir", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "std: none (single-member ensemble)" in done.stdout


def test_kcat_missing_column_names_it_and_what_the_file_has(tmp_path: Path) -> None:
    # The line used to put the missing column under "found".
    (tmp_path / "k.csv").write_text("sequence,ec,log10_value\nMKTAYIAK,1.1.1.1,0.5\n")
    line = refused(
        biofab("parts", "train", "k.csv", "--kind", "kcat", "--out", "k.dir", cwd=tmp_path),
        "k.csv", "lacks required columns reactant_smiles",
        "found 'columns sequence, ec, log10_value'",
    )  # fmt: skip
    assert "may be named smiles" in line
    assert not (tmp_path / "k.dir").exists()


def test_lafleur_table_with_its_own_target_column_named(tmp_path: Path) -> None:
    # Naming the documented target column used to bypass the table's recognition and
    # fail on a missing 'sequence' column the published file does not have.
    done = biofab("parts", "train", shared_data(LAFLEUR), "--kind", "promoter", "--model",
                  "kmer-ridge", "--members", "2", "--target-column", "Observed log(TX/Txref)",
                  "--out", "m.dir", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "5193 high-quality rows" in done.stdout
    refused(
        biofab("parts", "train", shared_data(LAFLEUR), "--kind", "promoter", "--model",
               "kmer-ridge", "--target-column", "Txave [au]", "--out", "x.dir", cwd=tmp_path),
        "lafleur2022_supp_data3.csv", "read with its own target", "Observed log(TX/Txref)",
    )  # fmt: skip
    assert not (tmp_path / "x.dir").exists()


def test_kmer_training_reports_the_calibration_fits_too(tmp_path: Path) -> None:
    # The calibration refits every member on 3 folds before the final fit (most of a
    # long run's time); those fits used to be silent.
    sps = pd.read_csv(shared_data(WU_SPS))
    table = pd.DataFrame(
        {"sequence": sps["sp_sequence"], "target": sps["sp_sequence"].str.count("L")}
    )
    table.to_csv(tmp_path / "sp.csv", index=False)
    done = biofab("parts", "train", "sp.csv", "--kind", "signal_peptide", "--model",
                  "kmer-ridge", "--members", "2", "--out", "m.dir", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "members over 3 calibration folds + the final fit" in done.stderr
    for step in range(1, 9):
        assert f" {step}/8 " in done.stderr, done.stderr


def test_a_kcat_model_where_a_sequence_model_is_needed_says_so(tmp_path: Path) -> None:
    # It used to say "not a biofab parts model manifest" of a model biofab had just written.
    rows = pd.read_csv(shared_data(CATPRED_VAL)).iloc[:40]
    rows.to_csv(tmp_path / "k.csv", index=False)
    done = biofab("parts", "train", "k.csv", "--kind", "kcat", "--members", "2", "--out",
                  "k.dir", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    for command in (
        ["design", "--model", "k.dir", "--target", "1", "--length", "80", "--out", "d.fasta"],
        ["explain", "--model", "k.dir", "--sequence", "MKTAYIAKQR", "--out", "e.html"],
        ["predict", "k.csv", "--model", "k.dir", "--kind", "promoter", "--out", "p.csv"],
    ):
        refused(biofab("parts", *command, cwd=tmp_path), "k.dir", "a kcat model", "found 'kcat'")
    assert not any((tmp_path / f).exists() for f in ("d.fasta", "e.html", "p.csv"))


def test_library_design_refuses_one_site_given_two_codon_sets(tmp_path: Path) -> None:
    from biofab.parts.variants import GB1_PARENT

    (tmp_path / "gb1.faa").write_text(f">gb1\n{GB1_PARENT}\n")
    # The second set silently won; V54 and 54 are the same site.
    refused(
        biofab("parts", "library", "design", "--parent", "gb1.faa", "--sites", "V39,V54",
               "--site-codons", "V54=NDT", "--site-codons", "54=22c", "--out", "lib",
               cwd=tmp_path),
        "site_codons", "two codon sets", "V54=NDT and 54=22c",
    )  # fmt: skip
    assert not (tmp_path / "lib").exists()


def test_library_export_leaves_out_values_a_row_does_not_have(tmp_path: Path) -> None:
    from biofab.parts.variants import GB1_PARENT

    (tmp_path / "gb1.faa").write_text(f">gb1\n{GB1_PARENT}\n")
    done = biofab("parts", "library", "design", "--parent", "gb1.faa", "--sites",
                  "V39,D40,G41,V54", "--codons", "22c", "--out", "lib", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    # a campaign's space-filling first plate has no predictions yet (empty cells)
    (tmp_path / "plate.csv").write_text(
        "V39,D40,G41,V54,pred_fitness,std_fitness\nD,Y,R,N,,\nF,W,A,A,2.5,0.4\n"
    )
    done = biofab("parts", "library", "export", "plate.csv", "--library", "lib/library.json",
                  "--out", "plate.fasta", cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    headers = [ln for ln in (tmp_path / "plate.fasta").read_text().splitlines() if ln[0] == ">"]
    assert headers[0] == ">V39D_D40Y_G41R_V54N code=DYRN"  # was '... pred_fitness=nan ...'
    assert "pred_fitness=2.5 std_fitness=0.4" in headers[1]


def test_kcat_training_refuses_the_sequence_models_options(tmp_path: Path) -> None:
    # --model kmer-ridge --k 3, --epochs, --sequence-column were silently ignored.
    pd.read_csv(shared_data(CATPRED_VAL)).iloc[:20].to_csv(tmp_path / "k.csv", index=False)
    for extra, named in (
        (["--model", "kmer-ridge", "--k", "3"], "found 'model, k'"),
        (["--epochs", "3"], "found 'epochs'"),
        (["--sequence-column", "seq"], "found 'sequence_column'"),
    ):
        refused(
            biofab("parts", "train", "k.csv", "--kind", "kcat", *extra, "--out", "k.dir",
                   cwd=tmp_path),
            "do not apply to the kcat model", named,
        )  # fmt: skip
        assert not (tmp_path / "k.dir").exists()


def test_secretion_fit_names_what_is_missing_and_refuses_options_it_would_ignore(
    tmp_path: Path,
) -> None:
    wu = shared_data("parts/signal_peptides/wu2020_tidy_processed_sps.csv")
    # Without --wu2020 the table's own columns used to be listed as "expected".
    line = refused(
        biofab("parts", "secretion-fit", wu, "--out", "s.json", cwd=tmp_path),
        "column 'activity'", "expected a column 'activity' (--activity-column names another)",
        "add --wu2020", "found 'columns ",
    )  # fmt: skip
    assert "expected one of" not in line
    # sequence tables without --wu2020 were silently ignored
    refused(
        biofab("parts", "secretion-fit", wu, "--sequences", shared_data(WU_SPS), "--out",
               "s.json", cwd=tmp_path),
        "sequence tables apply to the Wu 2020 table only", "no --wu2020",
    )  # fmt: skip
    # --enzyme on the id-only matrix, --rank on a sequence model: silently ignored before
    refused(
        biofab("parts", "secretion-fit", wu, "--wu2020", "--enzyme", "id", "--out", "s.json",
               cwd=tmp_path),
        "enzyme does not apply to the matrix secretion model", "found 'id'",
    )  # fmt: skip
    refused(
        biofab("parts", "secretion-fit", wu, "--wu2020", "--sequences", shared_data(WU_SPS),
               "--proteins", shared_data("parts/signal_peptides/wu2020_proteins.csv"),
               "--rank", "3", "--out", "s.json", cwd=tmp_path),
        "rank does not apply to the ridge secretion model",
    )  # fmt: skip
    assert not (tmp_path / "s.json").exists()


def test_secretion_predict_says_when_a_family_is_unknown(tmp_path: Path) -> None:
    d = "parts/signal_peptides/"
    done = biofab("parts", "secretion-fit", shared_data(d + "wu2020_tidy_processed_sps.csv"),
                  "--wu2020", "--sequences", shared_data(WU_SPS), "--proteins",
                  shared_data(d + "wu2020_proteins.csv"), "--n-boot", "2", "--out", "s.json",
                  cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    (tmp_path / "m.fasta").write_text(">new\nAANLNGTLMQYFEWYMPNDGQHWKRLQNDSAYLAEHGITAVWIPPAYKG\n")
    # a typo ('Lipase') silently lost the family's terms; it is still allowed (a new
    # family) but said
    done = biofab("parts", "secretion-predict", "--model", "s.json", "--protein", "new",
                  "--mature", "m.fasta", "--family", "Lipase", "--out", "r.csv", "--json",
                  cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stderr
    notes = strict_json(done.stdout)["notes"]
    assert notes and "'Lipase' is not one the model was trained on" in str(notes[0])
    done = biofab("parts", "secretion-predict", "--model", "s.json", "--protein", "new",
                  "--mature", "m.fasta", "--family", "lipase", "--out", "r.csv", "--json",
                  cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0 and strict_json(done.stdout)["notes"] == []


def test_focus_says_which_option_widens_the_pool(tmp_path: Path) -> None:
    from biofab.parts.variants import GB1_PARENT

    (tmp_path / "gb1.faa").write_text(f">gb1\n{GB1_PARENT}\n")
    refused(
        biofab("parts", "library", "focus", "--parent", "gb1.faa", "--sites", "V39", "--n",
               "96", "--out", "f.csv", cwd=tmp_path),
        "at most 2 variants of the library's 20", "--top", "found 96",
    )  # fmt: skip
    assert not (tmp_path / "f.csv").exists()
