"""First contact with `biofab`: every mistake a new user makes is one line and exit 2.

Everything runs the real entry point in a subprocess (``python -m biofab.cli``,
which is what the ``biofab`` console script calls), with a real SQLite file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLATE = ROOT / "tests" / "data" / "platereader" / "gen5_endpoint.csv"

SPACE = """
parameters:
  mg: {type: continuous, lo: 0, hi: 4, step: 0.5, unit: uL}
  ntp: {type: continuous, lo: 0, hi: 4, step: 0.5, unit: uL}
"""


def biofab(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "BIOFAB_DB"}
    return subprocess.run(
        [sys.executable, "-m", "biofab.cli", *args],
        cwd=cwd,
        env={**env, "BIOFAB_DB": f"sqlite:///{cwd / 'biofab.db'}"},
        capture_output=True,
        text=True,
        timeout=300,
    )


def one_line_error(r: subprocess.CompletedProcess[str], *expected: str) -> str:
    """Exit 2, exactly one line on stderr starting ``error:``, holding each ``expected``
    (case aside: click releases differ in how they capitalise an argument's name)."""
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("error: "), lines[0]
    for text in expected:
        assert text.lower() in lines[0].lower(), (text, lines[0])
    return lines[0]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "space.yaml").write_text(SPACE)
    r = biofab(
        "campaign", "create", "c1", "--space", "space.yaml", "--objective", "y:max", cwd=tmp_path
    )
    assert r.returncode == 0, r.stderr
    return tmp_path


# -- usage errors ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["campaign", "recommend", "c1", "-n", "abc"],
            ["biofab campaign recommend: ", "'-n'", "valid integer", "found 'abc'", "--help"],
        ),
        (["campaign", "status"], ["biofab campaign status: ", "Missing argument 'name'"]),
        (
            ["campaign", "create", "c1", "--space", "space.yaml"],
            ["biofab campaign create: ", "Missing option '--objective'"],
        ),
        (["campaign", "frobnicate"], ["biofab campaign: ", "No such command 'frobnicate'"]),
        (["campaign", "list", "--frob"], ["biofab campaign list: ", "No such option", "--frob"]),
        (["frobnicate"], ["biofab: ", "No such command"]),
        (["campaign", "recommend", "c1", "-n", "0"], ["recommend: ", "'-n'", "found '0'"]),
        (["campaign", "recommend", "c1", "--n=x"], ["recommend: ", "'--n'", "found 'x'"]),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(
    tmp_path: Path, args: list[str], expected: list[str]
) -> None:
    one_line_error(biofab(*args, cwd=tmp_path), *expected)
    assert not (tmp_path / "biofab.db").exists()


def test_help_and_version_exit_0(tmp_path: Path) -> None:
    from importlib.metadata import version

    r = biofab("--version", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"biofab {version('biofab')}\n" and r.stderr == ""
    for args in (["--help"], ["campaign", "recommend", "--help"]):
        r = biofab(*args, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        assert "Usage" in r.stdout


# -- files that are not text ---------------------------------------------------------
@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"parameters:\n  mg: {type: continuous, lo: 0, hi: 4, unit: \xb5L}\n", "not UTF-8 text"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file"),
        (b"parameters:\x00\x01\x02", "binary file"),
    ],
)
def test_undecodable_space_yaml(tmp_path: Path, content: bytes, expected: str) -> None:
    (tmp_path / "bad.yaml").write_bytes(content)
    one_line_error(biofab("space", "check", "bad.yaml", cwd=tmp_path), "bad.yaml", expected)
    r = biofab(
        "campaign", "create", "c2", "--space", "bad.yaml", "--objective", "y:max", cwd=tmp_path
    )
    one_line_error(r, "bad.yaml", expected)
    assert not (tmp_path / "biofab.db").exists()


