"""``FolderLab``: a lab adapter that hands batches over through a folder.

The loop runner writes each batch as ``round_NN/designs.csv``; the lab (a person,
a LIMS export, a liquid-handler script) builds and measures it and drops
``round_NN/results.csv`` (the campaign's results table: parameters, objectives,
optional ``_std``/``_n``). The adapter waits for that file, checks it is complete
(it must not change between two looks), and hands it to the campaign, which
validates it whole before anything is stored.
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from biofab.core import Execution, InputError
from biofab.core.atomic import write_atomic


class FolderLab:
    """An :class:`~biofab.core.Executor` that waits for a lab's results file.

    Parameters
    ----------
    folder
        Where the round folders go (created if missing; its parent must exist).
    poll_s
        Seconds between two looks for the results file.
    timeout_s
        Give up (one-line error, nothing ingested) after this many seconds; None
        waits for ever.
    """

    designs_name = "designs.csv"
    results_name = "results.csv"

    def __init__(
        self, folder: str | Path, *, poll_s: float = 5.0, timeout_s: float | None = None
    ) -> None:
        self.folder = Path(folder)
        self.poll_s = float(poll_s)
        self.timeout_s = timeout_s

    def round_folder(self, round_index: int) -> Path:
        return self.folder / f"round_{round_index:02d}"

    def execute(self, designs: pd.DataFrame, round_index: int) -> Execution:
        """Write the batch, wait for the lab's results, return them unvalidated."""
        from biofab.campaign.results import read_table

        directory = self.round_folder(round_index)
        if not self.folder.parent.exists():
            raise InputError("the lab folder's parent does not exist", file=str(self.folder.parent))
        directory.mkdir(parents=True, exist_ok=True)
        sent = write_atomic(directory / self.designs_name, designs.to_csv(index=False))
        results = self._wait(directory / self.results_name)
        table, _ = read_table(results)
        return Execution(table, source=str(results), files=[sent, results])

    def _wait(self, path: Path) -> Path:
        """Return ``path`` once it exists and its size has settled."""
        start = time.monotonic()
        last_size = -1
        while True:
            if path.exists():
                size = path.stat().st_size
                if size > 0 and size == last_size:
                    return path
                last_size = size
            if self.timeout_s is not None and time.monotonic() - start > self.timeout_s:
                raise InputError(
                    "no results from the lab in time",
                    file=str(path),
                    expected=f"the file within {self.timeout_s:g} s",
                    found="nothing",
                )
            time.sleep(self.poll_s)
