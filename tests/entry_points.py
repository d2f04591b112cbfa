"""Entry points of this checkout's pyproject.toml, for a stale editable install.

`make test` re-installs the package when pyproject.toml changes, so a fresh clone
has its `biofab.pillars` entry points installed and this does nothing. A checkout
run with another checkout's environment (PYTHONPATH=src over an older install)
lacks them; then they are written as a real distribution (dist-info) in a
temporary folder put on sys.path and PYTHONPATH, so importlib.metadata, the
registry and `biofab` subprocesses see exactly what an install would give.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
import tomllib
from importlib import metadata
from pathlib import Path

GROUP = "biofab.pillars"


def write_dist_info(folder: Path, name: str, groups: dict[str, dict[str, str]]) -> Path:
    """A minimal installed distribution ``name`` with ``groups`` of entry points."""
    info = folder / f"{name.replace('-', '_')}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    lines = []
    for group, entries in groups.items():
        lines.append(f"[{group}]")
        lines += [f"{k} = {v}" for k, v in entries.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    return info


def ensure_source_entry_points(root: Path) -> None:
    """Make this checkout's `biofab.pillars` entry points visible if the install lacks them."""
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    declared: dict[str, str] = project.get("entry-points", {}).get(GROUP, {})
    installed = {(ep.name, ep.value) for ep in metadata.entry_points(group=GROUP)}
    missing = {k: v for k, v in declared.items() if (k, v) not in installed}
    if not missing:
        return
    folder = Path(tempfile.mkdtemp(prefix="biofab-entry-points-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    write_dist_info(folder, "biofab-source-pillars", {GROUP: missing})
    sys.path.insert(0, str(folder))
    paths = [str(folder), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    os.environ["PYTHONPATH"] = os.pathsep.join(paths)
