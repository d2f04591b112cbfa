"""Cell-free protein synthesis: a TX-TL testbed, pipetting-aware spaces, build plans,
plate-reader import, the self-driving loop, and published campaigns to replay.

The names below are imported on first use (the TX-TL model needs SciPy's
integrators), so ``import biofab.cellfree`` stays cheap. Heavy pieces (the Opentrons
writer, the loop) are imported from their modules: ``biofab.cellfree.opentrons``,
``biofab.cellfree.loop``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from biofab.core.lazy import lazy_exports

if TYPE_CHECKING:
    from biofab.cellfree.cost import plate_cost, reaction_cost
    from biofab.cellfree.datasets import ReplayData, load_borkowski, load_metis
    from biofab.cellfree.layout import PlateLayout, layout_plates
    from biofab.cellfree.picklist import echo_picklist, source_plate_map, transfers
    from biofab.cellfree.platereader import PlateResult, import_plates, read_plate_file
    from biofab.cellfree.stocks import Echo, Opentrons, StockTable, composition_space
    from biofab.cellfree.txtl import TxTlModel

# name -> submodule; imported on first access so that importing the pillar (e.g. to
# read its plug-in record for `biofab --help`) costs nothing heavy.
_LAZY = {
    "plate_cost": "cost",
    "reaction_cost": "cost",
    "ReplayData": "datasets",
    "load_borkowski": "datasets",
    "load_metis": "datasets",
    "PlateLayout": "layout",
    "layout_plates": "layout",
    "echo_picklist": "picklist",
    "source_plate_map": "picklist",
    "transfers": "picklist",
    "PlateResult": "platereader",
    "import_plates": "platereader",
    "read_plate_file": "platereader",
    "Echo": "stocks",
    "Opentrons": "stocks",
    "StockTable": "stocks",
    "composition_space": "stocks",
    "TxTlModel": "txtl",
}

__all__ = [
    "Echo",
    "Opentrons",
    "PlateLayout",
    "PlateResult",
    "ReplayData",
    "StockTable",
    "TxTlModel",
    "composition_space",
    "echo_picklist",
    "import_plates",
    "layout_plates",
    "load_borkowski",
    "load_metis",
    "plate_cost",
    "reaction_cost",
    "read_plate_file",
    "source_plate_map",
    "transfers",
]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
