"""Pillars as plug-ins: the four built-in pillars come from the `biofab.pillars` entry
points; a fifth one, registered in-process or installed as a real distribution, shows up
in `biofab --help`, runs its commands and adds its section to a campaign report without
any change to engine or interface files."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from biofab.campaign import Campaign
from biofab.cli.main import app
from biofab.core import Continuous, InputError, Objective, Space, plugins
from biofab.core.plugins import Pillar, PluginError, ReportSection
from biofab.report import campaign_report, write_report
from entry_points import write_dist_info

BUILT_IN = {"cellfree", "metabolism", "parts", "process"}
HEAVY = ("torch", "botorch", "cobra", "casadi", "sqlalchemy", "plotly", "scipy.sparse", "rdkit")
BIOFAB = Path(sys.executable).with_name("biofab")  # the installed console script


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )


def small_campaign(tmp_path: Path, name: str = "c") -> Campaign:
    space = Space({"a": Continuous(0, 4, step=0.5), "b": Continuous(0, 4, step=0.5)})
    c = Campaign.create(
        name, space, [Objective.parse("y:max")], store=f"sqlite:///{tmp_path / 'c.db'}"
    )
    c.ingest(pd.DataFrame({"a": [0.5, 1.0, 2.0], "b": [1.0, 3.0, 0.5], "y": [1.0, 2.0, 1.5]}))
    return c


# --- the built-in pillars ---------------------------------------------------------------


def test_built_in_pillars_come_from_entry_points() -> None:
    declared = {ep.name for ep in metadata.entry_points(group=plugins.GROUP)}
    assert declared >= BUILT_IN
    found = {p.name: p for p in plugins.pillars()}
    assert set(found) >= BUILT_IN
    assert found["metabolism"].command == "gem"
    assert plugins.get("parts") is found["parts"]
    with pytest.raises(InputError, match="unknown pillar"):
        plugins.get("astrology")


def test_every_reference_of_a_built_in_pillar_resolves() -> None:
    """Each record's import paths name real objects (a rename breaks this test, not a user)."""
    for name in BUILT_IN:
        p = plugins.get(name)
        assert isinstance(plugins.resolve(p.cli), typer.Typer), name
        for ref in (*p.cli_extensions, *p.testbeds.values(), *p.scenarios.values()):
            assert callable(plugins.resolve(ref)), (name, ref)
        for section in p.report_sections:
            assert callable(plugins.resolve(section.build))
            assert section.applies is None or callable(plugins.resolve(section.applies))
    assert plugins.testbed_factory("txtl").__name__ == "TxTlModel"
    assert plugins.scenario_loader("dfba").__qualname__ == "Scenario.from_yaml"
    with pytest.raises(InputError, match=r"unknown testbed; expected .*txtl.*; found 'nope'"):
        plugins.testbed_factory("nope")
    with pytest.raises(InputError, match="unknown scenario kind"):
        plugins.scenario_loader("nope")


@pytest.mark.parametrize("package", sorted(BUILT_IN))
def test_pillar_package_exports_its_api(package: str) -> None:
    module = __import__(f"biofab.{package}", fromlist=["__all__"])
    assert module.__all__, package
    for name in module.__all__:
        assert getattr(module, name) is not None, (package, name)
        assert name in dir(module)
    with pytest.raises(AttributeError):
        module.no_such_name  # noqa: B018


def test_reading_the_records_and_help_import_nothing_heavy() -> None:
    """`biofab --help` lists the pillars from their records: no pillar CLI, no torch."""
    script = textwrap.dedent(
        f"""
        import sys
        from typer.testing import CliRunner
        from biofab.cli.main import app
        result = CliRunner().invoke(app, ["--help"])
        assert result.exit_code == 0, result.output
        heavy = [m for m in {HEAVY!r} if m in sys.modules]
        cli = sorted(m for m in sys.modules if m.startswith("biofab.cli."))
        print(result.output)
        print("HEAVY", heavy, "CLI", cli)
        """
    )
    proc = run(sys.executable, "-c", script)
    assert proc.returncode == 0, proc.stderr
    last = proc.stdout.strip().splitlines()[-1]
    # cli.serve, cli.jobs and cli.replay are the engine's own small modules (typer only),
    # cli.console builds the Rich consoles (rich only); FastAPI and uvicorn load only when
    # serving, a pillar's CLI only when invoked.
    small = ("console", "jobs", "main", "pillars", "replay", "serve")
    expected = str([f"biofab.cli.{name}" for name in small])
    assert last == f"HEAVY [] CLI {expected}", last
    for command in ("gem", "parts", "cellfree", "process", "campaign", "space", "demo"):
        assert f" {command} " in proc.stdout, command


