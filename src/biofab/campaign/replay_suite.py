"""Replaying a pool of measured designs: how many experiments does each method need?

One protocol serves ``biofab replay DATA.csv`` and ``benchmarks/replay.py --suite``:

1. A *pool* is a table of designs, each measured once (:class:`Pool`). A campaign may
   only pick designs of the pool, and each pick is answered with its measured value.
2. Per seed, the same 20 random designs start every method (``default_rng(seed)``):
   seeds are *paired* across methods.
3. Each method then picks batches of 20 unmeasured designs until it has picked a *top*
   design (one of the pool's best ``max(2, ceil(0.5 % x pool size))``; the floor of 2
   keeps a 200-design pool's target at its 2 best rather than its single best) **and**
   its best-so-far has reached 90 % of the pool's best, or the cap (500 experiments by
   default, or the pool size) is spent. Experiments count whole batches (a hit in the
   third batch costs 60), the 20 random starts included; a campaign that never hits
   counts as the cap and is reported as a miss.
4. "90 % of the pool's best" is ``u >= 0.9 max(u)`` for utilities that are never
   negative (yields, titres), else 90 % of the way from the pool's median design to its
   best (``u >= median + 0.9 (max - median)``), e.g. a negated cost: measured from the
   worst design, a heavy-tailed pool (Rosenbrock) would put most designs "near the
   best". Utilities are the objective's (``Objective.utility``: higher is better).

Methods (all in this module, so the CLI and the benchmark run the same code):

* ``biofab``: :func:`biofab.learn.default_recommender` given the measured designs, their
  utilities, ``yvar = std**2`` when every measured design has a std (else none), and the
  unmeasured pool as candidates;
* ``gp``: a plain scikit-learn Gaussian process (constant x Matern-5/2 with one length
  scale per input + white noise, ``normalize_y``, the optimiser's default single start),
  UCB ``mean + 2 std``, batch by kriging believer (the chosen design's prediction is
  added as if measured, the GP re-conditioned with its fitted kernel, and so on);
* ``metis``: a METIS-style ensemble (Pandi et al. 2022, *Nat Commun* 13:3876; written
  here, not METIS's code): 10 XGBoost regressors on bootstrap resamples, UCB
  ``mean + kappa std`` with kappa 1.41 -> 1.0 -> 0.5 over thirds of a 10-round horizon,
  the batch the 20 best by UCB;
* ``random``: uniform batches from the unmeasured pool.

Every peer's settings are fixed a priori (below) and not tuned on any pool.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from biofab.core.errors import InputError
from biofab.core.objective import Objective
from biofab.core.space import Space

INIT = 20
BATCH = 20
BUDGET = 500
TOP_FRACTION = 0.005
TOP_MIN = 2
NEAR_BEST = 0.9
METHODS = ("biofab", "gp", "metis", "random")
LABELS = {
    "biofab": "biofab default",
    "gp": "plain GP + UCB (scikit-learn)",
    "metis": "METIS-style XGBoost ensemble UCB (10 members)",
    "random": "random selection",
}
#: The issue's targets: biofab / peer experiment ratio to reach.
TARGETS = {"random": 2.0, "gp": 1.0, "metis": 1.0}

# METIS-style ensemble: fixed before any run, not tuned on any pool.
N_MEMBERS = 10
KAPPAS = (1.41, 1.0, 0.5)
HORIZON = 10
XGB_PARAMS: dict[str, Any] = {
    "n_estimators": 100,
    "max_depth": 4,
    "learning_rate": 0.1,
    "subsample": 1.0,
    "n_jobs": 1,
    "verbosity": 0,
}
# Plain GP: fixed before any run.
GP_BETA = 2.0  # UCB = mean + GP_BETA * std


def top_count(n: int) -> int:
    """How many of a pool's best designs count as 'top 0.5 %' (at least 2)."""
    return max(TOP_MIN, math.ceil(TOP_FRACTION * n - 1e-9))


