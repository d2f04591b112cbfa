"""Dev screen for the kcat std (issue 14 item 2): candidate error descriptors.

For each outer fold of a grouped CV inside the val file only, fit KcatModel, then dump
per row: residual and candidate descriptors, both for the model's internal grouped
out-of-fold rows (what a std head is fitted on) and for the outer test rows (what it is
scored on). ``analyse`` then scores single rankers and std heads fitted on the internal
rows. Never touches the test file.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from biofab.parts.kcat import TARGET, KcatModel, ec_levels, load_catpred
from parts_kcat import grouped_folds  # the benchmark's own folds, one definition

ROOT = Path(__file__).resolve().parents[1]
P0 = 428 + 1029 + 192 + 1024  # first prior column in X
SUB = slice(428, 428 + 1029)
PROD = slice(428 + 1029 + 192, P0)
PROT = slice(0, 428)


def wknn(sim: np.ndarray, y: np.ndarray, k: int = 5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """weighted mean, best sim, weighted spread of the k nearest by ``sim`` (-inf excluded)."""
    top = np.argpartition(-sim, k - 1, axis=1)[:, :k]
    ts = np.take_along_axis(sim, top, axis=1)
    valid = np.isfinite(ts)
    w = np.where(valid, np.clip(np.where(valid, ts, 0), 1e-6, None) ** 4, 0.0)
    tot = np.maximum(w.sum(axis=1), 1e-12)
    vals = y[top]
    m = (w * vals).sum(axis=1) / tot
    sp = np.sqrt((w * (vals - m[:, None]) ** 2).sum(axis=1) / tot)
    best = np.max(np.where(valid, ts, -1.0), axis=1)
    return m, best, sp


def ec_codes(ecs: list[str], depth: int) -> np.ndarray:
    codes: dict[str, int] = {}
    return np.array(
        [
            codes.setdefault(lv[depth - 1], len(codes)) if len(lv) >= depth else -1
            for lv in (ec_levels(e) for e in ecs)
        ]
    )


def descriptors(
    q_ec: list[str],
    r_ec: list[str],
    r_y: np.ndarray,
    tan: np.ndarray,
    allowed: np.ndarray,
    mean: np.ndarray,
    priors: np.ndarray,
    Fq: np.ndarray,
) -> dict[str, np.ndarray]:
    """Candidate descriptors of query rows against allowed training rows."""
    out: dict[str, np.ndarray] = {}
    t = np.where(allowed, tan, -np.inf)
    sm, sbest, ssp = wknn(t, r_y)
    out["sub_best_tan"] = sbest
    out["sub_knn_spread"] = ssp
    out["abs_subknn_mean"] = np.abs(sm - mean)
    out["abs_subknn_ecm"] = np.abs(sm - priors[:, 4])
    allc = ec_codes(q_ec + r_ec, 3)
    qc, rc = allc[: len(q_ec)], allc[len(q_ec) :]
    same3 = (qc[:, None] == rc[None, :]) & (qc[:, None] >= 0) & allowed
    out["sub_best_tan_same_ec3"] = np.max(np.where(same3, tan, 0.0), axis=1)
    # class sizes at the longest shared prefix
    cnt = np.zeros(len(q_ec))
    std4 = np.full(len(q_ec), np.nan)
    for depth in (1, 2, 3, 4):
        allc = ec_codes(q_ec + r_ec, depth)
        qc, rc = allc[: len(q_ec)], allc[len(q_ec) :]
        same = (qc[:, None] == rc[None, :]) & (qc[:, None] >= 0) & allowed
        c = same.sum(axis=1)
        cnt = np.where(c > 0, c, cnt)
        if depth == 4:
            mu = (same @ r_y) / np.maximum(c, 1)
            var = (same @ r_y**2) / np.maximum(c, 1) - mu**2
            std4 = np.where(c >= 2, np.sqrt(np.clip(var, 0, None)), np.nan)
    out["log_ec_count"] = np.log1p(cnt)
    out["ec4_std"] = std4
    out["z_mean_ecm"] = np.abs(mean - priors[:, 4]) / np.maximum(priors[:, 6], 0.1)
    out["mean"] = mean
    out["neg_mean"] = -mean
    out["abs_mean_centre"] = np.abs(mean - np.mean(r_y))
    out["n_mols"] = Fq[:, 428 + 1024]
    out["heavy"] = Fq[:, 428 + 1025]
    out["logp"] = Fq[:, 428 + 1026]
    out["tpsa"] = Fq[:, 428 + 1027]
    out["charge"] = Fq[:, 428 + 1028]
    out["loglen"] = Fq[:, 420]
    out["ec1"] = np.array([float(lv[0]) if lv else 0.0 for lv in (ec_levels(e) for e in q_ec)])
    return out


def view_fit_predict(model: KcatModel, X: np.ndarray, y: np.ndarray, Xq: np.ndarray, seed: int):
    import xgboost as xgb

    preds = {}
    cols = {
        "seq": np.r_[np.arange(0, 428), [P0, P0 + 1]],
        "sub": np.r_[np.arange(428, 428 + 1029), np.arange(428 + 1029 + 192, P0)],
    }
    for name, c in cols.items():
        reg = xgb.XGBRegressor(
            n_estimators=150, max_depth=4, learning_rate=0.05, subsample=0.8,
            colsample_bytree=0.3, min_child_weight=2, n_jobs=1, random_state=seed,
            tree_method="hist", max_bin=32,
        )  # fmt: skip
        reg.fit(X[:, c], y)
        preds[name] = reg.predict(Xq[:, c])
    return preds


def run(args: argparse.Namespace) -> None:
    KcatModel._keep_fit_data = True
    val = load_catpred([args.data / "enzymes" / "catpred_kcat_random_val.csv"])
    if args.groups == "c40":
        groups = val["sequence_40cluster"].to_numpy()
    else:
        cl = pd.read_csv(ROOT / "benchmarks/results/kcat_cache/clusters_val_test.csv")
        cl = cl[cl["source"] == "catpred_kcat_random_val.csv"].sort_values("row")
        groups = cl["identity20"].to_numpy()
        assert len(groups) == len(val)
    y = val[TARGET].to_numpy()
    recs_int: list[pd.DataFrame] = []
    recs_test: list[pd.DataFrame] = []
    for f, te in enumerate(grouped_folds(groups, args.folds, args.seed)):
        t0 = time.perf_counter()
        tr = np.setdiff1d(np.arange(len(val)), te)
        m = KcatModel(n_members=args.members, seed=args.seed, n_jobs=1).fit(val.iloc[tr])
        mean, std = m.predict(val.iloc[te])
        d = m._fit_data
        # internal rows
        ok = d["ok"]
        allowed = ~d["related"]
        r_ec = d["ec"]
        r_y = d["target"]
        di = descriptors(
            [r_ec[i] for i in np.flatnonzero(ok)], r_ec, r_y, d["tan"][ok], allowed[ok],
            d["grp_pred"][ok], d["far"][ok], d["F"][ok],
        )  # fmt: skip
        zi = m._std_inputs(d["far"][ok], d["grp_pred"][ok])
        # views on internal folds
        fold = m._calibration_fold
        vi = {"seq": np.full(len(r_y), np.nan), "sub": np.full(len(r_y), np.nan)}
        for k in range(fold.max() + 1):
            tk = fold == k
            trk = ~tk & ~d["related"][:, tk].any(axis=1)
            p = view_fit_predict(m, d["X"][trk], r_y[trk], d["Xfar"][tk], k)
            for kk in vi:
                vi[kk][tk] = p[kk]
        # test rows
        te_df = validate_frame_like(val.iloc[te])
        sim, tan = m._similarities(te_df)
        prior = m._priors_from(te_df, sim, tan, None)

        Fq = m._features(te_df)
        Xq = np.hstack([Fq, m._tree_priors(prior)])
        dt = descriptors(
            list(te_df["ec"]), r_ec, r_y, tan, np.ones_like(tan, dtype=bool), mean, prior, Fq
        )
        zt = m._std_inputs(prior, mean)
        vt = view_fit_predict(m, d["X"], r_y, Xq, 99)
        preds = np.vstack([mm.predict(Xq) for mm in m.members_])
        for name, dd, z, res, v, prm, extra in (
            ("int", di, zi, r_y[ok] - d["grp_pred"][ok], {k: vv[ok] for k, vv in vi.items()},
             d["far"][ok], {}),
            ("test", dt, zt, y[te] - mean, vt, prior,
             {"spread": preds.std(axis=0), "std_model": std}),
        ):  # fmt: skip
            frame = pd.DataFrame(dd)
            for j, nm in enumerate(
                [
                    "one",
                    "best",
                    "pbest",
                    "ecdepth",
                    "kspread",
                    "ecstd",
                    "abs_mean_ecm",
                    "abs_knn_ecm",
                ]
            ):
                if nm != "one":
                    frame[nm] = z[:, j]
            frame["view_seq"] = v["seq"]
            frame["view_sub"] = v["sub"]
            frame["ecm"] = prm[:, 4]
            frame["knn"] = prm[:, 0]
            for k2, vv in extra.items():
                frame[k2] = vv
            frame["res"] = res
            frame["outer_fold"] = f
            frame["row"] = tr[ok] if name == "int" else te
            (recs_int if name == "int" else recs_test).append(frame)
        print(f"fold {f}: {len(te)} rows {time.perf_counter() - t0:.0f} s", flush=True)
    out = args.out
    pd.concat(recs_int).to_csv(out.with_suffix(".int.csv"), index=False)
    pd.concat(recs_test).to_csv(out.with_suffix(".test.csv"), index=False)
    print("wrote", out)


def validate_frame_like(df: pd.DataFrame) -> pd.DataFrame:
    from biofab.parts.kcat import validate_frame

    return validate_frame(df)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", type=Path, default=Path(os.environ.get("BIOFAB_SHARED_DATA", "")))
    p.add_argument("--groups", default="c40", choices=["c40", "id20"])
    p.add_argument("--folds", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--members", type=int, default=2)
    p.add_argument("--out", type=Path, default=Path("/tmp/kcat5_screen"))
    run(p.parse_args())


if __name__ == "__main__":
    main()
