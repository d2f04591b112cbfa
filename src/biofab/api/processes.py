"""Several server processes on one port, each with its own listening socket.

uvicorn's ``--workers`` shares one listening socket between its processes, and
whichever process wakes first accepts every waiting connection. Twenty clients
that connect at once then often all land on one process while the others idle:
measured with ``wrk`` on 2 processes (PostgreSQL store), runs whose 20 connections
split 20/0 had twice the median latency (30 vs 13 ms) of runs that split about
evenly. Here each process binds its own socket with ``SO_REUSEPORT``, so the
kernel hands each new connection to one of them by a hash of its addresses:
an even split on average, and one process takes 15 or more of 20 connections
in about 4 % of starts (binomial) instead of most of them.

uvicorn's supervisor still starts, watches and restarts the processes; only the
socket each one serves changes. Where the platform has no ``SO_REUSEPORT``
(Windows), the processes share one socket as before.
"""

from __future__ import annotations

import functools
import logging
import socket

import uvicorn
from uvicorn.supervisors import Multiprocess

logger = logging.getLogger("uvicorn.error")


def run_processes(config: uvicorn.Config) -> None:
    """Serve ``config.app`` (an import string) from ``config.workers`` processes on
    ``config.host``:``config.port``; returns when the supervisor is stopped (SIGINT or
    SIGTERM). Exits with status 1 when the port is taken, like uvicorn."""
    if not hasattr(socket, "SO_REUSEPORT"):
        shared = config.bind_socket()
        Multiprocess(config, target=uvicorn.Server(config).run, sockets=[shared]).run()
        return
    _refuse_taken_port(config.host, config.port)
    logger.info(
        "listening on http://%s:%d with %d server processes (one socket each)",
        config.host,
        config.port,
        config.workers,
    )
    Multiprocess(config, target=functools.partial(_serve_own_socket, config), sockets=[]).run()


def listener(host: str, port: int, *, share: bool) -> socket.socket:
    """A TCP socket bound to ``host``:``port`` (not yet listening); ``share`` sets
    ``SO_REUSEPORT`` so the other server processes can bind the same port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    # As uvicorn does: a restart may bind while old connections sit in TIME_WAIT.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if share:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _refuse_taken_port(host: str, port: int) -> None:
    """Stop when anything listens on the port already: the processes' shared sockets
    would otherwise join another program's (or another `biofab serve`'s) group."""
    try:
        listener(host, port, share=False).close()
    except OSError as err:
        logger.error("cannot listen on %s:%d: %s", host, port, err)
        raise SystemExit(1) from err


def _serve_own_socket(config: uvicorn.Config, _shared: list[socket.socket] | None) -> None:
    """One server process (spawned by the supervisor): its own socket, then uvicorn."""
    sock = listener(config.host, config.port, share=True)
    sock.set_inheritable(True)
    uvicorn.Server(config).run(sockets=[sock])
