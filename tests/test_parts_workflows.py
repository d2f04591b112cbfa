"""The parts workflows called directly (no CLI): train, predict, design, design_rbs,
explain, export, signal peptides and the secretion matrix, each with bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from biofab.core.errors import InputError
from biofab.parts import workflows as wf
from biofab.parts.datasets import load_lafleur
from conftest import shared_data

LAFLEUR = "parts/promoters/lafleur2022_supp_data3.csv"
PROTEOME = "metabolism/carveme_benchmark/fasta/Bsubtilis_168.faa"
WU2020 = "parts/signal_peptides/wu2020_tidy_processed_sps.csv"
CATPRED = "enzymes/catpred_kcat_random_val.csv"
MATURE = "AETANKSNELTAPSIKSGTILHAWNWSFNTLKHNMKDIHDAGYTAIQTSPINQVKEGNQ"


@pytest.fixture(scope="module")
def promoters(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rows = load_lafleur(shared_data(LAFLEUR)).iloc[:300]
    path = tmp_path_factory.mktemp("parts") / "promoters.csv"
    rows[["sequence", "target"]].to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def trained(promoters: Path, tmp_path_factory: pytest.TempPathFactory) -> wf.TrainResult:
    out = tmp_path_factory.mktemp("model") / "ridge.dir"
    return wf.train(wf.TrainRequest(promoters, "promoter", out, estimator="kmer-ridge", seed=0))


def _raises_before_writing(call: object, request: object, *outputs: Path, match: str) -> None:
    with pytest.raises(InputError, match=match) as err:
        call(request)  # type: ignore[operator]
    assert "\n" not in str(err.value)
    for out in outputs:
        assert not out.exists(), out


def test_train_writes_the_model_and_its_in_sample_fit(trained: wf.TrainResult) -> None:
    assert trained.kind == "promoter" and trained.estimator == "kmer-ridge"
    assert Path(trained.files[0]).is_dir() and trained.files == [trained.model]
    frame = trained.to_frame()
    assert len(frame) == 300 and {"sequence", "target", "prediction", "std"} <= set(frame)
    assert trained.train_pearson_r is not None and trained.train_pearson_r > 0.5
    summary = json.loads(trained.to_json())
    assert summary["n_train"] == 300 and summary["files"] == trained.files


def test_train_bad_inputs(promoters: Path, tmp_path: Path) -> None:
    out = tmp_path / "m.dir"
    bad = tmp_path / "bad.csv"
    bad.write_text("sequence,target\n" + "ACGT" * 15 + ",1\n" + "ACGTN" * 12 + ",2\n")
    cases = {
        "unknown part kind": wf.TrainRequest(promoters, "enzyme", out),
        "unknown model": wf.TrainRequest(promoters, "promoter", out, estimator="forest"),
        "cnn model only": wf.TrainRequest(
            promoters, "promoter", out, estimator="kmer-ridge", epochs=2
        ),
        "members too small": wf.TrainRequest(promoters, "promoter", out, members=0),
        "row 2": wf.TrainRequest(bad, "promoter", out, estimator="kmer-ridge"),
        "target": wf.TrainRequest(promoters, "promoter", out, target_column="log_tx"),
    }
    for match, request in cases.items():
        _raises_before_writing(wf.train, request, out, match=match)


def test_predict_adds_prediction_and_std(
    trained: wf.TrainResult, promoters: Path, tmp_path: Path
) -> None:
    out = tmp_path / "pred.csv"
    r = wf.predict(wf.PredictRequest(promoters, Path(trained.model), out))
    written = pd.read_csv(out)
    assert r.files == [str(out)] and len(written) == 300
    assert np.allclose(written["prediction"], r.to_frame()["prediction"])
    assert np.allclose(written["prediction"], trained.to_frame()["prediction"])
    summary = r.to_dict()
    assert summary["n"] == 300 and summary["prediction_min"] <= summary["prediction_max"]
    bad = tmp_path / "bad.csv"
    bad.write_text("sequence\n" + "ACGU" * 15 + "\n")
    model = Path(trained.model)
    _raises_before_writing(wf.predict, wf.PredictRequest(bad, model, out), match="row 1")
    other = tmp_path / "other.csv"
    request = wf.PredictRequest(promoters, model, other, kind="rbs")
    _raises_before_writing(wf.predict, request, other, match="another kind")


def test_kcat_train_predict_and_bad_row(tmp_path: Path) -> None:
    raw = pd.read_csv(shared_data(CATPRED)).head(60)
    data = tmp_path / "kcat.csv"
    raw[["sequence", "reactant_smiles", "ec", "log10_value"]].to_csv(data, index=False)
    r = wf.train(wf.TrainRequest(data, "kcat", tmp_path / "kcat.dir"))  # target: log10_value
    assert r.estimator == "kcat-xgboost" and len(r.to_frame()) == 60
    assert "train_pearson_r" not in r.to_dict()
    query = tmp_path / "q.csv"
    raw[["sequence", "reactant_smiles", "ec"]].head(4).to_csv(query, index=False)
    out = tmp_path / "kcat_pred.csv"
    p = wf.predict(wf.PredictRequest(query, Path(r.model), out))
    assert p.kind == "kcat" and len(pd.read_csv(out)) == 4 and (p.to_frame()["std"] > 0).all()
    bad = raw[["sequence", "reactant_smiles", "ec"]].head(4).copy()
    bad.loc[1, "reactant_smiles"] = "C1CC(("
    bad.to_csv(query, index=False)
    bad_out = tmp_path / "kcat_bad.csv"
    request = wf.PredictRequest(query, Path(r.model), bad_out)
    _raises_before_writing(wf.predict, request, bad_out, match="row 2")


def test_design_meets_rules_and_writes_fasta_and_table(
    trained: wf.TrainResult, tmp_path: Path
) -> None:
    out = tmp_path / "designs.fa"
    rules = wf.DesignRules(gc=(0.35, 0.65), max_homopolymer=4, enzymes=("BsaI",))
    request = wf.DesignRequest(
        Path(trained.model), out, maximize=True, n=4, length=80, rules=rules, steps=20
    )
    r = wf.design(request)
    assert r.files == [str(out), str(out.with_suffix(".csv"))]
    assert out.read_text().count(">") == len(r.designs) > 0
    check = rules.constraints(80)
    assert all(check.ok(s) for s in r.to_frame()["sequence"])
    summary = r.to_dict()
    assert summary["wanted"] == 4 and summary["designs"] == len(r.designs)
    assert "min_pairwise_distance" in summary


def test_design_bad_inputs(trained: wf.TrainResult, tmp_path: Path) -> None:
    model, out = Path(trained.model), tmp_path / "x.fa"
    cases = {
        "exactly one of target and maximize": wf.DesignRequest(model, out, length=80),
        "target must be finite": wf.DesignRequest(model, out, target=float("nan"), length=80),
        "length outside": wf.DesignRequest(model, out, maximize=True, length=20),
        "n too small": wf.DesignRequest(model, out, maximize=True, length=80, n=0),
        "same file": wf.DesignRequest(model, tmp_path / "x.csv", maximize=True, length=80),
        "another kind": wf.DesignRequest(model, out, kind="rbs", maximize=True, length=80),
        "not a biofab parts model": wf.DesignRequest(tmp_path, out, maximize=True, length=80),
    }
    for match, request in cases.items():
        _raises_before_writing(wf.design, request, out, out.with_suffix(".csv"), match=match)
    seeds = tmp_path / "seeds.fa"
    seeds.write_text(">s1\nACGTNACGT\n")
    request = wf.DesignRequest(model, out, maximize=True, seeds=seeds)
    _raises_before_writing(wf.design, request, out, match="seeds.fa")


def test_design_rbs_in_context(tmp_path: Path) -> None:
    pytest.importorskip("RNA")
    pytest.importorskip("ostir")
    cds = "ATGACCATGATTACGGATTCACTGGCCGTCGTTTTAC"
    out = tmp_path / "rbs.fa"
    r = wf.design_rbs(
        wf.DesignRbsRequest(cds, out, utr="GGGAGA", maximize=True, n=2, length=20, steps=5)
    )
    assert r.files == [str(out), str(out.with_suffix(".csv"))]
    assert 0 < len(r.designs) <= 2 and r.to_dict()["model"] == "OSTIR log10 TIR (au)"
    cds_file = tmp_path / "cds.fa"
    cds_file.write_text(f">cds\n{cds}\n")
    again = wf.design_rbs(
        wf.DesignRbsRequest(str(cds_file), tmp_path / "b.fa", maximize=True, n=1, length=20)
    )
    assert len(again.designs) == 1


def test_design_rbs_bad_inputs(tmp_path: Path) -> None:
    out = tmp_path / "rbs.fa"
    cds = "ATGACCATGATTACGGATTCACTGGCCGTCGTTTTAC"
    cases = {
        "exactly one of target": wf.DesignRbsRequest(cds, out, maximize=True, minimize=True),
        "non-DNA": wf.DesignRbsRequest("ATGNNN" + cds, out, target=3.0),
        "utr": wf.DesignRbsRequest(cds, out, utr="GGXAGA", target=3.0),
        "steps too small": wf.DesignRbsRequest(cds, out, target=3.0, steps=0),
    }
    for match, request in cases.items():
        _raises_before_writing(wf.design_rbs, request, out, out.with_suffix(".csv"), match=match)


def test_explain_one_sequence_and_a_file(
    trained: wf.TrainResult, promoters: Path, tmp_path: Path
) -> None:
    model = Path(trained.model)
    seq = pd.read_csv(promoters)["sequence"].iloc[0]
    out = tmp_path / "one.html"
    r = wf.explain(wf.ExplainRequest(model, out, sequence=seq))
    assert r.files == [str(out)] and out.read_text().startswith("<!DOCTYPE html>")
    row = r.to_frame().iloc[0]
    assert row["length"] == len(seq) and 1 <= row["most_important_position"] <= len(seq)
    many = wf.explain(wf.ExplainRequest(model, tmp_path / "m.html", sequences=promoters, limit=2))
    assert [s["name"] for s in many.to_dict()["sequences"]] == ["1", "2"]  # row numbers


def test_explain_bad_inputs(trained: wf.TrainResult, tmp_path: Path) -> None:
    model, out = Path(trained.model), tmp_path / "bad.html"
    cases = {
        "exactly one of a sequence and a file": wf.ExplainRequest(model, out),
        "non-DNA letter 'U'": wf.ExplainRequest(model, out, sequence="ACGU" * 20),
        "unknown summary": wf.ExplainRequest(model, out, sequence="ACGT" * 20, importance="x"),
        "limit too small": wf.ExplainRequest(model, out, sequence="ACGT" * 20, limit=0),
        "file not found": wf.ExplainRequest(model, out, sequences=tmp_path / "none.csv"),
    }
    for match, request in cases.items():
        _raises_before_writing(wf.explain, request, out, match=match)


def test_export_formats(trained: wf.TrainResult, promoters: Path, tmp_path: Path) -> None:
    pred = tmp_path / "pred.csv"
    wf.predict(wf.PredictRequest(promoters, Path(trained.model), pred))
    for name, fmt in (("p.fasta", "fasta"), ("p.gb", "genbank")):
        out = tmp_path / name
        r = wf.export(wf.ExportRequest(pred, out, model_name="ridge"))
        assert r.format == fmt and r.files == [str(out)] and out.stat().st_size > 0
        assert r.to_dict()["n"] == 300 and r.to_dict()["with_prediction"]
        assert len(r.to_frame()) == 300
    bad = tmp_path / "bad.csv"
    bad.write_text("sequence,prediction\nACGT,1.0\n")
    out = tmp_path / "bad.xml"
    request = wf.ExportRequest(bad, out, format="xml")
    _raises_before_writing(wf.export, request, out, match="unknown export format")
    bad.write_text("sequence\nACGTXX\n")
    out = tmp_path / "bad.fasta"
    _raises_before_writing(wf.export, wf.ExportRequest(bad, out), out, match="bad.csv")


def test_signal_peptides_ranked_for_the_mature_protein(tmp_path: Path) -> None:
    out = tmp_path / "sps.csv"
    r = wf.signal_peptides(
        wf.SignalPeptidesRequest(shared_data(PROTEOME), MATURE, out, n=5, generate=10)
    )
    assert r.files == [str(out)] and len(pd.read_csv(out)) == len(r.to_frame()) == 5
    summary = r.to_dict()
    assert summary["natural"] > 10 and summary["generated"] == 10
    assert summary["best"]["sequence"] == r.ranked.iloc[0]["sequence"]


def test_signal_peptides_bad_inputs(tmp_path: Path) -> None:
    out = tmp_path / "sps.csv"
    proteome = shared_data(PROTEOME)
    empty = tmp_path / "p.faa"
    empty.write_text("")
    cases = {
        "column 'mature'": wf.SignalPeptidesRequest(proteome, "AETX*K", out),
        "max_len out of range": wf.SignalPeptidesRequest(proteome, MATURE, out, max_len=70),
        "generate too small": wf.SignalPeptidesRequest(proteome, MATURE, out, generate=-1),
        "empty file": wf.SignalPeptidesRequest(empty, MATURE, out),
        "not a biofab parts model": wf.SignalPeptidesRequest(
            proteome, MATURE, out, model=tmp_path / "no.model"
        ),
    }
    for match, request in cases.items():
        _raises_before_writing(wf.signal_peptides, request, out, match=match)


def test_secretion_fit_then_predict(tmp_path: Path) -> None:
    model = tmp_path / "sec.json"
    fit = wf.secretion_fit(
        wf.SecretionFitRequest(shared_data(WU2020), model, wu2020=True, n_boot=2)
    )
    assert fit.files == [str(model)] and json.loads(model.read_text())
    s = fit.to_dict()
    assert s["signal_peptides"] > 10 and s["proteins"] > 1 and s["n_boot"] == 2
    protein = str(fit.to_frame()["protein_id"].iloc[0])
    out = tmp_path / "ranked.csv"
    r = wf.secretion_predict(wf.SecretionPredictRequest(model, protein, out))
    assert len(pd.read_csv(out)) == s["signal_peptides"] == len(r.to_frame())
    assert r.to_dict()["best"]["sp_id"] == r.ranked.iloc[0]["sp_id"]


def test_secretion_bad_inputs(tmp_path: Path) -> None:
    out = tmp_path / "sec.json"
    data = tmp_path / "long.csv"
    data.write_text("sp,protein_id,activity\na,p,1.0\n")
    _raises_before_writing(
        wf.secretion_fit, wf.SecretionFitRequest(data, out), out, match="missing column"
    )
    data.write_text("sp_id,protein_id,activity\n")
    _raises_before_writing(
        wf.secretion_fit, wf.SecretionFitRequest(data, out), out, match="empty file"
    )
    _raises_before_writing(
        wf.secretion_fit, wf.SecretionFitRequest(data, out, rank=-1), out, match="rank"
    )
    model = tmp_path / "model.json"
    model.write_text("{not json")
    ranked = tmp_path / "ranked.csv"
    request = wf.SecretionPredictRequest(model, "p", ranked)
    _raises_before_writing(wf.secretion_predict, request, ranked, match="unreadable model JSON")