@dataclass
class Pool:
    """A pool to replay: ``designs`` (one row per design, the space's columns), each
    design's measured ``values`` of ``objective`` and optional ``std`` (its standard
    deviation, NaN where missing); ``rounds`` the round that measured each design in the
    original campaign, when known. ``budget`` caps a campaign's experiments."""

    key: str
    label: str
    space: Space
    designs: pd.DataFrame
    values: np.ndarray
    objective: Objective = field(default_factory=lambda: Objective("y", "max"))
    std: np.ndarray | None = None
    rounds: np.ndarray | None = None
    budget: int = BUDGET
    note: str = ""
    utility: np.ndarray = field(init=False)
    top_k: int = field(init=False)
    threshold: float = field(init=False)

    def __post_init__(self) -> None:
        self.designs = self.designs[self.space.names].reset_index(drop=True)
        self.values = np.asarray(self.values, dtype=float)
        if len(self.values) != len(self.designs):
            raise InputError(
                "one value per design",
                expected=f"{len(self.designs)} values",
                found=len(self.values),
            )
        if not np.isfinite(self.values).all():
            i = int(np.argmin(np.isfinite(self.values)))
            raise InputError(
                "not a finite number", row=i + 1, column=self.objective.name, expected="a number"
            )
        if len(self.designs) < INIT + 2:
            raise InputError(
                "too few designs to replay",
                expected=f"at least {INIT + 2} (20 random starts, then a batch)",
                found=len(self.designs),
            )
        if not self.budget > INIT:
            raise InputError("the budget must exceed the 20 random starts", found=self.budget)
        self.utility = np.asarray(self.objective.utility(self.values), dtype=float)
        self.top_k = top_count(len(self.designs))
        self.threshold = float(np.sort(self.utility)[::-1][self.top_k - 1])
        keys = self.space.keys(self.designs)
        self._index: dict[str, int] = {}
        for i, key in enumerate(keys):
            if key in self._index:
                raise InputError(
                    "the same design appears twice in the pool; merge replicates first",
                    row=i + 1,
                    expected="one row per design",
                    found=f"a repeat of row {self._index[key] + 1}",
                )
            self._index[key] = i

    def __len__(self) -> int:
        return len(self.designs)

    @property
    def cap(self) -> int:
        return min(self.budget, len(self.designs))

    def score(self, u: np.ndarray | float) -> np.ndarray:
        """Utilities on the scale where 1 is the pool's best and :data:`NEAR_BEST` the
        '90 % of the best' line: ``u / max`` for utilities never negative, else
        ``(u - median) / (max - median)`` (see the module docstring)."""
        lo, hi = float(self.utility.min()), float(self.utility.max())
        x = np.asarray(u, dtype=float)
        if lo >= 0 and hi > 0:
            return x / hi
        # No natural zero (a negated cost): measured from the pool's median, because the
        # worst design of a heavy-tailed pool would put almost every design "near the best".
        mid = float(np.median(self.utility))
        return (x - mid) / (hi - mid) if hi > mid else np.ones_like(x)

    def lookup(self, designs: pd.DataFrame) -> np.ndarray:
        """Row of each design in the pool; InputError for one outside it."""
        rows = []
        for i, key in enumerate(self.space.keys(designs)):
            j = self._index.get(key)
            if j is None:
                raise InputError("design not in the replayed pool", row=i + 1)
            rows.append(j)
        return np.asarray(rows, dtype=int)

    def describe(self) -> str:
        return (
            f"{self.label} ({len(self)} designs, {len(self.space.names)} factors, top {self.top_k})"
        )


@dataclass
class Run:
    """One replayed campaign: experiments when it first picked a top design (None: never),
    experiments spent, best utility after each batch, seconds."""

    pool: str
    method: str
    seed: int
    hit_at: int | None
    spent: int
    curve: list[float] = field(default_factory=list)
    seconds: float = 0.0


# -- the methods ------------------------------------------------------------------
# Each picks ``n`` row indices of the pool among ``unmeasured``.

Picker = Callable[[Pool, np.ndarray, np.ndarray, int, int, int], np.ndarray]


