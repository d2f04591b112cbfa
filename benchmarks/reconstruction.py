"""Universe-backed draft reconstruction across species, scored with CarveMe's benchmark
protocol beside CarveMe's published scores.

Two runs, neither of which sees its own organism's sequences or GPRs:

* **B. subtilis 168 from the E. coli template**: iML1515's BiGG GPRs with the E. coli
  proteome, over CarveMe's Gram-positive universe, Gram-positive biomass.
* **E. coli K-12 from the B. subtilis template**: iYO844's GPRs with the B. subtilis
  proteome, over the Gram-negative universe, Gram-negative biomass.

Data (``--data``, default ``$BIOFAB_SHARED_DATA`` or ``../shared/data``): the CarveMe
benchmark and universe (Machado et al. 2018, Nucleic Acids Res 46:7542; Apache-2.0).

Method (``biofab.metabolism.reconstruct.reconstruct``): phmmer hits of the template's
genes in the target, reaction scores learned from the template against a diverged copy of
itself (no target label, no phenotype table), carry-over of satisfied GPRs, then (default;
``--no-connect`` turns it off) CarveMe's carving objective on what the draft lacks: universe
reactions that let blocked reactions with homology evidence carry flux, where their scores
outweigh the costs; weighted MILP gap-filling from the universe until the draft grows
(>= 0.1 1/h) on M9 and on LB; then (default; ``--no-medium-uptake``) the cheapest additions
that let every M9 and LB compound enter the cell (a cell given amino acids, nucleosides and
vitamins takes them up; transporters are what homology maps worst); then (default;
``--no-catabolic-uptake``) the cheapest additions that let the draft import each compound
it carries a homology-backed degradation route for (ending in growth as the sole C, N, P
or S source on M9) but cannot make itself (catabolic genes come with their transporters).
Homology hits are cached (``--cache``) so reruns skip the searches.

Protocol (fixed before any result): essentiality on LB (B. subtilis) / M9 (E. coli), a
gene essential when its deletion leaves growth below 1 % of the draft's wild type; only
genes in both the draft and the table are scored; the E. coli table lists essential
genes only, so draft genes absent from it count as non-essential (stated). Biolog on M9:
the tested compound replaces glucose (C), NH4 (N), phosphate (P) or sulfate (S); growth
when > 1 % of growth on M9; a compound without an exchange in the draft does not grow.

Peer: CarveMe cannot run here (needs DIAMOND and its own database); its *published* MCCs on
the same data and protocol (Machado et al. 2018, Fig. 3): B. subtilis essentiality 0.528,
Biolog 0.112; E. coli essentiality 0.623, Biolog 0.200. CarveMe uses its BiGG-wide gene
database (many species, including each benchmark organism's relatives), biofab one
template of the other species.

Run: ``python benchmarks/reconstruction.py`` (writes ``benchmarks/results/reconstruction.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

from biofab.metabolism import get_medium, save_model
from biofab.metabolism.homology import cached_search, read_fasta
from biofab.metabolism.phenotypes import (
    biolog_benchmark,
    essentiality_benchmark,
    read_biolog,
    read_essentiality,
)
from biofab.metabolism.reaction_scores import diverged_proteome
from biofab.metabolism.reconstruct import ReactionScorer, Template, reconstruct
from biofab.metabolism.universe import (
    gpr_template,
    load_universe,
    read_biomass,
    read_gpr_table,
    set_biomass,
)

CARVEME = {  # Machado et al. 2018, Fig. 3, published MCCs
    ("bsub", "essentiality"): 0.528,
    ("bsub", "biolog"): 0.112,
    ("ecol", "essentiality"): 0.623,
    ("ecol", "biolog"): 0.200,
}
THRESHOLD = 0.01
RUNS = {
    # target: (target FASTA, template model, template FASTA, universe/biomass, ess. medium)
    "bsub": ("Bsubtilis_168.faa", "iML1515", "Ecoli_K12_MG1655.faa", "grampos", "LB"),
    "ecol": ("Ecoli_K12_MG1655.faa", "iYO844", "Bsubtilis_168.faa", "gramneg", "M9"),
}
NAMES = {"bsub": "B. subtilis 168", "ecol": "E. coli K-12 MG1655"}


def run_one(org: str, args: argparse.Namespace) -> dict[str, Any]:
    """Reconstruct one organism from the other's template and score it."""
    bench = args.data / "metabolism" / "carveme_benchmark"
    uni_dir = args.data / "metabolism" / "carveme_universe"
    media_db = bench / "media_db.tsv"
    m9, lb = get_medium("M9", media_db), get_medium("LB", media_db)
    target_faa, tname, tfaa, gram, ess_medium = RUNS[org]
    t_start = time.perf_counter()
    universe = load_universe(uni_dir / f"universe_{gram}.xml.gz")
    set_biomass(universe, read_biomass(uni_dir / "biomass_db.tsv", gram))
    rules = read_gpr_table(uni_dir / "bigg_gprs_iYO844_iML1515.csv")[tname]
    template = gpr_template(universe, rules, read_fasta(bench / "fasta" / tfaa), tname)
    target = read_fasta(bench / "fasta" / target_faa)
    rec = reconstruct(
        target, [template], [m9, lb], model_id=f"{org}_draft", cpus=args.cpus,
        cache=args.cache, seed=args.seed, medium_uptake=args.medium_uptake,
        training=args.training, universe_score=args.universe_score, connect=args.connect,
        time_limit=args.time_limit, catabolic_uptake=args.catabolic_uptake,
    )  # fmt: skip
    runtime = time.perf_counter() - t_start
    if args.drafts:
        args.drafts.mkdir(parents=True, exist_ok=True)
        save_model(rec.model, args.drafts / f"{org}_draft.xml")
    info = rec.summary()
    check = score_check(template, args)
    truth = read_essentiality(bench / "essentiality" / f"{org}.tsv")
    if org == "ecol":  # the table lists essential genes only
        truth = {g.id: False for g in rec.model.genes} | truth
    med = lb if ess_medium == "LB" else m9
    ess = essentiality_benchmark(rec.model, truth, med, threshold=THRESHOLD)
    bio = biolog_benchmark(rec.model, read_biolog(bench / "biolog" / org), m9, threshold=THRESHOLD)
    print(f"\n{NAMES[org]} from {tname} over the {gram} universe: {info['reactions']} "
          f"reactions, {info['genes']} genes; carried {info['carried_over']}, free "
          f"{info['free_no_gpr']}, gap-filled {info['n_gapfilled']}; runtime {runtime:.0f} s "
          f"(searches cached: {len(rec.searches_cached)})")  # fmt: skip
    print("  stages: " + ", ".join(f"{k} {v:.0f} s" for k, v in rec.timings.items()))
    print("  MILPs: " + "; ".join(
        f"{g.goal} {len(g.added)} added, cost {g.cost:.2f}, {g.status}, gap {g.gap:.2g}"
        for g in rec.gapfilled))  # fmt: skip
    for test, res in (("essentiality", ess), ("biolog", bio)):
        s = res["scores"]
        print(f"  {test:<13} n {int(s['n']):>4}  TP {int(s['tp']):>3} FP {int(s['fp']):>3} "
              f"TN {int(s['tn']):>3} FN {int(s['fn']):>3}  acc {s['accuracy']:.3f}  "
              f"MCC {s['mcc']:.3f}   CarveMe MCC {CARVEME[(org, test)]:.3f}")  # fmt: skip
    return {"org": org, "template": tname, "universe": gram, "runtime_s": runtime,
            "draft": info, "essentiality": ess, "biolog": bio,
            "essentiality_medium": ess_medium, "score_check": check}  # fmt: skip


