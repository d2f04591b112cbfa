"""Signal peptide rules, natural/generated candidates, the secretion matrix model and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from biofab.cli.parts_signal import register
from biofab.core.errors import BiofabError, InputError
from biofab.parts.datasets import load_wu2020
from biofab.parts.secretion import (
    SecretionMatrix,
    replicate_agreement,
    wu2020_activity,
    wu2020_cells,
    wu2020_noise,
)
from biofab.parts.secretion_sequence import SequenceSecretionModel
from biofab.parts.signal_peptide import (
    DESCRIPTOR_NAMES,
    analyze,
    cluster_sequences,
    descriptors,
    extract_candidates,
    find_signal_peptide,
    generate_candidates,
    identity,
    rank_candidates,
)
from conftest import shared_data

AMYE_SP = "MFAKRFKTSLLPLFAGFLLLFHLVLAGPAAASA"
APRE = "MRSKKLWISLLFALTLIFTMAFSNMSAQAAGKSSTEKKYIVGFKQTMSAMSSAKKKDVISEKGG"
MATURE = "AETANKSNELTAPSIKSGTILHAWNWSFNTLKHNMKDIHDAGYTAIQTSPINQVKEGNQ"
PROTEOME = "metabolism/carveme_benchmark/fasta/Bsubtilis_168.faa"
WU2020 = "parts/signal_peptides/wu2020_tidy_processed_sps.csv"


@pytest.fixture(scope="module")
def natural() -> pd.DataFrame:
    return extract_candidates(shared_data(PROTEOME))


@pytest.fixture(scope="module")
def wu_long() -> pd.DataFrame:
    return wu2020_activity(load_wu2020(shared_data(WU2020)))


def test_amye_signal_peptide_passes_with_its_regions() -> None:
    r = analyze(AMYE_SP, MATURE)
    assert r.passes, r.violations
    assert r.cleavage_site == 33 and r.motif == "ASA" and r.junction == "AET"
    assert r.n == "MFAKRFKTS" and r.n_charge == 3
    assert 7 <= len(r.h) <= 20 and r.h_hydropathy > 1.5
    assert r.c.endswith("ASA") and len(r.c) >= 3
    assert r.score > 0.9


def test_rules_catch_broken_signal_peptides() -> None:
    no_core = analyze("MKKRSTDNQSEKTSGNQSASA")
    assert not no_core.passes
    assert any("no hydrophobic core" in v for v in no_core.violations)
    no_charge = analyze("MSELLLLALLLALLLAGSASA")
    assert any("n-region net charge" in v for v in no_charge.violations)
    bad_cleavage = analyze("MKKLLLLALLLALLLAGSQPW")
    assert any("-1 residue" in v for v in bad_cleavage.violations)
    assert any("proline" in v for v in bad_cleavage.violations)
    assert any("+1" in v for v in analyze(AMYE_SP, "PETA").violations)


def test_aprE_cleavage_site_found_at_the_annotated_position() -> None:
    # UniProt P04189: signal peptide 1-29 (...SAQA | AGK).
    res = find_signal_peptide(APRE)
    assert res is not None and res.cleavage_site == 29


def test_extraction_on_the_bsubtilis_proteome_finds_known_secreted_enzymes(natural) -> None:
    ids = set(natural["id"])
    # amyE, aprE, lipA and xynA (BSU18840 in this FASTA: P18429's sequence).
    assert {"BSU03040", "BSU10300", "BSU02700", "BSU18840"} <= ids
    assert 200 < len(natural) < 1000  # ~15 % of 4,177 proteins; Sec rules only
    assert natural["passes"].all()
    assert natural["length"].between(15, 40).all()


def test_generated_candidates_keep_the_rules_and_are_new(natural) -> None:
    gen = generate_candidates(natural, 30, seed=1)
    assert len(gen) == 30
    assert gen["passes"].all()
    assert all(analyze(s).passes for s in gen["sequence"])
    assert not set(gen["sequence"]) & set(natural["sequence"])
    assert gen["sequence"].is_unique
    again = generate_candidates(natural, 30, seed=1)
    assert list(again["sequence"]) == list(gen["sequence"])


def test_rank_candidates_checks_the_junction(natural) -> None:
    pool = pd.concat([natural.head(10), generate_candidates(natural, 5, seed=0)])
    ranked = rank_candidates(pool, MATURE)
    assert list(ranked["rank"]) == list(range(1, 16))
    assert ranked["rule_score"].is_monotonic_decreasing
    assert set(ranked["origin"]) == {"natural", "generated"}
    assert (ranked["junction"] == "AET").all()
    proline = rank_candidates(pool, "PTANK")
    assert not proline["passes"].any()


def test_rank_candidates_with_a_trained_signal_peptide_model(natural, tmp_path) -> None:
    from biofab.parts.models import make_model

    # A toy kmer model trained on rule scores: checks the model path, not biology.
    seqs = natural["sequence"].tolist()[:60]
    model = make_model("kmer-ridge", "signal_peptide", n_members=3, seed=0)
    model.fit(seqs, natural["rule_score"].to_numpy()[:60])
    path = model.save(tmp_path / "sp.model")
    ranked = rank_candidates(natural.head(8), MATURE, model=path)
    assert {"prediction", "std"} <= set(ranked.columns)
    assert ranked["prediction"].is_monotonic_decreasing


def test_secretion_matrix_recovers_a_low_rank_matrix() -> None:
    rng = np.random.default_rng(0)
    n_s, n_p = 30, 8
    a, b = rng.normal(size=n_s), rng.normal(size=n_p)
    U, V = rng.normal(size=(n_s, 1)), rng.normal(size=(n_p, 1))
    truth = a[:, None] + b[None, :] + U @ V.T
    mask = rng.random((n_s, n_p)) < 0.6
    s_idx, p_idx = np.nonzero(mask)
    data = pd.DataFrame(
        {"sp_id": [f"s{i}" for i in s_idx], "protein_id": [f"p{j}" for j in p_idx],
         "activity": truth[s_idx, p_idx] + 0.05 * rng.normal(size=len(s_idx))}
    )  # fmt: skip
    s_out, p_out = np.nonzero(~mask)
    held = pd.DataFrame({"sp_id": [f"s{i}" for i in s_out], "protein_id": [f"p{j}" for j in p_out]})
    m1 = SecretionMatrix(rank=1, alpha=0.1, alpha_effect=0.01, n_boot=5).fit(data)
    m0 = SecretionMatrix(rank=0, n_boot=0).fit(data)
    mean, std = m1.predict(held)
    r1 = np.corrcoef(mean, truth[s_out, p_out])[0, 1]
    r0 = np.corrcoef(m0.predict(held)[0], truth[s_out, p_out])[0, 1]
    assert r1 > 0.9 and r1 > r0
    assert (std > 0).all()
    again = SecretionMatrix.from_dict(json.loads(json.dumps(m1.to_dict())))
    np.testing.assert_allclose(again.predict(held)[0], mean)


def test_wu2020_activity_and_matrix_on_the_real_table(wu_long) -> None:
    assert set(wu_long.columns) == {"sp_id", "protein_id", "activity", "n_readings"}
    assert not wu_long["sp_id"].str.startswith("Neg").any()
    assert wu_long["protein_id"].nunique() >= 20
    model = SecretionMatrix(rank=2, n_boot=4).fit(wu_long)
    ranked = model.rank_signal_peptides("Arnold_024")
    assert len(ranked) == len(model.sp_ids_)
    assert ranked["prediction"].is_monotonic_decreasing
    assert ranked["measured"].notna().sum() == (wu_long["protein_id"] == "Arnold_024").sum()
    # Training cells are fitted better than chance (robust on this table; held-out skill
    # is weak and is what benchmarks/parts_signal.py measures).
    fit = model.predict(wu_long)[0]
    assert np.corrcoef(fit, wu_long["activity"])[0, 1] > 0.5
    with pytest.raises(InputError, match="not in the training data"):
        model.predict(pd.DataFrame({"sp_id": ["nope"], "protein_id": ["Arnold_024"]}))


def test_secretion_matrix_bad_table() -> None:
    with pytest.raises(InputError, match="missing column"):
        SecretionMatrix().fit(pd.DataFrame({"sp_id": ["a"], "protein_id": ["p"]}))
    bad = pd.DataFrame({"sp_id": ["a", "b"], "protein_id": ["p", "p"], "activity": [1.0, "x"]})
    with pytest.raises(InputError, match="row 2"):
        SecretionMatrix().fit(bad)


# -- CLI --------------------------------------------------------------------------------


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """Test root (keeps sub-commands named)."""

    register(app)
    return app


def _invoke(args: list[str]):
    res = CliRunner().invoke(_app(), args)
    if isinstance(res.exception, BiofabError):
        # What biofab.cli.main.main() does: one line, exit code 2.
        assert "\n" not in str(res.exception).strip()
        return 2, res
    return res.exit_code, res


def test_cli_signal_peptides_ranks_natural_and_generated(tmp_path) -> None:
    mature = tmp_path / "mature.fasta"
    mature.write_text(f">lipase\n{MATURE}\n")
    out = tmp_path / "ranked.csv"
    code, res = _invoke(
        ["signal-peptides", str(shared_data(PROTEOME)), "--mature", str(mature),
         "--n", "20", "--generate", "50", "--out", str(out), "--json"]
    )  # fmt: skip
    assert code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["generated"] == 50 and summary["written"] == 20
    table = pd.read_csv(out)
    assert len(table) == 20 and table["passes"].all()
    assert list(table["rank"]) == list(range(1, 21))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (">a\nMKKLLBLLLL\n", "non-amino-acid letter 'B'"),
        (">a\nMKKLL*LLLLAAA\n", "stop codon"),
        ("", "empty file"),
    ],
)
def test_cli_signal_peptides_bad_proteome(tmp_path, content, message) -> None:
    proteome = tmp_path / "p.faa"
    proteome.write_text(content)
    out = tmp_path / "ranked.csv"
    code, res = _invoke(["signal-peptides", str(proteome), "--mature", MATURE, "--out", str(out)])
    assert code == 2 and message in str(res.exception)
    assert not out.exists()


def test_cli_signal_peptides_bad_mature(tmp_path) -> None:
    out = tmp_path / "ranked.csv"
    code, res = _invoke(
        ["signal-peptides", str(shared_data(PROTEOME)), "--mature", "AETX*K", "--out", str(out)]
    )
    assert code == 2 and "column 'mature'" in str(res.exception)
    assert not out.exists()


def test_cli_secretion_fit_and_predict(tmp_path, wu_long) -> None:
    model = tmp_path / "model.json"
    code, res = _invoke(
        ["secretion-fit", str(shared_data(WU2020)), "--wu2020", "--n-boot", "3",
         "--out", str(model), "--json"]
    )  # fmt: skip
    assert code == 0, res.output
    assert json.loads(res.stdout)["cells"] == len(wu_long)
    out = tmp_path / "ranked.csv"
    code, res = _invoke(
        ["secretion-predict", "--model", str(model), "--protein", "Arnold_001", "--out", str(out)]
    )
    assert code == 0, res.output
    assert len(pd.read_csv(out)) == wu_long["sp_id"].nunique()
    code, res = _invoke(
        ["secretion-predict", "--model", str(model), "--protein", "nope", "--out",
         str(tmp_path / "x.csv")]
    )  # fmt: skip
    assert code == 2 and not (tmp_path / "x.csv").exists()


def test_cli_secretion_fit_bad_tables(tmp_path) -> None:
    data = tmp_path / "d.csv"
    data.write_text("sp_id,protein_id,value\na,p,1.0\nb,p,2.0\n")
    out = tmp_path / "m.json"
    code, res = _invoke(["secretion-fit", str(data), "--out", str(out)])
    assert code == 2 and "missing column" in str(res.exception)
    assert not out.exists()
    empty = tmp_path / "e.csv"
    empty.write_text("")
    code, res = _invoke(["secretion-fit", str(empty), "--out", str(out)])
    assert code == 2 and "empty file" in str(res.exception)
    assert not out.exists()
    assert not list(Path(tmp_path).glob(".m.json*"))


# -- sequences: descriptors, clusters, replicate ceiling, the sequence model (issue 14) ---

WU_SPS = "parts/signal_peptides/wu2020_signal_peptides.csv"
WU_PROTEINS = "parts/signal_peptides/wu2020_proteins.csv"


@pytest.fixture(scope="module")
def wu_readings() -> pd.DataFrame:
    return load_wu2020(
        shared_data(WU2020), sequences=shared_data(WU_SPS), proteins=shared_data(WU_PROTEINS)
    )


@pytest.fixture(scope="module")
def wu_cells(wu_readings) -> pd.DataFrame:
    return wu2020_cells(wu_readings)


def test_descriptors_describe_regions_mature_start_and_junction() -> None:
    d = descriptors(AMYE_SP, MATURE)
    assert list(d) == list(DESCRIPTOR_NAMES)
    assert d["sp_length"] == 33 and d["n_length"] == 9 and d["n_charge"] == 3
    assert d["minus1_weight"] == 1.0 and d["passes"] == 1.0
    # Mature +1..+10 = AETANKSNEL: K - E - E = -1 (D/E fraction 0.2); junction ASA|AET: -1.
    assert d["mature_charge"] == -1 and d["mature_frac_de"] == pytest.approx(0.2)
    assert d["junction_charge"] == -1
    with_comp = descriptors(AMYE_SP, MATURE, composition=True)
    assert sum(with_comp[f"comp_{a}"] for a in "ACDEFGHIKLMNPQRSTVWY") == pytest.approx(1.0)
    assert descriptors(AMYE_SP)["mature_charge"] == 0  # no mature protein given


def test_identity_and_clusters_group_near_copies_only() -> None:
    assert identity(AMYE_SP, AMYE_SP) == 1.0
    assert identity(AMYE_SP, AMYE_SP[:-3] + "KKK") == pytest.approx(30 / 33)
    variant = AMYE_SP[:10] + "W" + AMYE_SP[11:20] + "W" + AMYE_SP[21:]
    unrelated = "MSDNQTERKPGSWEHYDNQA"  # polar, no hydrophobic core to align by chance
    assert identity(AMYE_SP, variant) > 0.9 > 0.5 > identity(AMYE_SP, unrelated)
    labels = cluster_sequences([AMYE_SP, unrelated, variant, AMYE_SP])
    assert labels.tolist() == [0, 1, 0, 0]


def test_wu2020_cells_carry_sequences_and_families(wu_cells) -> None:
    assert {"sequence", "mature_sequence", "family"} <= set(wu_cells.columns)
    assert set(wu_cells["family"]) == {"amylase", "lipase", "protease", "xylanase"}
    assert wu_cells["protein_id"].nunique() == 24 and len(wu_cells) == 304
    with pytest.raises(InputError, match="mature_sequence"):
        wu2020_cells(load_wu2020(shared_data(WU2020), sequences=shared_data(WU_SPS)))


def test_replicate_agreement_bounds_any_model(wu_readings) -> None:
    run = replicate_agreement(wu_readings, unit="run", n_splits=3)
    reading = replicate_agreement(wu_readings, unit="reading", n_splits=3)
    # The assay agrees with itself well (split-half ~0.45 by culture, ~0.53 by reading):
    # a model's within-enzyme Spearman of ~0 is far below what the data allow.
    assert 0.3 < run.split_half < 0.6 and 0.4 < reading.split_half < 0.7
    assert run.reliability == pytest.approx(2 * run.split_half / (1 + run.split_half))
    assert run.ceiling == pytest.approx(np.sqrt(run.reliability))
    assert 0.2 < run.between_sp < 0.7 and run.n_enzymes >= 20
    with pytest.raises(InputError, match="unknown replicate unit"):
        replicate_agreement(wu_readings, unit="plate")
    with pytest.raises(InputError, match="run_index"):
        replicate_agreement(wu_readings.drop(columns="run_index"), unit="run")


def _toy_cells(n_sp: int, seed: int) -> pd.DataFrame:
    """SPs whose activity follows h-region hydrophobicity, with the sign set by family."""
    rng = np.random.default_rng(seed)
    natural = extract_candidates(shared_data(PROTEOME))["sequence"].tolist()
    sps = [natural[i] for i in rng.choice(len(natural), size=n_sp, replace=False)]
    rows = []
    for p, fam in enumerate(["amylase"] * 3 + ["lipase"] * 3):
        mature = MATURE[p:] + "A" * p
        for s in rng.choice(len(sps), size=int(0.6 * n_sp), replace=False):
            h = descriptors(sps[s], mature)["h_excess"]
            sign = 1.0 if fam == "amylase" else -1.0
            rows.append(
                {"sp_id": f"s{s}", "protein_id": f"p{p}", "family": fam, "sequence": sps[s],
                 "mature_sequence": mature, "activity": 10 * p + sign * h + rng.normal()}
            )  # fmt: skip
    return pd.DataFrame(rows)


def test_sequence_model_learns_family_specific_effects_and_calibrates() -> None:
    from scipy.stats import spearmanr

    cells = _toy_cells(60, seed=0)
    held = cells["sp_id"].isin([f"s{i}" for i in range(0, 60, 4)])
    model = SequenceSecretionModel(enzyme="family", n_members=10).fit(cells[~held])
    test = cells[held]
    mean, std = model.predict(test)
    for _, idx in test.groupby("protein_id").groups.items():
        rho = spearmanr(mean[test.index.get_indexer(idx)], test.loc[idx, "activity"])[0]
        assert rho > 0.7  # ranks unseen SPs on both families, despite opposite signs
    assert model.calibration_["coverage"] == pytest.approx(0.68, abs=0.05)
    assert (std > 0).all()
    blind = SequenceSecretionModel(enzyme="none", n_members=10).fit(cells[~held])
    z_blind = blind.predict_standardized(test)[0]
    assert spearmanr(z_blind, test["activity"] - 10 * test["protein_id"].str[1:].astype(int))[
        0
    ] < spearmanr(model.predict_standardized(test)[0], test["activity"] - 10 * test[
        "protein_id"
    ].str[1:].astype(int))[0]  # fmt: skip
    again = SequenceSecretionModel.from_dict(json.loads(json.dumps(model.to_dict())))
    np.testing.assert_allclose(again.predict(test)[0], mean)
    new = model.rank_signal_peptides("new", mature_sequence=MATURE, family="lipase")
    assert len(new) == cells[~held]["sp_id"].nunique() and new["measured_sp"].all()
    assert new["prediction"].is_monotonic_decreasing


def test_sequence_model_boost_round_trip_and_bad_input() -> None:
    cells = _toy_cells(30, seed=1)
    model = SequenceSecretionModel(
        estimator="boost", n_members=2, n_estimators=10, calibration_folds=2
    ).fit(cells)
    again = SequenceSecretionModel.from_dict(json.loads(json.dumps(model.to_dict())))
    np.testing.assert_allclose(again.predict(cells)[0], model.predict(cells)[0], rtol=1e-6)
    with pytest.raises(InputError, match="family"):
        SequenceSecretionModel().fit(cells.drop(columns="family"))
    with pytest.raises(InputError, match="unknown estimator"):
        SequenceSecretionModel(estimator="svm").fit(cells)
    bad = cells.copy()
    bad.loc[3, "sequence"] = "MKKB"
    with pytest.raises(InputError, match="row 4"):
        SequenceSecretionModel().fit(bad)
    with pytest.raises(InputError, match="mature sequence"):
        model.rank_signal_peptides("unknown-protein")


def test_cli_secretion_fit_from_sequences_ranks_unseen_sps(tmp_path, wu_cells) -> None:
    model = tmp_path / "seq.json"
    code, res = _invoke(
        ["secretion-fit", str(shared_data(WU2020)), "--wu2020", "--sequences",
         str(shared_data(WU_SPS)), "--proteins", str(shared_data(WU_PROTEINS)),
         "--n-boot", "4", "--out", str(model), "--json"]
    )  # fmt: skip
    assert code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["estimator"] == "ridge" and summary["cells"] == len(wu_cells)
    assert 0.55 < summary["calibration"]["coverage"] < 0.8
    assert -1 <= summary["calibration"]["spearman_abs_error_std"] <= 1
    out = tmp_path / "known.csv"
    code, res = _invoke(
        ["secretion-predict", "--model", str(model), "--protein", "Arnold_001", "--out", str(out)]
    )
    assert code == 0, res.output
    assert len(pd.read_csv(out)) == wu_cells["sp_id"].nunique()
    cands = tmp_path / "new.fasta"
    cands.write_text(f">amyE\n{AMYE_SP}\n>aprE\n{APRE[:29]}\n")
    out = tmp_path / "new.csv"
    code, res = _invoke(
        ["secretion-predict", "--model", str(model), "--protein", "my_lipase", "--candidates",
         str(cands), "--mature", MATURE, "--family", "lipase", "--out", str(out), "--json"]
    )  # fmt: skip
    assert code == 0, res.output
    ranked = pd.read_csv(out)
    assert set(ranked["sp_id"]) == {"amyE", "aprE"} and (ranked["std"] > 0).all()
    assert not ranked["measured_sp"].any()
    # The CSV that `signal-peptides` writes (an `id` column) is read as it is.
    table = tmp_path / "cands.csv"
    table.write_text(f"rank,id,sequence\n1,amyE,{AMYE_SP}\n2,sps10-1,MKFSTILAAAILVGVRA\n")
    code, res = _invoke(
        ["secretion-predict", "--model", str(model), "--protein", "Arnold_038", "--candidates",
         str(table), "--out", str(out)]
    )  # fmt: skip
    assert code == 0, res.output
    ranked = pd.read_csv(out).set_index("sp_id")
    assert ranked.loc["sps10-1", "measured_sp"] and not ranked.loc["amyE", "measured_sp"]


def test_cli_secretion_sequence_bad_input(tmp_path) -> None:
    out = tmp_path / "m.json"
    code, res = _invoke(
        ["secretion-fit", str(shared_data(WU2020)), "--wu2020", "--sequences",
         str(shared_data(WU_SPS)), "--out", str(out)]
    )  # fmt: skip
    assert code == 2 and "give both sequence tables" in str(res.exception)
    table = tmp_path / "d.csv"
    table.write_text("sp_id,protein_id,activity\na,p,1.0\nb,p,2.0\nc,p,3.0\n")
    code, res = _invoke(["secretion-fit", str(table), "--estimator", "ridge", "--out", str(out)])
    assert code == 2 and "needs sequences" in str(res.exception)
    assert not out.exists()
    code, res = _invoke(["secretion-fit", str(table), "--out", str(out)])  # matrix model
    assert code == 0, res.output
    cands = tmp_path / "c.fasta"
    cands.write_text(f">a\n{AMYE_SP}\n")
    code, res = _invoke(
        ["secretion-predict", "--model", str(out), "--protein", "p", "--candidates", str(cands),
         "--out", str(tmp_path / "x.csv")]
    )  # fmt: skip
    assert code == 2 and "by id only" in str(res.exception)
    seq_model = SequenceSecretionModel(n_members=2, calibration_folds=0).fit(_toy_cells(20, 2))
    seq_model.save(str(tmp_path / "s.json"))
    cands.write_text(">a\nMKKLLZLLLLAAA\n")
    code, res = _invoke(
        ["secretion-predict", "--model", str(tmp_path / "s.json"), "--protein", "p0",
         "--candidates", str(cands), "--out", str(tmp_path / "x.csv")]
    )  # fmt: skip
    assert code == 2 and "non-amino-acid letter 'Z'" in str(res.exception)
    assert not (tmp_path / "x.csv").exists()


def test_wu2020_activity_z_scores_on_the_reference_cells_only(wu_readings, wu_cells) -> None:
    lipase = wu_cells[wu_cells["protein_id"] == "Arnold_027"]  # one condition: lipase
    train = lipase.iloc[:-3]
    cells = wu2020_activity(wu_readings, reference=train[["sp_id", "protein_id"]])
    mine = cells.merge(lipase[["sp_id", "protein_id"]])
    ref = mine[mine["sp_id"].isin(train["sp_id"])]["activity"]
    assert ref.mean() == pytest.approx(0.0, abs=1e-9)
    assert ref.std(ddof=0) == pytest.approx(1.0)
    # Held-out cells are expressed in the training cells' scale, not re-centred with them.
    held = mine[~mine["sp_id"].isin(train["sp_id"])]["activity"].to_numpy()
    full = lipase.iloc[-3:]["activity"].to_numpy()
    assert not np.allclose(held, full)
    assert np.argsort(held).tolist() == np.argsort(full).tolist()
    # Proteins without reference cells keep their own scale.
    other = cells.merge(wu_cells[wu_cells["protein_id"] == "Arnold_001"][["sp_id", "protein_id"]])
    np.testing.assert_allclose(
        other["activity"].to_numpy(),
        wu_cells[wu_cells["protein_id"] == "Arnold_001"]["activity"].to_numpy(),
    )


def test_wu2020_noise_per_cell_from_the_training_replicates(wu_readings, wu_cells) -> None:
    noise = wu2020_noise(wu_readings)
    cols = ["noise_design", "noise_typical", "oracle_noise", "n_replicates", "replicate_var"]
    assert len(noise) == len(wu_cells) and np.isfinite(noise[cols].to_numpy()).all()
    assert (noise[cols].to_numpy() >= 0).all()
    np.testing.assert_allclose(
        noise["replicate_var"], noise["noise_design"] * noise["n_replicates"]
    )
    # One condition (lipase): a cell's noise is the condition's replicate variance over its
    # own cultures, so noise x cultures is one number for the whole enzyme.
    lipase = noise[noise["protein_id"] == "Arnold_027"]
    assert lipase["replicate_var"].nunique() == 1 and lipase["noise_typical"].nunique() == 1
    # The cells carry what the sequence model's noise feature needs.
    assert {"replicate_var", "n_replicates"} <= set(wu_cells.columns)
    # With a reference, the condition's statistics come from those cells only.
    train = wu_cells[wu_cells["protein_id"] == "Arnold_027"].iloc[:-3][["sp_id", "protein_id"]]
    ref = wu2020_noise(wu_readings, reference=train)
    mine = ref[ref["protein_id"] == "Arnold_027"]["replicate_var"]
    assert mine.nunique() == 1 and mine.iloc[0] != lipase["replicate_var"].iloc[0]
    other = ref[ref["protein_id"] == "Arnold_001"]["replicate_var"].to_numpy()
    np.testing.assert_allclose(
        other, noise[noise["protein_id"] == "Arnold_001"]["replicate_var"].to_numpy()
    )
    by_reading = wu2020_noise(wu_readings, unit="reading")
    assert (by_reading["n_replicates"] >= noise["n_replicates"]).all()
    with pytest.raises(InputError, match="unknown replicate unit"):
        wu2020_noise(wu_readings, unit="plate")
    with pytest.raises(InputError, match="run_index"):
        wu2020_noise(wu_readings.drop(columns="run_index"))


def _noisy_cells(seed: int) -> pd.DataFrame:
    """Toy cells where three proteins are measured with 4x the noise of the other three."""
    cells = _toy_cells(40, seed)
    rng = np.random.default_rng(seed + 1)
    p = cells["protein_id"].str[1:].astype(int)
    sd = np.where(p % 2 == 0, 4.0, 0.5)
    cells["activity"] += rng.normal(0, 1, len(cells)) * sd
    cells["n_replicates"] = 4
    cells["replicate_var"] = sd**2 * 4  # variance of one replicate
    return cells


def test_sequence_model_std_from_enzyme_shape_and_measurement_noise() -> None:
    cells = _noisy_cells(3)
    model = SequenceSecretionModel(
        n_members=5,
        error_features=("enzyme_shape", "noise"),
        restandardize=True,
        loo_variance=True,
    ).fit(cells)
    assert model.calibration_["coverage"] == pytest.approx(0.68, abs=0.05)
    assert model.calibration_["spearman_abs_error_std"] is not None
    test = cells.drop(columns="n_replicates")
    _, std = model.predict_standardized(test)
    noisy = (cells["protein_id"].str[1:].astype(int) % 2 == 0).to_numpy()
    # In each protein's standardised units, noisy proteins leave more unexplained.
    assert std[noisy].mean() > std[~noisy].mean()
    # A measurement planned with more cultures gets a narrower std.
    few = model.predict(cells.assign(n_replicates=1))[1]
    many = model.predict(cells.assign(n_replicates=50))[1]
    assert (many <= few).all() and (many < few).any()
    again = SequenceSecretionModel.from_dict(json.loads(json.dumps(model.to_dict())))
    np.testing.assert_allclose(again.predict(test)[1], model.predict(test)[1])
    # An unseen protein gets the pooled enzyme statistics.
    new = model.rank_signal_peptides("new", mature_sequence=MATURE, family="lipase")
    assert np.isfinite(new["std"]).all() and (new["std"] > 0).all()


def test_sequence_model_error_features_bad_input() -> None:
    cells = _noisy_cells(4)
    with pytest.raises(InputError, match="replicate_var"):
        SequenceSecretionModel(error_features=("noise",)).fit(cells.drop(columns="replicate_var"))
    bad = cells.copy()
    bad.loc[2, "n_replicates"] = -1
    with pytest.raises(InputError, match="n_replicates"):
        SequenceSecretionModel(error_features=("noise",)).fit(bad)
    with pytest.raises(InputError, match="unknown error-model feature"):
        SequenceSecretionModel(error_features=("distance",)).fit(cells)
    with pytest.raises(InputError, match="unknown error-model feature"):
        SequenceSecretionModel(error_features=()).fit(cells)
    with pytest.raises(InputError, match="error_floor must be a finite number > 0"):
        SequenceSecretionModel(error_floor=-1.0).fit(cells)
    # A table without replicate information: the default std leaves the noise feature out.
    plain = SequenceSecretionModel(n_members=2).fit(cells.drop(columns="replicate_var"))
    assert plain.error_features_ == ("descriptors", "enzyme_shape")
    assert SequenceSecretionModel(n_members=2).fit(cells).error_features_[-1] == "noise"
    # A model saved before the error features existed still loads and predicts alike.
    previous = SequenceSecretionModel(
        n_members=2, error_features=("spread", "descriptors"), restandardize=False
    ).fit(cells)
    state = previous.to_dict()
    for key in ("enzyme_stats", "enzyme_pooled", "enzyme_norm", "error_features_used"):
        state.pop(key)
    for key in ("error_features", "restandardize", "loo_variance", "error_floor"):
        state["params"].pop(key)
    old = SequenceSecretionModel.from_dict(state)
    np.testing.assert_allclose(old.predict(cells)[1], previous.predict(cells)[1])
    assert old.get_params()["restandardize"] is False
