"""The README's one-command examples (`make example-*`) run from a fresh checkout.

Every biofab command refuses to write into a folder that does not exist ("create it
first"), so each example target must make its own ``out/...`` folders before the
commands that write there. `make -n` prints a target's recipe without running it, so
this checks the Makefile as make reads it, without installing anything.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from itertools import pairwise
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ("example-dfba", "example-ec", "example-design", "example-reconstruct")
WRITES = ("--out", "--plot")


def _recipe(target: str) -> list[list[str]]:
    # -o: treat the install stamp as up to date, so the dry run shows only the example.
    done = subprocess.run(
        ["make", "-n", "-o", ".venv/.installed", "SHARED_DATA=/data", target],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    joined = done.stdout.replace("\\\n", " ")
    return [shlex.split(line) for line in joined.splitlines() if line.strip()]


# CI runs this suite through make, so make is there; elsewhere a machine without it skips
@pytest.mark.skipif(
    shutil.which("make") is None and not os.environ.get("CI"), reason="make is not installed"
)
@pytest.mark.parametrize("target", EXAMPLES)
def test_example_target_makes_its_output_folders(target: str) -> None:
    made: set[str] = set()
    writes = 0
    for words in _recipe(target):
        if words[:2] == ["mkdir", "-p"]:
            made.update(str(Path(w)) for w in words[2:])
            continue
        for flag, value in pairwise(words):
            if flag in WRITES:
                writes += 1
                folder = str(Path(value).parent)
                assert folder == "." or folder in made, (
                    f"{target}: {flag} {value} writes into {folder}, which no earlier "
                    "`mkdir -p` in the recipe creates"
                )
    assert writes, f"{target}: no --out/--plot in the recipe (did the target change?)"
