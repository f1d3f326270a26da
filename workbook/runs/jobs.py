"""What each parameterised notebook does, as one call: check parameters, then do the job.

A notebook holds a parameters cell and one call such as `run_clinic_month(globals())`;
everything else lives here so it is tested in plain pytest.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from workbook.analysis.periods import Period, latest_complete_month, parse_month, parse_period
from workbook.analysis.pipeline import analyse
from workbook.data import parameters as P
from workbook.data.config import load_config
from workbook.data.errors import ParameterError, ReportError
from workbook.data.ingest import load_ratings
from workbook.reports.render import describe_source, render_report, write_report
from workbook.runs.batch import MANIFEST, BatchResult, render_month
from workbook.runs.checks import check_codes, check_out_dir, file_part, inside
from workbook.runs.places import resolve_out_dir
from workbook.runs.shown import RunOutput

if TYPE_CHECKING:
    from workbook.views.app import CaseloadApp


def _therapists(name: str, value: Any) -> list[str] | None:
    """'all' (None), 'none' ([]) or a comma-separated list of therapist IDs."""
    value = P.text(name, value)
    if value is None or value.lower() == "all":
        return None
    if value.lower() == "none":
        return []
    return [t.strip() for t in value.split(",") if t.strip()]  # checked against the config


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ParameterError(f"parameter {name}: expected True or False, got {value!r}")
    return value


SUPERVISION_SPEC = {
    "data": P.data_source, "config": P.config_path, "therapist_id": P.text, "month": P.month,
    "since": P.iso_date, "out_dir": P.text, "formats": P.formats,
}
CLINIC_SPEC = {
    "data": P.data_source, "config": P.config_path, "month": P.month, "out_dir": P.text,
    "jobs": P.positive_int, "scheduler": P.text, "formats": P.formats,
    "therapists": _therapists, "clinic": _flag,
}


def run_supervision_brief(namespace: dict[str, Any]) -> RunOutput:
    """The supervision_brief notebook: write one supervisee's brief; return it as the notebook
    shows it (the brief inline, links to its files)."""
    p = P.check_parameters(namespace, SUPERVISION_SPEC)
    config = load_config(p["config"])
    if p["therapist_id"]:
        check_codes("parameter therapist_id", [p["therapist_id"]], config)
    ratings = load_ratings(p["data"], config)
    period = _brief_period(ratings, p["month"], p["since"])
    analysis = analyse(ratings, config, period)
    therapist = p["therapist_id"] or _first(analysis.therapists)
    if therapist not in analysis.therapists:
        raise ParameterError(f"parameter therapist_id: {therapist!r} has no session in "
                             f"{period.label}; therapists: {', '.join(analysis.therapists)}")
    html = render_report("supervision", analysis, therapist_id=therapist,
                         provenance=describe_source(p["data"], p["config"], ratings))
    out = check_out_dir(resolve_out_dir(p["out_dir"]), "parameter out_dir")
    folder = out / period.slug
    folder.mkdir(exist_ok=True)
    paths = write_report(html, inside(folder, f"supervision-{file_part(therapist)}"),
                         p["formats"])
    return RunOutput(f"Supervision brief: {therapist}, {period.label}", tuple(paths), html=html)


def _brief_period(ratings: pd.DataFrame, month: str | None, since: str | None) -> Period:
    """Since the last meeting (until the latest session), or a month (default: the latest)."""
    if since is not None and month is not None:
        raise ParameterError("give either month or since, not both")
    if since is not None:
        return parse_period(since, ratings["session_date"].max().date())
    return parse_month(month) if month else latest_complete_month(ratings)


def _first(therapists: list[str]) -> str:
    if not therapists:
        raise ParameterError("no therapist has a session in this period")
    return therapists[0]


def run_clinic_month(namespace: dict[str, Any]) -> RunOutput:
    """The clinic_monthly notebook: the clinic report and every therapist's, in one kernel;
    return the run's summary and its files as the notebook shows them."""
    p = P.check_parameters(namespace, CLINIC_SPEC)
    result = render_month(p["data"], p["config"], p["month"], resolve_out_dir(p["out_dir"]),
                          jobs=p["jobs"], formats=p["formats"], therapists=p["therapists"],
                          clinic=p["clinic"], scheduler=p["scheduler"])
    if not result.ok:
        raise ReportError(result.summary())
    return RunOutput(f"Clinic monthly reports: {result.out_dir.name}", _month_files(result,
                     p["formats"]), summary=result.summary())


def _month_files(result: BatchResult, formats: tuple[str, ...]) -> tuple[Path, ...]:
    """The reports of a batch, written or already up to date, then its manifest."""
    names = set(result.written) | {f"{stem}.{fmt}" for stem in result.skipped for fmt in formats}
    paths = [result.out_dir / name for name in sorted(names) if (result.out_dir / name).is_file()]
    return (*paths, result.out_dir / MANIFEST)


def open_caseload_review(namespace: dict[str, Any]) -> CaseloadApp:
    """The caseload_review notebook: check its parameters, load the ratings and build the app
    (display it as the notebook's last cell). Only the caseloads the parameters allow are
    reachable: one with only_therapist, a supervisor's supervisees, else all."""
    from workbook.views import filters
    from workbook.views.app import CaseloadApp, open_caseloads

    params = filters.validate_parameters(namespace)
    settings = load_config(params.config)
    if params.therapist_id:
        check_codes("parameter therapist_id", [params.therapist_id], settings)
    ratings = load_ratings(params.data, settings)
    source = open_caseloads(ratings, settings, therapist_id=params.therapist_id,
                            supervisor_id=params.supervisor_id,
                            only_therapist=params.only_therapist,
                            month=filters.choose_period(ratings, params))
    return CaseloadApp(source, therapist_id=params.therapist_id)
