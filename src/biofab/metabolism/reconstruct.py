"""Draft genome-scale models for a new organism from curated templates.

Pipeline (:func:`reconstruct`):

1. **Homology.** Every template gene with a protein sequence is searched against
   the target proteome with ``phmmer`` (:mod:`biofab.metabolism.homology`). Each
   target protein is *mapped* to its best-scoring template gene (a target-centric
   best hit, as CarveMe maps genes to its universal model; Machado et al. 2018,
   Nucleic Acids Res 46:7542); several target proteins mapped to one template gene
   become isozymes (OR) — but only orthologs and in-paralogs: when the template
   gene has a reciprocal best hit in the target, another protein mapped to it stays
   only if it is closer to that ortholog than the ortholog is to the template gene
   (InParanoid's rule, :func:`drop_out_paralogs`); older paralogs would hide
   essential genes behind false isozymes.
2. **Carry-over.** A template reaction whose GPR is satisfied by mapped genes
   (AND: every subunit mapped; OR: any alternative) enters the draft, its GPR
   rewritten in the target's gene ids with unmapped alternatives dropped.
3. **Scores.** Every template reaction gets a score in [0, 1], the estimated
   probability that the target carries it out (see *Learning the scores*).
4. **Connecting** (optional, ``connect=True``). CarveMe's carving objective on
   what the draft lacks (:func:`~biofab.metabolism.gapfill.gapfill_connect`):
   carried-over reactions that cannot carry flux in the draft (every exchange
   open) are unblocked where their scores outweigh the costs of the candidates
   they need, e.g. the transporter of a catabolic pathway found by homology.
5. **Weighted gap-filling.** Reactions left out are candidates with cost
   ``1 - score`` (:mod:`biofab.metabolism.gapfill`); the cheapest set that lets
   the draft grow (>= ``min_growth`` 1/h) is added, medium after medium.
6. **Medium uptake** (optional, ``medium_uptake=True``; off by default: over the
   single E. coli template it lowered B. subtilis essentiality agreement, over
   CarveMe's universe with ``connect`` it raised it, so the cross-species benchmark
   turns it on; see BENCHMARKS.md). Then, per
   medium, the cheapest candidates that make every medium compound *usable* (it
   can enter the cell: uptake >= ``min_uptake``) are added, for the compounds
   the template can take up at all. Growth alone does not ask for this: a draft
   that lacks the transporter of a vitamin in the medium grows by making the
   vitamin, and its biosynthesis genes then look essential. Transporters are
   what homology maps worst (large paralogous families, specificity rarely
   conserved), while the medium itself is evidence that the compound is there
   to be used (CarveMe likewise gap-fills on the media a model is meant for;
   Machado et al. 2018).
7. **Catabolic uptake** (optional, ``catabolic_uptake=True``): the cheapest
   candidates that let the draft import each compound it can catabolise but not
   import (:func:`~biofab.metabolism.gapfill.gapfill_catabolic`): its cytosolic
   form takes part in a carried-over (homology) reaction, supplied in the cytosol
   it replaces the first medium's source of C, N, P or S with growth >=
   ``min_growth``, and the draft cannot make it. Catabolic genes travel with their
   uptake systems (sugar and polyol operons carry their transporters), and a
   degradation enzyme for a compound the cell cannot make exists for a compound
   that comes from outside; the transporter is what homology misses.

**Learning the scores without the answer.** No label from the target organism
(nor any benchmark table) is used. By default (``training="divergence"``) the
labels come from the template and a *diverged copy* of it
(:mod:`biofab.metabolism.reaction_scores`: residues substituted at 20-75 %, 30 %
of genes lost so that paralogs become best hits): for every template gene ``g``,
every copy ``h`` it hits and every reaction ``r`` that ``g`` catalyses, the
sample is labelled 1 when the gene ``h`` was copied from catalyses ``r`` in the
template's GPRs. These are ortholog-like pairs at cross-species identities, the
question asked of a target protein ``t`` best-hitting ``g``. The older scheme
(``training="paralogs"``) labels hits of the template against itself; homologs
within one genome are paralogs, which diverge in function more often than
orthologs, so its scores ran near 1e-4 for cross-species orthologs and the
weighted gap-filling degenerated to minimum count. Features: alignment strength
(identity, coverage of both sequences, bit score, bit score relative to ``g``'s
self-score and to the best template hit of the same protein) and the reaction's
context (GPR size, complex or isozymes, transport, number of compartments and
metabolites). It is a gradient-boosted tree model (scikit-learn
``HistGradientBoostingClassifier``) constrained to be monotone non-decreasing in
every alignment-strength feature, so better alignments never score lower. Per
reaction, gene probabilities (best target protein per template gene) are
combined through the GPR: OR takes the maximum, AND the mean, so a complex with
some subunits found keeps partial credit.

**Templates over a universe** (:mod:`biofab.metabolism.universe`). A template may
be a curated organism's GPRs laid over a universal reaction model (CarveMe's);
it then *knows* only the reactions it links to genes (``Template.known``). The
universe's other reactions are *universe-only*: scored ``universe_score`` (0 by
default), candidates for gap-filling, never free except the diffusion of a single
compound.

**Saved homology.** With ``cache`` every search is stored in a folder, keyed by a
hash of both proteomes and the search settings (:func:`~biofab.metabolism.homology.
cached_search`), and read back by any later call; each stage is timed
(``Reconstruction.timings``) and reported through :mod:`biofab.core.progress`.

Reactions without a GPR (spontaneous, diffusion, maintenance) get the score
``no_gpr_score`` (0.5 by default: no evidence either way) and enter the draft
for free when all their metabolites are already in it, or when they only move
compounds the draft already has between compartments (diffusion): they cannot
add new chemistry then. A template gene without a protein sequence (a
pseudo-gene such as BiGG's spontaneous ``s0001``) is no homology evidence, so a
reaction it alone satisfies counts as a reaction without GPR. The free rules are
applied until nothing changes (diffusion into the periplasm lets the outer-
membrane step in). Exchange reactions are boundaries and always free; the draft
keeps those of the extracellular metabolites it ends up with.

Transport between the template's extracellular space and its periplasm (outer-
membrane porins of a Gram-negative template) is, by default, free connectivity:
whether or not the target has an outer membrane, a compound that reaches the
periplasm of the template reaches the inner membrane of the target. This is a
rule about the template's compartments, applied to every target alike.

With several templates, each is mapped and scored alone; a reaction's score is
the mean over templates (0 where a template lacks it or does not know it), so
reactions found in more templates score higher (reaction frequency); its
stoichiometry comes from the first template that has it and its GPR from the
first template that satisfies it (else the first that knows it). Reactions are
matched across templates by id, so templates must share a namespace (BiGG).
"""

