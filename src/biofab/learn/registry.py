"""Recommenders by name, for the CLI and services: ``make_recommender("bo")``.

Entries name their factory by import path (``"module:attribute"``) and import
it only when it is made, so reading the names (``--help``, a form's choices)
does not import torch. A plug-in adds its own with :func:`register_recommender`.

``"auto"`` is reserved: it is not a recommender but "let the caller choose" (a
campaign starts space-filling, then uses
:func:`~biofab.learn.recommenders.default_recommender`), and
:func:`make_recommender` returns None for it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from biofab.core.errors import InputError

if TYPE_CHECKING:
    from biofab.learn.recommendation import Recommender

#: The name that means "the caller's default".
AUTO = "auto"


@dataclass(frozen=True)
class Entry:
    """One registered recommender: what makes it, one line of help, fixed options."""

    name: str
    factory: str | Callable[..., Recommender]
    help: str
    options: dict[str, Any] = field(default_factory=dict)

    def resolve(self) -> Callable[..., Recommender]:
        """The factory, imported now if it was given by path."""
        if not isinstance(self.factory, str):
            return self.factory
        module, _, attr = self.factory.partition(":")
        made: Callable[..., Recommender] = getattr(importlib.import_module(module), attr)
        return made


_REGISTRY: dict[str, Entry] = {}


def register_recommender(
    name: str,
    factory: str | Callable[..., Recommender],
    help: str,
    *,
    options: dict[str, Any] | None = None,
    replace: bool = False,
) -> None:
    """Register ``factory`` (a callable, or ``"module:attribute"`` imported when
    first made) under ``name``; ``options`` are keyword arguments it always gets.

    Raises ``ValueError`` for ``"auto"``, a name with spaces, or a name already
    taken (unless ``replace``).
    """
    if not name or name != name.strip() or " " in name or name == AUTO:
        raise ValueError(f"not a usable recommender name: {name!r}")
    if name in _REGISTRY and not replace:
        raise ValueError(f"a recommender named {name!r} is already registered")
    if isinstance(factory, str) and ":" not in factory:
        raise ValueError(f"an import path needs 'module:attribute', got {factory!r}")
    _REGISTRY[name] = Entry(name, factory, help, dict(options or {}))


def recommender_names() -> list[str]:
    """``"auto"`` then every registered name, in registration order."""
    return [AUTO, *_REGISTRY]


def recommender_help() -> dict[str, str]:
    """One line of help per name (``"auto"`` included)."""
    helps = {AUTO: "the campaign's default: space-filling first, then the default recommender"}
    return helps | {name: e.help for name, e in _REGISTRY.items()}


def make_recommender(name: str, **options: Any) -> Recommender | None:
    """A new recommender of the registered ``name`` (None for ``"auto"``).

    ``options`` override the entry's fixed options and go to its factory.
    An unknown name raises :class:`~biofab.core.errors.InputError` listing the names.
    """
    if name == AUTO:
        return None
    entry = _REGISTRY.get(name)
    if entry is None:
        raise InputError(
            "unknown recommender",
            expected="one of " + ", ".join(recommender_names()),
            found=name,
        )
    return entry.resolve()(**(entry.options | options))


_BUILT_IN: list[tuple[str, str, str, dict[str, Any]]] = [
    ("sobol", "SpaceFilling", "space-filling: scrambled Sobol, no model", {"method": "sobol"}),
    ("lhs", "SpaceFilling", "space-filling: Latin hypercube, no model", {"method": "lhs"}),
    ("random", "SpaceFilling", "uniform random designs, no model", {"method": "random"}),
    ("bo", "BayesianOptimization", "GP + qLogNEI (one objective or a weighted score)", {}),
    ("ucb", "EnsembleUCB", "boosted-tree ensemble + UCB with an annealed kappa", {}),
    ("cv", "AutoRecommender", "GP or trees, chosen each round by cross-validation", {}),
    ("mobo", "MultiObjective", "one GP per objective + qLogNEHVI (Pareto front)", {}),
]
for _name, _cls, _help, _options in _BUILT_IN:
    register_recommender(_name, f"biofab.learn.recommenders:{_cls}", _help, options=_options)
register_recommender(
    "sequence",
    "biofab.learn.sequence_recommender:SequenceRecommender",
    "sequence spaces: tree-ensemble UCB over legal mutants, diverse batch",
)
register_recommender(
    "variants",
    "biofab.learn.combinatorial:VariantRecommender",
    "site libraries (all-categorical spaces): epistatic GP + UCB with a kriging-believer batch "
    "over every variant",
)
register_recommender(
    "variants-ucb",
    "biofab.learn.combinatorial:VariantRecommender",
    "site libraries: boosted-tree ensemble on one-hot + UCB over every variant (ALDE-style)",
    options={"surrogate": "trees", "acquisition": "ucb"},
)
