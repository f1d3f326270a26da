"""The caseload review's filters and parameters, as plain functions (no widgets, no kernel).

The caseload app (`workbook.views.app`) holds its state as a `FilterState`: one therapist, the
clients to show (None: all that therapist's clients), the signs whose charts are shown, the
rater whose ratings the sign charts, the heatmap and the agenda's concern ratings use, and an
inclusive date range.

Notebook parameters (`notebooks/caseload_review.ipynb`) are checked by `validate_parameters`:
papermill turns `-p therapist_id 007` into the integer 7 and only warns about names the
notebook does not declare, so both are refused (with workbook.data.parameters) in one
ParameterError.
A therapist ID given as a number is refused, never turned back into text: 7 may have been
"7", "07" or "007". Relative paths are looked up first from the working directory, then from
the repository's `notebooks/` folder, so the defaults work both under papermill started from the
repository root and in JupyterLab opened in `notebooks/`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd

from workbook._meta import NOTEBOOKS
from workbook.analysis.periods import Period, latest_complete_month, parse_month, parse_period
from workbook.analysis.pipeline import Analysis
from workbook.data import parameters as P
from workbook.data.columns import RATERS
from workbook.data.errors import InputFileError, ParameterError
from workbook.data.parameters import check_parameters
from workbook.data.signs import SIGN_KEYS
from workbook.data.sources.urls import is_database_url
from workbook.views.charts import (
    select_rows,
)

NOTEBOOK_DIR = NOTEBOOKS
OTHER_CHARTS = ("heatmap", "gap", "attendance")
CHART_KEYS = (*SIGN_KEYS, *OTHER_CHARTS)
OUTCOME_PREFIX = "outcome:"


def view_keys(analysis: Analysis) -> tuple[str, ...]:
    """The panel's charts: CHART_KEYS, then an outcome trajectory ("outcome:phq9", ...) for
    each measure with a score in the data."""
    measures = [k for k in analysis.config.all_measures()
                if k in analysis.ratings and analysis.ratings[k].notna().any()]
    return (*CHART_KEYS, *(OUTCOME_PREFIX + k for k in measures))


@dataclass(frozen=True)
class ReviewParameters:
    """The caseload review's parameters, checked; paths resolved to existing files."""

    data: Path | str  # a file, or a database URL
    config: Path | None
    therapist_id: str | None = None
    month: str | None = None
    period_start: str | None = None
    period_end: str | None = None
    supervisor_id: str | None = None
    only_therapist: bool = False


@dataclass(frozen=True)
class FilterState:
    """What the review shows: one therapist's clients, signs, rater and dates (inclusive)."""

    therapist_id: str
    clients: tuple[str, ...] | None = None
    signs: tuple[str, ...] = SIGN_KEYS
    rater: str = "client"
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None


# --- notebook parameters -----------------------------------------------------------------------


def validate_parameters(namespace: Mapping[str, object]) -> ReviewParameters:
    """Check the notebook's parameters, given its namespace (`globals()`), and return them.

    Built on `workbook.data.parameters.check_parameters`: every problem is listed in one
    ParameterError. Call it right after the parameters cell (later objects are ignored).
    """
    values = check_parameters(namespace, {
        "data": _input_file, "config": _input_file, "therapist_id": P.text, "month": P.month,
        "period_start": P.iso_date, "period_end": P.iso_date, "supervisor_id": P.text,
        "only_therapist": _flag})
    if values["only_therapist"] and values["therapist_id"] is None:
        raise ParameterError("only_therapist=True needs therapist_id")
    if values["month"] is not None and (values["period_start"] or values["period_end"]):
        raise ParameterError("give either month or period_start and period_end, not both")
    if (values["period_start"] is None) != (values["period_end"] is None):
        raise ParameterError("period_start and period_end go together: give both or neither")
    if values["period_start"] is not None:
        parse_period(values["period_start"], values["period_end"])
    return ReviewParameters(**values)


def _flag(name: str, value: object) -> bool:
    if value is None:  # not set (a notebook from before the parameter)
        return False
    if not isinstance(value, bool):
        raise ParameterError(f"parameter {name}: expected True or False, got {value!r}")
    return value


def _input_file(name: str, value: object) -> Path | str | None:
    """An existing file found by `find_input` (or, for the data, a database URL); None only
    for the config (the defaults)."""
    value = P.text(name, value)
    if name == "data" and is_database_url(value):
        return value
    if value is None:
        if name == "data":
            raise ParameterError("parameter data: expected the path of a ratings file")
        return None
    try:
        return find_input(value, name)
    except InputFileError as exc:
        raise ParameterError(f"parameter {exc}") from None


def find_input(path: str | Path, what: str = "input") -> Path:
    """An existing file: absolute as given, else relative to the working directory, else to
    the repository's notebooks/ folder (where the notebooks' default paths start)."""
    path = Path(path).expanduser()
    tried = [path] if path.is_absolute() else [Path.cwd() / path, NOTEBOOK_DIR / path]
    for candidate in tried:
        if candidate.is_file():
            return candidate.resolve()
    places = " or ".join(str(p) for p in tried)
    raise InputFileError(f"{what}: file {str(path)!r} not found (looked for {places})")


def choose_period(ratings: pd.DataFrame, params: ReviewParameters,
                  today: date | None = None) -> Period:
    """The month or date range asked for, else the latest complete month in the data."""
    if params.month is not None:
        return parse_month(params.month)
    if params.period_start is not None:
        return parse_period(params.period_start, params.period_end)
    return latest_complete_month(ratings, today)


# --- filter options ----------------------------------------------------------------------------


def list_clients(ratings: pd.DataFrame, therapist_id: str) -> list[str]:
    """The therapist's clients in these ratings, sorted."""
    return sorted(ratings.loc[ratings["therapist_id"] == therapist_id, "client_id"].unique())


def list_raters(ratings: pd.DataFrame) -> list[str]:
    """Raters present in the ratings, in the data contract's order (client first)."""
    present = set(ratings["rater"].unique())
    return [r for r in RATERS if r in present] or ["client"]


# --- filtering and chart data ------------------------------------------------------------------


# Rows of one therapist, of these clients, by this rater, dated start..end (see select_rows).
filter_ratings = select_rows


def latest_scores(rows: pd.DataFrame, signs: Iterable[str] = SIGN_KEYS) -> pd.DataFrame:
    """Each client's latest non-blank rating per sign (client_id, sign, latest)."""
    signs = list(signs)
    long = rows[["client_id", "session_date", *signs]].melt(
        id_vars=["client_id", "session_date"], var_name="sign", value_name="latest").dropna()
    long = long.sort_values(["client_id", "sign", "session_date"], kind="stable")
    out = long.drop_duplicates(["client_id", "sign"], keep="last")
    return out[["client_id", "sign", "latest"]].reset_index(drop=True)
