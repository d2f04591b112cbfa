"""A throwaway local Ray cluster for tests: ``ray start --head`` on 127.0.0.1, then stopped.

The head runs with ``--block`` as our child in its own process group, so stopping
it ends exactly the processes it started (``ray stop`` would end every Ray
cluster of the machine, including another test worker's). Every port is chosen
free, so two test processes can each run a cluster. Workers import biofab and
the test helpers through ``PYTHONPATH`` (``src`` and ``tests``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 60.0
OBJECT_STORE_BYTES = 200 * 1024 * 1024


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ray_command() -> Path | None:
    """The ``ray`` script beside this Python, or None when Ray is not installed."""
    candidate = Path(sys.executable).parent / "ray"
    return candidate if candidate.is_file() else None


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def local_ray_cluster(temp_dir: Path, num_cpus: int = 2) -> Iterator[str]:
    """Start a head node with ``num_cpus`` CPUs; yield its address ``127.0.0.1:PORT``."""
    ray = ray_command()
    if ray is None:
        raise RuntimeError("Ray is not installed (pip install 'biofab[ray]')")
    port = _free_port()
    # Ray wants a short temp dir (unix socket paths are limited to ~100 characters).
    temp_dir.mkdir(parents=True, exist_ok=True)
    args = [
        str(ray), "start", "--head", "--block",
        "--node-ip-address=127.0.0.1", f"--port={port}", f"--num-cpus={num_cpus}",
        "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp_dir}",
        # a small object store: tasks pass pickled bytes, and two test workers may
        # each run a cluster on one machine
        f"--object-store-memory={OBJECT_STORE_BYTES}",
        f"--ray-client-server-port={_free_port()}",
        f"--dashboard-port={_free_port()}",
        f"--dashboard-agent-listen-port={_free_port()}",
        f"--dashboard-agent-grpc-port={_free_port()}",
        f"--metrics-export-port={_free_port()}",
        f"--runtime-env-agent-port={_free_port()}",
    ]  # fmt: skip
    env = dict(os.environ)
    path = [str(ROOT / "src"), str(ROOT / "tests"), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(p for p in path if p)
    env.pop("BIOFAB_RAY", None)
    # SIGTERM ends the node at once (by default it first drains for 30 s).
    env["RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S"] = "0"
    log = (temp_dir / "ray-start.log").open("wb")
    head = subprocess.Popen(
        args, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _listening(port):
            if head.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"ray start failed (exit {head.returncode}); see {temp_dir / 'ray-start.log'}"
                )
            time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        _disconnect()
        head.terminate()  # the head ends the processes it started, then exits
        try:
            head.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(head.pid, signal.SIGKILL)
            head.wait()
        log.close()


def _disconnect() -> None:
    with contextlib.suppress(ImportError):
        import ray

        if ray.is_initialized():
            ray.shutdown()
