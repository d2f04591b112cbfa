"""Parts pillar: sequence -> function models with uncertainty and constrained design.

Promoters, RBS/5'UTRs, signal peptides and enzyme kcats. See ``docs/parts.md``.
"""