from __future__ import annotations

import ast
import os
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from biofab.core.errors import InputError, ModelError
from biofab.core.progress import progress
from biofab.metabolism.gapfill import (
    GapfillResult,
    gapfill_catabolic,
    gapfill_connect,
    gapfill_media,
    gapfill_uptake,
)
from biofab.metabolism.homology import (
    Hit,
    best_hits,
    build_profiles,
    cached_search,
    read_fasta,
    search,
    subset,
)
from biofab.metabolism.media import Medium

if TYPE_CHECKING:
    import cobra

FEATURES = (
    "identity",
    "query_coverage",
    "target_coverage",
    "log2_bitscore",
    "norm_bitscore",
    "best_ratio",
    "n_genes",
    "is_complex",
    "n_isozymes",
    "is_transport",
    "n_compartments",
    "n_metabolites",
)
# +1: the score may only rise with the feature (alignment strength).
_MONOTONE = (1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0)


# -- templates ------------------------------------------------------------------
@dataclass
class Template:
    """A curated model and the protein sequences of its genes (gene id -> sequence).

    ``known``: the reactions this template vouches for (None: all of its model's).
    A template laid over a universe (:func:`biofab.metabolism.universe.gpr_template`)
    knows only the reactions it links to genes; the universe's other reactions are
    candidates for gap-filling, never free. ``dropped``: rules the model lacked.
    """

    model: cobra.Model
    proteome: dict[str, str]
    name: str = "template"
    known: set[str] | None = None
    dropped: int = 0

    @classmethod
    def load(
        cls, model: str | cobra.Model, fasta: str | os.PathLike[str], name: str | None = None
    ) -> Template:
        """A template from a model (path, shipped name or object) and a protein FASTA
        whose ids are the model's gene ids; raises :class:`InputError` when none match."""
        from biofab.metabolism.io import load_model

        m = load_model(model) if isinstance(model, str) else model
        seqs = read_fasta(fasta)
        genes = {g.id for g in m.genes}
        prot = subset(seqs, genes)
        if not prot:
            raise InputError(
                "no FASTA id is a gene of the template model",
                file=str(fasta),
                expected=f"ids like {', '.join(sorted(genes)[:3])}",
                found=next(iter(seqs)),
            )
        return cls(m, prot, name or m.id or "template")


# -- GPR helpers ----------------------------------------------------------------
def _gpr_fold(
    node: ast.AST | None,
    leaf: Callable[[str], Any],
    and_: Callable[[list[Any]], Any],
    or_: Callable[[list[Any]], Any],
) -> Any:
    if node is None:
        return None
    if isinstance(node, ast.Expression):
        return _gpr_fold(node.body, leaf, and_, or_)
    if isinstance(node, ast.Name):
        return leaf(node.id)
    if isinstance(node, ast.BoolOp):
        kids = [_gpr_fold(v, leaf, and_, or_) for v in node.values]
        return and_(kids) if isinstance(node.op, ast.And) else or_(kids)
    raise ModelError("unsupported GPR expression", found=ast.dump(node))


def gpr_structure(rxn: cobra.Reaction) -> tuple[int, bool, int]:
    """(number of genes, has an AND (complex), number of OR alternatives at the top)."""
    body = rxn.gpr.body
    n = len(rxn.genes)
    if body is None:
        return 0, False, 0
    complex_ = " and " in rxn.gene_reaction_rule
    top = len(body.values) if isinstance(body, ast.BoolOp) and isinstance(body.op, ast.Or) else 1
    return n, complex_, top


