"""Job kinds: what a pillar lets the job queue run, and how a request is read.

A pillar lists its kinds in its plug-in record (``Pillar.jobs``: kind ->
import path of a :class:`JobKind`). A kind wraps one of the pillar's typed
workflows: the queue turns a JSON request (a dict) into the workflow's frozen
request dataclass with :meth:`JobKind.parse` at submit time, so a bad request is
one line and nothing is stored; a worker later runs :meth:`JobKind.execute` and
stores its JSON result.

Fields that name files the workflow writes (``out``, ``plot``) are not the
submitter's to choose: ``outputs`` maps them to file names inside the job's own
folder. ``fixed`` sets fields the job decides itself (``progress=True``).
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

from biofab.core.errors import InputError

#: Placeholder of an output path until the job's folder is known.
_PENDING = Path("__job_folder__")


class _Mismatch(Exception):
    """A JSON value that does not fit a field's type."""


@dataclasses.dataclass(frozen=True)
class JobKind:
    """One kind of job: ``request`` (a frozen dataclass) in, ``run(request)`` out.

    ``run`` returns the workflow's result; :meth:`execute` turns it into JSON
    (``to_json()`` when it has one, else ``to_dict()``, else the value itself).
    """

    request: type[Any]
    run: Callable[[Any], Any]
    help: str = ""
    fixed: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    outputs: Mapping[str, str] = dataclasses.field(default_factory=dict)
    check: Callable[[Any], None] | None = None
    """Cheap checks of a typed request at submit time (choices, ranges, input files
    present); raises :class:`InputError`. The workflow checks everything again."""

    def fields(self) -> dict[str, Any]:
        """Fields a submitter may set: name -> type hint."""
        hints = _hints(self.request)
        hidden = set(self.fixed) | set(self.outputs)
        return {
            f.name: hints[f.name]
            for f in dataclasses.fields(self.request)
            if f.init and f.name not in hidden
        }

    def parse(self, data: Any, *, kind: str = "job") -> Any:
        """The typed request of the JSON ``data``; one :class:`InputError` line if bad."""
        if not isinstance(data, Mapping):
            raise InputError(
                f"{kind} request must be a JSON object",
                expected="an object of fields",
                found=type(data).__name__,
            )
        allowed = self.fields()
        for key in data:
            if key not in allowed:
                raise InputError(
                    f"{kind} request: unknown field",
                    column=str(key),
                    expected=", ".join(allowed) or "no fields",
                )
        values: dict[str, Any] = {}
        required = {
            f.name
            for f in dataclasses.fields(self.request)
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        }
        for name, hint in allowed.items():
            if name not in data:
                if name in required:
                    raise InputError(f"{kind} request: missing field", column=name)
                continue
            try:
                values[name] = _convert(data[name], hint)
            except _Mismatch:
                raise InputError(
                    f"{kind} request: wrong type",
                    column=name,
                    expected=_describe(hint),
                    found=data[name],
                ) from None
        values.update(self.fixed)
        values.update({name: _PENDING / file for name, file in self.outputs.items()})
        try:
            typed = self.request(**values)
        except (TypeError, ValueError) as err:
            raise InputError(f"{kind} request: {err}") from None
        if self.check is not None:
            self.check(typed)
        return typed

    def execute(self, request: Any, folder: Path | None = None) -> Any:
        """Run the workflow (outputs written into ``folder``); its result as JSON data."""
        if self.outputs:
            if folder is None:
                raise InputError("this job writes files: it needs a job folder")
            request = dataclasses.replace(
                request, **{name: folder / file for name, file in self.outputs.items()}
            )
        result = self.run(request)
        if hasattr(result, "to_json"):
            return json.loads(result.to_json())
        if hasattr(result, "to_dict"):
            return json.loads(json.dumps(result.to_dict(), default=str))
        return json.loads(json.dumps(result, default=str))


