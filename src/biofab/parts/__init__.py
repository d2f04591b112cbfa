"""Parts pillar: sequence -> function models with uncertainty and constrained design.

Promoters, RBS/5'UTRs, signal peptides and enzyme kcats. See ``docs/parts.md``.
The public API below is imported on first use (the models pull in torch, the kcat
model RDKit), so ``import biofab.parts`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from biofab.core.lazy import lazy_exports

if TYPE_CHECKING:
    from biofab.parts.constraints import SequenceConstraints, gc_content
    from biofab.parts.datasets import load_lafleur, load_wu2020
    from biofab.parts.design import SequenceDesigner, design_sequences
    from biofab.parts.export import (
        export_parts,
        read_parts,
        read_sbol3,
        write_fasta,
        write_genbank,
        write_sbol3,
    )
    from biofab.parts.interpret import MutagenesisMap, mutagenesis_report, saturation_mutagenesis
    from biofab.parts.kcat import ECMeanBaseline, KcatModel, load_catpred, predictor
    from biofab.parts.models import (
        CNNEnsemble,
        KmerBoost,
        KmerRidge,
        SequenceModel,
        load_model,
        make_model,
    )
    from biofab.parts.physics import PromoterCalculator, TranslationRateCalculator
    from biofab.parts.rbs import design_rbs
    from biofab.parts.secretion import SecretionMatrix
    from biofab.parts.sequences import check_sequence, read_sequences
    from biofab.parts.signal_peptide import extract_candidates, generate_candidates, rank_candidates

# name -> submodule; imported on first access so that importing the pillar (e.g. to
# read its plug-in record for `biofab --help`) costs nothing heavy.
_LAZY = {
    "SequenceConstraints": "constraints",
    "gc_content": "constraints",
    "load_lafleur": "datasets",
    "load_wu2020": "datasets",
    "SequenceDesigner": "design",
    "design_sequences": "design",
    "export_parts": "export",
    "read_parts": "export",
    "read_sbol3": "export",
    "write_fasta": "export",
    "write_genbank": "export",
    "write_sbol3": "export",
    "MutagenesisMap": "interpret",
    "mutagenesis_report": "interpret",
    "saturation_mutagenesis": "interpret",
    "ECMeanBaseline": "kcat",
    "KcatModel": "kcat",
    "load_catpred": "kcat",
    "predictor": "kcat",
    "CNNEnsemble": "models",
    "KmerBoost": "models",
    "KmerRidge": "models",
    "SequenceModel": "models",
    "load_model": "models",
    "make_model": "models",
    "PromoterCalculator": "physics",
    "TranslationRateCalculator": "physics",
    "design_rbs": "rbs",
    "SecretionMatrix": "secretion",
    "check_sequence": "sequences",
    "read_sequences": "sequences",
    "extract_candidates": "signal_peptide",
    "generate_candidates": "signal_peptide",
    "rank_candidates": "signal_peptide",
}

__all__ = [
    "CNNEnsemble",
    "ECMeanBaseline",
    "KcatModel",
    "KmerBoost",
    "KmerRidge",
    "MutagenesisMap",
    "PromoterCalculator",
    "SecretionMatrix",
    "SequenceConstraints",
    "SequenceDesigner",
    "SequenceModel",
    "TranslationRateCalculator",
    "check_sequence",
    "design_rbs",
    "design_sequences",
    "export_parts",
    "extract_candidates",
    "gc_content",
    "generate_candidates",
    "load_catpred",
    "load_lafleur",
    "load_model",
    "load_wu2020",
    "make_model",
    "mutagenesis_report",
    "predictor",
    "rank_candidates",
    "read_parts",
    "read_sbol3",
    "read_sequences",
    "saturation_mutagenesis",
    "write_fasta",
    "write_genbank",
    "write_sbol3",
]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