def gpr_score(rxn: cobra.Reaction, gene_prob: dict[str, float]) -> float | None:
    """Combine per-gene probabilities through the GPR (OR: max, AND: mean); None: no GPR."""
    return _gpr_fold(
        rxn.gpr.body,
        lambda g: gene_prob.get(g, 0.0),
        lambda xs: float(np.mean(xs)),
        lambda xs: float(max(xs)),
    )


def rename_gpr(rxn: cobra.Reaction, mapping: dict[str, list[str]], *, strict: bool) -> str | None:
    """The GPR of ``rxn`` in target gene ids (``mapping``: template gene -> target genes).

    ``strict`` (carry-over): an unmapped gene is absent, so an AND with it fails
    and an OR drops it; returns None when the whole rule fails. Not ``strict``
    (gap-filled reactions, known to be present): unmapped genes are unknown and
    simply left out; returns ``""`` when nothing is mapped.
    """
    UNKNOWN = ""

    def leaf(g: str) -> str | bool:
        ts = mapping.get(g, [])
        if not ts:
            return False if strict else UNKNOWN
        return ts[0] if len(ts) == 1 else "(" + " or ".join(ts) + ")"

    def and_(xs: list[str | bool]) -> str | bool:
        if any(x is False for x in xs):
            return False
        parts = [x for x in xs if isinstance(x, str) and x]
        if not parts:
            return UNKNOWN
        return parts[0] if len(parts) == 1 else " and ".join(_wrap(p) for p in parts)

    def or_(xs: list[str | bool]) -> str | bool:
        parts = list(dict.fromkeys(x for x in xs if isinstance(x, str) and x))
        if not parts:
            return False if all(x is False for x in xs) else UNKNOWN
        return parts[0] if len(parts) == 1 else "(" + " or ".join(parts) + ")"

    res = _gpr_fold(rxn.gpr.body, leaf, and_, or_)
    if res is None:
        return ""
    if res is False:
        return None
    return str(res)


def _wrap(expr: str) -> str:
    return expr if " or " not in expr or expr.startswith("(") else f"({expr})"


def _is_transport(rxn: cobra.Reaction) -> bool:
    return len(rxn.compartments) > 1


def _base(met: cobra.Metabolite) -> str:
    """A metabolite's compound id without its compartment suffix (BiGG ``_c``, ``_p``)."""
    suffix = f"_{met.compartment}"
    return met.id[: -len(suffix)] if met.compartment and met.id.endswith(suffix) else met.id


def _is_diffusion(rxn: cobra.Reaction) -> bool:
    """A translocation of one compound alone (O2, CO2, water across a membrane)."""
    return _is_translocation(rxn) and len({_base(m) for m in rxn.metabolites}) == 1


def _is_translocation(rxn: cobra.Reaction) -> bool:
    """A reaction that only moves compounds between compartments (net zero per compound)."""
    if len(rxn.compartments) < 2:
        return False
    net: dict[str, float] = defaultdict(float)
    for met, coef in rxn.metabolites.items():
        net[_base(met)] += coef
    return all(abs(v) < 1e-9 for v in net.values())


# -- the scoring model ------------------------------------------------------------
def _features(
    hit: Hit, self_score: float, best: float, rxn_feats: tuple[float, ...]
) -> list[float]:
    """Alignment strength of ``hit`` (``best``: the best bit score of its target protein
    against any template gene, so 1.0 marks the target's best hit) and reaction context."""
    return [
        hit.identity,
        hit.query_coverage,
        hit.target_coverage,
        float(np.log2(max(hit.bitscore, 1.0))),
        hit.bitscore / self_score if self_score > 0 else 0.0,
        hit.bitscore / best if best > 0 else 0.0,
        *rxn_feats,
    ]


def _best_of_target(hits: Sequence[Hit]) -> dict[str, float]:
    """Per target protein, its best bit score against a query other than itself."""
    best: dict[str, float] = {}
    for h in hits:
        if h.query != h.target and h.bitscore > best.get(h.target, 0.0):
            best[h.target] = h.bitscore
    return best


def _reaction_features(rxn: cobra.Reaction) -> tuple[float, ...]:
    n, complex_, iso = gpr_structure(rxn)
    return (
        float(n),
        float(complex_),
        float(iso),
        float(_is_transport(rxn)),
        float(len(rxn.compartments)),
        float(len(rxn.metabolites)),
    )


