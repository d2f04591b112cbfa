"""The real ``biofab gem`` entry point on bad input: one line, exit code 2, no output file.

Each topic's tests drive its commands in-process; these run the installed
command line (``python -m biofab.cli``) the way a user does, one case per kind
of bad input the issue names.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

from biofab.metabolism import load_model, save_model


def _cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "biofab.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def _refused(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, result.stderr + result.stdout
    line = result.stderr.strip()
    assert line.startswith("error: ") and "\n" not in line, line
    assert "Traceback" not in result.stderr
    for w in words:
        assert w in line, line


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("models")
    tb = load_model("textbook")
    with tb:
        tb.reactions.ATPM.lower_bound = 500.0  # more maintenance than glucose can pay
        infeasible = save_model(tb, folder / "infeasible.json")
    with tb:
        for r in tb.reactions:
            r.bounds = (-math.inf, math.inf)
        unbounded = save_model(tb, folder / "unbounded.json")
    return {"infeasible": infeasible, "unbounded": unbounded}


@pytest.mark.parametrize(
    ("kind", "command", "words"),
    [
        ("infeasible", "fba", ("infeasible",)),
        ("unbounded", "fba", ("unbounded",)),
        ("infeasible", "fva", ("infeasible",)),
        ("infeasible", "deletions", ("infeasible",)),
    ],
)
def test_infeasible_or_unbounded_model(
    models: dict[str, Path], tmp_path: Path, kind: str, command: str, words: tuple[str, ...]
) -> None:
    out = tmp_path / "result.csv"
    extra = ["--kind", "gene"] if command == "deletions" else []
    _refused(_cli("gem", command, models[kind], *extra, "--out", out), *words)
    assert not out.exists()


def test_medium_naming_unknown_exchanges(tmp_path: Path) -> None:
    medium = tmp_path / "medium.tsv"
    medium.write_text("medium\tcompound\nmine\tglc__D\nmine\tunobtainium\n")
    out = tmp_path / "fluxes.csv"
    _refused(_cli("gem", "fba", "textbook", "--medium", medium, "--out", out), "unobtainium")
    assert not out.exists()


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (">p1\nMKV1LA\n", ("p1", "'1'")),
        (">p1\nMKVLA\n>p1\nMKKLA\n", ("duplicate", "p1")),
    ],
)
def test_bad_fasta(tmp_path: Path, text: str, words: tuple[str, ...]) -> None:
    faa = tmp_path / "target.faa"
    faa.write_text(text)
    template = tmp_path / "template.faa"
    template.write_text(">b0001\nMKRISTTITTTITITTGNGAG\n")
    out = tmp_path / "draft.xml"
    result = _cli(
        "gem", "reconstruct", faa, "--template", "textbook", "--template-proteome", template,
        "--out", out,
    )  # fmt: skip
    _refused(result, *words)
    assert not out.exists()


@pytest.mark.parametrize(("kcat", "words"), [("-5", ("kcat", "row 2")), ("", ("kcat", "row 2"))])
def test_bad_kcat_table(tmp_path: Path, kcat: str, words: tuple[str, ...]) -> None:
    table = tmp_path / "kcats.csv"
    table.write_text(f"reaction,kcat\nPGI,30\nPFK,{kcat}\n")
    out = tmp_path / "ec.xml"
    _refused(_cli("gem", "ec", "textbook", "--kcats", table, "--out", out), *words)
    assert not out.exists()


def test_dfba_scenario_with_unknown_reaction(tmp_path: Path) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        "model: textbook\nbiomass: {initial: 0.05}\nt_end: 2\n"
        "species:\n  glucose:\n    exchange: EX_glucose_e\n    mw: 180.16\n    initial: 10\n"
        "    uptake: {vmax: 10, km: 0.01}\n"
    )
    out = tmp_path / "traj.csv"
    _refused(_cli("gem", "dfba", scenario, "--out", out), "EX_glucose_e")
    assert not out.exists()


def test_unknown_gene_in_a_scan(tmp_path: Path) -> None:
    out = tmp_path / "dels.csv"
    result = _cli("gem", "deletions", "textbook", "--kind", "gene", "--ids", "b9999", "--out", out)
    _refused(result, "b9999")
    assert not out.exists()
