"""Start a process that will stop at the ingest failpoint, and wait until it does."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

MARKER = "failpoint: sleeping"


def start_paused(
    cmd: list[str], env: dict[str, str], stderr: Path, **kw: object
) -> subprocess.Popen:
    """Run ``cmd`` (with ``BIOFAB_FAILPOINT_INGEST_SLEEP`` in ``env``) and return once
    it is sleeping inside its ingest transaction. Fails if it exits or never gets there."""
    with open(stderr, "w") as fh:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=fh, **kw)  # type: ignore[call-overload]
    deadline = time.monotonic() + 120
    while MARKER not in stderr.read_text():
        if proc.poll() is not None:
            raise AssertionError(f"process exited before the failpoint:\n{stderr.read_text()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"failpoint never reached:\n{stderr.read_text()}")
        time.sleep(0.05)
    return proc
