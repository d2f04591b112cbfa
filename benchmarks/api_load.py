"""Load and faults of the shared service (``biofab serve``) on localhost.

For each store (SQLite file; a throwaway PostgreSQL server started here), one
real ``biofab serve`` process and concurrent HTTP clients (threads, one
``httpx.Client`` each) in this process:

1. **Read routes under load**: ``--clients`` clients (default 20) send
   ``GET /campaigns/{name}/status`` (a campaign of 48 measured designs), then
   ``GET /campaigns`` (list), back to back for ``--seconds`` each; requests per
   second and median / p95 latency. Peer: the same answer from the CLI
   (``biofab campaign status``, a fresh process: what a person runs without the
   service), median of 3.
2. **Recommend**: ``POST /campaigns/{name}/recommend`` (n=8, seed 0) on
   ``--repeats`` identical campaigns, against the CLI's
   ``biofab campaign recommend`` on identical copies (wall time of the command,
   interpreter start and imports included) and against the same
   ``Campaign.recommend`` call in this process (the work alone). The issue's
   target: the request takes the CLI's time plus under 10 %.
3. **20 concurrent ingests** of 20 different files (12 designs each) into one
   campaign: every response 200 and the store holds exactly 240 measurements
   and 20 imports afterwards.
4. **Killed mid-ingest**: a server started with the store's ingest failpoint
   (``BIOFAB_FAILPOINT_INGEST_SLEEP``) is killed with SIGKILL while it holds the
   write transaction; after a restart the file is absent (no partial rows), the
   measurement count is unchanged, and posting the file again adds all of it.

Records: ``benchmarks/results/api_load.json``; ``ratio`` > 1 means the service
is faster than the CLI.

The read routes are measured with 1 and 2 server processes (``biofab serve
--workers``), each with the Python client threads and, when Debian's ``wrk`` is
installed, with ``wrk`` (a C load generator whose clients take almost no CPU from
the server on a small machine); the rest with one process.

Usage: ``python benchmarks/api_load.py [--clients 20] [--seconds 10] [--repeats 3]
[--workers 1 2] [--threads N] [--no-postgres] [--no-write]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
API = "/api/v1"
P95_TARGET_S = 0.050
RECOMMEND_TARGET = 1.10  # request time / CLI time

SPACE = """
parameters:
  mg: {type: continuous, lo: 0, hi: 8, step: 0.25, unit: mM}
  ntp: {type: continuous, lo: 0, hi: 8, step: 0.25, unit: mM}
  peg: {type: continuous, lo: 0, hi: 4, step: 0.25, unit: "%"}
  lysate: {type: categorical, choices: [BL21, K12, Rosetta]}
"""
LYSATES = ("BL21", "K12", "Rosetta")


def results_csv(start: int, n: int) -> str:
    """``n`` distinct designs from index ``start`` with a smooth response (yield, g/L)."""
    rows = ["mg,ntp,peg,lysate,yield,yield_std"]
    for i in range(start, start + n):
        mg, ntp, peg = (i % 33) * 0.25, (i // 33 % 33) * 0.25, (i // 1089 % 17) * 0.25
        y = 3 - 0.1 * (mg - 4) ** 2 - 0.08 * (ntp - 3) ** 2 - 0.2 * (peg - 2) ** 2
        rows.append(f"{mg},{ntp},{peg},{LYSATES[i % 3]},{y:.4f},0.1")
    return "\n".join(rows) + "\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A ``biofab serve`` subprocess; ``token`` is the first admin's (printed once)."""

    db: str
    workdir: Path
    env: dict[str, str] = field(default_factory=dict)
    workers: int = 1
    #: ``biofab serve --threads`` (None: the command's default)
    threads: int | None = None
    token: str | None = None
    proc: subprocess.Popen[str] | None = None
    url: str = ""
    log: Path | None = None

    def start(self) -> Server:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.log = self.workdir / f"serve-{port}.log"
        cmd = [sys.executable, "-m", "biofab.cli", "serve", "--db", self.db, "--port", str(port),
               "--workers", str(self.workers)]  # fmt: skip
        if self.threads is not None:
            cmd += ["--threads", str(self.threads)]
        env = {**os.environ, **self.env}
        env.pop("BIOFAB_DB", None)
        with self.log.open("w") as err:
            self.proc = subprocess.Popen(
                cmd, cwd=self.workdir, env=env, stdout=subprocess.PIPE, stderr=err, text=True
            )
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("  ") and self.token is None:
                self.token = line.strip()
            if line.startswith("biofab serve:"):
                break
        # Keep the pipe drained so the server never blocks on a full stdout.
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + API + "/health", timeout=2).status_code == 200:
                    return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            time.sleep(0.2)
        raise RuntimeError("server did not answer in 120 s")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