def test_a_pillar_group_runs_through_the_real_entry_point(tmp_path: Path) -> None:
    proc = run(str(BIOFAB), "parts", "--help")  # parts_signal's commands are registered too
    assert proc.returncode == 0, proc.stderr
    assert "train" in proc.stdout and "signal-peptides" in proc.stdout
    proc = run(str(BIOFAB), "pillars", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = {r["name"]: r for r in json.loads(proc.stdout)}
    assert set(rows) >= BUILT_IN
    assert rows["metabolism"]["command"] == "gem"
    assert "txtl" in rows["cellfree"]["testbeds"]
    assert rows["parts"]["report_sections"] == ["in-silico mutagenesis"]


def test_a_mistyped_pillar_command_is_suggested() -> None:
    result = CliRunner().invoke(app, ["gme", "fba"])
    assert result.exit_code == 2
    assert "No such command 'gme'. Did you mean 'gem'?" in result.output


def test_mutagenesis_section_only_for_sequence_spaces(tmp_path: Path) -> None:
    c = small_campaign(tmp_path)
    from biofab.parts.report import applies

    assert not applies(c)
    assert "In-silico mutagenesis" not in campaign_report(c)


# --- a fifth pillar, registered in-process -----------------------------------------------

toy_app = typer.Typer(help="A toy fifth pillar.", no_args_is_help=True)


@toy_app.command("hello")
def hello(name: str = "world") -> None:
    """Say hello."""
    typer.echo(f"hello {name} from the toy pillar")


@toy_app.command("count")
def count() -> None:
    """Count to three."""
    typer.echo("1 2 3")


def toy_sections(campaign: Campaign) -> list[tuple[str, str]]:
    return [("Toy pillar section", f"{len(campaign.data())} designs seen by the toy pillar")]


@pytest.fixture
def toy() -> Iterator[Pillar]:
    pillar = Pillar(
        name="toy",
        help="A toy fifth pillar.",
        cli=toy_app,
        testbeds={"toy-bed": "biofab.testbeds.synthetic:SyntheticCellFree"},
        report_sections=(
            ReportSection("toy", build=toy_sections, applies=lambda c: "a" in c.space.names),
            ReportSection("never", build=lambda c: [("Never shown", "")], applies=lambda c: False),
        ),
    )
    plugins.register(pillar)
    yield pillar
    plugins.unregister("toy")


def test_in_process_pillar_in_help_commands_and_report(toy: Pillar, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0, result.output
    assert " toy " in result.output and "A toy fifth pillar." in result.output
    result = runner.invoke(app, ["toy", "hello", "--name", "lab"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "hello lab from the toy pillar"
    assert plugins.testbed_factory("toy-bed").__name__ == "SyntheticCellFree"
    html = write_report(small_campaign(tmp_path), tmp_path / "r.html").read_text()
    assert "Toy pillar section" in html and "3 designs seen by the toy pillar" in html
    assert "Never shown" not in html


def test_register_refuses_bad_records(toy: Pillar) -> None:
    with pytest.raises(PluginError, match="already registered"):
        plugins.register(Pillar(name="toy", help="another"))
    with pytest.raises(PluginError, match="already registered"):
        plugins.register(Pillar(name="parts", help="a second parts"))
    with pytest.raises(PluginError, match="expects a Pillar"):
        plugins.register("toy")  # type: ignore[arg-type]
    with pytest.raises(PluginError, match="lower-case"):
        Pillar(name="Bad Name", help="")
    refused = {
        "import path 'package.module:attribute'; found 'x.y'": lambda: Pillar(
            name="bad", help="", cli="x.y"
        ),
        "cannot load 'biofab.nothing:app': ModuleNotFound": lambda: plugins.resolve(
            "biofab.nothing:app"
        ),
        "cannot load 'biofab.core:nothing': AttributeError": lambda: plugins.resolve(
            "biofab.core:nothing"
        ),
    }
    for message, attempt in refused.items():
        with pytest.raises(PluginError, match=re.escape(message)):
            attempt()


# --- a fifth pillar, installed as a distribution with a real entry point ----------------

TOY_PLUGIN = """
from biofab.core.plugins import Pillar, ReportSection

pillar = Pillar(
    name="toy",
    help="Toy pillar from an installed distribution.",
    cli="toy_pillar.cli:app",
    testbeds={"toy-oracle": "toy_pillar.cli:Oracle"},
    report_sections=(ReportSection("toy", build="toy_pillar.report:sections"),),
)
"""
TOY_CLI = '''
import typer

app = typer.Typer(help="Toy pillar commands.", no_args_is_help=True)


@app.command()
def greet(name: str) -> None:
    """Greet NAME."""
    typer.echo(f"toy greets {name}")


@app.command()
def version() -> None:
    """Print the toy version."""
    typer.echo("toy 0.1")


class Oracle:
    pass
'''
TOY_REPORT = """
def sections(campaign):
    return [("Toy installed section", f"campaign {campaign.name} seen by the toy")]
"""


@pytest.fixture
def toy_dist(tmp_path: Path) -> Iterator[Path]:
    """A real distribution `toy-pillar` on a temporary sys.path entry (what pip would install)."""
    site = tmp_path / "site"
    package = site / "toy_pillar"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "plugin.py").write_text(TOY_PLUGIN)
    (package / "cli.py").write_text(TOY_CLI)
    (package / "report.py").write_text(TOY_REPORT)
    write_dist_info(site, "toy-pillar", {plugins.GROUP: {"toy": "toy_pillar.plugin:pillar"}})
    sys.path.insert(0, str(site))
    plugins.refresh()
    yield site
    sys.path.remove(str(site))
    for name in [m for m in sys.modules if m.startswith("toy_pillar")]:
        del sys.modules[name]
    plugins.refresh()


def _pythonpath(*folders: Path) -> str:
    """``folders`` before this process's PYTHONPATH (unset in a fresh clone's CI)."""
    inherited = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return os.pathsep.join([*map(str, folders), *inherited])


def test_installed_pillar_through_the_real_entry_point(toy_dist: Path, tmp_path: Path) -> None:
    assert any(ep.name == "toy" for ep in metadata.entry_points(group=plugins.GROUP))
    env = {"PYTHONPATH": _pythonpath(toy_dist)}
    proc = run(str(BIOFAB), "--help", env=env)
    assert proc.returncode == 0, proc.stderr
    assert " toy " in proc.stdout and "Toy pillar from an installed" in proc.stdout
    assert " gem " in proc.stdout  # the built-in pillars are still there
    proc = run(str(BIOFAB), "toy", "greet", "lab", env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "toy greets lab"
    # the same distribution, read in this process: its testbed and its report section
    assert plugins.get("toy").cli == "toy_pillar.cli:app"
    assert plugins.testbed_factory("toy-oracle").__name__ == "Oracle"
    html = campaign_report(small_campaign(tmp_path, name="lab-7"))
    assert "Toy installed section" in html and "campaign lab-7 seen by the toy" in html


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("toy_pillar.plugin:nothing", "cannot load 'toy_pillar.plugin:nothing': AttributeError"),
        ("toy_pillar.missing:pillar", "cannot load 'toy_pillar.missing:pillar': ModuleNotFound"),
        ("toy_pillar.cli:app", "expected a biofab.core.plugins.Pillar record"),
        ("toy_pillar.plugin", "expected 'package.module:attribute'"),
    ],
)
def test_a_broken_entry_point_is_one_line(
    toy_dist: Path, tmp_path: Path, value: str, message: str
) -> None:
    broken = tmp_path / "broken"
    write_dist_info(broken, "broken-pillar", {plugins.GROUP: {"zzz": value}})
    env = {"PYTHONPATH": _pythonpath(broken, toy_dist)}
    proc = run(str(BIOFAB), "--help", env=env)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    line = proc.stderr.strip()
    assert "\n" not in line and "Traceback" not in line, line
    assert line.startswith("error: entry point 'zzz'") and message in line, line


def test_an_entry_point_must_carry_its_own_name(toy_dist: Path, tmp_path: Path) -> None:
    misnamed = tmp_path / "misnamed"
    entries = {plugins.GROUP: {"other": "toy_pillar.plugin:pillar"}}
    write_dist_info(misnamed, "misnamed-pillar", entries)
    sys.path.insert(0, str(misnamed))
    plugins.refresh()
    try:
        with pytest.raises(PluginError, match=r"entry point 'other'.*the record is named 'toy'"):
            plugins.pillars()
    finally:
        sys.path.remove(str(misnamed))
        plugins.refresh()
