"""Check a notebook's parameters on its first call into the package.

papermill only warns about unknown `-p` names and turns `-p therapist_id 007` into the integer 7,
so each notebook calls `check_parameters(globals(), SPEC)` right after its parameters cell: it
refuses unknown names, wrong types and bad values with one clear ParameterError.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

from workbook._meta import EXAMPLE_DATA
from workbook.data.errors import ParameterError

# Names IPython and papermill put in a kernel's namespace besides the parameters.
KERNEL_NAMES = {"In", "Out", "get_ipython", "exit", "quit", "open"}
# The only kinds of value papermill can inject (it writes parameters as Python literals). Other
# objects in the namespace, such as the `result` of an earlier run of the notebook's cell, are
# the notebook's own variables, not parameters.
PARAMETER_TYPES = (str, int, float, bool, list, dict, tuple, type(None))


def text(name: str, value: Any) -> str | None:
    """A code or other text; a number is refused, since papermill turned '007' into 7."""
    if value is None or isinstance(value, str):
        return value.strip() if isinstance(value, str) else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ParameterError(
            f"parameter {name}: got the number {value!r}, expected text. papermill reads "
            f"'-p {name} 007' as the number 7; pass it as text with '-r {name} 007'")
    raise ParameterError(f"parameter {name}: expected text, got {type(value).__name__}")


def month(name: str, value: Any) -> str | None:
    """A month as YYYY-MM, or None for the latest complete month."""
    value = text(name, value)
    if value is not None:
        try:  # the month's first day must be a date (what analysis.periods.parse_month reads)
            date.fromisoformat(f"{value}-01")
        except ValueError:
            raise ParameterError(f"parameter {name}: expected a month YYYY-MM, e.g. 2026-10; "
                                 f"got {value!r}") from None
    return value


def iso_date(name: str, value: Any) -> str | None:
    """A date as YYYY-MM-DD, or None."""
    value = text(name, value)
    if value is not None:
        try:
            date.fromisoformat(value)
        except ValueError:
            raise ParameterError(f"parameter {name}: expected a date YYYY-MM-DD, e.g. "
                                 f"2026-10-05; got {value!r}") from None
    return value


def positive_int(name: str, value: Any) -> int | None:
    """A whole number of 1 or more, or None."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ParameterError(f"parameter {name}: expected a whole number of 1 or more, "
                             f"got {value!r}")
    return value


def formats(name: str, value: Any) -> tuple[str, ...]:
    """'pdf', 'html' or 'pdf,html' (or a list of them)."""
    items = value.split(",") if isinstance(value, str) else list(value or [])
    out = tuple(dict.fromkeys(str(i).strip().lower() for i in items if str(i).strip()))
    if not out or any(f not in ("pdf", "html") for f in out):
        raise ParameterError(f"parameter {name}: expected pdf, html or pdf,html; got {value!r}")
    return out


def data_source(name: str, value: Any) -> Path | str:
    """An existing data file or a database URL (checked when it is read); None means the
    example clinic shipped with the project."""
    from workbook.data.sources.urls import is_database_url

    value = text(name, value)
    if is_database_url(value):
        return value
    return data_path(name, value)


def data_path(name: str, value: Any) -> Path:
    """An existing data file; None means the example clinic shipped with the project."""
    value = text(name, value)
    path = EXAMPLE_DATA if value is None else Path(value).expanduser()
    if not path.is_file():
        raise ParameterError(f"parameter {name}: file not found: {path} "
                             f"(relative paths start from {Path.cwd()})")
    return path.resolve()


def config_path(name: str, value: Any) -> Path | None:
    """An existing config file, or None for the built-in defaults."""
    value = text(name, value)
    if value is None:
        return None
    return data_path(name, value)


def check_parameters(namespace: Mapping[str, Any],
                     spec: Mapping[str, Callable[[str, Any], Any]]) -> dict[str, Any]:
    """Validate a notebook's parameters; return them converted. Unknown names are refused."""
    unknown = sorted(n for n, v in namespace.items() if _is_user_name(n, v) and n not in spec)
    problems = []
    for name in unknown:
        close = difflib.get_close_matches(name, list(spec), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        problems.append(f"unknown parameter {name!r}{hint} (known: {', '.join(spec)})")
    values = {}
    for name, check in spec.items():
        try:
            values[name] = check(name, namespace.get(name))
        except ParameterError as exc:
            problems.append(str(exc))
    if problems:
        raise ParameterError("\n".join(problems))
    return values


def _is_user_name(name: str, value: Any) -> bool:
    """Could papermill have injected this name? Modules, functions and results cannot be."""
    return not (name.startswith("_") or name in KERNEL_NAMES
                or not isinstance(value, PARAMETER_TYPES))
