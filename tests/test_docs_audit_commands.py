"""Every `biofab ...` line in the README and the user docs parses as the CLI reads it.

The docs are how a new user learns the tool; a documented command that the CLI refuses
(an option renamed, a required option missing, a command gone) is the first thing they
hit. This parses each command line of the docs' shell blocks with the real command tree
(click's own parser: command names, options, their types, required parameters) without
running anything, so it is fast and needs none of the documented input files. Whether
the commands then *work* was checked by running them (the docs audit); this keeps them
from drifting again.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer

from biofab.cli.main import app

ROOT = Path(__file__).resolve().parents[1]
DOCS = [
    "README.md",
    *(
        f"docs/{name}.md"
        for name in (
            "campaigns",
            "cellfree",
            "dashboard",
            "federated",
            "jobs",
            "metabolism",
            "parts",
            "process",
            "process-live",
            "process-monitoring",
            "process-userdata",
            "service",
            "store",
        )
    ),
]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
# Words a doc uses as placeholders for a value the reader supplies (`biofab jobs show ID`).
PLACEHOLDERS = {"ID", "N", "S", "..."}


def _lines(path: str) -> Iterator[tuple[str, list[str]]]:
    """(doc:line, words after `biofab`) for each biofab command in a shell block."""
    text = (ROOT / path).read_text(encoding="utf-8")
    for block in FENCE.finditer(text):
        if block.group(1) not in ("", "bash", "sh"):
            continue  # yaml, python, csv: not commands
        first = text[: block.start()].count("\n") + 2
        lines = block.group(2).split("\n")
        i = 0
        while i < len(lines):
            number, line = first + i, lines[i]
            while line.rstrip().endswith("\\") and i + 1 < len(lines):
                i += 1
                line = line.rstrip()[:-1] + " " + lines[i]
            i += 1
            try:
                words = shlex.split(line, comments=True)
            except ValueError:  # part of a multi-line quoted argument of another program
                continue
            while words and re.match(r"^[A-Z_]+=", words[0]):
                words = words[1:]  # `BIOFAB_DB=... biofab serve`
            if len(words) < 2 or words[0] != "biofab" or words[1].endswith(":"):
                continue  # not a command (`biofab serve: ...` is printed output)
            if any(w in PLACEHOLDERS or w.startswith("[") for w in words):
                continue  # a synopsis line (`[--json]`), not a command to run
            yield f"{path}:{number}", words[1:]


COMMANDS = [c for doc in DOCS for c in _lines(doc)]


def test_the_docs_show_commands() -> None:
    # A broken extractor would make the test below vacuous.
    assert len(COMMANDS) > 60
    assert {doc.split(":")[0] for doc, _ in COMMANDS} >= {"README.md", "docs/metabolism.md"}


@pytest.mark.parametrize(("where", "args"), COMMANDS, ids=[w for w, _ in COMMANDS])
def test_documented_command_parses(where: str, args: list[str]) -> None:
    root: Any = typer.main.get_command(app)
    ctx = root.make_context("biofab", list(args), resilient_parsing=True)
    command, rest = root, list(args)
    while hasattr(command, "resolve_command"):  # a group: descend to the named command
        assert rest, f"{where}: `biofab {' '.join(args)}` names a group, not a command"
        name, command, rest = command.resolve_command(ctx, rest)
        if hasattr(command, "resolve_command"):
            ctx = command.make_context(name, list(rest), parent=ctx, resilient_parsing=True)
    # Parses and checks every parameter (names, types, required ones) without invoking.
    command.make_context(command.name, list(rest), parent=ctx)