class ReactionScorer:
    """P(a protein homologous to template gene g carries out g's reaction r).

    Trained by :meth:`fit_template` from a template's own GPRs and a search of
    its proteome against itself (see the module docstring); scikit-learn style
    :meth:`fit` / :meth:`predict_proba` on the :data:`FEATURES` matrix.
    """

    def __init__(self, *, random_state: int = 0, max_iter: int = 200) -> None:
        self.random_state = random_state
        self.max_iter = max_iter
        self.model_: Any = None
        self.n_train_: int = 0
        self.positive_rate_: float = float("nan")

    def fit(self, X: np.ndarray, y: np.ndarray) -> ReactionScorer:
        from sklearn.ensemble import HistGradientBoostingClassifier

        y = np.asarray(y, dtype=int)
        if len(set(y.tolist())) < 2:
            raise ModelError(
                "cannot learn reaction scores: the template gives one class only",
                expected="homologous genes with and without shared reactions",
            )
        self.model_ = HistGradientBoostingClassifier(
            max_iter=self.max_iter,
            learning_rate=0.1,
            max_leaf_nodes=15,
            monotonic_cst=list(_MONOTONE),
            random_state=self.random_state,
        ).fit(np.asarray(X, dtype=float), y)
        self.n_train_ = len(y)
        self.positive_rate_ = float(np.mean(y))
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Probability of the positive class for each row of ``X``."""
        if self.model_ is None:
            raise ModelError("ReactionScorer is not fitted")
        if len(X) == 0:
            return np.zeros(0)
        return np.asarray(self.model_.predict_proba(np.asarray(X, dtype=float))[:, 1])

    @staticmethod
    def training_set(template: Template, self_hits: Sequence[Hit]) -> tuple[np.ndarray, np.ndarray]:
        """Features and labels from a template searched against itself (self hits kept
        only for the self-scores)."""
        return ReactionScorer.labelled_set(template, self_hits, self_hits, {})

    @staticmethod
    def labelled_set(
        template: Template,
        hits: Sequence[Hit],
        self_hits: Sequence[Hit],
        origin: dict[str, str],
    ) -> tuple[np.ndarray, np.ndarray]:
        """Features and labels of ``hits`` of template genes (query) against proteins
        whose template gene of origin is ``origin[target]`` (default: the target id
        itself); label 1 when the origin gene shares the query gene's reaction."""
        m = template.model
        known = template.known
        self_score = _self_scores(self_hits)
        best = _best_of_target(hits)
        feats = {r.id: _reaction_features(r) for r in m.reactions if r.genes}
        X: list[list[float]] = []
        y: list[int] = []
        for h in hits:
            src = origin.get(h.target, h.target)
            if h.query == h.target or h.query not in m.genes:
                continue
            g = m.genes.get_by_id(h.query)
            for rxn in g.reactions:
                if known is not None and rxn.id not in known:
                    continue
                X.append(_features(h, self_score.get(h.query, 0.0), best[h.target], feats[rxn.id]))
                y.append(int(any(gg.id == src for gg in rxn.genes)))
        return np.asarray(X, dtype=float).reshape(-1, len(FEATURES)), np.asarray(y, dtype=int)

    def fit_template(self, template: Template, self_hits: Sequence[Hit]) -> ReactionScorer:
        """Fit on :meth:`training_set` of ``template``."""
        X, y = self.training_set(template, self_hits)
        return self.fit(X, y)


def _self_scores(hits: Sequence[Hit]) -> dict[str, float]:
    return {h.query: h.bitscore for h in hits if h.query == h.target}


# -- mapping and scoring one template ----------------------------------------------
@dataclass
class TemplateMapping:
    """Homology of a target proteome to one template: per template gene, the target
    proteins mapped to it, and per template reaction, satisfied GPR and score."""

    template: Template
    hits: list[Hit]
    mapping: dict[str, list[str]]
    satisfied: set[str]
    scores: dict[str, float]


def target_mapping(target_hits: Sequence[Hit]) -> dict[str, list[str]]:
    """Template gene -> the target proteins whose best template hit it is."""
    mapping: dict[str, list[str]] = defaultdict(list)
    for t, h in sorted(best_hits(target_hits, by="target").items()):
        mapping[h.query].append(t)
    return dict(mapping)


def drop_out_paralogs(
    mapping: dict[str, list[str]],
    target_hits: Sequence[Hit],
    target_proteome: dict[str, str],
    *,
    cpus: int = 0,
) -> dict[str, list[str]]:
    """Keep, of the target proteins mapped to a template gene, its ortholog and in-paralogs.

    When template gene ``g`` and target protein ``t1`` are reciprocal best hits
    (orthologs), another target protein ``t2`` mapped to ``g`` is kept only if it
    is an *in-paralog* of ``t1`` — a copy made after the two species split, so
    likely to share ``t1``'s function — which InParanoid's rule (Remm, Storm &
    Sonnhammer 2001, J Mol Biol 314:1041) recognises as ``t2`` being closer to
    ``t1`` than ``t1`` is to ``g``: bits(t1, t2) >= bits(g, t1). Older copies
    (out-paralogs, e.g. a distant family member or one domain of a multidomain
    protein) are dropped: they would otherwise enter GPRs as isozymes and hide
    essential genes. Genes without a reciprocal best hit keep every mapped protein
    (there is no ortholog to compare with). Needs one extra, small search of the
    orthologs against the candidate in-paralogs (bit scores do not depend on the
    database size, so they compare across the two searches).
    """
    best_for_gene = best_hits(target_hits, by="query")
    best_for_target = best_hits(target_hits, by="target")
    pairs: list[tuple[str, str, str]] = []  # (template gene, ortholog, other protein)
    for g, ts in mapping.items():
        h = best_for_gene.get(g)
        if len(ts) < 2 or h is None or best_for_target[h.target].query != g:
            continue
        pairs += [(g, h.target, t) for t in ts if t != h.target]
    if not pairs:
        return mapping
    orthologs = subset(target_proteome, {p[1] for p in pairs})
    others = subset(target_proteome, {p[2] for p in pairs})
    # E-value cut-off off (10): only the bit scores of the named pairs are read.
    bits = {
        (x.query, x.target): x.bitscore for x in search(orthologs, others, evalue=10.0, cpus=cpus)
    }
    out = {g: list(ts) for g, ts in mapping.items()}
    for g, t1, t2 in pairs:
        if bits.get((t1, t2), 0.0) < best_for_gene[g].bitscore:
            out[g].remove(t2)
    return {g: ts for g, ts in out.items() if ts}


