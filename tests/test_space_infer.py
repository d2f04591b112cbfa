"""`biofab space infer`: a space YAML from a table's columns, read back by the space loader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from biofab.cli.main import main
from biofab.core import Categorical, Continuous, InputError, Space
from biofab.core.space_infer import grid_step, infer_space, read_csv_text

TABLE = """\
mg,nad,lysate,hepes,run,y,y_std,y_n
2.5,0.03,BL21,50,1,1.2,0.1,3
5.0,0.1,K12,50,2,1.9,0.2,3
7.5,0.3,BL21,50,3,2.4,0.1,3
0.0,0.1,K12,50,4,0.7,,3
10.0,0.03,BL21,50,5,1.1,0.3,3
"""


def write(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_grid_step_finds_regular_levels_only() -> None:
    assert grid_step(np.array([0.0, 0.5, 1.5, 2.0])) == 0.5
    assert grid_step(np.array([0.1, 0.2, 0.30000000000000004, 0.7])) == 0.1
    assert grid_step(np.array([30.0, 45.0, 150.0])) == 15.0
    assert grid_step(np.array([0.03, 0.1, 0.3])) is None  # irregular: bounds only
    assert grid_step(np.array([0.0, 1.0, 1000.0])) is None  # a grid far finer than the levels
    assert grid_step(np.array([3.0])) is None


def test_infer_types_bounds_grids_and_what_is_left_out(tmp_path: Path) -> None:
    path = write(tmp_path, TABLE)
    inferred = infer_space(read_csv_text(path), ["y"], file=str(path))
    sp = inferred.space
    assert sp.names == ["mg", "nad", "lysate", "run"]
    assert sp.parameters["mg"] == Continuous(0.0, 10.0, step=2.5)
    assert sp.parameters["nad"] == Continuous(0.03, 0.3)
    assert sp.parameters["lysate"] == Categorical(("BL21", "K12"))
    assert inferred.fixed == {"hepes": "50"}
    assert inferred.excluded == ["y", "y_std", "y_n"]
    assert inferred.levels["nad"] == (0.03, 0.1, 0.3)
    text = inferred.to_yaml(["y:max"])
    assert "# nad: observed levels 0.03, 0.1, 0.3 (irregular: no step" in text
    assert "# left out, one value only: hepes = 50" in text
    back = Space.from_yaml(text)
    assert back == sp
    # The table's own rows are designs of the inferred space.
    assert len(back.validate(read_csv_text(path)[back.names])) == 5


def test_cli_writes_a_yaml_that_space_check_reads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write(tmp_path, TABLE)
    out = tmp_path / "space.yaml"
    args = ["space", "infer", str(data), "--objective", "y:max", "--factors", "mg,lysate"]
    code, stdout, _ = cli(capsys, *args, "--out", str(out))
    assert code == 0 and "2 factors from 5 rows" in stdout
    assert Space.from_yaml(out).names == ["mg", "lysate"]
    code, stdout, _ = cli(capsys, "space", "check", str(out), "--json")
    assert code == 0 and '"lysate"' in stdout
    # Without --out the YAML goes to stdout.
    code, stdout, _ = cli(capsys, "space", "infer", str(data), "--objective", "y:max")
    assert code == 0 and Space.from_yaml(stdout).names == ["mg", "nad", "lysate", "run"]


@pytest.mark.parametrize(
    ("table", "extra", "message"),
    [
        (TABLE.replace("7.5,0.3", "7.5,lots"), [], "row 3, column 'nad': not a number"),
        (TABLE.replace("5.0,0.1,K12", "5.0,0.1,"), [], "row 2, column 'lysate': empty cell"),
        (TABLE, ["--factors", "mg,hepes"], "column 'hepes': a factor takes one value only"),
        (TABLE, ["--factors", "mg,y_std"], "column 'y_std': an objective or a *_std column"),
        (TABLE, ["--factors", "mg,ph"], "column 'ph': no such column"),
        (TABLE.replace("mg,nad", "mg,mg"), [], "column 'mg': a column name appears twice"),
        ("y\n1\n2\n", [], "no factor column varies"),
        ("mg,y\n", [], "no data rows"),
        ("", [], "empty file"),
    ],
)
def test_bad_tables_are_one_line_and_write_nothing(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    table: str,
    extra: list[str],
    message: str,
) -> None:
    data = write(tmp_path, table)
    out = tmp_path / "space.yaml"
    code, _, err = cli(
        capsys, "space", "infer", str(data), "--objective", "y:max", *extra, "--out", str(out)
    )
    assert code == 2
    assert message in err, err
    assert err.strip().count("\n") == 0 and str(data) in err  # one line naming the file
    assert not out.exists()


def test_missing_file_objective_or_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write(tmp_path, TABLE)
    code, _, err = cli(capsys, "space", "infer", str(tmp_path / "no.csv"), "--objective", "y")
    assert code == 2 and "no such file" in err
    code, _, err = cli(capsys, "space", "infer", str(data), "--objective", "titre:max")
    assert code == 2 and "column 'titre': no such column" in err
    out = tmp_path / "missing" / "space.yaml"
    code, _, err = cli(capsys, "space", "infer", str(data), "--objective", "y", "--out", str(out))
    assert code == 2 and "create it first" in err and not out.parent.exists()
    binary = tmp_path / "plate.csv"
    binary.write_bytes(b"\x89PNG\x00\x00")
    code, _, err = cli(capsys, "space", "infer", str(binary), "--objective", "y")
    assert code == 2 and "binary file" in err


def test_infer_refuses_a_numeric_column_with_a_blank(tmp_path: Path) -> None:
    path = write(tmp_path, TABLE.replace("10.0,0.03", ",0.03"))
    with pytest.raises(InputError, match="row 5, column 'mg': empty cell"):
        infer_space(read_csv_text(path), ["y"], file=str(path))