def client(server: Server, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=server.url + API, headers={"Authorization": f"Bearer {token}"}, timeout=600
    )


def ok(r: httpx.Response) -> dict[str, Any]:
    if r.status_code >= 300:
        raise RuntimeError(f"{r.request.method} {r.request.url}: {r.status_code} {r.text[:300]}")
    out: dict[str, Any] = r.json()
    return out


def make_campaign(c: httpx.Client, name: str, n_designs: int) -> None:
    ok(c.post("/campaigns", json={"name": name, "project": "lab", "space": SPACE,
                                  "objectives": ["yield:max"]}))  # fmt: skip
    files = {"file": (f"{name}.csv", results_csv(0, n_designs), "text/csv")}
    ok(c.post(f"/campaigns/{name}/ingest", files=files))


def hammer(server: Server, token: str, path: str, clients: int, seconds: float) -> dict[str, Any]:
    """``clients`` threads GET ``path`` back to back for ``seconds``; latencies in s."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    start_at = time.monotonic() + 0.5
    stop_at = start_at + seconds

    def run(i: int) -> None:
        with client(server, token) as c:
            c.get(path)  # connect before the clock starts
            while time.monotonic() < start_at:
                time.sleep(0.001)
            while (t0 := time.monotonic()) < stop_at:
                r = c.get(path)
                latencies[i].append(time.monotonic() - t0)
                errors[i] += r.status_code != 200

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(run, range(clients)))
    flat = sorted(x for lat in latencies for x in lat)
    return {
        "requests": len(flat),
        "errors": sum(errors),
        "rps": len(flat) / seconds,
        "median_s": statistics.median(flat),
        "p95_s": flat[min(len(flat) - 1, int(0.95 * len(flat)))],
    }


WRK_SCRIPT = """
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %.6f %.6f\\n", summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1e6, latency:percentile(95) / 1e6))
end
"""


def wrk(
    server: Server, token: str, path: str, clients: int, seconds: float
) -> dict[str, Any] | None:
    """The same load from ``wrk`` (a C load generator: 2 threads, ``clients`` connections),
    so the clients' own Python does not compete with the server for the two cores;
    None when wrk is not installed."""
    if shutil.which("wrk") is None:
        return None
    assert server.log is not None
    script = server.log.with_suffix(".lua")
    script.write_text(WRK_SCRIPT)
    r = subprocess.run(
        ["wrk", "-t2", "--timeout", "10s", f"-c{clients}", f"-d{seconds:g}s", "-s", str(script),
         "-H", f"Authorization: Bearer {token}", server.url + API + path],
        capture_output=True, text=True, timeout=seconds + 60,
    )  # fmt: skip
    line = next(ln for ln in r.stdout.splitlines() if ln.startswith("RESULT"))
    n, errors, median, p95 = line.split()[1:]
    return {
        "requests": int(n),
        "errors": int(errors),
        "rps": int(n) / seconds,
        "median_s": float(median),
        "p95_s": float(p95),
    }


def timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def cli(db: str, workdir: Path, *args: str) -> float:
    env = {k: v for k, v in os.environ.items() if k != "BIOFAB_DB"}
    t0 = time.perf_counter()
    r = subprocess.run(
        [sys.executable, "-m", "biofab.cli", *args, "--db", db],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    if r.returncode != 0:
        raise RuntimeError(f"biofab {' '.join(args)}: {r.stderr[-800:]}")
    return time.perf_counter() - t0


def store_counts(db: str, name: str) -> tuple[int, int]:
    """(measurements, imports) of a campaign, read straight from the store."""
    from sqlalchemy import text

    from biofab.store import Store

    store = Store(db, create=False)
    try:
        n_meas = len(store.measurement_records(name))
        with store._engine.connect() as conn:  # one COUNT: no public reader of imports
            n_imp = conn.execute(
                text("SELECT count(*) FROM imports i JOIN campaigns c ON c.id = i.campaign_id "
                     "WHERE c.name = :n"), {"n": name}
            ).scalar_one()  # fmt: skip
    finally:
        store.close()
    return n_meas, int(n_imp)


def bench_store(label: str, db: str, workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {"store": label}
    server = Server(db, workdir, threads=args.threads).start()
    try:
        assert server.token, "the first start prints the admin token"
        with client(server, server.token) as c:
            ok(c.post("/projects", json={"name": "lab"}))
            make_campaign(c, "load", 48)
            for i in range(args.repeats + 1):
                make_campaign(c, f"rec_api_{i}", 24)
                make_campaign(c, f"rec_cli_{i}", 24)
                make_campaign(c, f"rec_py_{i}", 24)
            make_campaign(c, "ingest20", 12)
        print(f"[{label}] campaigns ready", flush=True)

        for workers in args.workers:
            # A server of `workers` processes on the same store (1: the one started above).
            load = (
                server
                if workers == 1
                else Server(db, workdir, workers=workers, threads=args.threads).start()
            )
            try:
                for path in ("/campaigns/load/status", "/campaigns?limit=50"):
                    route = "status" if "status" in path else "list"
                    res = hammer(load, server.token, path, args.clients, args.seconds)
                    out[f"{route}@{workers}"] = res
                    by_wrk = wrk(load, server.token, path, args.clients, args.seconds)
                    if by_wrk is not None:
                        out[f"{route}@{workers}/wrk"] = by_wrk
                    for tool, x in (("python", res), ("wrk", by_wrk)):
                        if x is None:
                            continue
                        print(f"[{label}] {workers} worker(s) GET {path} ({tool} clients): "
                              f"{x['rps']:.0f} req/s, median {1000 * x['median_s']:.1f} ms, "
                              f"p95 {1000 * x['p95_s']:.1f} ms, {x['errors']} errors",
                              flush=True)  # fmt: skip
            finally:
                if load is not server:
                    load.stop()
        out["status_cli_s"] = statistics.median(
            cli(db, workdir, "campaign", "status", "load") for _ in range(3)
        )

        # Recommend: index 0 of each kind is the warm-up (the server loads torch once).
        api_s, cli_s, py_s = [], [], []
        from biofab.campaign import Campaign
        from biofab.store import Store

        with client(server, server.token) as c:
            for i in range(args.repeats + 1):
                path = f"/campaigns/rec_api_{i}/recommend"
                t_api = timed(lambda: ok(c.post(path, json={"n": 8, "seed": 0})))  # noqa: B023
                t_cli = cli(db, workdir, "campaign", "recommend", f"rec_cli_{i}", "-n", "8",
                            "--seed", "0")  # fmt: skip
                store = Store(db, create=False)
                camp = Campaign.load(f"rec_py_{i}", store=store)
                t_py = timed(lambda: camp.recommend(8, seed=0))  # noqa: B023 (called at once)
                store.close()
                if i > 0:
                    api_s.append(t_api)
                    cli_s.append(t_cli)
                    py_s.append(t_py)
                print(f"[{label}] recommend {i}: API {t_api:.2f} s, CLI {t_cli:.2f} s, "
                      f"in-process {t_py:.2f} s", flush=True)  # fmt: skip
        out["recommend"] = {
            "api_s": api_s,
            "cli_s": cli_s,
            "in_process_s": py_s,
            "api_median_s": statistics.median(api_s),
            "cli_median_s": statistics.median(cli_s),
            "in_process_median_s": statistics.median(py_s),
        }

        # 20 concurrent ingests of different files into one campaign.
        before_meas, before_imp = store_counts(db, "ingest20")

        def post(i: int) -> int:
            with client(server, server.token or "") as c:
                body = results_csv(10_000 + 12 * i, 12)
                r = c.post("/campaigns/ingest20/ingest", files={"file": (f"p{i}.csv", body)})
                return r.status_code

        with ThreadPoolExecutor(20) as pool:
            codes = list(pool.map(post, range(20)))
        after_meas, after_imp = store_counts(db, "ingest20")
        out["ingest20"] = {
            "status_codes": sorted(set(codes)),
            "all_ok": all(code == 200 for code in codes),
            "added_measurements": after_meas - before_meas,
            "added_imports": after_imp - before_imp,
            "lost": 240 - (after_meas - before_meas),
        }
        print(f"[{label}] 20 concurrent ingests: {out['ingest20']}", flush=True)
    finally:
        server.stop()

    out["killed_mid_ingest"] = killed_mid_ingest(db, workdir, server.token or "")
    print(f"[{label}] killed mid-ingest: {out['killed_mid_ingest']}", flush=True)
    return out


def killed_mid_ingest(db: str, workdir: Path, token: str) -> dict[str, Any]:
    """SIGKILL a server holding an ingest's write transaction; restart; check the store."""
    before = store_counts(db, "load")
    victim = Server(db, workdir, env={"BIOFAB_FAILPOINT_INGEST_SLEEP": "30"}).start()
    body = results_csv(20_000, 2_000)
    reply: dict[str, Any] = {}

    def post() -> None:
        with contextlib.suppress(httpx.HTTPError), client(victim, token) as c:
            reply["status"] = c.post("/campaigns/load/ingest",
                                     files={"file": ("crash.csv", body)}).status_code  # fmt: skip

    thread = threading.Thread(target=post)
    thread.start()
    assert victim.log is not None
    deadline = time.monotonic() + 120
    while "failpoint: sleeping" not in victim.log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    mid = "failpoint: sleeping" in victim.log.read_text()
    victim.kill()
    thread.join(60)
    after_kill = store_counts(db, "load")
    again = Server(db, workdir).start()
    try:
        with client(again, token) as c:
            res = ok(c.post("/campaigns/load/ingest", files={"file": ("crash.csv", body)}))
    finally:
        again.stop()
    after_retry = store_counts(db, "load")
    return {
        "killed_inside_transaction": mid,
        "client_saw": reply.get("status", "connection dropped"),
        "measurements_before": before[0],
        "measurements_after_kill": after_kill[0],
        "imports_unchanged_after_kill": after_kill[1] == before[1],
        "retry_added": res["added_measurements"],
        "consistent": after_kill == before and after_retry[0] == before[0] + 2_000,
    }


