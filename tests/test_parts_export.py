"""Export of parts to FASTA, GenBank and SBOL3, and re-import of each."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sbol3
from Bio import SeqIO
from typer.testing import CliRunner

from biofab.cli.parts import parts_app
from biofab.core.errors import InputError
from biofab.parts.export import (
    PART_KINDS,
    export_parts,
    find_sigma70_boxes,
    read_parts,
    read_sbol3,
    sbol3_document,
)
from biofab.parts.sequences import read_genbank, read_sequences
from conftest import shared_data

# Bacillus subtilis AmyE signal peptide (UniProt P00691, residues 1-33).
AMYE_SP = "MFAKRFKTSLLPLFAGFLLLFHLVLAGPAAASA"


@pytest.fixture(scope="module")
def lafleur() -> pd.DataFrame:
    raw = pd.read_csv(shared_data("parts/promoters/lafleur2022_supp_data3.csv"), nrows=12)
    seq = raw["UP"] + raw["h35"] + raw["spacs"] + raw["h10"] + raw["disc"] + raw["ITR"]
    return pd.DataFrame(
        {
            "name": [f"LaFleur_{i}" for i in raw["ID"]],
            "sequence": seq,
            "prediction": raw["Observed log(TX/Txref)"],
            "std": np.linspace(0.05, 0.3, len(raw)),
            "model": "cnn",
            "h35": raw["h35"],
            "h10": raw["h10"],
            "up_len": raw["UP"].str.len(),
            "spacer_len": raw["spacs"].str.len(),
        }
    )


def _same(back: pd.DataFrame, parts: pd.DataFrame, rtol: float = 0.0) -> None:
    assert back["id"].tolist() == parts["name"].tolist()
    assert back["sequence"].tolist() == parts["sequence"].tolist()
    np.testing.assert_allclose(back["prediction"], parts["prediction"], rtol=rtol)
    np.testing.assert_allclose(back["std"], parts["std"], rtol=rtol)
    assert set(back["model"]) == {"cnn"}


def test_fasta_round_trip(lafleur: pd.DataFrame, tmp_path: Path) -> None:
    out = export_parts(lafleur, tmp_path / "p.fasta", "promoter", "fasta")
    _same(read_parts(out), lafleur)
    # Plain FASTA readers still see id and sequence.
    plain = read_sequences(out)
    assert plain["id"].tolist() == lafleur["name"].tolist()


def test_genbank_round_trip_and_features(lafleur: pd.DataFrame, tmp_path: Path) -> None:
    out = export_parts(lafleur, tmp_path / "p.gb", "promoter", "genbank")
    _same(read_parts(out), lafleur)
    table = read_genbank(out)
    assert table["id"].tolist() == lafleur["name"].tolist()
    # read_sequences detects GenBank by its LOCUS line, whatever the suffix.
    renamed = out.rename(tmp_path / "p.txt")
    assert read_sequences(renamed)["sequence"].tolist() == lafleur["sequence"].tolist()
    records = list(SeqIO.parse(str(renamed), "genbank"))
    assert len(records) == len(lafleur)
    for rec, row in zip(records, lafleur.itertuples(), strict=True):
        assert len(rec.name) <= 16
        assert rec.annotations["data_file_division"] == "SYN"
        keys = [f.type for f in rec.features]
        assert keys == ["source", "promoter", "-35_signal", "-10_signal"]
        q = rec.features[1].qualifiers
        assert float(q["prediction"][0]) == row.prediction
        assert float(q["std"][0]) == row.std
        assert q["model"] == ["cnn"]
        m35, m10 = rec.features[2], rec.features[3]
        assert int(m35.location.start) == row.up_len
        assert str(rec.seq[m35.location.start : m35.location.end]) == row.h35
        assert int(m10.location.start) == row.up_len + 6 + row.spacer_len
        assert str(rec.seq[m10.location.start : m10.location.end]) == row.h10


def test_sbol3_validates_and_round_trips(lafleur: pd.DataFrame, tmp_path: Path) -> None:
    doc = sbol3_document(lafleur, "promoter")
    assert len(doc.validate().errors) == 0
    out = export_parts(lafleur, tmp_path / "p.nt", "promoter", "sbol3")
    _same(read_parts(out), lafleur)  # N-Triples keep every digit
    back = sbol3.Document()
    back.read(str(out))
    report = back.validate()
    assert len(report.errors) == 0, [str(e) for e in report.errors]
    comps = [o for o in back.objects if isinstance(o, sbol3.Component)]
    assert len(comps) == len(lafleur)
    for c in comps:
        assert list(c.types) == [sbol3.SBO_DNA]
        assert list(c.roles) == ["https://identifiers.org/SO:0000167"]
        assert {str(m.name) for m in c.measures} == {"prediction", "std"}
        seq = back.find(str(c.sequences[0]))
        assert seq.encoding == sbol3.IUPAC_DNA_ENCODING
        roles = sorted(str(r) for f in c.features for r in f.roles)
        assert roles == ["https://identifiers.org/SO:0000175", "https://identifiers.org/SO:0000176"]
    ttl = export_parts(lafleur, tmp_path / "p.ttl", "promoter", "sbol3")
    _same(read_sbol3(ttl), lafleur, rtol=1e-6)  # rdflib's Turtle keeps ~7 digits


def test_signal_peptide_is_protein(tmp_path: Path) -> None:
    parts = pd.DataFrame({"id": ["amyE_sp", "sp 2"], "sequence": [AMYE_SP, AMYE_SP[:-3]]})
    gb = export_parts(parts, tmp_path / "sp.gb", "signal_peptide")
    rec = next(SeqIO.parse(str(gb), "genbank"))
    assert rec.annotations["molecule_type"] == "protein"
    assert [f.type for f in rec.features] == ["source", "sig_peptide"]
    back = read_parts(gb, "signal_peptide")
    assert back["id"].tolist() == ["amyE_sp", "sp_2"]  # accessions carry no white space
    assert "prediction" not in back
    nt = export_parts(parts, tmp_path / "sp.nt", "signal_peptide")
    table = read_sbol3(nt)
    assert table["id"].tolist() == ["amyE_sp", "sp 2"]
    assert table["sequence"].tolist() == parts["sequence"].tolist()
    assert set(table["kind"]) == {"signal_peptide"}
    doc = sbol3.Document()
    doc.read(str(nt))
    comp = doc.find("https://biofab.example.org/parts/amyE_sp")
    assert list(comp.types) == [sbol3.SBO_PROTEIN]
    assert list(comp.roles) == [PART_KINDS["signal_peptide"].so_role]


def test_locus_names_short_and_unique(tmp_path: Path) -> None:
    seq = "TTGACAATTAATCATCGGCTCGTATAATGTGTGGAATTGTGAGCGGATAACAATTTCACACA"
    parts = pd.DataFrame(
        {"id": ["a_very_long_promoter_name_1", "a_very_long_promoter_name_2"], "sequence": seq}
    )
    out = export_parts(parts, tmp_path / "p.gb", "promoter", "genbank")
    names = [r.name for r in SeqIO.parse(str(out), "genbank")]
    assert all(len(n) <= 16 for n in names) and len(set(names)) == 2
    assert read_parts(out)["id"].tolist() == parts["id"].tolist()


def test_sigma70_box_detection() -> None:
    # tac promoter: TTGACA, 16 nt spacer, TATAAT.
    tac = "TTGACAATTAATCATCGGCTCGTATAATGTGTGGAATTGTGAGCGGATAACAATTTCACACA"
    assert find_sigma70_boxes(tac) == (0, 22)
    assert find_sigma70_boxes("A" * 60) is None


@pytest.mark.parametrize(
    ("table", "fmt", "problem"),
    [
        ("sequence,prediction\nACGTNACGT,1.0\n", "fasta", "row 1"),
        ("sequence,prediction\nACGT,1.0\n", "xml", "unknown export format"),
        ("sequence,prediction\n", "genbank", "no parts"),
        ("sequence,prediction\nACGT,high\n", "sbol3", "column 'prediction'"),
        ("id,sequence\nx,ACGT\nx,ACGA\n", "fasta", "duplicate id"),
    ],
)
def test_bad_input(tmp_path: Path, table: str, fmt: str, problem: str) -> None:
    src = tmp_path / "in.csv"
    src.write_text(table)
    out = tmp_path / "out.file"
    with pytest.raises(InputError, match=problem) as info:
        export_parts(pd.read_csv(src, dtype=str, keep_default_na=False), out, "promoter", fmt)
    assert "\n" not in str(info.value)
    assert not out.exists()
    result = CliRunner().invoke(parts_app, ["export", str(src), "--format", fmt, "--out", str(out)])
    # parts_app alone hands the error on; `biofab` (main) prints it and exits with its code.
    assert isinstance(result.exception, InputError)
    assert result.exception.exit_code == 2
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [src]  # no temporary file left either


def test_cli_export_each_format(lafleur: pd.DataFrame, tmp_path: Path) -> None:
    src = tmp_path / "designs.csv"
    lafleur.drop(columns=["model"]).to_csv(src, index=False)
    runner = CliRunner()
    for fmt, name in (("fasta", "d.fa"), ("genbank", "d.gb"), ("sbol3", "d.nt")):
        out = tmp_path / name
        args = ["export", str(src), "--format", fmt, "--out", str(out)]
        result = runner.invoke(parts_app, [*args, "--model-name", "cnn", "--json"])
        assert result.exit_code == 0, result.output
        summary = json.loads(result.output)
        assert summary.pop("files") == [str(out)]  # every result lists the files it wrote
        assert summary == {
            "out": str(out),
            "format": fmt,
            "kind": "promoter",
            "n": len(lafleur),
            "with_prediction": True,
        }
        _same(read_parts(out), lafleur)
    # Converting: GenBank in, SBOL3 out (suffix picks the format).
    result = runner.invoke(
        parts_app, ["export", str(tmp_path / "d.gb"), "--out", str(tmp_path / "d.ttl")]
    )
    assert result.exit_code == 0, result.output
    assert read_sbol3(tmp_path / "d.ttl")["id"].tolist() == lafleur["name"].tolist()


def test_cli_bad_sequence_exit_code(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text("name,sequence\np1,ACGTNACGT\n")
    out = tmp_path / "out.gb"
    proc = subprocess.run(
        [sys.executable, "-m", "biofab.cli", "parts", "export", str(src), "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "row 1" in proc.stderr and "'N'" in proc.stderr
    assert not out.exists()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "LOCUS       x    8 bp    DNA     linear   SYN 01-JAN-1980\n"
            "FEATURES             Location/Qualifiers\nORIGIN\n        1 acgtnacg\n//\n",
            "row 1: non-DNA letter 'N' at position 5",
        ),
        ("LOCUS  garbage\nblah\n", "no GenBank records"),
    ],
)
def test_read_genbank_bad_input(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "bad.gb"
    path.write_text(text)
    with pytest.raises(InputError, match=problem):
        read_sequences(path)
