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
    ),
)