@contextlib.contextmanager
def postgres() -> Iterator[str]:
    sys.path.insert(0, str(ROOT / "tests"))
    from pg import find_pg_bin, throwaway_postgres  # the test suite's throwaway server

    bindir = find_pg_bin()
    if bindir is None:
        raise RuntimeError("PostgreSQL is not installed (initdb/pg_ctl not found)")
    with throwaway_postgres(bindir) as url:
        yield url


def records(results: list[dict[str, Any]], args: argparse.Namespace) -> list[dict[str, Any]]:
    base = {
        "seeds": 1,
        "cores": os.cpu_count(),
        "command": shlex.join(["python", "benchmarks/api_load.py", *sys.argv[1:]]),
        "date": date.today().isoformat(),
        "clients": args.clients,
        "threads": args.threads or "serve default",
        "load_average_1min": round(os.getloadavg()[0], 2),
    }
    out = []
    for r in results:
        runs = [(rt, w, tool) for w in args.workers for rt in ("status", "list")
                for tool in ("", "/wrk") if f"{rt}@{w}{tool}" in r]  # fmt: skip
        for route, workers, tool in runs:
            x = r[f"{route}@{workers}{tool}"]
            gen = "wrk (C)" if tool else "Python threads"
            out.append({
                "metric": f"api_{route}_p95_s",
                "dataset": f"{r['store']}: GET {route}, {args.clients} concurrent clients "
                           f"({gen}), {args.seconds:g} s, {workers} server process(es)",
                "server_processes": workers,
                "load_generator": gen,
                "biofab": round(x["p95_s"], 4),
                "peer": "biofab campaign status (CLI process)",
                "peer_value": round(r["status_cli_s"], 3),
                "ratio": round(r["status_cli_s"] / x["p95_s"], 2),
                "better": "lower",
                "target_s": P95_TARGET_S,
                "under_target": x["p95_s"] < P95_TARGET_S,
                "median_s": round(x["median_s"], 4),
                "rps": round(x["rps"], 1),
                "errors": x["errors"],
                "repeats": x["requests"],
                **base,
            })  # fmt: skip
        rec = r["recommend"]
        out.append({
            "metric": "api_recommend_s",
            "dataset": f"{r['store']}: recommend 8 on a 24-design campaign",
            "biofab": round(rec["api_median_s"], 3),
            "peer": "biofab campaign recommend (CLI process)",
            "peer_value": round(rec["cli_median_s"], 3),
            "ratio": round(rec["cli_median_s"] / rec["api_median_s"], 2),
            "better": "lower",
            "target_ratio": round(1 / RECOMMEND_TARGET, 3),
            "in_process_s": round(rec["in_process_median_s"], 3),
            "api_over_in_process": round(rec["api_median_s"] / rec["in_process_median_s"], 3),
            "repeats": len(rec["api_s"]),
            **base,
        })  # fmt: skip
        out.append({
            "metric": "api_concurrent_ingest_lost_measurements",
            "dataset": f"{r['store']}: 20 concurrent ingests of 12 designs into one campaign",
            "biofab": r["ingest20"]["lost"],
            "all_ok": r["ingest20"]["all_ok"],
            "imports": r["ingest20"]["added_imports"],
            "killed_mid_ingest_consistent": r["killed_mid_ingest"]["consistent"],
            "better": "lower",
            **base,
        })  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[1, 2], help="API server processes to try."
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="handler threads per server process "
        "(`biofab serve --threads`; default: the command's)"
    )  # fmt: skip
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="biofab-load-") as tmp:
        work = Path(tmp)
        results.append(bench_store("SQLite", f"sqlite:///{work / 'load.db'}", work, args))
        if not args.no_postgres:
            with postgres() as url:
                results.append(bench_store("PostgreSQL", url, work, args))
    print("\nstore       | route  | processes | clients | req/s | median ms | p95 ms | errors")
    for r in results:
        for w in args.workers:
            for route in ("status", "list"):
                for tool in ("", "/wrk"):
                    x = r.get(f"{route}@{w}{tool}")
                    if x is None:
                        continue
                    print(f"{r['store']:<11} | {route:<6} | {w:9d} | "
                          f"{'wrk' if tool else 'python':<7} | {x['rps']:5.0f} | "
                          f"{1000 * x['median_s']:9.1f} | {1000 * x['p95_s']:6.1f} | "
                          f"{x['errors']}")  # fmt: skip
    for r in results:
        rec = r["recommend"]
        ratio = rec["cli_median_s"] / rec["api_median_s"]
        print(f"{r['store']}: recommend API {rec['api_median_s']:.2f} s, CLI "
              f"{rec['cli_median_s']:.2f} s (ratio CLI/API {ratio:.2f}), "
              f"in-process {rec['in_process_median_s']:.2f} s; 20 ingests lost "
              f"{r['ingest20']['lost']}; killed mid-ingest consistent: "
              f"{r['killed_mid_ingest']['consistent']}")  # fmt: skip
    if not args.no_write:
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / "api_load.json"
        path.write_text(json.dumps(records(results, args), indent=2) + "\n")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
