"""Lazy package exports (PEP 562): ``from biofab.parts import X`` imports X's module on use.

A package lists which submodule defines each public name; importing the package
stays cheap (``biofab --help`` never pays for torch, COBRApy or CasADi), and the
first access to a name imports its module and caches the value.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping


def lazy_exports(
    package: str, where: Mapping[str, str]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package`` for the names in ``where``.

    ``where`` maps a public name to the module that defines it: a submodule of
    ``package`` (``"models"``) or an absolute module (``"biofab.learn.gp"``).
    Use as ``__getattr__, __dir__ = lazy_exports(__name__, _LAZY)``.
    """

    def __getattr__(name: str) -> object:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        path = module if module.startswith("biofab.") else f"{package}.{module}"
        value = getattr(importlib.import_module(path), name)
        sys.modules[package].__dict__[name] = value  # later lookups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted({*sys.modules[package].__dict__, *where})

    return __getattr__, __dir__
