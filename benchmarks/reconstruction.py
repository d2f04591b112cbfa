"""Draft reconstruction of Bacillus subtilis 168 from the E. coli iJO1366 template,
scored with CarveMe's benchmark protocol beside CarveMe's published scores.

Data (``--data``, default ``$BIOFAB_SHARED_DATA`` or ``../shared/data``), the
CarveMe benchmark (Machado et al. 2018, Nucleic Acids Res 46:7542; Apache-2.0):
proteomes of E. coli K-12 MG1655 (ids = iJO1366 gene ids) and B. subtilis 168,
measured gene essentiality (E/NE) and Biolog growth (+/++ grows, -/-- not).

Protocol:

1. ``biofab.metabolism.reconstruct.reconstruct``: template iJO1366 + its
   proteome, target the B. subtilis proteome, gap-filled to grow (>= 0.1 1/h) on
   M9 and then on LB (the essentiality medium). One run (minutes); runtime
   includes the homology searches unless ``--hits`` reuses saved ones (then said).
2. Essentiality on LB: a gene is essential when its deletion leaves growth below
   1 % of the draft's wild-type growth (threshold fixed before looking at any
   result); only genes in both the draft and the table are scored.
3. Biolog on M9: the tested compound replaces glucose (C), NH4 (N), phosphate (P)
   or sulfate (S); growth predicted when growth > 1 % of growth on M9; a compound
   without an exchange in the draft is predicted not to grow.
4. Sanity reference: iJO1366 itself on the E. coli tables (essentiality on M9,
   Biolog on M9). The E. coli essentiality table lists essential genes only, so
   its MCC is 0 by construction; it is also scored with every other iJO1366 gene
   counted non-essential (``unlisted = NE``), stated as such.

Peer: CarveMe cannot run here (needs its universal model and DIAMOND); its
*published* scores on the same data and protocol (Machado et al. 2018, Fig. 3,
B. subtilis): essentiality accuracy 0.901 / MCC 0.528, Biolog accuracy 0.455 /
MCC 0.112. CarveMe builds from its curated universal model (BiGG-wide), not from
one E. coli template, so the inputs differ.

Run: ``python benchmarks/reconstruction.py`` (writes
``benchmarks/results/reconstruction.json``; ``--draft PATH`` also saves the draft).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shlex
import sys
import time
from datetime import date
from pathlib import Path

from biofab.metabolism import get_medium, load_model, save_model
from biofab.metabolism.homology import build_profiles, read_fasta, search
from biofab.metabolism.phenotypes import (
    biolog_benchmark,
    essentiality_benchmark,
    read_biolog,
    read_essentiality,
)
from biofab.metabolism.reconstruct import Template, reconstruct

CARVEME = {  # Machado et al. 2018, B. subtilis, published
    ("essentiality", "accuracy"): 0.901,
    ("essentiality", "mcc"): 0.528,
    ("biolog", "accuracy"): 0.455,
    ("biolog", "mcc"): 0.112,
}
THRESHOLD = 0.01


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    root = Path(__file__).resolve().parents[1]
    default = Path(os.environ.get("BIOFAB_SHARED_DATA", root.parent / "shared" / "data"))
    ap.add_argument("--data", type=Path, default=default)
    ap.add_argument("--out", type=Path, default=root / "benchmarks" / "results")
    ap.add_argument("--draft", type=Path, default=None, help="also save the draft model here")
    ap.add_argument("--hits", type=Path, default=None, help="reuse/save homology hits (pickle)")
    ap.add_argument("--cpus", type=int, default=0)
    args = ap.parse_args(argv)
    bench = args.data / "metabolism" / "carveme_benchmark"
    media_db = bench / "media_db.tsv"
    m9, lb = get_medium("M9", media_db), get_medium("LB", media_db)

    t_start = time.perf_counter()
    template = Template.load("iJO1366", bench / "fasta" / "Ecoli_K12_MG1655.faa", "iJO1366")
    target = read_fasta(bench / "fasta" / "Bsubtilis_168.faa")
    kwargs: dict[str, object] = {}
    reused = args.hits is not None and args.hits.exists()
    if reused:
        with args.hits.open("rb") as fh:
            kwargs = pickle.load(fh)
    elif args.hits is not None:
        prof = build_profiles(template.proteome)
        kwargs = {
            "self_hits": [search(template.proteome, template.proteome, max_hits=25,
                                 profiles=prof, cpus=args.cpus)],
            "target_hits": [search(template.proteome, target, profiles=prof, cpus=args.cpus)],
        }  # fmt: skip
        with args.hits.open("wb") as fh:
            pickle.dump(kwargs, fh)
    rec = reconstruct(target, [template], [m9, lb], model_id="bsub_draft", cpus=args.cpus, **kwargs)  # type: ignore[arg-type]
    runtime = time.perf_counter() - t_start
    if args.draft:
        save_model(rec.model, args.draft)
    info = rec.summary()
    print(f"draft: {info['reactions']} reactions, {info['metabolites']} metabolites, "
          f"{info['genes']} genes; carried over {info['carried_over']}, free no-GPR "
          f"{info['free_no_gpr']}, gap-filled {info['n_gapfilled']} "
          f"(growth: M9 {len(rec.gapfilled[0].added)}, LB {len(rec.gapfilled[1].added)}; "
          f"uptake: {sum(len(g.added) for g in rec.gapfilled[2:])} reactions for "
          f"{sorted({c for g in rec.gapfilled[2:] for c in g.targets})})")  # fmt: skip
    print(f"runtime {runtime:.0f} s ({'hits reused' if reused else 'incl. homology search'}); "
          f"steps {', '.join(f'{k} {v:.0f} s' for k, v in rec.timings.items())}")  # fmt: skip

    ess = essentiality_benchmark(
        rec.model, read_essentiality(bench / "essentiality" / "bsub.tsv"), lb, threshold=THRESHOLD
    )
    bio = biolog_benchmark(
        rec.model, read_biolog(bench / "biolog" / "bsub"), m9, threshold=THRESHOLD
    )

    ijo = load_model("iJO1366")
    e_truth = read_essentiality(bench / "essentiality" / "ecol.tsv")
    e_ess = essentiality_benchmark(ijo, e_truth, m9, threshold=THRESHOLD)
    e_ess_all = essentiality_benchmark(
        ijo, {g.id: False for g in ijo.genes} | e_truth, m9, threshold=THRESHOLD
    )
    e_bio = biolog_benchmark(ijo, read_biolog(bench / "biolog" / "ecol"), m9, threshold=THRESHOLD)

    rows = [
        ("B. subtilis draft", "essentiality (LB)", ess["scores"], ess["genes_scored"]),
        ("B. subtilis draft", "Biolog (M9)", bio["scores"], bio["tests"]),
        ("E. coli iJO1366", "essentiality (M9)", e_ess["scores"], e_ess["genes_scored"]),
        ("E. coli iJO1366", "essentiality, unlisted=NE", e_ess_all["scores"], 0),
        ("E. coli iJO1366", "Biolog (M9)", e_bio["scores"], e_bio["tests"]),
    ]  # fmt: skip
    print(f"\n{'model':<19}{'test':<27}{'n':>5}{'TP':>5}{'FP':>5}{'TN':>5}{'FN':>5}"
          f"{'acc':>7}{'prec':>7}{'rec':>7}{'MCC':>7}")  # fmt: skip
    for name, test, s, _ in rows:
        counts = "".join(f"{s[k]:>5}" for k in ("n", "tp", "fp", "tn", "fn"))
        rates = "".join(f"{s[k]:>7.3f}" for k in ("accuracy", "precision", "recall", "mcc"))
        print(f"{name:<19}{test:<27}{counts}{rates}")
    print(f"\nB. subtilis essentiality: {ess['genes_scored']} of {ess['genes_in_truth']} "
          f"table genes in the draft; Biolog: {bio['without_exchange']} of {bio['tests']} "
          "compounds without an exchange (predicted no growth)")  # fmt: skip
    print("\nbeside CarveMe (peer = published number, Machado et al. 2018):")
    records = []
    command = "python benchmarks/reconstruction.py"
    for (test, metric), peer in CARVEME.items():
        ours = (ess if test == "essentiality" else bio)["scores"][metric]
        ratio = ours / peer if peer else float("nan")
        print(f"  B. subtilis {test:<13}{metric:<9} biofab {ours:6.3f}   CarveMe {peer:6.3f}   "
              f"ratio {ratio:5.2f}")  # fmt: skip
        records.append({
            "metric": f"{test}_{metric}", "dataset": "carveme_benchmark/B. subtilis 168",
            "biofab": ours, "peer": "CarveMe (published, Machado et al. 2018)",
            "peer_value": peer, "ratio": ratio, "better": "higher",
            "target_ratio": 1.0 if metric == "mcc" else None,
            "seeds": 1, "repeats": 1, "cores": os.cpu_count(), "command": command,
            "date": date.today().isoformat(),
        })  # fmt: skip
    records.append({
        "metric": "reconstruction_runtime_s", "dataset": "B. subtilis 168 from iJO1366",
        "biofab": runtime, "peer": None, "peer_value": None, "ratio": None, "better": "lower",
        "target_ratio": None, "seeds": 1, "repeats": 1, "cores": os.cpu_count(),
        "command": command + (" --hits (search reused)" if reused else ""),
        "date": date.today().isoformat(),
        "draft": info | {"essentiality": ess["scores"], "biolog": bio["scores"],
                         "biolog_by_source": bio["by_source"],
                         "essentiality_genes_scored": ess["genes_scored"]},
        "ecoli_reference": {"essentiality_m9": e_ess["scores"],
                            "essentiality_m9_unlisted_NE": e_ess_all["scores"],
                            "biolog_m9": e_bio["scores"]},
    })  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "reconstruction.json"
    path.write_text(json.dumps(records, indent=2, default=float) + "\n")
    mccs = [r for r in records if r["metric"].endswith("_mcc")]
    print("\nheadline: MCC ratio vs CarveMe — "
          + ", ".join(f"{r['metric']} {r['ratio']:.2f}x" for r in mccs))  # fmt: skip
    print(f"wrote {path}  ({shlex.join(sys.argv)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