def kappa(round_index: int) -> float:
    """METIS-style schedule: 1.41, then 1.0, then 0.5 over thirds of a 10-round horizon."""
    return KAPPAS[min(len(KAPPAS) * max(round_index, 0) // HORIZON, len(KAPPAS) - 1)]


def pick_random(
    pool: Pool, measured: np.ndarray, unmeasured: np.ndarray, n: int, r: int, seed: int
) -> np.ndarray:
    rng = np.random.default_rng([seed, 1, r])
    return np.asarray(rng.choice(unmeasured, size=n, replace=False), dtype=int)


def pick_metis(
    pool: Pool, measured: np.ndarray, unmeasured: np.ndarray, n: int, r: int, seed: int
) -> np.ndarray:
    from xgboost import XGBRegressor

    rng = np.random.default_rng([seed, 2, r])
    X = pool.space.encode(pool.designs.iloc[measured])
    y = pool.utility[measured]
    Xc = pool.space.encode(pool.designs.iloc[unmeasured])
    preds = np.empty((N_MEMBERS, len(unmeasured)))
    for j in range(N_MEMBERS):
        boot = rng.integers(0, len(y), len(y))
        model = XGBRegressor(**XGB_PARAMS, random_state=int(rng.integers(2**31)))
        model.fit(X[boot], y[boot])
        preds[j] = model.predict(Xc)
    ucb = preds.mean(axis=0) + kappa(r) * preds.std(axis=0)
    return np.asarray(unmeasured[np.argsort(-ucb, kind="stable")[:n]], dtype=int)


def pick_gp(
    pool: Pool, measured: np.ndarray, unmeasured: np.ndarray, n: int, r: int, seed: int
) -> np.ndarray:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    X = pool.space.encode(pool.designs.iloc[measured])
    y = pool.utility[measured]
    Xc = pool.space.encode(pool.designs.iloc[unmeasured])
    d = X.shape[1]
    kernel = ConstantKernel(1.0, (1e-3, 1e3)) * Matern(
        length_scale=np.full(d, 0.5), length_scale_bounds=(1e-2, 1e2), nu=2.5
    ) + WhiteKernel(1e-2, (1e-6, 1.0))
    gp = GaussianProcessRegressor(kernel, normalize_y=True, random_state=seed)
    with warnings.catch_warnings():  # bounds reached are part of the fixed settings
        warnings.simplefilter("ignore", ConvergenceWarning)
        gp.fit(X, y)
    fitted = GaussianProcessRegressor(gp.kernel_, normalize_y=True, optimizer=None)
    chosen: list[int] = []
    free = np.ones(len(unmeasured), dtype=bool)
    Xb, yb = X, y
    for _ in range(n):
        mean, std = (gp if not chosen else fitted).predict(Xc, return_std=True)
        ucb = np.where(free, mean + GP_BETA * std, -np.inf)
        j = int(np.argmax(ucb))
        chosen.append(j)
        free[j] = False
        # Kriging believer: the pick's prediction is taken as if measured.
        Xb = np.vstack([Xb, Xc[j : j + 1]])
        yb = np.append(yb, mean[j])
        fitted.fit(Xb, yb)
    return np.asarray(unmeasured[chosen], dtype=int)


def pick_biofab(
    pool: Pool, measured: np.ndarray, unmeasured: np.ndarray, n: int, r: int, seed: int
) -> np.ndarray:
    from biofab.learn import default_recommender

    space = pool.space
    std = None if pool.std is None else pool.std[measured]
    yvar = None if std is None or not np.isfinite(std).all() else (std**2)[:, None]
    rec = default_recommender(space, n_objectives=1)
    result = rec.recommend(
        space,
        pool.designs.iloc[measured].reset_index(drop=True),
        pool.utility[measured][:, None],
        n,
        yvar=yvar,
        candidates=pool.designs.iloc[unmeasured].reset_index(drop=True),
        round_index=r,
        seed=seed,
    )
    picked = pool.lookup(result.designs)
    allowed = set(unmeasured.tolist())
    if len(set(picked.tolist())) != len(picked) or not set(picked.tolist()) <= allowed:
        raise RuntimeError("the recommender returned a measured or repeated design")
    return picked


PICKERS: dict[str, Picker] = {
    "biofab": pick_biofab,
    "gp": pick_gp,
    "metis": pick_metis,
    "random": pick_random,
}


def check_methods(methods: Sequence[str]) -> list[str]:
    """The methods, checked (InputError naming an unknown one)."""
    out = [m.strip() for m in methods if m.strip()]
    unknown = [m for m in out if m not in PICKERS]
    if unknown or not out:
        raise InputError(
            "unknown method",
            column="methods",
            expected=f"some of {list(PICKERS)}",
            found=unknown[0] if unknown else "",
        )
    return out


# -- one campaign -------------------------------------------------------------------


def run_campaign(pool: Pool, method: str, seed: int) -> Run:
    """20 random starts, then batches of 20 until a top design was picked and the
    best-so-far reached 90 % of the pool's best, or the cap is spent."""
    start = time.perf_counter()
    picker = PICKERS[method]
    n_pool = len(pool)
    cap = pool.cap
    measured = np.random.default_rng(seed).choice(n_pool, size=min(INIT, cap), replace=False)
    measured = np.asarray(measured, dtype=int)
    best = [float(pool.utility[measured].max())]
    hit_at = len(measured) if best[0] >= pool.threshold else None
    r = 0
    while (hit_at is None or pool.score(best[-1]) < NEAR_BEST - 1e-12) and len(measured) < cap:
        n = min(BATCH, cap - len(measured))
        unmeasured = np.setdiff1d(np.arange(n_pool), measured)
        picked = np.asarray(picker(pool, measured, unmeasured, n, r, seed), dtype=int)
        if len(picked) == 0:
            break
        measured = np.concatenate([measured, picked])
        top = float(pool.utility[picked].max())
        best.append(max(best[-1], top))
        if hit_at is None and top >= pool.threshold:
            hit_at = len(measured)
        r += 1
    return Run(pool.key, method, seed, hit_at, len(measured), best, time.perf_counter() - start)


def _task(job: tuple[Pool, str, int]) -> Run:
    pool, method, seed = job
    return run_campaign(pool, method, seed)


def run_suite(
    pools: Sequence[Pool],
    methods: Sequence[str],
    seeds: Sequence[int],
    *,
    jobs: int = 1,
    progress: bool = True,
) -> list[Run]:
    """Every (pool, method, seed) campaign, on ``jobs`` worker processes
    (:func:`biofab.compute.parallel_map`), the slow model-based ones first."""
    from biofab.compute import parallel_map

    order = {m: i for i, m in enumerate(("biofab", "gp", "metis", "random"))}
    tasks = [(p, m, s) for p in pools for m in methods for s in seeds]
    tasks.sort(key=lambda t: (order.get(t[1], 9), -len(t[0].space.names)))
    return parallel_map(
        _task, tasks, workers=max(1, jobs), description="replay campaigns" if progress else None
    )


# -- summaries ------------------------------------------------------------------------


def steps(pool: Pool) -> np.ndarray:
    """Experiments after each batch: 20, 40, ... up to the cap."""
    x = [min(INIT, pool.cap)]
    while x[-1] < pool.cap:
        x.append(min(x[-1] + BATCH, pool.cap))
    return np.asarray(x)


def curve_matrix(pool: Pool, runs: Sequence[Run]) -> tuple[np.ndarray, np.ndarray]:
    """Experiments after each batch and each run's best-so-far on :meth:`Pool.score`'s
    scale; a campaign that stopped keeps its best to the end."""
    x = steps(pool)
    rows = []
    for r in runs:
        c = list(r.curve) + [r.curve[-1]] * (len(x) - len(r.curve))
        rows.append(pool.score(np.asarray(c[: len(x)])))
    return x, np.asarray(rows)


def experiments_to_hit(pool: Pool, runs: Sequence[Run]) -> np.ndarray:
    return np.asarray([r.hit_at if r.hit_at is not None else pool.cap for r in runs], float)


def experiments_to_near_best(pool: Pool, runs: Sequence[Run]) -> np.ndarray:
    """Experiments until the best-so-far first reached 90 % of the best (else the cap)."""
    x, curves = curve_matrix(pool, runs)
    reached = curves >= NEAR_BEST - 1e-12
    first = np.where(reached.any(axis=1), reached.argmax(axis=1), -1)
    return np.asarray([x[i] if i >= 0 else pool.cap for i in first], float)


def summarise(pool: Pool, runs: Sequence[Run]) -> dict[str, Any]:
    """Mean, median, quartiles, misses and experiments to 90 % of the best, over seeds."""
    runs = sorted(runs, key=lambda r: r.seed)
    e = experiments_to_hit(pool, runs)
    near = experiments_to_near_best(pool, runs)
    return {
        "mean": float(e.mean()),
        "median": float(np.median(e)),
        "q25": float(np.percentile(e, 25)),
        "q75": float(np.percentile(e, 75)),
        "misses": int(sum(r.hit_at is None for r in runs)),
        "runs": len(runs),
        "seeds": [r.seed for r in runs],
        "per_run": [int(v) for v in e],
        "to_90pct_mean": float(near.mean()),
        "to_90pct_median": float(np.median(near)),
        "seconds": float(sum(r.seconds for r in runs)),
    }


def paired(mine: dict[str, Any], theirs: dict[str, Any]) -> dict[str, int]:
    """Per shared seed: biofab needed fewer experiments (win), as many (tie), more (loss)."""
    a = dict(zip(mine["seeds"], mine["per_run"], strict=True))
    b = dict(zip(theirs["seeds"], theirs["per_run"], strict=True))
    shared = sorted(set(a) & set(b))
    return {
        "wins": sum(a[s] < b[s] for s in shared),
        "ties": sum(a[s] == b[s] for s in shared),
        "losses": sum(a[s] > b[s] for s in shared),
    }


def summary_table(
    pools: Sequence[Pool], runs: Sequence[Run], methods: Sequence[str]
) -> dict[str, dict[str, dict[str, Any]]]:
    """``{pool key: {method: summarise(...)}}``."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for pool in pools:
        out[pool.key] = {}
        for m in methods:
            mine = [r for r in runs if r.pool == pool.key and r.method == m]
            if mine:
                out[pool.key][m] = summarise(pool, mine)
    return out


def published_to_near_best(pool: Pool) -> int | None:
    """Experiments the original campaign spent, in its own round order, before one of its
    designs reached 90 % of the pool's best (None without rounds)."""
    if pool.rounds is None:
        return None
    frame = pd.DataFrame({"round": pool.rounds, "u": pool.utility})
    by_round = frame.groupby("round")["u"].agg(["max", "size"]).sort_index()
    reached = pool.score(by_round["max"].cummax().to_numpy()) >= NEAR_BEST - 1e-12
    return int(by_round["size"].cumsum().to_numpy()[reached][0])


def records(
    pools: Sequence[Pool],
    summary: dict[str, dict[str, dict[str, Any]]],
    *,
    command: str,
    cores: int,
) -> list[dict[str, Any]]:
    """BENCHMARKS-GUIDE records: one per pool and peer (ratio = peer's mean experiments /
    biofab's, > 1: biofab needs fewer), plus one per pool with a published round order."""
    out: list[dict[str, Any]] = []
    today = date.today().isoformat()
    for pool in pools:
        by = summary.get(pool.key, {})
        mine = by.get("biofab")
        if mine is None:
            continue
        n_seeds = mine["runs"]
        common = {
            "better": "lower",
            "seeds": n_seeds,
            "repeats": 1,
            "cores": cores,
            "command": command,
            "date": today,
            "pool": pool.key,
            "cap": pool.cap,
        }
        for peer, theirs in by.items():
            if peer == "biofab":
                continue
            out.append(
                {
                    "metric": "experiments_to_top_0.5pct_mean",
                    "dataset": pool.describe(),
                    "biofab": mine["mean"],
                    "peer": LABELS[peer],
                    "peer_value": theirs["mean"],
                    "ratio": round(theirs["mean"] / mine["mean"], 3),
                    "target_ratio": TARGETS[peer],
                    **common,
                    "method": peer,
                    "median": {
                        "biofab": mine["median"],
                        "peer": theirs["median"],
                        "ratio": round(theirs["median"] / mine["median"], 3),
                    },
                    "paired": paired(mine, theirs),
                    "to_90pct_mean": {
                        "biofab": mine["to_90pct_mean"],
                        "peer": theirs["to_90pct_mean"],
                    },
                    "misses": {"biofab": mine["misses"], "peer": theirs["misses"]},
                }
            )
        published = published_to_near_best(pool)
        if published is not None:
            out.append(
                {
                    "metric": "experiments_to_90pct_of_best_median",
                    "dataset": pool.describe(),
                    "biofab": mine["to_90pct_median"],
                    "peer": "published campaign (its own round order)",
                    "peer_value": float(published),
                    "ratio": round(published / mine["to_90pct_median"], 3),
                    "target_ratio": None,
                    **common,
                    "method": "published",
                    "biofab_mean": mine["to_90pct_mean"],
                }
            )
    return out


# -- the report ------------------------------------------------------------------------

_COLOURS = {
    "biofab": "31,119,180",
    "gp": "44,160,44",
    "metis": "214,39,40",
    "random": "127,127,127",
}


def curves_figure(pool: Pool, runs: Sequence[Run], methods: Sequence[str]) -> Any:
    """Mean best-so-far per method, with a 25-75 % band over seeds."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for m in methods:
        mine = sorted(
            (r for r in runs if r.pool == pool.key and r.method == m), key=lambda r: r.seed
        )
        if not mine:
            continue
        x, curves = curve_matrix(pool, mine)
        lo, hi = np.percentile(curves, 25, axis=0), np.percentile(curves, 75, axis=0)
        xs = x.tolist()
        rgb = _COLOURS.get(m, "0,0,0")
        fig.add_trace(
            go.Scatter(
                x=xs + xs[::-1],
                y=np.round(np.concatenate([hi, lo[::-1]]), 4).tolist(),
                fill="toself",
                fillcolor=f"rgba({rgb},0.15)",
                line={"width": 0},
                hoverinfo="skip",
                showlegend=False,
                legendgroup=m,
            )
        )
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=np.round(curves.mean(axis=0), 4).tolist(),
                name=LABELS[m],
                line={"color": f"rgb({rgb})"},
                legendgroup=m,
            )
        )
    fig.add_hline(
        y=float(pool.score(pool.threshold)),
        line_dash="dot",
        annotation_text=f"top {pool.top_k}",
        annotation_position="bottom left",
    )
    fig.add_hline(y=NEAR_BEST, line_dash="dash", line_color="grey", annotation_text="90 %")
    fig.update_layout(
        template="plotly_white",
        xaxis_title="experiments",
        yaxis_title="best so far (1 = the pool's best)",
        height=420,
    )
    return fig


def summary_frame(
    pools: Sequence[Pool], summary: dict[str, dict[str, dict[str, Any]]]
) -> pd.DataFrame:
    """One row per pool and method: experiments to a top design, paired counts."""
    rows = []
    for pool in pools:
        by = summary.get(pool.key, {})
        mine = by.get("biofab")
        for m, s in by.items():
            pair = paired(mine, s) if mine is not None and m != "biofab" else None
            rows.append(
                {
                    "pool": pool.label,
                    "designs": len(pool),
                    "factors": len(pool.space.names),
                    "method": m,
                    "mean": s["mean"],
                    "median": s["median"],
                    "IQR": f"{s['q25']:.0f}-{s['q75']:.0f}",
                    "misses": f"{s['misses']}/{s['runs']}",
                    "to 90 % (mean)": s["to_90pct_mean"],
                    "ratio (peer/biofab)": (
                        f"{s['mean'] / mine['mean']:.2f}" if mine is not None and pair else ""
                    ),
                    "biofab W/T/L": (
                        f"{pair['wins']}/{pair['ties']}/{pair['losses']}" if pair else ""
                    ),
                    "seconds": round(s["seconds"], 1),
                }
            )
    return pd.DataFrame(rows)


def report_html(
    pools: Sequence[Pool],
    runs: Sequence[Run],
    methods: Sequence[str],
    summary: dict[str, dict[str, dict[str, Any]]],
    *,
    subtitle: str = "",
) -> str:
    """A self-contained page: the summary table, then one best-so-far figure per pool."""
    from biofab.viz import html_page

    sections: list[tuple[str, Any]] = [
        ("Experiments to a top-0.5 % design", summary_frame(pools, summary)),
        (
            "",
            "Paired seeds: every method starts from the same 20 random designs per seed. "
            "W/T/L counts seeds where biofab needed fewer / as many / more experiments "
            "than the peer; misses count as the cap.",
        ),
    ]
    for pool in pools:
        sections.append((pool.describe(), curves_figure(pool, runs, methods)))
        if pool.note:
            sections.append(("", pool.note))
    return html_page("Pool replay", sections, subtitle=subtitle)


def write_outputs(
    out: Path,
    pools: Sequence[Pool],
    runs: Sequence[Run],
    methods: Sequence[str],
    *,
    command: str,
    cores: int,
    wall: float,
) -> tuple[list[dict[str, Any]], list[Path]]:
    """``replay.json`` (records), ``replay_runs.json`` (every campaign) and
    ``replay.html`` in the existing folder ``out``, each written atomically."""
    import json
    from dataclasses import asdict

    from biofab.core.atomic import write_atomic

    summary = summary_table(pools, runs, methods)
    recs = records(pools, summary, command=command, cores=cores)
    detail = {
        "command": command,
        "date": date.today().isoformat(),
        "wall_seconds": wall,
        "pools": {p.key: p.describe() for p in pools},
        "summary": summary,
        "runs": [asdict(r) for r in runs],
    }
    html = report_html(pools, runs, methods, summary, subtitle=command)
    files = [
        write_atomic(out / "replay.json", json.dumps(recs, indent=2) + "\n"),
        write_atomic(out / "replay_runs.json", json.dumps(detail) + "\n"),
        write_atomic(out / "replay.html", html),
    ]
    return recs, files


# -- a pool from a user's CSV ---------------------------------------------------------


def std_values(
    frame: pd.DataFrame, column: str, *, file: str | None, missing_ok: bool
) -> np.ndarray:
    """A ``_std`` column as non-negative floats. An empty, ``NaN`` or text cell is an
    InputError naming the row and column, unless ``missing_ok`` (then NaN: missing)."""
    text = frame[column].astype(str).str.strip()
    values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float)
    for i in np.flatnonzero(~np.isfinite(values) | (values < 0)).tolist():
        if np.isfinite(values[i]) or not missing_ok:
            raise InputError(
                "negative spread" if np.isfinite(values[i]) else "not a number",
                file=file,
                row=i + 1,
                column=column,
                expected="a number >= 0"
                + ("" if missing_ok else " (or pass --missing-std to treat it as missing)"),
                found=text.iloc[i],
            )
        values[i] = np.nan
    return values


def pool_from_csv(
    path: str | Path,
    objective: Objective,
    *,
    factors: Sequence[str] | None = None,
    std_column: str | None = None,
    space: Space | None = None,
    missing_std: bool = False,
    budget: int = BUDGET,
) -> Pool:
    """A pool from a CSV: one row per design, factor columns, the objective column and
    optionally a std column (default ``<objective>_std`` when present).

    The space is ``space`` (its parameters must be columns; every row must lie in it) or
    inferred from the columns (:func:`biofab.core.space_infer.infer_space`). Everything
    is checked before anything runs; errors name the file, row and column.
    """
    from biofab.core.space_infer import infer_space, numeric_column, read_csv_text

    file = str(path)
    frame = read_csv_text(path)
    if objective.name not in frame.columns:
        raise InputError(
            "no objective column",
            file=file,
            column=objective.name,
            expected=f"one of {list(frame.columns)}",
        )
    values = numeric_column(frame, objective.name, file=file)
    std_name = std_column
    if std_name is None and f"{objective.name}_std" in frame.columns:
        std_name = f"{objective.name}_std"
    if std_name is not None and std_name not in frame.columns:
        raise InputError(
            "no such std column",
            file=file,
            column=std_name,
            expected=f"one of {list(frame.columns)}",
        )
    std = (
        None if std_name is None else std_values(frame, std_name, file=file, missing_ok=missing_std)
    )
    if space is None:
        space = infer_space(frame, [objective.name], factors=factors, file=file).space
    elif factors and list(factors) != space.names:
        raise InputError(
            "--factors and the space disagree",
            file=file,
            expected=f"the space's parameters {space.names}",
            found=list(factors),
        )
    designs = space.validate(frame[[c for c in space.names if c in frame.columns]], file=file)
    name = Path(path).stem
    try:
        return Pool(name, name, space, designs, values, objective, std=std, budget=budget)
    except InputError as err:
        raise err.in_file(file) from None


# -- the workflow the CLI (and a service) calls ------------------------------------------


@dataclass(frozen=True)
class ReplayRequest:
    """Replay the pool in ``data`` (CSV) with ``methods`` over seeds ``0 .. seeds-1`` and
    write ``replay.json``, ``replay_runs.json`` and ``replay.html`` into ``out`` (made
    at the end; its parent must exist). ``objective`` is ``NAME:max|min``; ``space`` a
    space YAML (default: inferred); other fields as :func:`pool_from_csv`."""

    data: Path
    objective: str
    out: Path
    factors: tuple[str, ...] | None = None
    std_column: str | None = None
    space: Path | None = None
    missing_std: bool = False
    seeds: int = 5
    methods: tuple[str, ...] = METHODS
    budget: int = BUDGET
    jobs: int = 1

    def command(self) -> str:
        """The ``biofab replay`` command line that makes this request."""
        import shlex

        shown = ["biofab", "replay", str(self.data), "--objective", self.objective]
        shown += ["--seeds", str(self.seeds), "--methods", ",".join(self.methods)]
        shown += ["--budget", str(self.budget), "--jobs", str(self.jobs)]
        if self.factors:
            shown += ["--factors", ",".join(self.factors)]
        for flag, value in (("--std-column", self.std_column), ("--space", self.space)):
            if value is not None:
                shown += [flag, str(value)]
        if self.missing_std:
            shown.append("--missing-std")
        return shlex.join([*shown, "--out", str(self.out)])


@dataclass
class ReplayResult:
    """The pool replayed, every campaign, the records written and the files, in order."""

    pool: Pool
    runs: list[Run]
    records: list[dict[str, Any]]
    files: list[Path]
    wall_seconds: float

    def to_frame(self) -> pd.DataFrame:
        """One row per method: experiments to a top design, ratio, paired W/T/L."""
        methods = list(dict.fromkeys(r.method for r in self.runs))
        summary = summary_table([self.pool], self.runs, methods)
        return summary_frame([self.pool], summary).drop(columns=["pool", "designs", "factors"])

    def to_dict(self) -> dict[str, Any]:
        return {
            "pool": self.pool.describe(),
            "records": self.records,
            "files": [str(f) for f in self.files],
            "wall_seconds": self.wall_seconds,
        }


def replay(request: ReplayRequest) -> ReplayResult:
    """Check everything (CSV, space, methods, output folder), replay, then write."""
    from biofab.core.atomic import output_folder, require_folder

    methods = check_methods(request.methods)
    if request.seeds < 1:
        raise InputError("seeds must be >= 1", column="seeds", found=request.seeds)
    space = Space.from_yaml(request.space) if request.space is not None else None
    pool = pool_from_csv(
        request.data,
        Objective.parse(request.objective),
        factors=request.factors,
        std_column=request.std_column,
        space=space,
        missing_std=request.missing_std,
        budget=request.budget,
    )
    require_folder(request.out)  # checked before a long replay; the folder is made at the end
    start = time.perf_counter()
    runs = run_suite([pool], methods, list(range(request.seeds)), jobs=request.jobs)
    wall = time.perf_counter() - start
    recs, files = write_outputs(
        output_folder(request.out),
        [pool],
        runs,
        methods,
        command=request.command(),
        cores=request.jobs,
        wall=wall,
    )
    return ReplayResult(pool, runs, recs, files, wall)
