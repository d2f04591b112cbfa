"""Reading scenario YAML files: one-line errors naming the file, the line or the key path.

Every pillar that describes an experiment in YAML (a dynamic-FBA run, a fed-batch
recipe) reads it with :func:`read_yaml` and checks its fields with a :class:`Reader`,
so that every bad file fails the same way, before anything runs::

    scenario.yaml, key inputs.F.mu_set: out of range: expected a number > 0, found -0.1
    scenario.yaml, line 7: not valid YAML: mapping values are not allowed here
    scenario.yaml: not UTF-8 text: byte 0xff at line 1

Key paths join mapping keys with dots and list positions with brackets
(``events[2].t``). The module needs only PyYAML, imported when a file is read.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

from biofab.core.errors import InputError

__all__ = ["Reader", "ScenarioError", "read_yaml", "shown"]


class ScenarioError(InputError):
    """A scenario that is not valid: names the file, the line or key path, what was
    expected and what was found, on one line."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        key: str | None = None,
        line: int | None = None,
        expected: str | None = None,
        found: object = None,
    ) -> None:
        self.key = key
        self.line = line
        super().__init__(message, file=file, row=line, column=key, expected=expected, found=found)

    def _line(self) -> str:
        parts = (
            self.file,
            None if self.line is None else f"line {self.line}",
            None if self.key is None else f"key {self.key}",
        )
        where = ", ".join(p for p in parts if p)
        text = self.message
        if self.expected is not None:
            text += f": expected {self.expected}"
        if self.found is not None:
            text += f", found {self.found!r}" if self.expected is not None else f": {self.found!r}"
        return f"{where}: {text}" if where else text


def read_yaml(path: str | Path, what: str = "scenario") -> Any:
    """The parsed content of a YAML file, or a :class:`ScenarioError` naming the file.

    Refuses, in one line: a missing file or a folder, a binary file (NUL bytes), text
    that is not UTF-8 (the byte and its line), YAML syntax errors (the line and the
    parser's reason) and a key given twice in one mapping (PyYAML would keep the last
    one silently).
    """
    import yaml

    p = Path(path)
    label = str(path)
    if not p.exists():
        raise ScenarioError(f"{what} file not found", file=label)
    if not p.is_file():
        raise ScenarioError(f"{what} path is not a file", file=label)
    try:
        raw = p.read_bytes()
    except OSError as err:
        raise ScenarioError(
            f"cannot read the {what} file", file=label, found=err.strerror
        ) from None
    if b"\x00" in raw:
        line = raw[: raw.index(b"\x00")].count(b"\n") + 1
        raise ScenarioError(
            "binary file, not YAML text", file=label, line=line, expected="a UTF-8 text file"
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise ScenarioError(
            f"not UTF-8 text (byte 0x{raw[err.start]:02x})",
            file=label,
            line=line,
            expected="a UTF-8 text file",
        ) from None
    try:
        return yaml.load(text, Loader=_loader())  # a SafeLoader subclass
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        reason = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ScenarioError(
            f"not valid YAML: {reason}",
            file=label,
            line=None if mark is None else mark.line + 1,
        ) from None


_LOADER: Any = None


def _loader() -> Any:
    """A SafeLoader that refuses a key repeated in one mapping (built once)."""
    global _LOADER
    if _LOADER is not None:
        return _LOADER
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                try:
                    duplicate = key in seen
                except TypeError:  # unhashable keys: SafeLoader reports them itself
                    break
                if duplicate:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"key {key!r} given twice", key_node.start_mark
                    )
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    _LOADER = UniqueKeyLoader
    return _LOADER


#: Longest text :func:`shown` prints whole: a CSV given where a YAML belongs parses as
#: one long string, and the whole file must not become the error line.
SHOWN_CHARS = 80


