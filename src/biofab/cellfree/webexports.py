"""Robot worklists from a campaign's recommended batch, for the dashboard.

A campaign whose parameters are exactly the varied components of the default stock
table (the space ``biofab cellfree run`` creates) can have its batch laid out on
plates by :func:`biofab.cellfree.workflows.plan`: the Echo picklist, or the Opentrons
OT-2 protocols (one per plate, zipped). Declared in the plug-in record
(``batch_exports``); the dashboard offers them only when :func:`applies` says so.
"""

from __future__ import annotations

import io
import zipfile
from typing import TYPE_CHECKING

from biofab.core.staging import staged

if TYPE_CHECKING:
    import pandas as pd

    from biofab.core import Space

REQUIRES = (
    "parameters that are the default stock table's varied components (the space "
    "'biofab cellfree run' creates)"
)


def applies(space: Space) -> bool:
    """Whether the space is the default cell-free composition space (by parameter names)."""
    from biofab.cellfree.stocks import StockTable

    return set(space.names) == set(StockTable.default().varied_names)


def applies_ot2(space: Space) -> bool:
    """The default composition space, when an OT-2 pipette can dispense it in a 10 µL
    reaction (its 1 µL minimum is too coarse for the default stocks: then not)."""
    from biofab.cellfree.loop import dispenser_named
    from biofab.cellfree.stocks import StockTable, composition_space
    from biofab.core.errors import BiofabError

    if not applies(space):
        return False
    try:
        composition_space(StockTable.default(), 10.0, dispenser_named("opentrons"))
    except BiofabError:
        return False
    return True


def _plan(designs: pd.DataFrame, dispenser: str, folder: str) -> list[str]:
    from pathlib import Path

    from biofab.cellfree import workflows

    where = Path(folder)
    path = where / "designs.csv"
    designs.to_csv(path, index=False)
    request = workflows.PlanRequest(designs=path, out=where / "plan", dispenser=dispenser)
    return workflows.plan(request).files


def echo_picklist(space: Space, designs: pd.DataFrame) -> tuple[str, str, bytes]:
    """The Echo picklist (CSV, volumes in nL) of the batch, two replicates per design."""
    with staged("biofab-echo-") as folder:
        files = _plan(designs[space.names], "echo", str(folder))
        picklist = next(f for f in files if f.endswith("echo_picklist.csv"))
        with open(picklist, "rb") as handle:
            return "echo_picklist.csv", "text/csv", handle.read()


def opentrons_protocols(space: Space, designs: pd.DataFrame) -> tuple[str, str, bytes]:
    """The OT-2 Python protocols of the batch (one per plate) as a zip."""
    with staged("biofab-ot2-") as folder:
        files = _plan(designs[space.names], "opentrons", str(folder))
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for f in files:
                if f.endswith(".py"):
                    archive.write(f, arcname=f.rsplit("/", 1)[-1])
        return "opentrons_protocols.zip", "application/zip", buffer.getvalue()
