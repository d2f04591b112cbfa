"""The process pillar's plug-in record (entry point ``biofab.pillars: process``).

Only import paths: reading this record imports neither CasADi nor torch.
"""

from biofab.core.plugins import Pillar, WebField, WebPage

pillar = Pillar(
    name="process",
    api="biofab.process.api:router",
    web_pages=(
        WebPage(
            name="trends",
            title="Bioreactor trends",
            build="biofab.process.webpages:trend_page",
            fields=(WebField("scenario", "Scenario (YAML)", multiline=True),),
        ),
    ),
    help=(
        "Fermentation twins: simulate, fit, estimate states, control the feed, optimise "
        "recipes, monitor batches."
    ),
    cli="biofab.cli.process:process_app",
    cli_extensions=(
        "biofab.cli.process_monitor:register",
        "biofab.cli.process_live:register",
        "biofab.cli.process_federated:register",
        "biofab.cli.process_predict:register",
    ),
    testbeds={
        "scenario": "biofab.process.scenario:ScenarioTestbed",
        "pensim": "biofab.process.pensim:PenSimTestbed",
    },
    scenarios={"fedbatch": "biofab.process.scenario:Scenario.from_yaml"},
    jobs={"optimize-recipe": "biofab.process.jobs:optimize_recipe"},
)
