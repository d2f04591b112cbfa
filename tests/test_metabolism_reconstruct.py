"""Draft reconstruction: FASTA checks, homology, GPR carry-over, weighted gap-filling,
phenotype scoring and the CLI, on real models and the CarveMe benchmark data."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from biofab.core.errors import InputError
from biofab.metabolism import get_medium, load_model
from biofab.metabolism.gapfill import gapfill, gapfill_uptake
from biofab.metabolism.homology import Hit, read_fasta, search, subset
from biofab.metabolism.media import Medium
from biofab.metabolism.phenotypes import (
    biolog_benchmark,
    confusion,
    essentiality_benchmark,
    read_biolog,
    read_essentiality,
)
from biofab.metabolism.reconstruct import (
    ReactionScorer,
    Template,
    _is_translocation,
    drop_out_paralogs,
    gpr_score,
    reconstruct,
    rename_gpr,
    target_mapping,
)
from conftest import shared_data

BENCH = "metabolism/carveme_benchmark"


@pytest.fixture(scope="module")
def ijo():
    return load_model("iJO1366")


@pytest.fixture(scope="module")
def ecoli_faa() -> Path:
    return shared_data(f"{BENCH}/fasta/Ecoli_K12_MG1655.faa")


@pytest.fixture(scope="module")
def bsub_faa() -> Path:
    return shared_data(f"{BENCH}/fasta/Bsubtilis_168.faa")


def _app() -> typer.Typer:
    from biofab.cli import gem_phenotypes, gem_reconstruct

    app = typer.Typer()
    gem_reconstruct.register(app)
    gem_phenotypes.register(app)

    @app.callback()
    def _root() -> None:  # keeps sub-command names on a one-command app
        pass

    return app


def _invoke(args: list[str]):
    from biofab.core.errors import BiofabError

    runner = CliRunner()
    res = runner.invoke(_app(), args)
    if isinstance(res.exception, BiofabError):
        # The real CLI turns BiofabError into one line + exit 2; do the same here.
        return 2, str(res.exception)
    return res.exit_code, res.output


# -- FASTA ----------------------------------------------------------------------------
def test_read_fasta_real_proteome(bsub_faa):
    seqs = read_fasta(bsub_faa)
    assert len(seqs) == 4177
    assert seqs["BSU00010"].startswith("MENILDLWNQ")


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (">a\nMKV\n>a\nMKV\n", "duplicate record id 'a'"),
        (">a\nMKV\n>b\nMK1V\n", "record 'b'"),
        (">a\nMKV\n>b\nMK1V\n", "found '1'"),
        ("MKV\n", "before the first '>'"),
        (">a\n" + "ACGT" * 20 + "\n", "looks like DNA"),
        ("", "no FASTA records"),
    ],
)
def test_read_fasta_bad_input(tmp_path, text, needle):
    p = tmp_path / "bad.faa"
    p.write_text(text)
    with pytest.raises(InputError) as e:
        read_fasta(p)
    msg = str(e.value)
    assert needle in msg and str(p) in msg and "\n" not in msg


def test_search_finds_ortholog(ecoli_faa, bsub_faa):
    e = subset(read_fasta(ecoli_faa), ["b3916", "b1723"])  # pfkA, pfkB
    b = subset(read_fasta(bsub_faa), ["BSU29190", "BSU00010", "BSU29060"])  # pfkA, dnaA, pyk?
    hits = search(e, b, cpus=1)
    best = max((h for h in hits if h.query == "b3916"), key=lambda h: h.bitscore)
    assert best.target == "BSU29190"
    assert 0.3 < best.identity <= 1 and 0.8 < best.query_coverage <= 1
    assert best.evalue < 1e-30 and best.bitscore > 100


# -- GPR logic --------------------------------------------------------------------------
def test_gpr_carry_over_and_rename():
    import cobra

    m = cobra.Model("toy")
    r1, r2, r3 = cobra.Reaction("R1"), cobra.Reaction("R2"), cobra.Reaction("R3")
    m.add_reactions([r1, r2, r3])
    r1.gene_reaction_rule = "(g1 and g2) or g3"
    r2.gene_reaction_rule = "g1 and g4"
    r3.gene_reaction_rule = "g2 or g4"
    mapping = {"g1": ["t1"], "g2": ["t2", "t5"], "g3": []}
    # g3 unmapped: only the complex survives, g2's two target isozymes become an OR.
    assert rename_gpr(r1, mapping, strict=True) == "t1 and (t2 or t5)"
    assert rename_gpr(r2, mapping, strict=True) is None  # g4 missing breaks the complex
    assert rename_gpr(r3, mapping, strict=True) == "(t2 or t5)"
    # Gap-filled reactions keep what is mapped; unknown subunits are left out.
    assert rename_gpr(r2, mapping, strict=False) == "t1"
    unmapped = {"g3", "g4"}
    assert r1.gpr.eval(unmapped) and not r2.gpr.eval(unmapped) and r3.gpr.eval(unmapped)
    probs = {"g1": 0.9, "g2": 0.5, "g3": 0.2}
    assert gpr_score(r1, probs) == pytest.approx(0.7)  # max(mean(0.9, 0.5), 0.2)
    assert gpr_score(r2, probs) == pytest.approx(0.45)


def test_out_paralogs_dropped_in_paralogs_kept(bsub_faa):
    seqs = read_fasta(bsub_faa)
    t1 = seqs["BSU00010"]
    # t2: a recent copy of t1 (a few substitutions); t3: an unrelated protein.
    t2 = "".join("A" if i % 40 == 0 else c for i, c in enumerate(t1))
    prot = {"t1": t1, "t2": t2, "t3": seqs["BSU00100"], "u1": t1}

    def hit(q: str, t: str, bits: float) -> Hit:
        return Hit(q, t, 0.5, 1.0, 1.0, bits, 1e-20)

    # g1-t1 are reciprocal best hits; t2, t3, u1 also best-hit g1. g2's best target v1
    # prefers g3, so g2 has no ortholog and keeps what maps to it (v2) untested.
    hits = [hit("g1", "t1", 300.0), hit("g1", "t2", 200.0), hit("g1", "t3", 60.0),
            hit("g1", "u1", 50.0), hit("g2", "v1", 90.0), hit("g3", "v1", 95.0),
            hit("g2", "v2", 80.0)]  # fmt: skip
    mapping = target_mapping(hits)
    assert mapping == {"g1": ["t1", "t2", "t3", "u1"], "g2": ["v2"], "g3": ["v1"]}
    kept = drop_out_paralogs(mapping, hits, prot, cpus=1)
    # t2 (closer to t1 than t1 is to g1) is an in-paralog; t3 is not; u1 is
    # identical to t1, so it is an in-paralog too.
    assert kept == {"g1": ["t1", "t2", "u1"], "g2": ["v2"], "g3": ["v1"]}


def test_translocation_is_diffusion_not_chemistry(ijo):
    assert _is_translocation(ijo.reactions.O2tpp)  # o2_p <=> o2_c
    assert _is_translocation(ijo.reactions.GLCptspp) is False  # PTS phosphorylates
    assert _is_translocation(ijo.reactions.PGI) is False


# -- gap-filling --------------------------------------------------------------------------
def test_gapfill_adds_cheapest_reactions():
    m = load_model("textbook")
    # Without both glucose-6-phosphate consumers the textbook model cannot grow on glucose.
    with m:
        m.reactions.PGI.knock_out()
        m.reactions.G6PDH2r.knock_out()
        assert m.slim_optimize(error_value=0.0) < 1e-6
    res = gapfill(m, {"PGI": 1.0, "G6PDH2r": 0.2, "ACALD": 0.01})
    assert res.added == ["G6PDH2r"] and res.growth > 0.8
    res = gapfill(m, {"PGI": 0.1, "G6PDH2r": 1.0})
    assert res.added == ["PGI"] and res.cost == pytest.approx(0.1)
    assert gapfill(m, {"ACALD": 0.5}).added == []  # already grows: nothing to add


def test_gapfill_uptake_makes_medium_compound_usable():
    m = load_model("textbook")
    m9 = get_medium("M9")
    medium = Medium("M9+succ", (*m9.compounds, "succ"))
    cand = {"SUCCt2_2": 0.2, "SUCCt3": 0.5}  # import (proton symport) and export
    with m:
        res = gapfill_uptake(m, cand, medium, min_uptake=0.01)
    # Glucose is usable already; succinate needs its importer, not the exporter.
    assert res.targets == ["succ"] and res.added == ["SUCCt2_2"]
    with m:
        m.remove_reactions([m.reactions.SUCCt2_2])
        m.reactions.SUCCt3.knock_out()
        none = gapfill_uptake(m, {}, medium)  # no route offered: nothing to do
    assert none.added == [] and none.targets == []


def test_gapfill_impossible_is_one_line_error():
    from biofab.core.errors import ModelError

    m = load_model("textbook")
    with m:
        m.reactions.ENO.knock_out()
        with pytest.raises(ModelError, match="cannot grow even with every candidate"):
            gapfill(m, {"PGI": 0.1})


# -- metrics --------------------------------------------------------------------------------
def test_confusion_metrics_known_matrix():
    truth = [True] * 6 + [False] * 4
    pred = [True] * 4 + [False] * 2 + [True] + [False] * 3  # TP 4, FN 2, FP 1, TN 3
    s = confusion(truth, pred)
    assert (s.tp, s.fp, s.tn, s.fn, s.n) == (4, 1, 3, 2, 10)
    assert s.accuracy == pytest.approx(0.7)
    assert s.precision == pytest.approx(0.8)
    assert s.recall == pytest.approx(4 / 6)
    assert s.mcc == pytest.approx((4 * 3 - 1 * 2) / math.sqrt(5 * 6 * 4 * 5))
    assert confusion([True, True], [True, True]).mcc == 0.0  # empty margin


# -- phenotypes on iJO1366 ------------------------------------------------------------------
def test_essentiality_ijo1366(ijo):
    truth = read_essentiality(shared_data(f"{BENCH}/essentiality/ecol.tsv"))
    res = essentiality_benchmark(ijo, truth, get_medium("M9"))
    assert 0.6 < res["wild_type_growth"] < 1.0
    assert 200 < res["genes_scored"] <= len(truth)
    s = res["scores"]
    # The E. coli table lists essential genes only: most are essential in iJO1366 too.
    assert s["tp"] > 150 and s["recall"] > 0.6


def test_biolog_ijo1366(ijo):
    tests = read_biolog(shared_data(f"{BENCH}/biolog/ecol"))
    res = biolog_benchmark(ijo, tests, get_medium("M9"))
    assert res["tests"] == len(tests) > 200
    s = res["scores"]
    assert s["accuracy"] > 0.6 and s["mcc"] > 0.2
    glc = next(w for w in res["wells"] if w["compound"] == "glc__D" and w["source"] == "carbon")
    assert glc["predicted"]


# -- a small reconstruction -------------------------------------------------------------------
def test_reconstruct_small_draft_grows(ecoli_faa, bsub_faa):
    textbook = load_model("textbook")
    full = Template.load(textbook, ecoli_faa, "e_coli_core")
    # 40 template sequences and every 20th B. subtilis protein keep the search short.
    template = Template(textbook, dict(list(full.proteome.items())[:40]), "e_coli_core")
    target = dict(list(read_fasta(bsub_faa).items())[::20])
    m9 = get_medium("M9")
    rec = reconstruct(target, [template], [m9], model_id="bsub_small", cpus=1)
    draft = rec.model
    assert rec.mapped_genes >= 1
    assert {g.id for g in draft.genes} <= set(target)
    assert rec.added  # a tenth of a proteome cannot run the core by itself
    from biofab.metabolism import apply_medium

    with draft:
        apply_medium(draft, m9, strict=False)
        assert draft.slim_optimize(error_value=0.0) >= 0.1 - 1e-6
    assert isinstance(rec.scorer, ReactionScorer) and rec.scorer.n_train_ >= 2
    assert all(0.0 <= s <= 1.0 for s in rec.scores.values())


# -- CLI ------------------------------------------------------------------------------------
def test_cli_essentiality_and_biolog_json():
    code, text = _invoke(
        ["essentiality", "textbook", "--truth", str(shared_data(f"{BENCH}/essentiality/ecol.tsv")),
         "--medium", "M9", "--json"]
    )  # fmt: skip
    assert code == 0, text
    data = json.loads(text)
    assert data["genes_scored"] > 10 and data["scores"]["n"] == data["genes_scored"]
    code, text = _invoke(
        ["biolog", "textbook", "--truth", str(shared_data(f"{BENCH}/biolog/ecol")), "--json"]
    )
    assert code == 0, text
    assert json.loads(text)["without_exchange"] > 0


def test_cli_reconstruct_bad_fasta_no_output(tmp_path, ecoli_faa):
    bad = tmp_path / "bad.faa"
    bad.write_text(">p1\nMKVLA\n>p2\nMKV#LA\n")
    out = tmp_path / "draft.xml"
    code, text = _invoke(
        ["reconstruct", str(bad), "--template", "textbook", "--template-proteome",
         str(ecoli_faa), "--out", str(out)]
    )  # fmt: skip
    assert code == 2
    assert "bad.faa" in text and "p2" in text and "'#'" in text and "\n" not in text.strip()
    assert not out.exists() and list(tmp_path.iterdir()) == [bad]


def test_cli_reconstruct_duplicate_ids(tmp_path, ecoli_faa):
    bad = tmp_path / "dup.faa"
    bad.write_text(">p1\nMKVLA\n>p1\nMKVLA\n")
    code, text = _invoke(
        ["reconstruct", str(bad), "--template", "textbook", "--template-proteome",
         str(ecoli_faa), "--out", str(tmp_path / "d.xml")]
    )  # fmt: skip
    assert code == 2 and "duplicate record id 'p1'" in text
    assert not (tmp_path / "d.xml").exists()
