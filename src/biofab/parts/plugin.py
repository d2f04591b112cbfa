"""The parts pillar's plug-in record (entry point ``biofab.pillars: parts``).

Only import paths: reading this record imports nothing heavy.
"""

from biofab.core.plugins import Pillar, ReportSection, WebField, WebPage

pillar = Pillar(
    name="parts",
    api="biofab.parts.api:router",
    help="Biological parts: sequence -> function models with uncertainty.",
    cli="biofab.cli.parts:parts_app",
    cli_extensions=("biofab.cli.parts_signal:register", "biofab.cli.parts_library:register"),
    testbeds={"sigma70-oracle": "biofab.testbeds.sequence_oracle:SigmaPromoterOracle"},
    report_sections=(
        ReportSection(
            name="in-silico mutagenesis",
            build="biofab.parts.report:mutagenesis_sections",
            applies="biofab.parts.report:applies",
        ),
    ),
    jobs={"train-model": "biofab.parts.jobs:train_model"},
    web_pages=(
        WebPage(
            name="strength",
            title="Promoter and RBS strength (physics models)",
            build="biofab.parts.webpages:strength_page",
            fields=(
                WebField("kind", "Part", choices=("promoter", "rbs")),
                WebField("sequences", "Sequences (FASTA or one per line)", multiline=True),
                WebField("cds", "CDS start after the RBS (rbs only)"),
            ),
        ),
        WebPage(
            name="library",
            title="Site library: codons and coverage",
            build="biofab.parts.webpages:library_page",
            fields=(
                WebField(
                    "parent", "Parent protein (sequence or FASTA; default GB1)", multiline=True
                ),
                WebField("sites", "Sites", default="V39,D40,G41,V54"),
                WebField("codons", "Codon set", choices=("NNK", "NNS", "NDT", "22c")),
                WebField("site_codons", "Per-site codon sets (e.g. V54=NDT)"),
                WebField("budget", "Screening budget (clones)"),
            ),
        ),
    ),
)