def map_template(
    template: Template,
    target_hits: Sequence[Hit],
    self_hits: Sequence[Hit],
    scorer: ReactionScorer,
    *,
    no_gpr_score: float = 0.5,
    target_proteome: dict[str, str] | None = None,
    cpus: int = 0,
) -> TemplateMapping:
    """Map target proteins onto ``template`` genes and score every template reaction.

    ``target_hits``: template genes (query) against the target proteome (target).
    With ``target_proteome`` (id -> sequence), out-paralogs are dropped from the
    mapping (:func:`drop_out_paralogs`).
    """
    m = template.model
    mapping = target_mapping(target_hits)
    if target_proteome is not None:
        mapping = drop_out_paralogs(mapping, target_hits, target_proteome, cpus=cpus)
    unmapped = {g.id for g in m.genes} - set(mapping)
    satisfied = {r.id for r in m.reactions if r.genes and r.gpr.eval(unmapped)}

    # Per (template gene, reaction): the best probability over target proteins,
    # preferring proteins mapped to the gene, else any homolog of it.
    by_gene: dict[str, list[Hit]] = defaultdict(list)
    for h in target_hits:
        by_gene[h.query].append(h)
    self_score = _self_scores(self_hits)
    best = _best_of_target(target_hits)
    rows, keys = [], []
    for rxn in m.reactions:
        if not rxn.genes:
            continue
        rf = _reaction_features(rxn)
        for g in rxn.genes:
            cand = [h for h in by_gene.get(g.id, []) if h.target in mapping.get(g.id, [])]
            cand = cand or by_gene.get(g.id, [])
            for h in cand[:5]:
                rows.append(_features(h, self_score.get(g.id, 0.0), best[h.target], rf))
                keys.append((rxn.id, g.id))
    prob = scorer.predict_proba(np.asarray(rows, dtype=float).reshape(-1, len(FEATURES)))
    gene_prob: dict[str, dict[str, float]] = defaultdict(dict)
    for (rid, gid), p in zip(keys, prob, strict=True):
        gene_prob[rid][gid] = max(gene_prob[rid].get(gid, 0.0), float(p))
    scores = {}
    for rxn in m.reactions:
        if template.known is not None and rxn.id not in template.known:
            continue  # not this template's reaction: no score from it (0 in the mean)
        s = gpr_score(rxn, gene_prob.get(rxn.id, {}))
        scores[rxn.id] = no_gpr_score if s is None else float(s)
    return TemplateMapping(template, list(target_hits), dict(mapping), satisfied, scores)


# -- the whole reconstruction ---------------------------------------------------------
@dataclass
class Reconstruction:
    """A draft model and how it was made."""

    model: cobra.Model
    carried: list[str]
    free: list[str]
    gapfilled: list[GapfillResult]
    scores: dict[str, float]
    mapped_genes: int
    timings: dict[str, float] = field(default_factory=dict)
    scorer: ReactionScorer | None = None
    universe_only: int = 0
    searches_cached: list[str] = field(default_factory=list)

    @property
    def added(self) -> list[str]:
        return sorted({r for g in self.gapfilled for r in g.added})

    def summary(self) -> dict[str, Any]:
        """Counts, gap-filling and timings (s) as plain data for ``--json``."""
        return {
            "id": self.model.id,
            "reactions": len(self.model.reactions),
            "metabolites": len(self.model.metabolites),
            "genes": len(self.model.genes),
            "mapped_target_genes": self.mapped_genes,
            "carried_over": len(self.carried),
            "free_no_gpr": len(self.free),
            "gapfilled": [
                {
                    "added": g.added,
                    "cost": g.cost,
                    "growth": g.growth,
                    "status": g.status,
                    "gap": g.gap,
                    "goal": g.goal,
                    "targets": g.targets,
                }
                for g in self.gapfilled
            ],
            "n_gapfilled": len(self.added),
            "scorer_training_samples": self.scorer.n_train_ if self.scorer else 0,
            "universe_only_reactions": self.universe_only,
            "searches_cached": self.searches_cached,
            "timings_s": self.timings,
        }


def _is_exchange(rxn: cobra.Reaction) -> bool:
    return len(rxn.metabolites) == 1


