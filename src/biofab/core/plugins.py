"""Pillars as plug-ins: what a pillar offers, declared once, found through entry points.

A pillar (parts, metabolism, cell-free, process, or a fifth one in another package)
describes itself with a :class:`Pillar` record and publishes it in the
``biofab.pillars`` entry-point group of its distribution::

    [project.entry-points."biofab.pillars"]
    toy = "toy_pillar.plugin:pillar"

The interfaces (the ``biofab`` command, the campaign report) ask this registry for
the pillars and name none of them. Everything a record points at is an import path
``"package.module:attribute"`` resolved on first use, so listing the pillars (for
``biofab --help``) imports only their small ``plugin`` modules, never torch or COBRApy.
Tests and notebooks may also :func:`register` a record in-process.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from biofab.core.errors import BiofabError, InputError

GROUP = "biofab.pillars"

Ref = str | Callable[..., Any]
"""An import path ``"package.module:attribute"`` (resolved on first use) or the object."""

_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")
_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


class PluginError(BiofabError):
    """A pillar record or entry point that cannot be used (one line, exit code 2)."""


@dataclass(frozen=True)
class ReportSection:
    """Sections a pillar adds to a campaign report.

    ``build(campaign)`` returns a list of ``(heading, content)`` pairs, content a
    Plotly figure, a table (``pandas.DataFrame``) or text; an empty heading continues
    the previous section. ``applies(campaign) -> bool`` is a cheap check (e.g. on the
    space's parameter types) run first, so a report never imports a pillar whose
    sections it will not show; without it the section always applies.
    """

    name: str
    build: Ref
    applies: Ref | None = None


@dataclass(frozen=True)
class WebField:
    """One input of a pillar's dashboard page: a select when ``choices`` are given, a
    multi-line text box when ``multiline``, a one-line text box otherwise."""

    name: str
    label: str
    choices: tuple[str, ...] = ()
    default: str = ""
    multiline: bool = False


@dataclass(frozen=True)
class WebPage:
    """A page a pillar adds to the dashboard (``/ui/pillars/<pillar>/<name>``).

    ``build(values)`` gets the submitted ``fields`` as ``{name: text}`` (defaults when
    the page is first opened) and returns ``(heading, content)`` pairs like a report
    section: content a Plotly figure, a ``pandas.DataFrame`` or text. Bad input raises
    a :class:`~biofab.core.errors.BiofabError`, shown as its one line on the page. The
    dashboard renders the result, so a pillar writes no HTML.
    """

    name: str
    title: str
    build: Ref
    fields: tuple[WebField, ...] = ()


@dataclass(frozen=True)
class BatchExport:
    """A file a pillar makes from a campaign's recommended batch (a robot's worklist).

    ``applies(space) -> bool`` says whether the campaign's design space suits it (checked
    before the pillar's heavy modules load); ``requires`` says in words what it needs,
    shown when it does not apply. ``build(space, designs)`` gets the batch as a
    ``pandas.DataFrame`` (one column per parameter) and returns ``(filename, media_type,
    content bytes)``.
    """

    name: str
    label: str
    build: Ref
    applies: Ref | None = None
    requires: str = ""


@dataclass(frozen=True, eq=False)
class Pillar:
    """One pillar's offer to the interfaces.

    - ``cli``: a ``typer.Typer`` (import path) added as ``biofab <command>``;
      ``cli_extensions`` are ``register(app)`` callables that add more commands to it.
      ``command`` defaults to ``name``.
    - ``testbeds``: name -> factory (a class or function) of a
      :class:`~biofab.core.Testbed`.
    - ``report_sections``: what the pillar adds to a campaign report.
    - ``scenarios``: scenario kind -> loader ``(path) -> scenario`` for its YAML files.
    - ``api``: a factory ``() -> fastapi.APIRouter`` of the pillar's HTTP routes, mounted
      by the service under ``/api/v1/pillars/<name>`` (imported only by the service).
    - ``jobs``: job kind -> a :class:`biofab.core.jobs.JobKind` (a typed workflow the
      job queue may run in the background, e.g. ``"deletions"``).
    - ``web_pages``: pages of the pillar's results in the dashboard (:class:`WebPage`).
    - ``batch_exports``: files made from a campaign's recommended batch
      (:class:`BatchExport`), offered on the dashboard's campaign page.
    """

    name: str
    help: str
    cli: Ref | None = None
    cli_extensions: tuple[Ref, ...] = ()
    command: str = ""
    testbeds: Mapping[str, Ref] = field(default_factory=dict)
    report_sections: tuple[ReportSection, ...] = ()
    scenarios: Mapping[str, Ref] = field(default_factory=dict)
    api: Ref | None = None
    jobs: Mapping[str, Ref] = field(default_factory=dict)
    web_pages: tuple[WebPage, ...] = ()
    batch_exports: tuple[BatchExport, ...] = ()

    def __post_init__(self) -> None:
        names = [("name", self.name), ("command", self.command or self.name)]
        names += [("web page name", w.name) for w in self.web_pages]
        names += [("batch export name", b.name) for b in self.batch_exports]
        for label, value in names:
            if not _NAME.match(value):
                raise PluginError(
                    f"pillar {label} must be lower-case letters, digits, '-' or '_'; "
                    f"found {value!r}"
                )
        if not self.command:
            object.__setattr__(self, "command", self.name)
        for kind in self.jobs:
            if not _NAME.match(kind):
                raise PluginError(
                    f"pillar {self.name!r}: job kind must be lower-case letters, digits, "
                    f"'-' or '_'; found {kind!r}"
                )
        refs: list[Ref | None] = [self.cli, self.api, *self.cli_extensions]
        refs += [*self.testbeds.values(), *self.scenarios.values(), *self.jobs.values()]
        refs += [r for s in self.report_sections for r in (s.build, s.applies)]
        refs += [w.build for w in self.web_pages]
        refs += [r for b in self.batch_exports for r in (b.build, b.applies)]
        for ref in refs:
            if isinstance(ref, str) and not _PATH.match(ref):
                raise PluginError(
                    f"pillar {self.name!r}: expected an import path 'package.module:attribute'; "
                    f"found {ref!r}"
                )


_registered: dict[str, Pillar] = {}
_discovered: list[Pillar] | None = None


def register(pillar: Pillar) -> None:
    """Add ``pillar`` in this process (tests, notebooks); entry points need no call."""
    if not isinstance(pillar, Pillar):
        raise PluginError(f"register() expects a Pillar; found {type(pillar).__name__}")
    taken = {p.name: p for p in _all()}
    if pillar.name in taken and taken[pillar.name] is not pillar:
        raise PluginError(f"a pillar named {pillar.name!r} is already registered")
    _registered[pillar.name] = pillar


def registered() -> tuple[Pillar, ...]:
    """The pillars added in this process with :func:`register` (a worker process started
    without forking re-registers them: they are plain records of import paths)."""
    return tuple(_registered.values())


def unregister(name: str) -> None:
    """Remove a pillar added with :func:`register` (entry points stay)."""
    _registered.pop(name, None)


def refresh() -> None:
    """Forget the entry points read so far (after installing a plug-in in this process)."""
    global _discovered
    _discovered = None


def pillars() -> list[Pillar]:
    """Every pillar: installed entry points (by name), then those registered in-process."""
    return _all()


def get(name: str) -> Pillar:
    """The pillar called ``name``."""
    for p in _all():
        if p.name == name:
            return p
    raise InputError(
        "unknown pillar", expected=", ".join(p.name for p in _all()) or "none", found=name
    )


def resolve(ref: Ref) -> Any:
    """The object behind ``ref``: import ``package.module`` and walk ``attribute``."""
    if not isinstance(ref, str):
        return ref
    module_name, _, attribute = ref.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as e:
        raise PluginError(f"cannot load {ref!r}: {type(e).__name__}: {e}") from None
    return obj


def testbed_factory(name: str) -> Callable[..., Any]:
    """The factory of the testbed called ``name``, whichever pillar offers it."""
    offered = {t: ref for p in _all() for t, ref in p.testbeds.items()}
    if name not in offered:
        raise InputError("unknown testbed", expected=", ".join(sorted(offered)), found=name)
    factory: Callable[..., Any] = resolve(offered[name])
    return factory


def scenario_loader(kind: str) -> Callable[..., Any]:
    """The loader ``(path) -> scenario`` of the scenario kind ``kind``."""
    offered = {k: ref for p in _all() for k, ref in p.scenarios.items()}
    if kind not in offered:
        raise InputError("unknown scenario kind", expected=", ".join(sorted(offered)), found=kind)
    loader: Callable[..., Any] = resolve(offered[kind])
    return loader


def job_kinds() -> dict[str, str]:
    """Every job kind offered, with the name of the pillar that offers it (no import)."""
    return {k: p.name for p in _all() for k in p.jobs}


def job_kind(kind: str) -> Any:
    """The :class:`biofab.core.jobs.JobKind` called ``kind``, whichever pillar offers it."""
    offered = {k: ref for p in _all() for k, ref in p.jobs.items()}
    if kind not in offered:
        raise InputError(
            "unknown job kind", expected=", ".join(sorted(offered)) or "none", found=kind
        )
    return resolve(offered[kind])


def _all() -> list[Pillar]:
    found = _entry_points()
    names = {p.name for p in found}
    return found + [p for n, p in _registered.items() if n not in names]


def _entry_points() -> list[Pillar]:
    global _discovered
    if _discovered is None:
        _discovered = _load_entry_points()
    return _discovered


def _load_entry_points() -> list[Pillar]:
    found: dict[str, Pillar] = {}
    for ep in sorted(metadata.entry_points(group=GROUP), key=lambda e: e.name):
        where = f"entry point {ep.name!r} = {ep.value!r} in group {GROUP!r}"
        if not _PATH.match(ep.value):
            raise PluginError(f"{where}: expected 'package.module:attribute'")
        try:
            pillar = resolve(ep.value)
        except Exception as e:  # a broken plug-in is named, not a traceback
            raise PluginError(
                f"{where}: {e}"
                if isinstance(e, PluginError)
                else f"{where}: {type(e).__name__}: {e}"
            ) from None
        if not isinstance(pillar, Pillar):
            raise PluginError(f"{where}: expected a biofab.core.plugins.Pillar record")
        if pillar.name != ep.name:
            raise PluginError(f"{where}: the record is named {pillar.name!r}")
        # The same distribution seen twice on sys.path (an editable install) is one pillar.
        if ep.name in found and found[ep.name] is not pillar:
            raise PluginError(f"{where}: two different pillars are named {ep.name!r}")
        found[ep.name] = pillar
    return list(found.values())