def test_utf16_space_yaml_with_bom_is_read(tmp_path: Path) -> None:
    (tmp_path / "s16.yaml").write_text(SPACE, encoding="utf-16")
    r = biofab("space", "check", "s16.yaml", "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert '"mg"' in r.stdout


def test_undecodable_plate_reader_and_layout_files(tmp_path: Path) -> None:
    layout = tmp_path / "layout.csv"
    layout.write_text("plate,well,role,design,replicate\nP1,A1,blank,-1,1\n")
    (tmp_path / "binary.csv").write_bytes(bytes(range(256)) * 4)
    r = biofab("cellfree", "import", "binary.csv", "--layout", "layout.csv", "--out", "r.csv",
               cwd=tmp_path)  # fmt: skip
    one_line_error(r, "binary.csv", "binary file")
    # a field beyond the csv module's limit is _csv.Error inside the reader
    (tmp_path / "huge.csv").write_text('plate,well,value\nP1,A1,"' + "x" * 200_000 + '"\n')
    r = biofab("cellfree", "import", "huge.csv", "--layout", "layout.csv", "--out", "r.csv",
               cwd=tmp_path)  # fmt: skip
    one_line_error(r, "huge.csv", "cannot parse as a table", "field larger than field limit")
    (tmp_path / "layout16.csv").write_bytes(b"plate,well\xff\xfe,role\n")
    r = biofab("cellfree", "import", str(PLATE), "--layout", "layout16.csv", "--out", "r.csv",
               cwd=tmp_path)  # fmt: skip
    one_line_error(r, "layout16.csv", "not UTF-8 text (byte 0xff at offset 10)")
    assert not (tmp_path / "r.csv").exists()
    (tmp_path / "stocks.yaml").write_bytes(b"components:\n  mg: {stock: 1, unit: \xb5M}\n")
    (tmp_path / "designs.csv").write_text("mg\n1\n")
    r = biofab("cellfree", "plan", "designs.csv", "--stocks", "stocks.yaml", "--out", "plan",
               cwd=tmp_path)  # fmt: skip
    one_line_error(r, "stocks.yaml", "not UTF-8 text")
    assert not (tmp_path / "plan").exists()


def test_latin1_plate_reader_export_is_still_read(tmp_path: Path) -> None:
    from biofab.cellfree.platereader import read_plate_file

    text = PLATE.read_text(encoding="utf-8")
    text = text.replace("Software Version", "Software Version (25 \u00b0C)", 1)
    (tmp_path / "latin.csv").write_bytes(text.encode("latin-1"))
    frame = read_plate_file(tmp_path / "latin.csv")
    assert len(frame) == len(read_plate_file(PLATE))


# -- outputs into missing folders -------------------------------------------------------
def test_out_into_a_missing_folder_is_refused_before_any_work(workdir: Path) -> None:
    missing = workdir / "nonexistent" / "dir"
    r = biofab("campaign", "recommend", "c1", "-n", "3", "--out", str(missing / "x.csv"),
               cwd=workdir)  # fmt: skip
    one_line_error(r, f"folder {missing} does not exist")
    r = biofab("campaign", "status", "c1", "--json", cwd=workdir)
    assert '"rounds": 0' in r.stdout  # no round was stored for a batch that had nowhere to go
    r = biofab("campaign", "report", "c1", "--out", str(missing / "r.html"), cwd=workdir)
    one_line_error(r, f"folder {missing} does not exist")
    r = biofab("demo", "--rounds", "1", "--batch", "3", "--out", str(missing / "r.html"),
               cwd=workdir)  # fmt: skip
    one_line_error(r, f"folder {missing} does not exist")
    r = biofab("cellfree", "run", "--rounds", "1", "--batch", "3", "--out", str(missing),
               cwd=workdir)  # fmt: skip
    one_line_error(r, f"folder {missing.parent} does not exist")
    r = biofab("cellfree", "import", str(PLATE), "--layout", "none.csv",
               "--out", str(missing / "r.csv"), cwd=workdir)  # fmt: skip
    one_line_error(r, f"folder {missing} does not exist")
    scenario = ROOT / "examples" / "process" / "ecoli_fedbatch.yaml"
    r = biofab("process", "simulate", str(scenario), "--out", str(missing / "t.csv"),
               cwd=workdir)  # fmt: skip
    one_line_error(r, f"folder {missing} does not exist")
    assert not (workdir / "nonexistent").exists()


def test_out_into_an_existing_folder_still_works(workdir: Path) -> None:
    r = biofab("campaign", "recommend", "c1", "-n", "3", "--out", "batch.csv", cwd=workdir)
    assert r.returncode == 0, r.stderr
    assert len((workdir / "batch.csv").read_text().splitlines()) == 4


# -- read commands never create a database ------------------------------------------------
@pytest.mark.parametrize(
    "args",
    [
        ["campaign", "status", "c1"],
        ["campaign", "list"],
        ["campaign", "explain", "c1"],
        ["campaign", "report", "c1"],
        ["campaign", "ingest", "c1", "results.csv"],
    ],
)
def test_read_commands_never_create_a_database(tmp_path: Path, args: list[str]) -> None:
    r = biofab(*args, "--db", "sqlite:///fresh.db", cwd=tmp_path)
    one_line_error(r, "no biofab store at fresh.db; check --db / BIOFAB_DB")
    assert not (tmp_path / "fresh.db").exists()


def test_an_empty_file_is_not_a_store_and_create_still_creates(tmp_path: Path) -> None:
    (tmp_path / "empty.db").write_bytes(b"")
    r = biofab("campaign", "list", "--db", "sqlite:///empty.db", cwd=tmp_path)
    one_line_error(r, "no biofab store at empty.db")
    (tmp_path / "space.yaml").write_text(SPACE)
    r = biofab("campaign", "create", "c1", "--space", "space.yaml", "--objective", "y:max",
               "--db", "sqlite:///fresh.db", cwd=tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stderr
    r = biofab("campaign", "list", "--db", "sqlite:///fresh.db", "--json", cwd=tmp_path)
    assert r.returncode == 0 and '"c1"' in r.stdout, r.stderr


# -- start-up: read commands import no learning or modelling library ------------------------
HEAVY = ("torch", "botorch", "gpytorch", "xgboost", "cobra", "casadi", "rdkit", "sklearn")


def imported_modules(*args: str, cwd: Path) -> set[str]:
    """Top-level packages the real entry point imported (``python -X importtime``)."""
    r = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "biofab.cli", *args],
        cwd=cwd,
        env={**os.environ, "BIOFAB_DB": f"sqlite:///{cwd / 'biofab.db'}"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    names = [ln.split("|")[-1].strip() for ln in r.stderr.splitlines() if "import time:" in ln]
    return {n.split(".")[0] for n in names}


def test_read_commands_do_not_import_heavy_libraries(workdir: Path) -> None:
    for args in (
        ["--help"],
        ["campaign", "status", "c1"],
        ["campaign", "list"],
        ["space", "check", "space.yaml"],
    ):
        loaded = imported_modules(*args, cwd=workdir)
        assert "biofab" in loaded and "typer" in loaded  # the parse saw real imports
        assert not loaded & set(HEAVY), (args, sorted(loaded & set(HEAVY)))
        assert "alembic" not in loaded, args  # migrations load only to migrate
        if args[0] != "campaign" or args[1] == "status":
            # status summarises from plain records; pandas alone costs ~0.3 s
            assert "pandas" not in loaded, args


def test_learn_names_load_on_first_use() -> None:
    code = (
        "import sys, biofab.learn as L; assert 'torch' not in sys.modules; "
        "from biofab.learn import GPSurrogate, SpaceFilling; "
        "assert 'torch' in sys.modules and GPSurrogate.__module__ == 'biofab.learn.gp'; "
        "assert all(getattr(L, n) is not None for n in L.__all__); print('ok')"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and r.stdout == "ok\n", r.stderr


# -- progress: one line per round when stderr is not a terminal ----------------------------
def test_demo_reports_each_round_on_stderr_and_keeps_json_pure(tmp_path: Path) -> None:
    import json

    r = biofab("demo", "--rounds", "2", "--batch", "5", "--json", "--out", "r.html", cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    data = json.loads(r.stdout)  # nothing but JSON on stdout
    assert len(data["history"]) == 2
    rounds = [ln for ln in r.stderr.splitlines() if "cell-free campaign" in ln]
    assert [ln.split(" round ")[1].split()[0] for ln in rounds] == ["1/2", "2/2"], r.stderr
    assert all("best" in ln for ln in rounds)


def test_campaign_run_reports_each_round(tmp_path: Path, borkowski_dir: Path) -> None:
    r = biofab("demo", "--data", str(borkowski_dir), "--rounds", "2", "--batch", "4",
               "--out", "r.html", cwd=tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    rounds = [ln for ln in r.stderr.splitlines() if ln.startswith("campaign demo-")]
    assert [ln.split(" round ")[1].split()[0] for ln in rounds] == ["1/2", "2/2"], r.stderr
    assert "best so far" in rounds[-1]


def test_parallel_map_and_recipe_report_progress(capsys: pytest.CaptureFixture[str]) -> None:
    from biofab.compute import parallel_map
    from biofab.learn import SpaceFilling
    from biofab.process.recipe import optimize_recipe
    from test_process_recipe import QuadraticRecipePlant

    assert parallel_map(abs, [-1, -2, -3], workers=1, description="abs") == [1, 2, 3]
    assert parallel_map(abs, [-4], workers=1) == [4]  # no description: silent
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("abs 1/3") and err[-1].startswith("abs 3/3") and len(err) <= 3
    optimize_recipe(QuadraticRecipePlant(), budget=8, batch=2, recommender=SpaceFilling())
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("recipe ")]
    assert len(lines) >= 2 and "8/8" in lines[-1], lines


def test_cellfree_replay_makes_its_own_out_folder_only(tmp_path: Path, borkowski_dir: Path) -> None:
    r = biofab("cellfree", "run", "--replay", str(borkowski_dir), "--rounds", "1", "--batch", "3",
               "--out", "run1", "--db", "sqlite:///elsewhere.db", cwd=tmp_path)  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    assert (tmp_path / "run1" / "report.html").is_file()
    assert (tmp_path / "elsewhere.db").is_file()
    assert not (tmp_path / "run1" / "campaign.db").exists()


# -- the store behind the read commands ------------------------------------------------------
def test_store_create_false_refuses_an_empty_database_then_opens_a_real_one(db_url: str) -> None:
    from biofab.core import InputError
    from biofab.store import Store

    with pytest.raises(InputError, match=r"no biofab store at .*; check --db / BIOFAB_DB"):
        Store(db_url, create=False)
    with Store(db_url) as made:
        made.create_campaign("c1", SPACE, [{"name": "y", "direction": "max"}])
    with Store(db_url, create=False) as opened:
        assert [r.name for r in opened.list_campaigns()] == ["c1"]


def test_head_revision_without_alembic_matches_alembic() -> None:
    from biofab.store.store import _alembic_head, head_revision

    assert head_revision() == _alembic_head()