def _searches(
    proteome: dict[str, str],
    templates: Sequence[Template],
    *,
    evalue: float,
    cpus: int,
    cache: str | os.PathLike[str] | None,
    training: str,
    seed: int,
    timings: dict[str, float],
    cached: list[str],
    bar: Any,
) -> tuple[list[list[Hit]], list[list[Hit]], list[tuple[list[Hit], dict[str, str]]]]:
    """Per template: hits against the target, against itself, and (``training=
    "divergence"``) against its diverged copy with the copies' origins; the names of
    searches read from ``cache`` are appended to ``cached``."""
    from biofab.metabolism.reaction_scores import diverged_proteome

    target_hits, self_hits, div = [], [], []
    for t in templates:
        memo: list[Any] = []

        def profiles(t: Template = t, memo: list[Any] = memo) -> list[Any]:
            if not memo:
                memo.append(build_profiles(t.proteome))
            return list(memo[0])

        jobs: list[tuple[str, dict[str, str], int | None]] = [
            ("self", t.proteome, 25),
            ("target", proteome, None),
        ]
        origin: dict[str, str] = {}
        if training == "divergence":
            copies, origin = diverged_proteome(t.proteome, seed=seed)
            jobs.append(("diverged", copies, 25))
        found: dict[str, list[Hit]] = {}
        for stage, targets, max_hits in jobs:
            t0 = time.perf_counter()
            hits, reused = cached_search(
                t.proteome, targets, cache=cache, evalue=evalue, cpus=cpus,
                max_hits=max_hits, profiles=profiles,
            )  # fmt: skip
            found[stage] = hits
            dt = time.perf_counter() - t0
            key = f"search_{stage}_{t.name}"
            timings[key] = dt
            if reused:
                cached.append(key)
            bar.advance(note=f"{key} {dt:.0f} s{' (cached)' if reused else ''}")
        target_hits.append(found["target"])
        self_hits.append(found["self"])
        div.append((found.get("diverged", []), origin))
    return target_hits, self_hits, div


def reconstruct(
    proteome: dict[str, str],
    templates: Sequence[Template],
    media: Sequence[Medium],
    *,
    model_id: str = "draft",
    evalue: float = 1e-5,
    min_growth: float = 0.1,
    no_gpr_score: float = 0.5,
    universe_score: float = 0.0,
    free_outer_membrane: bool = True,
    periplasm: str = "p",
    cpus: int = 0,
    time_limit: float = 120.0,
    in_paralogs: bool = True,
    medium_uptake: bool = False,
    min_uptake: float = 0.01,
    connect: bool = False,
    catabolic_uptake: bool = False,
    training: str = "divergence",
    seed: int = 0,
    cache: str | os.PathLike[str] | None = None,
    show_progress: bool = True,
    target_hits: Sequence[Sequence[Hit]] | None = None,
    self_hits: Sequence[Sequence[Hit]] | None = None,
    scorer: ReactionScorer | None = None,
) -> Reconstruction:
    """A draft model of the organism with protein sequences ``proteome`` (id -> sequence).

    ``templates``: one or more :class:`Template`; ``media``: gap-fill until the
    draft grows (>= ``min_growth`` 1/h) on each, in order; with ``medium_uptake``,
    then also until every compound of each medium that the template can take up is
    usable (uptake >= ``min_uptake`` mmol/gDW/h). ``connect``: before gap-filling,
    unblock carried-over reactions where their scores outweigh the candidates they
    need (step 4 of the module docstring; its MILP gets at least 600 s so that it
    ends proved). ``catabolic_uptake``: last, make importable what the draft
    catabolises by homology but cannot make (step 7). ``training``: how the reaction
    scorer learns, ``"divergence"`` (the template against a diverged copy of
    itself, :mod:`biofab.metabolism.reaction_scores`; ``seed`` draws the copy) or
    ``"paralogs"`` (the template against itself). ``universe_score``: the score of
    a reaction no template knows (universe-only). ``cache``: a folder where every
    homology search is stored and reused (keyed by both proteomes and the settings),
    so a rerun with other media or scores skips the searches. ``target_hits`` /
    ``self_hits`` (one list per template) and ``scorer`` skip the searches and the
    training (``target_hits`` with ``self_hits`` and ``scorer`` together). Stages
    are timed (``timings``, s) and shown with a progress bar. See the module
    docstring for the method.
    """
    if not templates:
        raise InputError("reconstruction needs at least one template")
    if training not in ("divergence", "paralogs"):
        raise InputError(
            "unknown score training", column="training",
            expected="divergence or paralogs", found=training,
        )  # fmt: skip
    given = target_hits is not None and self_hits is not None
    n_search = 0 if given else len(templates) * (3 if training == "divergence" else 2)
    stages = (
        n_search + 1 + int(connect) + len(media) + (len(media) if medium_uptake else 0)
        + int(catabolic_uptake and bool(media)) + 1
    )  # fmt: skip
    timings: dict[str, float] = {}
    cached: list[str] = []
    with progress(f"reconstruct {model_id}", total=stages, enabled=show_progress) as bar:
        div: list[tuple[list[Hit], dict[str, str]]] = []
        if not given:
            target_hits, self_hits, div = _searches(
                proteome, templates, evalue=evalue, cpus=cpus, cache=cache,
                training=training, seed=seed, timings=timings, cached=cached, bar=bar,
            )  # fmt: skip
        assert target_hits is not None and self_hits is not None
        t0 = time.perf_counter()
        if scorer is None:
            if training == "divergence" and div:
                X = [
                    ReactionScorer.labelled_set(t, dh, sh, origin)
                    for t, (dh, origin), sh in zip(templates, div, self_hits, strict=True)
                ]
            else:
                X = [
                    ReactionScorer.training_set(t, sh)
                    for t, sh in zip(templates, self_hits, strict=True)
                ]
            Xa, ya = np.vstack([x for x, _ in X]), np.concatenate([y for _, y in X])
            if len(set(ya.tolist())) < 2:
                # A small template may offer no diverged copy of a paralog with another
                # function (no negatives): add the within-genome paralogs.
                P = [
                    ReactionScorer.training_set(t, sh)
                    for t, sh in zip(templates, self_hits, strict=True)
                ]
                Xa = np.vstack([Xa, *[x for x, _ in P]])
                ya = np.concatenate([ya, *[y for _, y in P]])
            scorer = ReactionScorer().fit(Xa, ya)
        maps = [
            map_template(
                t, th, sh, scorer, no_gpr_score=no_gpr_score,
                target_proteome=proteome if in_paralogs else None, cpus=cpus,
            )
            for t, th, sh in zip(templates, target_hits, self_hits, strict=True)
        ]  # fmt: skip
        timings["scoring"] = time.perf_counter() - t0
        bar.advance(note=f"scoring {timings['scoring']:.0f} s")
        rec = _assemble(
            templates, maps, media, scorer, timings, bar, model_id=model_id,
            min_growth=min_growth, no_gpr_score=no_gpr_score, universe_score=universe_score,
            free_outer_membrane=free_outer_membrane, periplasm=periplasm,
            time_limit=time_limit, medium_uptake=medium_uptake, min_uptake=min_uptake,
            connect=connect, catabolic_uptake=catabolic_uptake,
        )  # fmt: skip
    rec.searches_cached = cached
    return rec