def score_check(template: Template, args: argparse.Namespace) -> dict[str, Any]:
    """Training-side check of the reaction scores, template only (no target, no table).

    The template's genes are split into two halves by homology family (single linkage
    over its self-search hits, so no paralog crosses the split; seeded); a scorer is
    trained on the first half either by divergence or on paralogs, and both are scored
    on the second half's hits against the diverged copy (held-out "orthologs"): ROC AUC,
    Brier score, and mean predicted probability beside the observed positive rate."""
    import numpy as np
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from sklearn.metrics import brier_score_loss, roc_auc_score

    prot = template.proteome
    self_hits, _ = cached_search(prot, prot, cache=args.cache, max_hits=25, cpus=args.cpus)
    copies, origin = diverged_proteome(prot, seed=args.seed)
    div_hits, _ = cached_search(prot, copies, cache=args.cache, max_hits=25, cpus=args.cpus)
    ids = sorted(prot)
    ix = {g: i for i, g in enumerate(ids)}
    pairs = np.array([(ix[h.query], ix[h.target]) for h in self_hits]).reshape(-1, 2)
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), (len(ids),) * 2)
    _, fam = connected_components(graph, directed=False)
    rng = np.random.default_rng(args.seed)
    test_fams = set(rng.permutation(fam.max() + 1)[: (fam.max() + 1) // 2].tolist())
    test = {g for g in ids if fam[ix[g]] in test_fams}

    def part(hits: list[Any], genes: set[str], keep_target: bool) -> list[Any]:
        return [
            h for h in hits
            if h.query in genes and (not keep_target or h.target in genes)
        ]  # fmt: skip

    train = set(ids) - test
    Xd, yd = ReactionScorer.labelled_set(template, part(div_hits, train, False), self_hits, origin)
    Xp, yp = ReactionScorer.training_set(template, part(self_hits, train, True))
    Xt, yt = ReactionScorer.labelled_set(template, part(div_hits, test, False), self_hits, origin)
    out: dict[str, Any] = {
        "families": int(fam.max() + 1), "test_genes": len(test), "test_rows": len(yt),
        "test_positive_rate": float(yt.mean()),
    }  # fmt: skip
    for name, X, y in (("divergence", Xd, yd), ("paralogs", Xp, yp)):
        p = ReactionScorer().fit(X, y).predict_proba(Xt)
        out[name] = {
            "train_rows": len(y), "auc": float(roc_auc_score(yt, p)),
            "brier": float(brier_score_loss(yt, p)), "mean_p": float(p.mean()),
            "mean_p_positives": float(p[yt == 1].mean()),
        }  # fmt: skip
    print(f"  score check ({template.name}, held-out families, {len(yt)} rows, positive "
          f"rate {yt.mean():.3f}): " + "; ".join(
              f"{k} AUC {out[k]['auc']:.3f} Brier {out[k]['brier']:.3f} mean p "
              f"{out[k]['mean_p']:.3f} (positives {out[k]['mean_p_positives']:.3f})"
              for k in ("divergence", "paralogs")))  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = Path(__file__).resolve().parents[1]
    default = Path(os.environ.get("BIOFAB_SHARED_DATA", root.parent / "shared" / "data"))
    ap.add_argument("--data", type=Path, default=default)
    ap.add_argument("--out", type=Path, default=root / "benchmarks" / "results")
    ap.add_argument("--cache", type=Path, default=root / ".cache" / "homology",
                    help="folder of saved homology hits (reused when present)")  # fmt: skip
    ap.add_argument("--drafts", type=Path, default=None, help="also save the drafts here")
    ap.add_argument("--organisms", default="bsub,ecol")
    ap.add_argument("--cpus", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0, help="seed of the diverged template copy")
    ap.add_argument("--training", default="divergence", choices=("divergence", "paralogs"))
    ap.add_argument("--universe-score", type=float, default=0.0)
    ap.add_argument(
        "--medium-uptake",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="make every M9/LB compound importable (on by default)",
    )
    ap.add_argument(
        "--connect",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="first unblock reactions with evidence (CarveMe's carving objective)",
    )
    ap.add_argument(
        "--catabolic-uptake",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="import what the draft catabolises by homology but cannot make (on by default)",
    )
    ap.add_argument("--time-limit", type=float, default=120.0, help="per MILP, s")
    args = ap.parse_args(argv)
    args.cache.parent.mkdir(parents=True, exist_ok=True)
    orgs = [o.strip() for o in args.organisms.split(",") if o.strip()]
    results = [run_one(o, args) for o in orgs]

    command = shlex.join(["python", "benchmarks/reconstruction.py", *(argv or sys.argv[1:])])
    records: list[dict[str, Any]] = []
    print("\nbeside CarveMe (peer = published number, Machado et al. 2018):")
    for r in results:
        org = r["org"]
        for test in ("essentiality", "biolog"):
            ours = r[test]["scores"]["mcc"]
            peer = CARVEME[(org, test)]
            ratio = ours / peer
            print(f"  {NAMES[org]:<20} {test:<13} biofab {ours:6.3f}   CarveMe {peer:6.3f}   "
                  f"ratio {ratio:5.2f}")  # fmt: skip
            records.append({
                "metric": f"{test}_mcc",
                "dataset": f"carveme_benchmark/{NAMES[org]} from {r['template']} "
                           f"(+ {r['universe']} universe)",
                "biofab": ours, "peer": "CarveMe (published, Machado et al. 2018)",
                "peer_value": peer, "ratio": ratio, "better": "higher", "target_ratio": 1.0,
                "seeds": 1, "repeats": 1, "cores": os.cpu_count(), "command": command,
                "date": date.today().isoformat(),
                "scores": r[test]["scores"],
            })  # fmt: skip
        records.append({
            "metric": "reconstruction_runtime_s", "dataset": f"{NAMES[org]} from {r['template']}",
            "biofab": r["runtime_s"], "peer": None, "peer_value": None, "ratio": None,
            "better": "lower", "target_ratio": None, "seeds": 1, "repeats": 1,
            "cores": os.cpu_count(), "command": command, "date": date.today().isoformat(),
            "draft": r["draft"], "essentiality_medium": r["essentiality_medium"],
            "essentiality_genes_scored": r["essentiality"]["genes_scored"],
            "biolog_without_exchange": r["biolog"]["without_exchange"],
            "biolog_by_source": r["biolog"]["by_source"],
            "score_check_template_only": r["score_check"],
            "config": {"connect": args.connect, "medium_uptake": args.medium_uptake,
                       "catabolic_uptake": args.catabolic_uptake,
                       "time_limit_s": args.time_limit, "seed": args.seed,
                       "training": args.training},
        })  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "reconstruction.json"
    path.write_text(json.dumps(records, indent=2, default=float) + "\n")
    mccs = [r for r in records if r["metric"].endswith("_mcc")]
    print("\nheadline: MCC ratio vs CarveMe — "
          + ", ".join(f"{r['dataset'].split(' from')[0].split('/')[-1]} {r['metric']} "
                      f"{r['ratio']:.2f}x" for r in mccs))  # fmt: skip
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
