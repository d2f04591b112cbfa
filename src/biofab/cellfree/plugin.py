"""The cell-free pillar's plug-in record (entry point ``biofab.pillars: cellfree``).

Only import paths: reading this record imports no simulator.
"""

from biofab.core.plugins import BatchExport, Pillar, WebField, WebPage

pillar = Pillar(
    name="cellfree",
    api="biofab.cellfree.api:router",
    batch_exports=(
        BatchExport(
            name="echo",
            label="Echo picklist (CSV)",
            build="biofab.cellfree.webexports:echo_picklist",
            applies="biofab.cellfree.webexports:applies",
            requires="the default cell-free composition space",
        ),
        BatchExport(
            name="ot2",
            label="Opentrons OT-2 protocols (zip)",
            build="biofab.cellfree.webexports:opentrons_protocols",
            applies="biofab.cellfree.webexports:applies_ot2",
            requires=(
                "the default cell-free composition space with stocks an OT-2 can pipette "
                "in a 10 µL reaction (the default stocks need the Echo's 2.5 nL steps)"
            ),
        ),
    ),
    web_pages=(
        WebPage(
            name="reaction",
            title="TX-TL reaction of a composition",
            build="biofab.cellfree.webpages:reaction_page",
            fields=(
                WebField("composition", "Composition (YAML: component: value)", multiline=True),
                WebField("hours", "Reaction time (h)", default="8"),
            ),
        ),
    ),
    help="Cell-free protein synthesis: closed loops, build plans, plate-reader import.",
    cli="biofab.cli.cellfree:cellfree_app",
    testbeds={
        "txtl": "biofab.cellfree.txtl:TxTlModel",
        "synthetic-cellfree": "biofab.testbeds.synthetic:SyntheticCellFree",
    },
)
