"""Shared fixtures: the published data sets and an isolated store per test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def shared_data(relative: str) -> Path:
    """Path to a file or folder of ``../shared/data`` (or ``$BIOFAB_SHARED_DATA``).

    Missing data fails the test: a suite that quietly skips its real-data
    checks would pass while testing nothing.
    """
    base = Path(os.environ.get("BIOFAB_SHARED_DATA", ROOT.parent / "shared" / "data"))
    path = base / relative
    if not path.exists():
        pytest.fail(f"shared data missing: {path} (set BIOFAB_SHARED_DATA)")
    return path


@pytest.fixture
def borkowski_dir() -> Path:
    return shared_data("cellfree/borkowski2020")


@pytest.fixture
def metis_dir() -> Path:
    return shared_data("cellfree/metis_txtl")
