"""Exceptions the user can cause, one class per kind of failure, each with its exit code."""

from __future__ import annotations

from dataclasses import dataclass


class WorkbookError(Exception):
    """Base class: a failure the user can fix. Carries the CLI exit code."""

    exit_code = 1


class ConfigError(WorkbookError):
    """The configuration file is missing, unreadable or invalid."""

    exit_code = 3


@dataclass(frozen=True)
class Problem:
    """One problem in an input file, located as an editor counts lines (header = line 1)."""

    file: str
    line: int | None
    column: str | None
    value: object
    expected: str
    unit: str = "line"
    key: str | None = None  # a database row's record key, e.g. "C1, 2026-10-01, client"

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f", {self.unit} {self.line}"
        if self.key:
            where += f" ({self.key})"
        if self.column:
            where += f", column '{self.column}'"
        if self.value is None:
            return f"{where}: {self.expected}"
        return f"{where}: got {_show(self.value)}; expected {self.expected}"


def _show(value: object) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


class DataError(WorkbookError):
    """The ratings file breaks the data contract. Holds every problem found."""

    exit_code = 4

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__(self.format())

    def format(self, limit: int = 50) -> str:
        """Return a readable list of the first `limit` problems and a count of the rest."""
        n = len(self.problems)
        lines = [f"{n} problem{'s' if n != 1 else ''} found in the ratings data:"]
        lines += [f"  - {p}" for p in self.problems[:limit]]
        if n > limit:
            lines.append(f"  ... and {n - limit} more")
        return "\n".join(lines)


class ConflictError(WorkbookError):
    """Records of a file conflict with those a store already holds; nothing was written."""

    exit_code = 9

    def __init__(self, store: str, conflicts: list[str], limit: int = 50):
        self.conflicts = list(conflicts)
        n = len(self.conflicts)
        lines = [f"{n} record{'s' if n != 1 else ''} conflict with {store}; nothing was "
                 "written (both versions below):"]
        lines += [f"  - {c}" for c in self.conflicts[:limit]]
        if n > limit:
            lines.append(f"  ... and {n - limit} more")
        super().__init__("\n".join(lines))


class InputFileError(WorkbookError):
    """An input file does not exist or cannot be opened."""

    exit_code = 5


class ParameterError(WorkbookError):
    """A notebook or command parameter is wrong (unknown name, wrong type, bad value)."""

    exit_code = 6


class ReportError(WorkbookError):
    """One or more reports could not be rendered."""

    exit_code = 7


class NotebookError(WorkbookError):
    """A notebook run through papermill failed for a reason the package did not foresee."""

    exit_code = 8