def shown(value: Any) -> Any:
    """What to print of a wrong value: scalars as they are (long text cut short),
    containers by type."""
    if isinstance(value, str) and len(value) > SHOWN_CHARS:
        return f"{value[: SHOWN_CHARS - 20]}... ({len(value)} characters)"
    return value if isinstance(value, str | int | float | type(None)) else type(value).__name__


class Reader:
    """Typed field access over parsed YAML; every failure is one :class:`ScenarioError`.

    ``key`` arguments are key paths (``species.glucose.uptake.km``); ``error`` is the
    exception class raised (a pillar may pass its own :class:`ScenarioError` subclass).
    """

    def __init__(self, source: str | None, error: type[ScenarioError] = ScenarioError) -> None:
        self.source = source
        self.error = error

    def fail(
        self, key: str, message: str, expected: str | None = None, found: Any = None
    ) -> NoReturn:
        raise self.error(message, file=self.source, key=key or None, expected=expected, found=found)

    @staticmethod
    def join(key: str, child: str | int) -> str:
        """The key path of ``child`` under ``key`` (``a.b`` or ``a[0]``)."""
        if isinstance(child, int):
            return f"{key}[{child}]"
        return f"{key}.{child}" if key else child

    def mapping(self, value: Any, key: str) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            self.fail(key, "wrong type", "a mapping (key: value)", shown(value))
        return {str(k): v for k, v in value.items()}

    def sequence(self, value: Any, key: str, what: str = "a list") -> list[Any]:
        if not isinstance(value, list):
            self.fail(key, "wrong type", what, shown(value))
        return list(value)

    def keys(
        self,
        data: Mapping[str, Any],
        key: str,
        required: Sequence[str] = (),
        optional: Sequence[str] = (),
    ) -> None:
        """Refuse keys outside ``required`` + ``optional``, then missing required keys."""
        allowed = {*required, *optional}
        for k in data:
            if k not in allowed:
                listed = ", ".join(sorted(allowed)) or "no keys"
                self.fail(self.join(key, k), "unknown key", f"one of {listed}")
        for k in required:
            if k not in data:
                self.fail(self.join(key, k), "missing key")

    def number(
        self, value: Any, key: str, *, positive: bool = False, nonneg: bool = False
    ) -> float:
        """A finite number (YAML int or float, not a bool), optionally > 0 or >= 0."""
        want = "a number > 0" if positive else "a number >= 0" if nonneg else "a finite number"
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(key, "wrong type", want, shown(value))
        x = float(value)
        if not math.isfinite(x) or (positive and x <= 0) or (nonneg and x < 0):
            self.fail(key, "out of range", want, value)
        return x

    def integer(self, value: Any, key: str, minimum: int = 0) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.fail(key, "wrong value", f"a whole number >= {minimum}", shown(value))
        return int(value)

    def numbers(self, value: Any, key: str, *, nonneg: bool = False) -> list[float]:
        if not isinstance(value, list) or not value:
            self.fail(key, "wrong type", "a non-empty list of numbers", shown(value))
        return [self.number(v, self.join(key, i), nonneg=nonneg) for i, v in enumerate(value)]

    def text(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not value.strip():
            self.fail(key, "wrong type", "a non-empty text", shown(value))
        return str(value).strip()

    def choice(self, value: Any, key: str, options: Sequence[str]) -> str:
        if value not in options:
            self.fail(key, "unknown choice", " | ".join(options), shown(value))
        return str(value)

    def boolean(self, value: Any, key: str) -> bool:
        if not isinstance(value, bool):
            self.fail(key, "wrong type", "true or false", shown(value))
        return bool(value)

    def increasing(self, values: Sequence[float], key: str) -> None:
        """Refuse a list of times that does not strictly increase."""
        for i in range(1, len(values)):
            if values[i] <= values[i - 1]:
                self.fail(
                    self.join(key, i),
                    "times out of order",
                    f"increasing times (after {values[i - 1]:g})",
                    values[i],
                )
