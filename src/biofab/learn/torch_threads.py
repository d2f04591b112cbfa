"""``torch_threads``: how many CPU threads torch may use inside a block."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` torch CPU threads, then restore the previous count.

    On the small matrices of a campaign, intra-op threads cost more in
    hand-offs than they save, and on a busy machine (tests in parallel, other
    jobs) waiting for them slows training tenfold or more. The setting is
    process-wide while the block runs. ``None`` changes nothing.
    """
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
