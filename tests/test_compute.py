"""Executors: a real local process pool and a real local Ray cluster give the same answers.

The Ray tests run against the session's `ray_address` cluster (`ray start --head` on
127.0.0.1, 2 CPUs; tests/ray_cluster.py). Killed workers are real: a task ends its
own process with `os._exit`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from biofab.compute import (
    LocalPool,
    WorkerLostError,
    executor,
    parallel_map,
    worker_count,
)
from biofab.core import BiofabError, InputError
from compute_tasks import always_die, die_once, refuse, square_with_pid

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def no_ray(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BIOFAB_RAY", raising=False)


# ------------------------------------------------------------------ local process pool


def test_process_pool_keeps_order_and_uses_workers(no_ray: None) -> None:
    out = parallel_map(square_with_pid, range(12), workers=2, description="squares")
    assert [v for v, _ in out] == [x * x for x in range(12)]
    assert all(pid != os.getpid() for _, pid in out)  # ran in worker processes


def test_one_worker_runs_in_process(no_ray: None) -> None:
    out = parallel_map(square_with_pid, [3], workers=4)
    assert out == [(9, os.getpid())]


def test_worker_count_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BIOFAB_WORKERS", "3")
    assert worker_count() == 3
    assert worker_count(1) == 1
    monkeypatch.setenv("BIOFAB_WORKERS", "three")
    with pytest.raises(InputError, match="BIOFAB_WORKERS is not a number of workers"):
        worker_count()


def test_local_pool_reruns_the_tasks_a_killed_worker_lost(no_ray: None, tmp_path: Path) -> None:
    marker = tmp_path / "died"
    jobs = [("", 1), (str(marker), 2), ("", 3), ("", 4)]
    assert LocalPool(2).map(die_once, jobs) == [10, 20, 30, 40]
    assert marker.exists()  # the worker really died once


def test_local_pool_fails_in_one_line_when_every_try_dies(no_ray: None) -> None:
    with pytest.raises(WorkerLostError) as err:
        LocalPool(2, retries=1).map(always_die, [1, 2])
    line = str(err.value)
    assert "\n" not in line
    assert "2 of 2 always_die task(s) lost" in line and "2 tries" in line


def test_local_task_errors_are_not_retried_and_keep_their_type(no_ray: None) -> None:
    with pytest.raises(InputError, match="row 2: bad value"):
        LocalPool(2).map(refuse, [1, 2, 3])


def test_local_submit_runs_in_a_worker_and_reports_a_dead_one(no_ray: None) -> None:
    handle = LocalPool(1).submit(square_with_pid, 5)
    value, pid = handle.result()
    assert value == 25 and pid != os.getpid()
    dead = LocalPool(1).submit(always_die, 1)
    with pytest.raises(WorkerLostError, match="1 of 1 always_die task"):
        dead.result()


# ------------------------------------------------------------------ choosing Ray


def test_ray_address_without_ray_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(__import__("sys").modules, "ray", None)  # import ray -> ImportError
    monkeypatch.setenv("BIOFAB_RAY", "ray://127.0.0.1:10001")
    with pytest.raises(BiofabError, match=r"Ray is not installed; pip install 'biofab\[ray\]'"):
        parallel_map(square_with_pid, [1, 2])


@pytest.mark.parametrize("bad", ["localhost", "http://x:1", "ray://host", "a b:1"])
def test_bad_ray_address_is_one_line(monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    monkeypatch.setenv("BIOFAB_RAY", bad)
    with pytest.raises(InputError, match="BIOFAB_RAY is not a Ray address; expected auto"):
        executor()


# ------------------------------------------------------------------ a real Ray cluster


@pytest.fixture
def on_ray(ray_address: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("BIOFAB_RAY", ray_address)
    return ray_address


def test_ray_map_keeps_order_and_runs_on_ray_workers(on_ray: str) -> None:
    from biofab.compute.raycluster import RayExecutor

    assert isinstance(executor(), RayExecutor)
    out = parallel_map(square_with_pid, range(6), description="squares on ray")
    assert [v for v, _ in out] == [x * x for x in range(6)]
    assert all(pid != os.getpid() for _, pid in out)


def test_deletion_scan_on_ray_equals_the_local_pool(
    ray_address: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from biofab.metabolism.workflows import DeletionsRequest, deletions

    request = DeletionsRequest(model="textbook", kind="gene", workers=2)
    monkeypatch.delenv("BIOFAB_RAY", raising=False)
    local = deletions(request)
    monkeypatch.setenv("BIOFAB_RAY", ray_address)
    remote = deletions(request)
    assert local.lp_solved > 0  # knockouts really went through the executor
    assert remote.lp_solved == local.lp_solved
    assert len(local.table) == 137  # every gene of e_coli_core
    pd.testing.assert_frame_equal(remote.to_frame(), local.to_frame())
    assert remote.wild_type_growth == pytest.approx(0.8739215, abs=1e-6)


def _one_round(db: Path) -> pd.DataFrame:
    """A campaign round of four fed-batch runs, simulated through the executor."""
    from biofab.campaign import Campaign
    from biofab.campaign.loop import LoopRunner
    from biofab.core import TestbedExecutor
    from biofab.process.scenario import Scenario, ScenarioTestbed

    scenario = Scenario.from_yaml(ROOT / "examples" / "process" / "ecoli_fedbatch.yaml")
    testbed = ScenarioTestbed(scenario, workers=2)
    campaign = Campaign.create(
        "fedbatch", testbed.space, testbed.objectives, store=f"sqlite:///{db}"
    )
    LoopRunner(TestbedExecutor(testbed)).run(campaign, batch=4, rounds=1, seed=3, progress=False)
    return campaign.data()


def test_campaign_round_on_ray_equals_the_local_pool(
    ray_address: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("BIOFAB_RAY", raising=False)
    local = _one_round(tmp_path / "local.db")
    monkeypatch.setenv("BIOFAB_RAY", ray_address)
    remote = _one_round(tmp_path / "ray.db")
    assert len(local) == 4 and (local["product_mass"] > 0).all()
    pd.testing.assert_frame_equal(remote, local)


def test_ray_reruns_a_task_whose_worker_was_killed(on_ray: str, tmp_path: Path) -> None:
    marker = tmp_path / "died"
    assert executor().map(die_once, [("", 1), (str(marker), 2)]) == [10, 20]
    assert marker.exists()


def test_ray_fails_in_one_line_when_every_try_dies(on_ray: str) -> None:
    with pytest.raises(WorkerLostError) as err:
        executor(retries=1).map(always_die, [1])
    line = str(err.value)
    assert "\n" not in line
    assert (
        "1 of 1 always_die task(s) lost: their Ray worker process died on each of 2 tries" in line
    )


def test_ray_task_errors_arrive_as_themselves(on_ray: str) -> None:
    with pytest.raises(InputError, match="row 2: bad value"):
        executor().map(refuse, [1, 2, 3])


def test_ray_submit(on_ray: str) -> None:
    handle = executor().submit(square_with_pid, 7)
    value, pid = handle.result()
    assert value == 49 and pid != os.getpid()
    with pytest.raises(WorkerLostError):
        executor().submit(always_die, 1).result()
