"""The main job: a complete multi-round campaign against a built-in testbed.

With ``data`` (the Borkowski 2020 cell-free folder, or any folder the
cell-free loaders read) the testbed replays measured compositions, choosing
from the pool of what was really measured. Without it, a documented synthetic
cell-free yield surface answers (see :class:`biofab.testbeds.SyntheticCellFree`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from biofab.campaign import Campaign
from biofab.core import Testbed
from biofab.store import Store
from biofab.testbeds import ReplayTestbed, SyntheticCellFree


@dataclass
class DemoResult:
    campaign: Campaign
    history: pd.DataFrame
    report: Path
    testbed: str


def make_testbed(data: str | Path | None, seed: int = 0) -> tuple[Testbed, str]:
    """A replay testbed over ``data`` or, without it, the synthetic surface."""
    if data is None:
        return SyntheticCellFree(seed=seed), "synthetic cell-free surface (8 components)"
    from biofab.cellfree import load_borkowski, load_metis

    path = Path(data)
    loader = (
        load_metis
        if any(path.glob("Results_*.csv")) or path.name.startswith("Results_")
        else load_borkowski
    )
    replay = loader(path)
    return ReplayTestbed.from_data(
        replay
    ), f"replay of {replay.source} ({len(replay.table)} compositions)"


def run_demo(
    *,
    data: str | Path | None = None,
    rounds: int = 6,
    batch: int = 20,
    out: str | Path = "report.html",
    store: Store | str | None = None,
    seed: int = 0,
    name: str | None = None,
    progress: bool = True,
) -> DemoResult:
    """Run ``rounds`` rounds of ``batch`` designs and write the HTML report."""
    testbed, label = make_testbed(data, seed)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")
    campaign = Campaign.create(
        name or f"demo-{stamp}",
        testbed.space,
        list(testbed.objectives),
        store=store,
        who="biofab demo",
    )
    history = campaign.run(testbed, rounds=rounds, batch=batch, seed=seed, progress=progress)
    report = campaign.report(out)
    return DemoResult(campaign, history, report, label)
