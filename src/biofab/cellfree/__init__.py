"""Cell-free protein synthesis: a TX-TL testbed, pipetting-aware spaces, build plans,
plate-reader import, the self-driving loop, and published campaigns to replay.

Heavy pieces (the Opentrons writer, the loop) are imported from their modules:
``biofab.cellfree.opentrons``, ``biofab.cellfree.loop``.
"""

from biofab.cellfree.cost import plate_cost, reaction_cost
from biofab.cellfree.datasets import ReplayData, load_borkowski, load_metis
from biofab.cellfree.layout import PlateLayout, layout_plates
from biofab.cellfree.picklist import echo_picklist, source_plate_map, transfers
from biofab.cellfree.platereader import PlateResult, import_plates, read_plate_file
from biofab.cellfree.stocks import Echo, Opentrons, StockTable, composition_space
from biofab.cellfree.txtl import TxTlModel

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
