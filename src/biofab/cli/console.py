"""The command line's Rich consoles: fitted to a terminal, whole lines when piped.

Rich lays a table out in the console's width; off a terminal (a pipe, a file, a CI log,
a test's capture) it assumes 80 columns, so a wide table came out with every cell cut
to ``c…`` and long lines wrapped. Output that is not a terminal is read by a program or
a person in an editor: it gets a width no table or line reaches, so nothing is cut or
wrapped (``COLUMNS``, when set, still wins). CLI modules build their consoles here.
"""

from __future__ import annotations

import os

from rich.console import Console

#: Columns assumed when the output is not a terminal (characters; nothing reaches it).
PIPED_WIDTH = 100_000


def console(*, stderr: bool = False) -> Console:
    """A console on stdout (or stderr): the terminal's width on a terminal, else
    :data:`PIPED_WIDTH` unless ``COLUMNS`` is set."""
    c = Console(stderr=stderr)
    if not c.is_terminal and not os.environ.get("COLUMNS", "").isdigit():
        c = Console(stderr=stderr, width=PIPED_WIDTH)
    return c
