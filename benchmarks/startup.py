"""Start-up time and memory of the read commands, before and after lazy imports.

Each command runs as a fresh ``python -m biofab.cli ...`` subprocess (what the
``biofab`` console script does), so the time is everything a user waits for:
interpreter start, imports, opening the store, printing. Commands:

* ``biofab --help``
* ``biofab campaign status c1`` (a campaign with 8 measured designs)
* ``biofab campaign list``
* ``biofab space check space.yaml``

"Before" is the source tree at ``--before`` (default ``ac74a2d``, the commit
before the lazy imports), extracted with ``git archive`` into a temporary folder;
"after" is this checkout's ``src``. Both run with the same interpreter and
virtual environment, each against its own store made by its own code, in one
run, interleaved (before, after, before, ...) so that machine load hits both
alike. One warm-up run each (file cache), then ``--repeats`` runs; median, IQR
and min-max wall time, and the median CPU time (user + system) and peak RSS of
the child (``wait4``). On a shared, loaded machine the wall time is inflated by
waiting for a core; the CPU time is the work done and is the steadier number.

Output: a table on stdout and ``benchmarks/results/startup.json`` (records as in
``../shared/BENCHMARKS-GUIDE.md``; ``ratio`` = before / after, > 1 is faster now).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shlex
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
TARGET_S = 1.0  # the target: read commands start in under 1 s

SPACE = """
parameters:
  mg: {type: continuous, lo: 0, hi: 4, step: 0.5, unit: mM}
  ntp: {type: continuous, lo: 0, hi: 4, step: 0.5, unit: mM}
  lysate: {type: categorical, choices: [BL21, K12]}
"""
RESULTS_CSV = "mg,ntp,lysate,yield,yield_std\n" + "".join(
    f"{mg},{ntp},{lys},{2 - (mg - 2) ** 2 - 0.3 * (ntp - 1) ** 2:.3f},0.1\n"
    for mg, ntp, lys in [
        (0.5, 1.0, "BL21"),
        (1.0, 2.0, "K12"),
        (1.5, 0.5, "BL21"),
        (2.0, 1.0, "K12"),
        (2.5, 3.0, "BL21"),
        (3.0, 1.5, "K12"),
        (3.5, 2.5, "BL21"),
        (4.0, 0.0, "K12"),
    ]
)
COMMANDS: dict[str, list[str]] = {
    "--help": ["--help"],
    "campaign status": ["campaign", "status", "c1"],
    "campaign list": ["campaign", "list"],
    "space check": ["space", "check", "space.yaml"],
}


def extract(commit: str, into: Path) -> Path:
    """The ``src`` folder of ``commit`` (``git archive``; the repository is untouched)."""
    tar = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", commit, "src"],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        archive.extractall(into, filter="data")
    return into / "src"


def environment(src: Path, workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "BIOFAB_DB")}
    return {**env, "PYTHONPATH": str(src), "BIOFAB_DB": f"sqlite:///{workdir / 'biofab.db'}"}


Sample = tuple[float, float, int]


def biofab(args: list[str], env: dict[str, str], cwd: Path) -> Sample:
    """Wall time (s), CPU time (user + system, s) and peak RSS (KiB) of one
    ``python -m biofab.cli ARGS``."""
    t = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "biofab.cli", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - t
    code = os.waitstatus_to_exitcode(status)
    child.returncode = code
    if code != 0:
        err = child.stderr.read().decode() if child.stderr else ""
        raise SystemExit(f"biofab {shlex.join(args)} failed ({code}): {err[-2000:]}")
    if child.stderr:
        child.stderr.close()
    return wall, usage.ru_utime + usage.ru_stime, int(usage.ru_maxrss)


def prepare(src: Path, workdir: Path) -> dict[str, str]:
    """A store with campaign ``c1`` (8 measured designs), made by ``src``'s own code."""
    workdir.mkdir(parents=True)
    (workdir / "space.yaml").write_text(SPACE)
    (workdir / "results.csv").write_text(RESULTS_CSV)
    env = environment(src, workdir)
    create = ["campaign", "create", "c1", "--space", "space.yaml", "--objective", "yield:max"]
    for args in (create, ["campaign", "ingest", "c1", "results.csv"]):
        biofab(args, env, workdir)
    return env


