"""One scenario-YAML reader for every pillar: undecodable, binary and malformed files,
and key-path errors, each one line naming the file; through ``biofab`` for both pillars."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from biofab.core.scenario_yaml import Reader, ScenarioError, read_yaml

GOOD = "model: ecoli\nt_end: 5\n"

BAD_FILES: dict[str, tuple[bytes, list[str]]] = {
    "binary": (b"model: ecoli\n\x00\x01\x02\xff\xfe", ["binary file", "line 2"]),
    "latin-1": ("model: ecoli\nname: café\n".encode("latin-1"), ["not UTF-8", "0xe9", "line 2"]),
    "syntax": (b"model: ecoli\nt_end: [5\n", ["not valid YAML", "line 3"]),
    "duplicate key": (b"model: ecoli\nt_end: 5\nt_end: 6\n", ["t_end", "twice", "line 3"]),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_read_yaml_refuses_in_one_line(tmp_path: Path, case: str) -> None:
    raw, words = BAD_FILES[case]
    path = tmp_path / "s.yaml"
    path.write_bytes(raw)
    with pytest.raises(ScenarioError) as info:
        read_yaml(path)
    line = str(info.value)
    assert "\n" not in line and line.startswith(str(path))
    for w in words:
        assert w in line, (w, line)


def test_read_yaml_reads_utf8_with_bom_and_refuses_folders(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD.encode())
    assert read_yaml(path) == {"model": "ecoli", "t_end": 5}
    with pytest.raises(ScenarioError, match="not a file"):
        read_yaml(tmp_path)
    with pytest.raises(ScenarioError, match="scenario file not found"):
        read_yaml(tmp_path / "missing.yaml")


def test_reader_key_paths_and_checks() -> None:
    r = Reader("s.yaml")
    data = r.mapping({"inputs": {"F": {"mu_set": -0.1}}}, "")
    with pytest.raises(ScenarioError) as info:
        r.number(data["inputs"]["F"]["mu_set"], "inputs.F.mu_set", positive=True)
    assert str(info.value) == (
        "s.yaml, key inputs.F.mu_set: out of range: expected a number > 0, found -0.1"
    )
    with pytest.raises(ScenarioError, match=r"key t_end: wrong type: expected a finite number"):
        r.number(True, "t_end")
    with pytest.raises(ScenarioError, match=r"key a\.zz: unknown key: expected one of a1, b"):
        r.keys({"zz": 1}, "a", required=("a1",), optional=("b",))
    with pytest.raises(ScenarioError, match=r"key a\.a1: missing key"):
        r.keys({"b": 1}, "a", required=("a1",), optional=("b",))
    with pytest.raises(ScenarioError, match=r"unknown choice: expected x \| y, found 'z'"):
        r.choice("z", "k", ("x", "y"))
    with pytest.raises(ScenarioError, match=r"key k\[1\]: times out of order"):
        r.increasing(r.numbers([1, 1], "k"), "k")
    assert r.join("", "a") == "a" and r.join("a", 2) == "a[2]" and r.join("a", "b") == "a.b"


COMMANDS = {
    "gem dfba": ["gem", "dfba"],
    "process simulate": ["process", "simulate"],
}


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("case", ["binary", "latin-1", "syntax"])
def test_entry_point_refuses_undecodable_scenarios(tmp_path: Path, command: str, case: str) -> None:
    raw, words = BAD_FILES[case]
    path = tmp_path / "scenario.yaml"
    path.write_bytes(raw)
    out = tmp_path / "out.csv"
    res = subprocess.run(
        [sys.executable, "-m", "biofab.cli", *COMMANDS[command], str(path), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 2, res.stderr
    line = res.stderr.strip()
    assert "\n" not in line and str(path) in line, line
    for w in words:
        assert w in line, (w, line)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scenario.yaml"]


def test_a_csv_given_as_scenario_is_cut_short_in_the_error(tmp_path: Path) -> None:
    # a CSV parses as one long YAML string; the error shows its start, not the whole file
    path = tmp_path / "run.csv"
    rows = "".join(f"{i},{0.1 * i},{10 - 0.01 * i}\n" for i in range(300))
    path.write_text("time_h,X,S\n" + rows)
    with pytest.raises(ScenarioError) as err:
        Reader(str(path)).mapping(read_yaml(path), "")
    text = str(err.value)
    assert "\n" not in text and len(text) < 300 and re.search(r"\(\d+ characters\)", text)
