"""Layers, checked on the source: every `biofab.*` import (module level, inside functions
and under TYPE_CHECKING) points down the table below, and the packages form no cycle.

    interfaces   cli, demo, report, api     (report, api and cli/main.py name no pillar;
                 __main__                    `python -m biofab` runs the CLI)
    pillars      parts, metabolism, cellfree, process, testbeds
    facade       campaign
    engine       learn, store, compute, viz
    vocabulary   core                        (the plug-in registry lives here)
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

from biofab.core import plugins

SRC = Path(__file__).resolve().parents[1] / "src" / "biofab"

PILLARS = {"parts", "metabolism", "cellfree", "process"}
ENGINE = {"learn", "store", "compute", "viz"}
# package -> the packages it may import (besides itself)
MAY_IMPORT: dict[str, set[str]] = {
    "core": set(),
    **{e: {"core"} for e in ENGINE},
    # The job queue (compute) keeps its state in the store.
    "compute": {"core", "store"},
    "campaign": {"core", *ENGINE},
    # A pillar uses the vocabulary, the engine and the campaign facade; never another pillar.
    **{p: {"core", *ENGINE, "campaign"} for p in PILLARS},
    "testbeds": {"core", *ENGINE, *PILLARS},
    "report": {"core", *ENGINE, "campaign"},
    "demo": {"core", *ENGINE, "campaign", "report", "testbeds", *PILLARS},
    "cli": {"core", *ENGINE, "campaign", "report", "demo", "testbeds", "api", *PILLARS},
    # The service reaches pillars only through the plug-in registry (their routers).
    "api": {"core", *ENGINE, "campaign", "report"},
    # The dashboard calls the API's route functions; pillar pages come from the registry.
    "web": {"core", *ENGINE, "campaign", "report", "api"},
    "biofab": {"core", *ENGINE, "campaign"},  # the root package's lazy re-exports
    "__main__": {"cli"},  # `python -m biofab`: the command line, nothing else
}


def _package(path: Path) -> str:
    rel = path.relative_to(SRC)
    return "biofab" if rel.parts == ("__init__.py",) else rel.parts[0].removesuffix(".py")


def _module(path: Path) -> str:
    parts = ("biofab", *path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[str, int]]:
    """Every biofab module ``path`` imports, with its line (relative imports resolved)."""
    found = []
    package = _module(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package[: len(package) - node.level + 1]
                base = ".".join([*up, *([base] if base else [])])
            # `from biofab import x` or `from biofab.core import plugins`: x may be a module
            found += [(f"{base}.{a.name}", node.lineno) for a in node.names]
            found.append((base, node.lineno))
    return [(name, line) for name, line in found if name == "biofab" or name.startswith("biofab.")]


def _target(name: str) -> str:
    parts = name.split(".")
    if len(parts) == 1:
        return "biofab"
    return parts[1] if (SRC / parts[1]).exists() or (SRC / f"{parts[1]}.py").exists() else "biofab"


def package_graph() -> dict[str, dict[str, list[str]]]:
    """package -> imported package -> ['file:line', ...]."""
    graph: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for path in sorted(SRC.rglob("*.py")):
        source = _package(path)
        for name, line in imports(path):
            target = _target(name)
            where = f"{path.relative_to(SRC)}:{line}"
            if target != source and where not in graph[source][target]:
                graph[source][target].append(where)
    return graph


def test_every_package_has_a_layer() -> None:
    packages = {_package(p) for p in SRC.rglob("*.py")}
    assert packages <= set(MAY_IMPORT), packages - set(MAY_IMPORT)


def test_imports_point_down() -> None:
    wrong = [
        f"{source} -> {target} ({', '.join(where)})"
        for source, targets in package_graph().items()
        for target, where in targets.items()
        if target not in MAY_IMPORT[source]
    ]
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles_between_packages() -> None:
    graph = {s: set(t) for s, t in package_graph().items()}
    state: dict[str, int] = {}  # 1 on the stack, 2 done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            assert state.get(nxt) != 1, " -> ".join([*path, node, nxt])
            if nxt not in state:
                visit(nxt, [*path, node])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])


def test_the_interfaces_name_no_pillar() -> None:
    """cli/main.py, the lazy pillar group and the report import no module that a pillar's
    record names (its package, its CLI app, its extensions): they reach pillars only
    through the registry."""
    named = set(PILLARS)
    for pillar in plugins.pillars():
        named.add(f"biofab.{pillar.name}")
        for ref in (pillar.cli, *pillar.cli_extensions):
            if isinstance(ref, str):
                named.add(ref.partition(":")[0])
    files = [SRC / "cli" / "main.py", SRC / "cli" / "pillars.py", *(SRC / "report").glob("*.py")]
    files += [*(SRC / "web").glob("*.py")]
    wrong = []
    for path in files:
        for name, line in imports(path):
            if any(name == n or name.startswith(n + ".") for n in named if "." in n):
                wrong.append(f"{path.relative_to(SRC)}:{line} imports {name}")
    assert not wrong, "\n".join(wrong)
    text = "\n".join(p.read_text() for p in files)
    for pillar in ("parts", "metabolism", "cellfree", "process", "gem"):
        assert f"biofab.{pillar}" not in text and f"biofab.cli.{pillar}" not in text, pillar


def test_the_check_sees_function_level_imports() -> None:
    """The analysis itself: imports inside functions count as much as module-level ones."""
    sample = SRC / "report" / "campaign.py"
    names = {n for n, _ in imports(sample)}
    assert "biofab.core.plugins" in names and "biofab.viz" in names
    module = SRC / "campaign" / "campaign.py"
    assert not any(n.startswith("biofab.report") for n, _ in imports(module))
    recipe = {n for n, _ in imports(SRC / "process" / "recipe.py")}
    assert "biofab.campaign" in recipe  # imported inside optimize_recipe
