"""The cell-free pillar's plug-in record (entry point ``biofab.pillars: cellfree``).

Only import paths: reading this record imports no simulator.
"""

from biofab.core.plugins import Pillar

pillar = Pillar(
    name="cellfree",
    api="biofab.cellfree.api:router",
    help="Cell-free protein synthesis: closed loops, build plans, plate-reader import.",
    cli="biofab.cli.cellfree:cellfree_app",
    testbeds={
        "txtl": "biofab.cellfree.txtl:TxTlModel",
        "synthetic-cellfree": "biofab.testbeds.synthetic:SyntheticCellFree",
    },
)
