"""parallel_map: a real process pool, order kept, one clear error for Ray without Ray."""

from __future__ import annotations

import os

import pytest

from biofab.compute import parallel_map, worker_count
from biofab.core import BiofabError


def square_with_pid(x: int) -> tuple[int, int]:
    return x * x, os.getpid()


def test_process_pool_keeps_order_and_uses_workers() -> None:
    out = parallel_map(square_with_pid, range(12), workers=2, description="squares")
    assert [v for v, _ in out] == [x * x for x in range(12)]
    assert all(pid != os.getpid() for _, pid in out)  # ran in worker processes


def test_one_worker_runs_in_process() -> None:
    out = parallel_map(square_with_pid, [3], workers=4)
    assert out == [(9, os.getpid())]


def test_worker_count_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BIOFAB_WORKERS", "3")
    assert worker_count() == 3
    assert worker_count(1) == 1


def test_ray_address_without_ray_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # Ray is not a dependency of biofab: asking for it must say how to get it.
    monkeypatch.setitem(__import__("sys").modules, "ray", None)  # import ray -> ImportError
    monkeypatch.setenv("BIOFAB_RAY", "ray://127.0.0.1:10001")
    with pytest.raises(BiofabError, match="Ray is not installed"):
        parallel_map(square_with_pid, [1, 2])
