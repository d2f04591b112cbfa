"""The README's five-minute tour runs as written.

The code is read from README.md when the tests run (never copied here), so the
tour and this test cannot drift apart: the Python blocks are executed in one
namespace in an empty folder, the command-line block line by line through the
real `biofab` entry point. The one thing a test has to play is the lab: the
shell tour ingests ``plate1_results.csv`` that a plate reader would have made,
so the test writes it from the recommended plate.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from biofab.store import Store

README = Path(__file__).resolve().parents[1] / "README.md"
TOUR = "## A five-minute tour"
# `biofab demo` runs six rounds on a kinetic simulator (about three minutes);
# it is left to its own checks rather than run inside the tour.
SLOW = {"demo"}


def tour_part(heading: str) -> str:
    """The text of one ``### heading`` subsection of the README's tour."""
    text = README.read_text()
    tour = text[text.index(TOUR) :]
    end = tour.find("\n## ", len(TOUR))
    tour = tour if end < 0 else tour[:end]
    start = tour.index(f"### {heading}")
    nxt = tour.find("\n### ", start + 4)
    return tour[start : None if nxt < 0 else nxt]


def code_blocks(section: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", section, flags=re.S)


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "BIOFAB_DB"}


@pytest.fixture(scope="module")
def python_tour(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], str]:
    """Run the tour's Python blocks, as written, in an empty folder (./biofab.db there)."""
    blocks = code_blocks(tour_part("Python"), "python")
    assert blocks, "the README tour has no Python block"
    folder = tmp_path_factory.mktemp("python_tour")
    namespace: dict[str, Any] = {"__name__": "__readme_tour__"}
    saved_cwd, saved_db = Path.cwd(), os.environ.pop("BIOFAB_DB", None)
    os.chdir(folder)
    try:
        for i, block in enumerate(blocks, start=1):
            exec(compile(block, f"README.md tour block {i}", "exec"), namespace)
    finally:
        os.chdir(saved_cwd)
        if saved_db is not None:
            os.environ["BIOFAB_DB"] = saved_db
    return folder, namespace, "\n".join(blocks)


def test_python_tour_runs_as_written(python_tour: tuple[Path, dict[str, Any], str]) -> None:
    folder, _, code = python_tour
    # Every file the tour names is there afterwards (written by it, or by the stand-in lab).
    named = set(re.findall(r"[\"']([\w.-]+\.(?:csv|yaml|html))[\"']", code))
    assert named, "the tour names no file"
    missing = sorted(n for n in named if not (folder / n).is_file())
    assert not missing, f"the tour did not write {missing}"
    # Its campaigns live in ./biofab.db, the default store, each with measurements.
    with Store(f"sqlite:///{folder / 'biofab.db'}") as store:
        names = [c.name for c in store.list_campaigns()]
        assert names
        for name in names:
            assert len(store.measurement_table(name)) > 0, name


def _stand_in_results(plate: Path, results: Path, objective: str) -> None:
    """The lab: one made-up value of ``objective`` per design on the plate."""
    frame = pd.read_csv(plate)
    skip = ("pred_", "std_", "acquisition")
    numeric = [
        c
        for c in frame.columns
        if pd.api.types.is_numeric_dtype(frame[c]) and not c.startswith(skip)
    ]
    frame[objective] = 1.0 + frame[numeric].sum(axis=1) - 0.1 * frame[numeric[0]] ** 2
    frame.to_csv(results, index=False)


def test_command_line_tour_runs_as_written(
    python_tour: tuple[Path, dict[str, Any], str], tmp_path: Path
) -> None:
    lines = [
        line.strip()
        for block in code_blocks(tour_part("Command line"), "bash")
        for line in block.splitlines()
        if line.strip().startswith("biofab ")
    ]
    assert lines, "the README tour has no biofab command"
    # The files the Python tour wrote (space.yaml) are the command line's inputs.
    source, _, _ = python_tour
    for f in source.glob("*.yaml"):
        shutil.copy(f, tmp_path / f.name)
    objective, plate, ran = None, None, 0
    for line in lines:
        args = shlex.split(line, comments=True)[1:]
        if args[0] in SLOW:
            continue
        if "--objective" in args:
            objective = args[args.index("--objective") + 1].split(":")[0]
        if args[:2] == ["campaign", "ingest"] and not (tmp_path / args[3]).exists():
            assert plate is not None and objective is not None, "ingest before any recommend"
            _stand_in_results(tmp_path / plate, tmp_path / args[3], objective)
        r = subprocess.run(
            [sys.executable, "-m", "biofab.cli", *args],
            cwd=tmp_path,
            env=_clean_env(),
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert r.returncode == 0, f"`{line}` failed:\n{r.stderr}"
        ran += 1
        if args[:2] == ["campaign", "recommend"] and "--out" in args:
            plate = args[args.index("--out") + 1]
            assert (tmp_path / plate).is_file()
    assert ran >= len(lines) - len(SLOW)
    if any("report" in line and "--out" in line for line in lines):
        assert list(tmp_path.glob("*.html"))
