"""``python -m biofab`` is the ``biofab`` command: help, exit codes and one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _module(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # this checkout's sources first (the shared venv's editable install may point elsewhere)
    path = os.pathsep.join(p for p in (str(ROOT / "src"), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "PYTHONPATH": path}
    return subprocess.run(
        [sys.executable, "-m", "biofab", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=60,
        check=False,
    )


def test_python_dash_m_biofab_shows_the_cli_help(tmp_path: Path) -> None:
    r = _module("--help", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "Usage: biofab" in r.stdout  # the same program name as the installed script
    assert "process" in r.stdout and "jobs" in r.stdout


def test_python_dash_m_biofab_bad_input_is_one_line_and_exit_code_2(tmp_path: Path) -> None:
    r = _module("process", "simulate", str(tmp_path / "missing.yaml"), cwd=tmp_path)
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), r.stderr
    assert "missing.yaml" in lines[0]
