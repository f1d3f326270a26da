"""Clinical supervision workbook: the five signs of a positive therapeutic relationship.

The public surface, for notebooks, the README and users:

    from workbook import (analyse, describe_source, load_config, load_ratings, parse_month,
                          render_month, render_report, write_report)

    config = load_config("workbook.yml")
    ratings = load_ratings("ratings.csv", config)
    analysis = analyse(ratings, config, parse_month("2026-10"))
    html = render_report("therapist", analysis, provenance=describe_source("ratings.csv",
                         "workbook.yml"), therapist_id="T01")
    write_report(html, "reports/therapist-T01", ("html", "pdf"))

    render_month("ratings.csv", "workbook.yml", "2026-10", "reports")  # the clinic's month

The package has five wings, in the order data flows: `runs` (command line, the notebooks'
jobs, the monthly batch) -> `reports` (report context, HTML and PDF) -> `views` (charts,
filters, widgets) -> `analysis` (every rule and aggregate) -> `data` (signs, config, reading
and checking the ratings). A wing imports only the wings after it in that list.

Names are loaded on first use, so `import workbook` stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from workbook._meta import __version__

# public name -> module that defines it
_SURFACE = {
    "Config": "workbook.data.config",
    "load_config": "workbook.data.config",
    "load_ratings": "workbook.data.ingest",
    "SIGNS": "workbook.data.signs",
    "SIGN_KEYS": "workbook.data.signs",
    "WorkbookError": "workbook.data.errors",
    "ConfigError": "workbook.data.errors",
    "DataError": "workbook.data.errors",
    "InputFileError": "workbook.data.errors",
    "ParameterError": "workbook.data.errors",
    "ReportError": "workbook.data.errors",
    "NotebookError": "workbook.data.errors",
    "generate_clinic": "workbook.data.example_data",
    "Analysis": "workbook.analysis.pipeline",
    "analyse": "workbook.analysis.pipeline",
    "Period": "workbook.analysis.periods",
    "parse_month": "workbook.analysis.periods",
    "parse_period": "workbook.analysis.periods",
    "latest_complete_month": "workbook.analysis.periods",
    "CaseloadApp": "workbook.views.app",
    "describe_source": "workbook.reports.render",
    "render_report": "workbook.reports.render",
    "html_to_pdf": "workbook.reports.render",
    "write_report": "workbook.reports.render",
    "render_month": "workbook.runs.batch",
}

__all__ = ["__version__", *sorted(_SURFACE)]


def __getattr__(name: str) -> Any:
    """Load a public name from its wing on first use."""
    module = _SURFACE.get(name)
    if module is None:
        raise AttributeError(f"module 'workbook' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_SURFACE})
