"""The metabolism pillar's plug-in record (entry point ``biofab.pillars: metabolism``).

Only import paths: reading this record imports neither COBRApy nor HiGHS.
"""

from biofab.core.plugins import Pillar, WebField, WebPage

pillar = Pillar(
    name="metabolism",
    api="biofab.metabolism.api:router",
    command="gem",
    web_pages=(
        WebPage(
            name="fba",
            title="Flux balance analysis",
            build="biofab.metabolism.webpages:fba_page",
            fields=(
                WebField("model", "Model", choices=("textbook", "e_coli_core", "mini")),
                WebField("method", "Method", choices=("FBA", "pFBA")),
            ),
        ),
    ),
    help="Genome-scale metabolic models (COBRApy + HiGHS).",
    cli="biofab.cli.gem:gem_app",
    cli_extensions=(
        "biofab.cli.gem_analysis:register",
        "biofab.cli.gem_design:register",
        "biofab.cli.gem_dfba:register",
        "biofab.cli.gem_ec:register",
        "biofab.cli.gem_phenotypes:register",
        "biofab.cli.gem_reconstruct:register",
    ),
    testbeds={
        "flux": "biofab.metabolism.testbed:FluxTestbed",
        "dfba": "biofab.metabolism.dfba:DfbaTestbed",
    },
    scenarios={"dfba": "biofab.metabolism.scenario:Scenario.from_yaml"},
    jobs={
        "deletions": "biofab.metabolism.jobs:deletions",
        "dfba": "biofab.metabolism.jobs:dfba",
        "reconstruct": "biofab.metabolism.jobs:reconstruct",
    },
)
