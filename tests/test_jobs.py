"""The job queue on real SQLite and PostgreSQL: submit, run, progress, cancel, recovery.

Jobs run in real worker processes (the local pool) or Ray tasks (the session's local
cluster); a killed runner is a real subprocess ended with SIGKILL.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

import jobs_toy
from biofab.compute.jobs import JobQueue, JobRunner
from biofab.core import InputError
from biofab.store import Store
from biofab.store.jobs import JobTable
from biofab.store.schema import JobRow

TESTS = Path(__file__).resolve().parent


@pytest.fixture(autouse=True)
def toy_pillar(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("BIOFAB_RAY", raising=False)
    jobs_toy.register()
    yield


@pytest.fixture
def queue(db_url: str) -> Iterator[JobQueue]:
    store = Store(db_url, who="tester")
    yield JobQueue(store)
    store.close()


def _runner(queue: JobQueue, tmp_path: Path, **kw: object) -> JobRunner:
    options: dict[str, object] = {"heartbeat_s": 0.3, "stale_after_s": 1.5}
    options.update(kw)
    return JobRunner(queue.store, folder=tmp_path / "jobs", **options)  # type: ignore[arg-type]


def _rows(queue: JobQueue) -> int:
    with queue.store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(JobRow)).scalar_one())


def test_deletion_scan_job_runs_and_stores_its_result(queue: JobQueue, tmp_path: Path) -> None:
    from biofab.metabolism.workflows import DeletionsRequest, deletions

    request = {"model": "textbook", "kind": "reaction", "limit": 20, "workers": 1}
    job_id = queue.submit("deletions", request, who="ann", project_id=7)
    job = queue.get(job_id)
    assert (job.status, job.created_by, job.project_id, job.attempts) == ("queued", "ann", 7, 0)
    assert job.created_at.tzinfo is not None
    done = _runner(queue, tmp_path).run_once()
    assert done is not None and done.status == "succeeded", done
    assert done.progress == 1.0 and done.attempts == 1 and done.error is None
    assert done.finished_at is not None and done.started_at is not None
    result = queue.result(job_id)
    direct = deletions(DeletionsRequest(model="textbook", kind="reaction", limit=20, workers=1))
    assert result["n_knockouts"] == 20
    assert [r["ids"] for r in result["results"]] == direct.table["ids"].tolist()
    assert [r["growth"] for r in result["results"]] == pytest.approx(
        direct.table["growth"].tolist(), nan_ok=True
    )
    table = Path(result["out"])
    assert table.parent == tmp_path / "jobs" / f"job-{job_id}" and table.is_file()


def test_progress_rises_while_a_job_runs(queue: JobQueue, tmp_path: Path) -> None:
    job_id = queue.submit("count", {"steps": 16, "step_s": 0.15})
    runner = _runner(queue, tmp_path)
    thread = threading.Thread(target=runner.run_once)
    thread.start()
    seen = []
    while thread.is_alive():
        job = queue.get(job_id)
        seen.append((job.status, job.progress, job.message))
        time.sleep(0.1)
    thread.join()
    values = [p for s, p, _ in seen if s == "running"]
    assert values == sorted(values)  # never backwards
    assert len({v for v in values if 0 < v < 1}) >= 2, seen
    assert any(m.startswith("count ") for _, _, m in seen)
    final = queue.get(job_id)
    assert (final.status, final.progress, final.result) == (
        "succeeded",
        1.0,
        {"counted": 16, "pid": final.result["pid"]},  # type: ignore[index]
    )
    assert final.result["pid"] != os.getpid()  # type: ignore[index]  # ran in a worker


def test_cancel_queued_at_once_and_running_at_its_next_report(
    queue: JobQueue, tmp_path: Path
) -> None:
    first = queue.submit("count", {"steps": 3})
    assert queue.cancel(first, who="bob").status == "cancelled"
    runner = _runner(queue, tmp_path)
    assert runner.run_once() is None  # nothing left to run
    running = queue.submit("count", {"steps": 200, "step_s": 0.05})
    thread = threading.Thread(target=runner.run_once)
    thread.start()
    while queue.get(running).progress == 0:
        time.sleep(0.05)
    asked = queue.cancel(running)
    assert asked.status == "running" and asked.cancel_requested
    thread.join(timeout=30)
    job = queue.get(running)
    assert job.status == "cancelled" and job.progress < 1 and job.result is None
    with pytest.raises(InputError, match=f"job {running} has already finished"):
        queue.cancel(running)
    with pytest.raises(InputError, match="has no result; expected succeeded; found 'cancelled'"):
        queue.result(running)


def test_a_job_that_never_reports_is_stopped_after_the_cancel_grace(
    queue: JobQueue, tmp_path: Path
) -> None:
    job_id = queue.submit("count", {"steps": 200, "step_s": 0.05, "quiet": True})
    runner = _runner(queue, tmp_path, cancel_grace_s=0.5)
    thread = threading.Thread(target=runner.run_once)
    thread.start()
    while queue.get(job_id).status != "running":
        time.sleep(0.05)
    t0 = time.monotonic()
    queue.cancel(job_id)
    thread.join(timeout=30)
    assert time.monotonic() - t0 < 5  # not the job's 10 s
    assert queue.get(job_id).status == "cancelled"


def test_killed_runner_then_a_new_runner_recovers_the_job(queue: JobQueue, tmp_path: Path) -> None:
    job_id = queue.submit("count", {"steps": 30, "step_s": 0.08})
    script = (
        "import sys; import jobs_toy; jobs_toy.register()\n"
        "from biofab.compute.jobs import JobRunner\n"
        "JobRunner(sys.argv[1], folder=sys.argv[2], heartbeat_s=0.3, stale_after_s=1.5)"
        ".run(max_jobs=1)\n"
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")])
    proc = subprocess.Popen(
        [sys.executable, "-c", script, queue.store.full_url, str(tmp_path / "jobs")],
        env=env,
        start_new_session=True,  # its job's worker process is in the same group
    )
    try:
        deadline = time.monotonic() + 60
        while queue.get(job_id).progress == 0:
            assert proc.poll() is None and time.monotonic() < deadline, "runner never started"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the runner and its job's worker, mid-job
        proc.wait()
    orphan = queue.get(job_id)
    assert orphan.status == "running" and 0 < orphan.progress < 1 and orphan.attempts == 1
    runner = _runner(queue, tmp_path)
    assert runner.recover() == []  # its heartbeat is still fresh: not yet presumed dead
    time.sleep(1.6)
    done = runner.run(max_jobs=1)
    assert [j.id for j in done] == [job_id]
    job = queue.get(job_id)
    assert (job.status, job.attempts, job.worker) == ("succeeded", 2, runner.worker_id)
    assert job.result is not None and job.result["counted"] == 30


def test_a_dead_runner_out_of_attempts_fails_the_job_in_one_line(
    queue: JobQueue, tmp_path: Path
) -> None:
    job_id = queue.submit("count", {"steps": 2}, max_attempts=1)
    # A runner that claimed the job and died before its first heartbeat.
    claimed = JobTable(queue.store).claim("gone-host:1")
    assert claimed is not None and claimed.id == job_id
    time.sleep(1.6)
    recovered = _runner(queue, tmp_path).recover()
    assert [(j.id, j.status) for j in recovered] == [(job_id, "failed")]
    error = queue.get(job_id).error
    assert error == (
        "runner gone-host:1 stopped during attempt 1 of 1 (no heartbeat for over 1.5 s); "
        "no attempts left"
    )


def test_a_job_whose_worker_dies_is_retried_then_fails_clearly(
    queue: JobQueue, tmp_path: Path
) -> None:
    runner = _runner(queue, tmp_path)
    once = queue.submit("count", {"steps": 2, "die_marker": str(tmp_path / "died")})
    first = runner.run_once()
    assert first is not None and first.status == "queued" and first.attempts == 1
    assert "lost" in first.message
    second = runner.run_once()
    assert second is not None and (second.id, second.status, second.attempts) == (
        once,
        "succeeded",
        2,
    )
    always = queue.submit("count", {"steps": 2, "always_die": True}, max_attempts=1)
    failed = runner.run_once()
    assert failed is not None and failed.id == always and failed.status == "failed"
    assert failed.error == (
        "attempt 1 of 1: 1 of 1 run_job task(s) lost: their local worker process died on "
        "each of 1 tries (killed, out of memory or crashed); nothing was returned"
    )


@pytest.mark.parametrize(
    ("kind", "request_", "message"),
    [
        ("nope", {}, "unknown job kind; expected "),
        ("deletions", {"model": "textbook", "limt": 3}, "'limt': deletions request: unknown"),
        ("deletions", {"model": 5}, "column 'model': deletions request: wrong type; expected str"),
        ("deletions", {}, "column 'model': deletions request: missing field"),
        ("deletions", ["textbook"], "deletions request must be a JSON object"),
        ("deletions", {"model": "textbook", "out": "/x"}, "'out': deletions request: unknown"),
        ("train-model", {"data": "x.csv", "kind": "promoter", "epochs": 2.5}, "column 'epochs'"),
        ("deletions", {"model": "textbook", "kind": "protein"}, "'kind': unknown kind; expected"),
        ("deletions", {"model": "textbook", "limit": 0}, "'limit': limit too small; expected >= 1"),
        ("train-model", {"data": "missing.csv", "kind": "promoter"}, "'data': no such file"),
        ("optimize-recipe", {"scenario": "s.yaml", "budget": 1}, "'budget': budget too small"),
        ("dfba", {"scenario": "nowhere.yaml"}, "'scenario': no such file; found 'nowhere.yaml'"),
    ],
)  # fmt: skip
def test_bad_requests_are_one_line_and_store_nothing(
    queue: JobQueue, kind: str, request_: object, message: str
) -> None:
    with pytest.raises(InputError) as err:
        queue.submit(kind, request_)  # type: ignore[arg-type]
    assert message in str(err.value) and "\n" not in str(err.value)
    assert _rows(queue) == 0


def test_bad_submit_options_and_unknown_jobs(queue: JobQueue) -> None:
    with pytest.raises(InputError, match="project id must be an integer"):
        queue.submit("count", {"steps": 1}, project_id="p1")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="bad max_attempts"):
        queue.submit("count", {"steps": 1}, max_attempts=0)
    assert _rows(queue) == 0
    with pytest.raises(InputError, match="unknown job; found 99"):
        queue.get(99)
    with pytest.raises(InputError, match="unknown job status"):
        queue.list(status="done")


def test_list_pages_newest_first(queue: JobQueue) -> None:
    ids = [queue.submit("count", {"steps": i + 1}, project_id=i % 2) for i in range(5)]
    queue.cancel(ids[0])
    page, total = queue.list(limit=2)
    assert total == 5 and [j.id for j in page] == ids[::-1][:2]
    page, total = queue.list(limit=2, offset=4)
    assert total == 5 and [j.id for j in page] == [ids[0]]
    queued, total = queue.list(status="queued", project_id=0)
    assert total == 2 and [j.id for j in queued] == [ids[4], ids[2]]
    assert queue.get(ids[1]).to_dict()["created_at"].endswith("+00:00")


def test_jobs_run_on_ray(ray_address: str, tmp_path: Path) -> None:
    from biofab.compute.raycluster import RayExecutor
    from biofab.metabolism.workflows import DeletionsRequest, deletions

    store = Store(f"sqlite:///{tmp_path / 'ray.db'}")
    queue = JobQueue(store)
    request = {"model": "textbook", "kind": "reaction", "limit": 12, "workers": 1}
    job_id = queue.submit("deletions", request)
    done = _runner(queue, tmp_path, executor=RayExecutor(ray_address)).run_once()
    assert done is not None and done.id == job_id and done.status == "succeeded", done
    result = queue.result(job_id)
    direct = deletions(DeletionsRequest(model="textbook", kind="reaction", limit=12, workers=1))
    assert result["n_knockouts"] == 12
    assert [r["ids"] for r in result["results"]] == direct.table["ids"].tolist()
    assert result["wild_type_growth"] == direct.wild_type_growth
    store.close()


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("BIOFAB_DB", "BIOFAB_RAY")}
    env["BIOFAB_DB"] = f"sqlite:///{cwd / 'jobs.db'}"
    return subprocess.run(
        [sys.executable, "-m", "biofab.cli", "jobs", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_submit_run_show_and_one_line_errors(tmp_path: Path) -> None:
    bad = _cli("submit", "deletions", "--request", '{"model": 3}', cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1, bad.stderr
    assert bad.stderr.startswith("error: column 'model': deletions request: wrong type")
    request = '{"model": "textbook", "kind": "reaction", "limit": 4}'
    ok = _cli("submit", "deletions", "--request", request, cwd=tmp_path)
    assert ok.returncode == 0 and ok.stdout.strip() == "1", ok.stderr  # the bad one left nothing
    job = int(ok.stdout)
    ran = _cli("run-worker", "--max-jobs", "1", "--folder", "out", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    shown = _cli("show", str(job), "--json", cwd=tmp_path)
    data = json.loads(shown.stdout)
    assert data["status"] == "succeeded" and data["result"]["n_knockouts"] == 4
    again = _cli("cancel", str(job), cwd=tmp_path)
    assert again.returncode == 2
    assert again.stderr.strip() == (
        f"error: job {job} has already finished; expected a queued or running job; "
        "found 'succeeded'"
    )


def test_job_kinds_come_from_plugin_records() -> None:
    from biofab.core import plugins

    offered = plugins.job_kinds()
    assert offered["deletions"] == "metabolism" and offered["count"] == "toyjobs"
    assert {"dfba", "reconstruct", "optimize-recipe", "train-model"} <= set(offered)
    with pytest.raises(plugins.PluginError, match="job kind must be lower-case"):
        plugins.Pillar(name="x", help="x", jobs={"Bad Kind": "jobs_toy:count"})
    with pytest.raises(plugins.PluginError, match="expected an import path"):
        plugins.Pillar(name="x", help="x", jobs={"ok": "not a path"})