def choice(value: str, field: str, options: tuple[str, ...]) -> None:
    """One line unless ``value`` is one of ``options``."""
    if value not in options:
        raise InputError(f"unknown {field}", column=field, expected=", ".join(options), found=value)


def at_least(value: float | None, field: str, low: float) -> None:
    """One line unless ``value`` is None or at least ``low``."""
    if value is not None and value < low:
        raise InputError(f"{field} too small", column=field, expected=f">= {low:g}", found=value)


def existing_file(path: Path | str | None, field: str) -> None:
    """One line unless ``path`` is None or an existing file (on the machine that runs jobs)."""
    if path is not None and not Path(path).is_file():
        raise InputError("no such file", column=field, found=str(path))


def _hints(cls: type[Any]) -> dict[str, Any]:
    """Field types of ``cls``; a name imported only for type checking (a parsed
    Scenario, a COBRApy model) becomes an opaque class no JSON value fits."""
    missing: dict[str, Any] = {}
    for _ in range(20):
        try:
            return get_type_hints(cls, localns=missing)
        except NameError as err:
            if not err.name or err.name in missing:
                raise
            missing[err.name] = type(err.name, (), {})
    return get_type_hints(cls, localns=missing)


def request_dict(request: Any) -> dict[str, Any]:
    """A typed request back as JSON data (paths as strings, tuples as lists)."""
    return json.loads(json.dumps(dataclasses.asdict(request), default=str))


def _convert(value: Any, hint: Any) -> Any:
    """``value`` (JSON) as the type ``hint``; raises _Mismatch when it does not fit."""
    origin = get_origin(hint)
    if hint is Any:
        return value
    if origin in (Union, types.UnionType):
        options = get_args(hint)
        if value is None:
            if type(None) in options:
                return None
            raise _Mismatch
        for option in options:
            if option is type(None):
                continue
            try:
                return _convert(value, option)
            except _Mismatch:
                continue
        raise _Mismatch
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise _Mismatch
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise _Mismatch
    if hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
        raise _Mismatch
    if hint is str:
        if isinstance(value, str):
            return value
        raise _Mismatch
    if hint is Path:
        if isinstance(value, str) and value:
            return Path(value)
        raise _Mismatch
    if origin is tuple:
        args = get_args(hint)
        if not isinstance(value, list | tuple):
            raise _Mismatch
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(v, args[0]) for v in value)
        if len(args) != len(value):
            raise _Mismatch
        return tuple(_convert(v, a) for v, a in zip(value, args, strict=True))
    if origin in (dict, Mapping) or (origin is not None and _is_mapping(origin)):
        key_t, value_t = get_args(hint) or (str, Any)
        if not isinstance(value, dict):
            raise _Mismatch
        return {_convert(k, key_t): _convert(v, value_t) for k, v in value.items()}
    # Anything else (a parsed scenario, a model object) cannot come from JSON.
    raise _Mismatch


def _is_mapping(origin: Any) -> bool:
    try:
        return issubclass(origin, Mapping)
    except TypeError:
        return False


def _describe(hint: Any) -> str:
    """A type as a person reads it: ``integer or null``, ``list of string``."""
    names = {bool: "true or false", int: "integer", float: "number", str: "string", Path: "path"}
    if hint in names:
        return names[hint]
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        parts = [
            "null" if a is type(None) else _describe(a)
            for a in get_args(hint)
            if a is type(None) or _jsonable(a)
        ]
        return " or ".join(parts)
    if origin is tuple:
        args = get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return f"list of {_describe(args[0])}"
        return f"list [{', '.join(_describe(a) for a in args)}]"
    if origin is not None and (origin in (dict, Mapping) or _is_mapping(origin)):
        args = get_args(hint)
        return f"object of {_describe(args[1])}" if args else "object"
    return getattr(hint, "__name__", str(hint))


def _jsonable(hint: Any) -> bool:
    """Whether a JSON value can ever fit ``hint`` (not a parsed object such as a Scenario)."""
    return hint in (bool, int, float, str, Path, Any) or get_origin(hint) is not None
