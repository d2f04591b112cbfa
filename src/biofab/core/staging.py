"""A private folder for the files of one service request, named as the user named them.

Workflows read and write paths; a service receives text and uploads. ``staged()``
gives a temporary folder to write them into and removes it afterwards, and a
:class:`~biofab.core.errors.BiofabError` raised inside names files as the user
sent them (``plate.csv``), never by the server's temporary path.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from biofab.core.errors import BiofabError

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@contextmanager
def staged(prefix: str = "biofab-") -> Iterator[Path]:
    """A new private folder, removed on exit; errors raised inside lose its path."""
    with tempfile.TemporaryDirectory(prefix=prefix) as folder:
        try:
            yield Path(folder)
        except BiofabError as err:
            text = str(err).replace(folder + os.sep, "").replace(folder, ".")
            err.args = (text,)  # same class, so the same HTTP status; only the line changes
            raise


def safe_name(filename: str | None, default: str) -> str:
    """A user's file name reduced to its base name in safe characters (suffix kept)."""
    base = Path(filename or "").name
    cleaned = _UNSAFE.sub("_", base).strip("._")[:100]
    return cleaned or default