def quartiles(xs: list[float]) -> tuple[float, float]:
    if len(xs) < 2:
        return xs[0], xs[0]
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return q[0], q[2]


def summary(samples: list[Sample]) -> dict[str, Any]:
    walls = [w for w, _, _ in samples]
    q1, q3 = quartiles(walls)
    return {
        "median_s": round(statistics.median(walls), 4),
        "iqr_s": [round(q1, 4), round(q3, 4)],
        "range_s": [round(min(walls), 4), round(max(walls), 4)],
        "cpu_s": round(statistics.median(c for _, c, _ in samples), 4),
        "rss_mib": round(statistics.median(r for _, _, r in samples) / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--before", default="ac74a2d", help="Commit to compare with.")
    parser.add_argument("--no-write", action="store_true", help="Do not write the JSON.")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="biofab-startup-") as tmp:
        base = Path(tmp)
        sides = {
            "before": extract(args.before, base / "before"),
            "after": ROOT / "src",
        }
        envs = {side: prepare(src, base / f"work-{side}") for side, src in sides.items()}
        samples: dict[tuple[str, str], list[Sample]] = {}
        for name, cmd in COMMANDS.items():
            for side, env in envs.items():  # warm-up: file cache, .pyc files
                biofab(cmd, env, base / f"work-{side}")
            for _ in range(args.repeats):
                for side, env in envs.items():
                    samples.setdefault((name, side), []).append(
                        biofab(cmd, env, base / f"work-{side}")
                    )

    cores = os.cpu_count() or 1
    today = date.today().isoformat()
    records = []
    print(f"load average {os.getloadavg()[0]:.1f} on {cores} cores; wall s (IQR), CPU s, MiB")
    side = f"{'wall s':>7} {'IQR':>11} {'CPU s':>6} {'MiB':>5}"
    print(f"{'command':<16} | before {side} | after {side} | ratio wall, CPU")
    for name in COMMANDS:
        before, after = summary(samples[(name, "before")]), summary(samples[(name, "after")])
        ratio = before["median_s"] / after["median_s"]
        cpu_ratio = before["cpu_s"] / after["cpu_s"]
        cells = [
            f"{s['median_s']:>7.2f} {s['iqr_s'][0]:>5.2f}-{s['iqr_s'][1]:<5.2f} "
            f"{s['cpu_s']:>6.2f} {s['rss_mib']:>5.0f}"
            for s in (before, after)
        ]
        print(f"{name:<16} | before {cells[0]} | after {cells[1]} | {ratio:.2f}x, {cpu_ratio:.2f}x")
        records.append(
            {
                "metric": f"startup_{name.strip('-').replace(' ', '_')}_s",
                "dataset": f"biofab {name} (campaign of 8 measured designs, SQLite)",
                "biofab": after["median_s"],
                "peer": f"biofab@{args.before}",
                "peer_value": before["median_s"],
                "ratio": round(ratio, 2),
                "better": "lower",
                "target_ratio": None,
                "target_s": TARGET_S,
                "under_target": after["median_s"] < TARGET_S,
                "seeds": 1,
                "repeats": args.repeats,
                "cores": 1,
                "command": "python benchmarks/startup.py",
                "date": today,
                "biofab_iqr": after["iqr_s"],
                "biofab_range": after["range_s"],
                "peer_iqr": before["iqr_s"],
                "peer_range": before["range_s"],
                "biofab_cpu_s": after["cpu_s"],
                "peer_cpu_s": before["cpu_s"],
                "cpu_ratio": round(cpu_ratio, 2),
                "biofab_rss_mib": after["rss_mib"],
                "peer_rss_mib": before["rss_mib"],
                "machine_cores": cores,
                "load_average_1min": round(os.getloadavg()[0], 2),
            }
        )
    worst = max(r["biofab"] for r in records)
    worst_cpu = max(r["biofab_cpu_s"] for r in records)
    print(
        f"slowest read command now {worst:.2f} s wall, {worst_cpu:.2f} s CPU "
        f"(target < {TARGET_S:.0f} s); before/after ratios above"
    )
    if not args.no_write:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "startup.json").write_text(json.dumps(records, indent=2) + "\n")


if __name__ == "__main__":
    main()
