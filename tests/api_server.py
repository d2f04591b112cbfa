"""A real uvicorn server on 127.0.0.1 (free port) in a thread, for the API tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Serve ``app`` over real HTTP until the block ends; yield its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", ws="none"
        )
    )
    thread = threading.Thread(target=server.run, name=f"uvicorn:{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


#: The test team: (user, project, role). Projects alpha and beta.
TEAM = (("eve", "alpha", "editor"), ("vic", "alpha", "viewer"), ("otto", "beta", "editor"))


def make_team(base: str, admin: str, password: str | None = None) -> dict[str, str]:
    """Create projects alpha and beta and the :data:`TEAM` over the API of the server
    at ``base`` as the site admin; the users' API tokens by name (``admin`` too)."""
    import httpx

    a = httpx.Client(base_url=base + "/api/v1", headers={"Authorization": f"Bearer {admin}"})
    for project in ("alpha", "beta"):
        assert a.post("/projects", json={"name": project}).status_code == 201
    tokens = {"admin": admin}
    for user, project, role in TEAM:
        body: dict[str, Any] = {"username": user, "with_token": True}
        if password is not None:
            body["password"] = password
        made = a.post("/users", json=body)
        assert made.status_code == 201, made.text
        tokens[user] = made.json()["token"]
        put = a.put(f"/projects/{project}/members/{user}", json={"role": role})
        assert put.json() == {"username": user, "role": role}
    return tokens
