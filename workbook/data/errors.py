"""Exceptions the user can cause, one class per kind of failure, each with its exit code."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

# Problems of one kind listed in full; the rest of that kind are counted.
LISTED_PER_KIND = 50


class WorkbookError(Exception):
    """Base class: a failure the user can fix. Carries the CLI exit code."""

    exit_code = 1


class ConfigError(WorkbookError):
    """The configuration file is missing, unreadable or invalid."""

    exit_code = 3


@dataclass(frozen=True)
class Problem:
    """One problem in an input file, located as an editor counts lines (header = line 1), or
    as a spreadsheet does (sheet, cell A1 and row).

    `kind` groups problems for counting and listing (default: column and expected text)."""

    file: str
    line: int | None
    column: str | None
    value: object
    expected: str
    unit: str = "line"
    key: str | None = None  # a database row's record key, e.g. "C1, 2026-10-01, client"
    kind: str | None = field(default=None, compare=False)
    sheet: str | None = None
    cell: str | None = None

    def __str__(self) -> str:
        where = self.file
        if self.sheet is not None:
            where += f", sheet {self.sheet!r}"
        if self.cell:
            where += f", cell {self.cell}"
        if self.line is not None:
            where += f", {self.unit} {self.line}"
        if self.key:
            where += f" ({self.key})"
        if self.column:
            where += f", column '{self.column}'"
        if self.value is None:
            return f"{where}: {self.expected}"
        return f"{where}: got {_show(self.value)}; expected {self.expected}"

    @property
    def group(self) -> str:
        """The kind of problem, in words: what problems of this kind have in common."""
        if self.kind:
            return self.kind
        return f"column '{self.column}': {self.expected}" if self.column else self.expected


def _show(value: object) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


class DataError(WorkbookError):
    """The ratings file breaks the data contract. Holds every problem found: `problems` are
    the listed ones (at least the first LISTED_PER_KIND of each kind, by line), `unlisted`
    counts the others of each kind, so `count` is the true number of problems."""

    exit_code = 4

    def __init__(self, problems: Iterable[Problem], unlisted: Mapping[str, int] | None = None):
        self.problems = sorted(problems, key=lambda p: (p.line or 0, p.column or ""))
        self.unlisted = {k: n for k, n in (unlisted or {}).items() if n}
        super().__init__(self.format())

    @property
    def count(self) -> int:
        """Every problem found, listed or not."""
        return len(self.problems) + sum(self.unlisted.values())

    def by_kind(self) -> dict[str, list[Problem]]:
        """Listed problems grouped by kind, kinds in the order of their first line."""
        groups: dict[str, list[Problem]] = {}
        for problem in self.problems:
            groups.setdefault(problem.group, []).append(problem)
        for kind in self.unlisted:
            groups.setdefault(kind, [])
        return groups

    def format(self, limit: int = LISTED_PER_KIND) -> str:
        """Every kind of problem with its first `limit` problems and a count of the rest."""
        n = self.count
        lines = [f"{n:,} problem{'s' if n != 1 else ''} found in the ratings data:"]
        for kind, problems in self.by_kind().items():
            lines += [f"  - {p}" for p in problems[:limit]]
            more = len(problems[limit:]) + self.unlisted.get(kind, 0)
            if more:
                lines.append(f"  ... and {more:,} more like this ({kind})")
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


class OutputError(WorkbookError):
    """An output folder or file cannot be written: not a folder, read-only, no permission."""

    exit_code = 11


class DiskFullError(OutputError):
    """No space is left on the device an output goes to (nothing half-written is kept)."""

    exit_code = 10


class ClusterError(WorkbookError):
    """The Dask cluster a batch was pointed at cannot run it: a bad or unreachable scheduler
    address, no workers, or workers with other versions of the rendering stack."""

    exit_code = 12