def _assemble(
    templates: Sequence[Template],
    maps: list[TemplateMapping],
    media: Sequence[Medium],
    scorer: ReactionScorer,
    timings: dict[str, float],
    bar: Any,
    *,
    model_id: str,
    min_growth: float,
    no_gpr_score: float,
    universe_score: float,
    free_outer_membrane: bool,
    periplasm: str,
    time_limit: float,
    medium_uptake: bool,
    min_uptake: float,
    connect: bool = False,
    catabolic_uptake: bool = False,
) -> Reconstruction:
    """Carry-over, free reactions, weighted gap-filling and the draft model."""
    import cobra

    # One "universal" model holding every template reaction (first template wins).
    t0 = time.perf_counter()
    universal = templates[0].model.copy()
    universal.id = model_id
    for t in templates[1:]:
        extra = [r.copy() for r in t.model.reactions if r.id not in universal.reactions]
        universal.add_reactions(extra)
    n_t = len(templates)
    scores = {r.id: sum(mp.scores.get(r.id, 0.0) for mp in maps) / n_t for r in universal.reactions}
    # The template whose GPR a draft reaction gets: the first that satisfies it, else
    # the first that knows it.
    owner: dict[str, TemplateMapping] = {}
    for mp in maps:
        for rid in mp.satisfied:
            owner.setdefault(rid, mp)
    for mp in maps:
        for rxn in mp.template.model.reactions:
            if mp.template.known is None or rxn.id in mp.template.known:
                owner.setdefault(rxn.id, mp)
    carried = sorted(
        owner_id for owner_id in scores if any(owner_id in mp.satisfied for mp in maps)
    )
    objective = [r.id for r in universal.reactions if r.objective_coefficient != 0]
    core = set(carried) | set(objective)
    exchanges = {r.id for r in universal.reactions if _is_exchange(r)}
    # Reactions no template vouches for (a universe's own): candidates, never free,
    # except the diffusion of a single compound (O2, CO2, water).
    known: set[str] = set()
    for t in templates:
        known |= t.known if t.known is not None else {r.id for r in t.model.reactions}
    universe_only = {r.id for r in universal.reactions} - known - exchanges - set(objective)

    # Free reactions: no-GPR chemistry among metabolites already present, and
    # outer-membrane transport of anything that reaches the periplasm.
    # The extracellular compartment: where COBRApy finds the exchange reactions.
    outer = {next(iter(r.metabolites)).compartment for r in universal.exchanges}
    present = {m.id for rid in core for m in universal.reactions.get_by_id(rid).metabolites}
    # Template genes without a protein sequence (pseudo-genes such as BiGG's
    # "spontaneous" s0001) carry no homology evidence: a reaction they alone
    # satisfy is treated as a reaction without GPR.
    with_seq = {g for t in templates for g in t.proteome}

    def sequence_backed(rid: str) -> bool:
        """Some template links ``rid`` to genes that can all be searched for."""
        for t in templates:
            if rid in t.model.reactions and (t.known is None or rid in t.known):
                r = t.model.reactions.get_by_id(rid)
                if r.genes and not r.gpr.eval({g.id for g in r.genes if g.id in with_seq}):
                    return True
        return False

    geneless = {
        r.id for r in universal.reactions
        if r.id not in universe_only and not sequence_backed(r.id)
    }  # fmt: skip
    present_base = {_base(universal.metabolites.get_by_id(x)) for x in present}
    free: list[str] = []
    # Repeat until nothing changes: diffusion into the periplasm makes a compound
    # present there, which lets its outer-membrane transport in, and so on.
    changed = True
    while changed:
        changed = False
        for rxn in universal.reactions:
            if rxn.id in core or _is_exchange(rxn):
                continue
            comps = set(rxn.compartments)
            mets = {m.id for m in rxn.metabolites}
            inner = {m.id for m in rxn.metabolites if m.compartment not in outer}
            if free_outer_membrane and comps == outer | {periplasm} and len(outer) == 1:
                ok = bool(inner) and inner <= present
            elif rxn.id in universe_only:
                ok = _is_diffusion(rxn) and {_base(m) for m in rxn.metabolites} <= present_base
            elif rxn.id in geneless:
                # No new chemistry: every metabolite present already, or a pure
                # translocation (diffusion) of compounds present in some compartment.
                ok = mets <= present or (
                    _is_translocation(rxn) and {_base(m) for m in rxn.metabolites} <= present_base
                )
            else:
                ok = False
            if ok:
                free.append(rxn.id)
                core.add(rxn.id)
                present |= mets
                present_base |= {_base(m) for m in rxn.metabolites}
                changed = True
    for rid in geneless:
        scores[rid] = max(scores[rid], no_gpr_score)
    for rid in universe_only:
        scores[rid] = universe_score
    candidates = {
        r.id: max(1.0 - scores[r.id], 1e-3)
        for r in universal.reactions
        if r.id not in core and r.id not in exchanges
    }
    # Exchanges are free boundaries; everything else outside the draft is a candidate.
    gf: list[GapfillResult] = []
    pending = dict(candidates)

    def done(res: GapfillResult, stage: str, t1: float, what: str) -> None:
        """Take a step's additions out of the candidates; time and report the step."""
        for r in res.added:
            pending.pop(r, None)
        gf.append(res)
        dt = time.perf_counter() - t1
        timings[stage] = dt
        bar.advance(note=f"{what} {len(res.added)} added, {dt:.0f} s")

    if connect:
        # CarveMe's carving objective on what the draft lacks: candidates that let
        # blocked reactions with homology evidence carry flux, when their scores
        # outweigh the candidates' costs (exchanges open, as CarveMe carves).
        t1 = time.perf_counter()
        rewards = {rid: scores[rid] for rid in carried if rid not in exchanges and scores[rid] > 0}
        res = gapfill_connect(
            universal, pending, rewards, time_limit=max(time_limit, 600.0), label=model_id
        )
        done(res, "connect", t1, f"connect: {len(res.targets)} unblocked,")
    for med in media:
        t1 = time.perf_counter()
        res = gapfill_media(
            universal, pending, [med], min_growth=min_growth, time_limit=time_limit,
            label=model_id,
        )[0]  # fmt: skip
        done(res, f"gapfill_{med.name}", t1, f"gap-fill {med.name}:")
    if medium_uptake:
        # Make each medium compound usable where the template offers a route: uptake
        # systems are the genes homology maps worst (large paralogous families of
        # unclear specificity), and the medium says the compound is there.
        for med in media:
            t1 = time.perf_counter()
            res = gapfill_uptake(
                universal, pending, med, min_uptake=min_uptake, time_limit=time_limit,
                label=model_id,
            )  # fmt: skip
            done(res, f"uptake_{med.name}", t1, f"uptake {med.name}:")
    if catabolic_uptake and media:
        # Uptake of what the draft can catabolise by homology evidence but not import
        # (and cannot make): catabolic genes come with their transporters, which
        # homology maps worst. Roles are read on the first (defined) medium.
        from biofab.metabolism.phenotypes import PLATE_ELEMENT, base_sources

        t1 = time.perf_counter()
        med = media[0]
        found, _ = base_sources(universal, med, label=model_id)
        sources = {PLATE_ELEMENT[p]: cpds for p, cpds in found.items()}
        res = gapfill_catabolic(
            universal, pending, med, sources, set(carried), min_growth=min_growth,
            min_uptake=min_uptake, time_limit=time_limit, label=model_id,
        )  # fmt: skip
        done(res, "catabolic", t1, f"catabolic uptake: {len(res.targets)} compounds,")
    timings["gapfill"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    added = {r for g in gf for r in g.added}
    keep = core | added
    mets = {m.id for rid in keep for m in universal.reactions.get_by_id(rid).metabolites}
    keep |= {
        r for r in exchanges if next(iter(universal.reactions.get_by_id(r).metabolites)).id in mets
    }
    draft = cobra.Model(model_id, name=f"draft from {', '.join(t.name for t in templates)}")
    draft.compartments = dict(universal.compartments)
    rxns = []
    for rxn in universal.reactions:
        if rxn.id not in keep:
            continue
        new = rxn.copy()
        owner_map = owner.get(rxn.id)
        rule = ""
        if owner_map is not None and rxn.id not in geneless:
            template_rxn = owner_map.template.model.reactions.get_by_id(rxn.id)
            strict = rxn.id in owner_map.satisfied
            rule = rename_gpr(template_rxn, owner_map.mapping, strict=strict) or ""
        new.gene_reaction_rule = rule
        rxns.append(new)
    draft.add_reactions(rxns)
    draft.objective = {draft.reactions.get_by_id(r): 1.0 for r in objective}
    timings["build"] = time.perf_counter() - t0
    bar.advance(note=f"build {timings['build']:.0f} s")
    mapped = {t for mp in maps for ts in mp.mapping.values() for t in ts}
    return Reconstruction(
        draft, carried, sorted(free), gf, scores, len(mapped), timings, scorer,
        universe_only=len(universe_only),
    )  # fmt: skip
