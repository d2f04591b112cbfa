"""Ingest at scale: wall time and peak memory of importing a large results CSV.

Protocol:

1. A small space (``a``, ``b`` in [0, 100] on a 0.1 grid, ``strain`` in {x, y})
   and one objective (``yield:max``). Files of 100,000 and 1,000,000 distinct
   designs (rows in a seeded random order) with ``yield`` and ``yield_std``
   are written to a temporary folder.
2. Each ingest runs in a fresh subprocess into a fresh SQLite store (on the
   temporary folder's disk): create the campaign, then time
   ``Campaign.ingest(file)`` alone. Peak memory is the subprocess's
   ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` (whole process, including
   the interpreter and imports).
3. The peer is biofab before streamed ingest (``--before``, default commit
   ac74a2d: whole file in memory, ORM-free but one list of rows), exported with
   ``git archive`` into a temporary folder and put first on ``PYTHONPATH``
   in its subprocesses. Same machine, same files, same store engine,
   one BLAS thread each.

Each size is ingested ``--repeats`` times per side (default 3 at 100k; 1 at
1M, where the old path needs several GB). Output: a table on stdout, the
ratios (time and memory: before / now, > 1 means now is better) and
``benchmarks/results/ingest_scale.json``.

    python benchmarks/ingest_scale.py                 # 100k x3 and 1M x1, both sides
    python benchmarks/ingest_scale.py --sizes 100000  # quick
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import textwrap
from datetime import date
from io import BytesIO
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "ingest_scale.json"

SPACE_YAML = textwrap.dedent(
    """
    parameters:
      a: {type: continuous, lo: 0, hi: 100, step: 0.1}
      b: {type: continuous, lo: 0, hi: 100, step: 0.1}
      strain: {type: categorical, choices: [x, y]}
    """
)

# Runs in the subprocess: everything it prints on its last line is the record.
RUNNER = textwrap.dedent(
    """
    import json, resource, sys, time
    from biofab import Campaign, Space
    from biofab.store import Store
    space = Space.from_yaml(sys.argv[1])
    store = Store(sys.argv[2])
    c = Campaign.create("scale", space, ["yield:max"], store=store)
    t0 = time.perf_counter()
    res = c.ingest(sys.argv[3])
    wall = time.perf_counter() - t0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"wall_s": wall, "peak_rss_mb": rss_mb, "added": res.added_measurements}))
    """
)


def make_file(path: Path, n: int, seed: int = 0) -> None:
    """``n`` distinct designs on the space's grid, in a seeded random order."""
    if n > 1001 * 1001:
        raise SystemExit(f"at most {1001 * 1001} distinct (a, b) designs")
    rng = np.random.default_rng(seed)
    idx = rng.permutation(n)
    a = np.round((idx // 1001) * 0.1, 1)
    b = np.round((idx % 1001) * 0.1, 1)
    strain = np.where(rng.random(n) < 0.5, "x", "y")
    y = 3 - ((a - 40) / 30) ** 2 - ((b - 60) / 30) ** 2 + rng.normal(0, 0.05, n)
    frame = pd.DataFrame(
        {"a": a, "b": b, "strain": strain, "yield": np.round(y, 4), "yield_std": 0.05}
    )
    frame.to_csv(path, index=False)


def export_before(ref: str, into: Path) -> Path:
    """``src/`` of the repository at ``ref`` (``git archive``), unpacked under ``into``."""
    tar = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", ref, "src"],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(tar)) as t:
        t.extractall(into, filter="data")
    return into / "src"


def run_once(src: Path, space: Path, data: Path, work: Path, tag: str) -> dict[str, float]:
    db = work / f"{tag}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    env = {
        **os.environ,
        "PYTHONPATH": str(src),
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
    }
    proc = subprocess.run(
        [sys.executable, "-c", RUNNER, str(space), f"sqlite:///{db}", str(data)],
        env=env,
        capture_output=True,
        text=True,
        cwd=work,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{tag} failed:\n{proc.stderr[-3000:]}")
    record: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    return record


def summary(runs: list[dict[str, float]], key: str) -> tuple[float, float, float]:
    values = [r[key] for r in runs]
    return statistics.median(values), min(values), max(values)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--before", default="ac74a2d", help="git ref of the peer (old ingest)")
    ap.add_argument("--repeats", type=int, default=3, help="repeats below 1M rows")
    ap.add_argument("--no-before", action="store_true", help="measure the current code only")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()

    records = []
    with tempfile.TemporaryDirectory(prefix="ingest-scale-") as tmp:
        work = Path(tmp)
        space = work / "space.yaml"
        space.write_text(SPACE_YAML)
        before = None if args.no_before else export_before(args.before, work / "before")
        print(f"{'rows':>9} {'side':<8} {'wall s (min-max)':<24} {'peak RSS MB (min-max)':<26}")
        for n in args.sizes:
            data = work / f"results_{n}.csv"
            make_file(data, n)
            repeats = args.repeats if n < 1_000_000 else 1
            sides = {"now": ROOT / "src"}
            if before is not None:
                sides["before"] = before
            result: dict[str, list[dict[str, float]]] = {}
            for side, src in sides.items():
                runs = [run_once(src, space, data, work, f"{side}{n}") for _ in range(repeats)]
                assert all(r["added"] == n for r in runs), runs
                result[side] = runs
                t, t_lo, t_hi = summary(runs, "wall_s")
                m, m_lo, m_hi = summary(runs, "peak_rss_mb")
                print(
                    f"{n:>9} {side:<8} {t:8.1f} ({t_lo:.1f}-{t_hi:.1f}){'':<6} "
                    f"{m:8.0f} ({m_lo:.0f}-{m_hi:.0f})",
                    flush=True,
                )
            data.unlink()
            for metric, key in (("ingest_time_s", "wall_s"), ("ingest_peak_rss_mb", "peak_rss_mb")):
                now, lo, hi = summary(result["now"], key)
                rec: dict[str, object] = {
                    "metric": metric,
                    "dataset": f"synthetic results CSV, {n} rows, 3 parameters, 1 objective",
                    "biofab": round(now, 2),
                    "biofab_range": [round(lo, 2), round(hi, 2)],
                    "better": "lower",
                    "repeats": repeats,
                    "cores": 1,
                    "machine_cores": os.cpu_count(),
                    "command": "python benchmarks/ingest_scale.py",
                    "date": date.today().isoformat(),
                }
                if key == "peak_rss_mb" and n >= 1_000_000:
                    rec["target"] = "under 1024 MB"
                if "before" in result:
                    old, old_lo, old_hi = summary(result["before"], key)
                    rec |= {
                        "peer": f"biofab at {args.before} (whole-file ingest)",
                        "peer_value": round(old, 2),
                        "peer_range": [round(old_lo, 2), round(old_hi, 2)],
                        "ratio": round(old / now, 2),
                    }
                records.append(rec)
            # Written after each size, so a long peer run cut short keeps the rest.
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(records, indent=2) + "\n")
    for rec in records:
        if "ratio" in rec:
            print(
                f"{rec['dataset'].split(',')[1].strip():>12} {rec['metric']}: "
                f"before/now = {rec['ratio']}x"
            )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
