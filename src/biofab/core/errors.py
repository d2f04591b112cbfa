"""Errors that name what went wrong, where, what was expected and what was found.

Every problem with a user's input is raised as a :class:`BiofabError` subclass.
The CLI prints ``str(err)`` as one line and exits with code 2; the store never
writes half of an input that raised one.
"""

from __future__ import annotations


class BiofabError(Exception):
    """Base class of every error biofab raises on purpose."""

    exit_code = 2


class InputError(BiofabError):
    """Bad user input: a file, a row, a column, what was expected and what was found.

    ``row`` counts data rows from 1 (the header is row 0), matching what a
    spreadsheet user sees after the header line.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
        expected: str | None = None,
        found: object = None,
    ) -> None:
        self.message = message
        self.file = file
        self.row = row
        self.column = column
        self.expected = expected
        self.found = found
        super().__init__(self._line())

    def in_file(self, file: str) -> InputError:
        """This error naming ``file``, for a caller that knows which file the bad input came
        from when the code that raised did not (an error that names one is returned as is).
        Raise it ``from None``: the line is the whole message."""
        if self.file is not None:
            return self
        return type(self)(
            self.message,
            file=file,
            row=self.row,
            column=self.column,
            expected=self.expected,
            found=self.found,
        )

    def _line(self) -> str:
        where = []
        if self.file is not None:
            where.append(str(self.file))
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        parts = [": ".join([", ".join(where), self.message]) if where else self.message]
        if self.expected is not None:
            parts.append(f"expected {self.expected}")
        if self.found is not None:
            parts.append(f"found {self.found!r}")
        return "; ".join(parts)


class SpaceError(InputError):
    """A space definition (YAML or Python) that cannot describe a design space."""


class DesignError(InputError):
    """A design outside its space: off bounds, off grid, or breaking a constraint."""


class UnknownCampaignError(BiofabError):
    """A campaign name that the store does not hold."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"unknown campaign '{name}'; create it with `biofab campaign create`")


class CampaignExistsError(BiofabError):
    """Creating a campaign whose name is already taken."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"campaign '{name}' already exists")


class StaleVersionError(BiofabError):
    """A write made against a version of a campaign that has changed since (optimistic locking)."""

    def __init__(self, name: str, expected: int, found: int) -> None:
        self.name, self.expected, self.found = name, expected, found
        super().__init__(
            f"campaign '{name}' changed since version {expected} (now version {found}); "
            "read it again and retry"
        )


class NotEnoughDataError(BiofabError):
    """A model was asked to learn from fewer measurements than it needs."""


class ModelError(InputError):
    """A metabolic model that cannot be used as asked: no FBC, no objective, an
    unknown reaction or exchange, an infeasible or unbounded problem."""
