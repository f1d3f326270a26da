"""The caseload review's filters and notebook parameters, as plain functions (no kernel)."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbook.analysis.periods import Period
from workbook.analysis.pipeline import analyse
from workbook.data.columns import BASE_ORDER, BUILTIN_MEASURE_KEYS
from workbook.data.config import Config
from workbook.data.errors import InputFileError, ParameterError
from workbook.data.signs import SIGN_KEYS
from workbook.views.filters import (
    CHART_KEYS,
    NOTEBOOK_DIR,
    ReviewParameters,
    choose_period,
    filter_ratings,
    find_input,
    latest_scores,
    list_clients,
    list_raters,
    validate_parameters,
)

CONFIG = Config()
START = pd.Timestamp("2026-01-05")
EXAMPLE = NOTEBOOK_DIR.parent / "data" / "examples" / "caseload.csv"


def make_ratings(clients: dict[str, str] | None = None, sessions: int = 6) -> pd.DataFrame:
    """Typed ratings: client -> therapist, weekly sessions from START, client and therapist
    ratings (the therapist one point higher); client index i rates 6 + i on every sign,
    except a drop to 2 on trust_safety at session 4 for C1; session 3 of C2 is a no-show."""
    clients = clients or {"C1": "T01", "C2": "T01", "C3": "T02"}
    rows = []
    for i, (client, therapist) in enumerate(clients.items()):
        for s in range(sessions):
            attendance = "no_show" if (client, s) == ("C2", 2) else "attended"
            for rater in ("client", "therapist"):
                row = {"client_id": client, "therapist_id": therapist, "supervisor_id": None,
                       "site": None, "session_date": START + pd.Timedelta(weeks=s),
                       "session_number": s + 1, "rater": rater, "attendance": attendance,
                       "note": None}
                score = 6.0 + i + (rater == "therapist")
                row |= {k: score if attendance == "attended" else np.nan for k in SIGN_KEYS}
                if (client, s, rater) == ("C1", 3, "client"):
                    row["trust_safety"] = 2.0
                row |= {m: np.nan for m in BUILTIN_MEASURE_KEYS}
                rows.append(row)
    frame = pd.DataFrame(rows)[list(BASE_ORDER)]
    return frame.sort_values(["client_id", "session_date", "rater"], ignore_index=True)


@pytest.fixture(scope="module")
def review():
    ratings = make_ratings()
    return analyse(ratings, CONFIG, Period(START, START + pd.Timedelta(weeks=5)))


# --- filter_ratings and options ----------------------------------------------------------------


def test_filter_ratings_by_each_filter():
    ratings = make_ratings()
    assert len(filter_ratings(ratings)) == len(ratings) == 36
    assert set(filter_ratings(ratings, therapist_id="T02")["client_id"]) == {"C3"}
    assert set(filter_ratings(ratings, clients=["C1", "C3"])["client_id"]) == {"C1", "C3"}
    assert set(filter_ratings(ratings, rater="therapist")["rater"]) == {"therapist"}
    cut = filter_ratings(ratings, start="2026-01-12", end=pd.Timestamp("2026-01-19 15:30"))
    assert sorted(cut["session_date"].unique()) == [pd.Timestamp("2026-01-12"),
                                                    pd.Timestamp("2026-01-19")]
    assert len(cut) == 3 * 2 * 2


def test_filter_ratings_combined_and_empty():
    ratings = make_ratings()
    cut = filter_ratings(ratings, therapist_id="T01", clients=["C2", "C3"], rater="client",
                         start=START, end=START)
    assert cut[["client_id", "rater", "session_date"]].to_dict("records") == [
        {"client_id": "C2", "rater": "client", "session_date": START}]
    assert filter_ratings(ratings, clients=[]).empty
    assert filter_ratings(ratings, therapist_id="T09").empty


def test_filter_ratings_by_another_date_column():
    ruptures = pd.DataFrame({"client_id": ["C1", "C2"], "therapist_id": ["T01", "T01"],
                             "start_date": [START, START + pd.Timedelta(weeks=3)]})
    assert filter_ratings(ruptures, start=START + pd.Timedelta(days=1),
                          date_col="start_date")["client_id"].tolist() == ["C2"]


def test_options_lists():
    ratings = make_ratings()
    assert list_clients(ratings, "T01") == ["C1", "C2"]
    assert list_clients(ratings, "T02") == ["C3"]
    assert list_raters(ratings) == ["client", "therapist"]
    assert list_raters(ratings[ratings["rater"] == "therapist"]) == ["therapist"]


def test_latest_scores_takes_last_non_blank_rating():
    ratings = make_ratings()
    rows = filter_ratings(ratings, rater="client", end=START + pd.Timedelta(weeks=3))
    latest = latest_scores(rows).set_index(["client_id", "sign"])["latest"]
    assert latest[("C1", "trust_safety")] == 2.0  # the drop at session 4
    assert latest[("C1", "empathy_understanding")] == 6.0
    assert latest[("C2", "trust_safety")] == 7.0  # session 3 missed: session 4 counts
    assert len(latest) == 3 * len(SIGN_KEYS)
    blank = rows.assign(trust_safety=np.nan)
    assert "trust_safety" not in set(latest_scores(blank)["sign"])


# --- charts for a filter state -----------------------------------------------------------------


def _datasets(spec: dict) -> Counter:
    """The spec's inline rows, ignoring dataset names (content hashes)."""
    return Counter(tuple(sorted(r.items())) for rows in spec["datasets"].values() for r in rows)


def test_choose_period():
    ratings = make_ratings()
    params = ReviewParameters(data=EXAMPLE, config=None)
    assert choose_period(ratings, replace(params, month="2026-01")).label == "January 2026"
    period = choose_period(ratings, replace(params, period_start="2026-01-05",
                                            period_end="2026-01-20"))
    assert (period.start, period.end) == (START, pd.Timestamp("2026-01-20"))
    latest = choose_period(ratings, params, today=pd.Timestamp("2026-03-02").date())
    assert latest.label == "February 2026"


# --- notebook parameters -----------------------------------------------------------------------


def _namespace(**changes) -> dict:
    """A notebook namespace as after the parameters cell, with IPython's own names."""
    names = {"data": str(EXAMPLE), "config": None, "therapist_id": None, "month": None,
             "period_start": None, "period_end": None, "In": [""], "Out": {},
             "_": "", "_i1": "data = ...", "get_ipython": print, "exit": object()}
    return names | changes


needs_example = pytest.mark.skipif(not EXAMPLE.is_file(), reason="no example data yet")


@needs_example
def test_validate_parameters_defaults():
    params = validate_parameters(_namespace())
    assert params == ReviewParameters(data=EXAMPLE.resolve(), config=None)
    params = validate_parameters(_namespace(therapist_id="007", month="2026-09",
                                            config=str(EXAMPLE.with_name("workbook.yml"))))
    assert (params.therapist_id, params.month) == ("007", "2026-09")
    assert params.config == EXAMPLE.with_name("workbook.yml").resolve()


@needs_example
def test_validate_parameters_reach():
    """supervisor_id and only_therapist (`workbook review --supervisor/--therapist`)."""
    params = validate_parameters(_namespace(therapist_id="T01", only_therapist=True))
    assert (params.therapist_id, params.only_therapist, params.supervisor_id) == \
        ("T01", True, None)
    params = validate_parameters(_namespace(supervisor_id=" S1 "))
    assert (params.supervisor_id, params.only_therapist) == ("S1", False)


@needs_example
def test_validate_parameters_ignores_objects_made_later():
    names = _namespace(analysis=object(), ratings=pd.DataFrame(), np=np)
    assert validate_parameters(names).data == EXAMPLE.resolve()


@needs_example
@pytest.mark.parametrize("changes, message", [
    ({"therapist_id": 7}, r"parameter therapist_id: got the number 7, expected text.*"
                          r"pass it as text with '-r therapist_id 007'"),
    ({"therapist_id": 2.5}, r"therapist_id: got the number 2.5"),
    ({"therapist_id": ["T01"]}, r"therapist_id: expected text, got list"),
    ({"month": 202609}, r"month: got the number 202609.*-r month"),
    ({"month": "Sept"}, r"parameter month: expected a month YYYY-MM"),
    ({"period_start": "1 Sept"}, r"parameter period_start: expected a date YYYY-MM-DD"),
    ({"month": "2026-09", "period_start": "2026-09-01", "period_end": "2026-09-30"},
     "either month or period_start"),
    ({"period_start": "2026-09-01"}, "period_start and period_end go together"),
    ({"period_start": "2026-09-30", "period_end": "2026-09-01"}, "the end is before the start"),
    ({"data": None}, "parameter data: expected the path of a ratings file"),
    ({"therapist": "T02"}, r"unknown parameter 'therapist'; did you mean 'therapist_id'\?"),
    ({"only_therapist": True}, r"only_therapist=True needs therapist_id"),
    ({"only_therapist": "yes", "therapist_id": "T01"},
     r"parameter only_therapist: expected True or False, got 'yes'"),
    ({"supervisor_id": 1}, r"parameter supervisor_id: got the number 1"),
    ({"colour": "red", "months": "2026-09"},
     r"unknown parameter 'colour' \(known: data, config.*\n.*'months'; did you mean 'month'"),
])
def test_validate_parameters_refuses(changes, message):
    with pytest.raises(ParameterError, match=message):
        validate_parameters(_namespace(**changes))


@needs_example
def test_validate_parameters_lists_every_problem():
    with pytest.raises(ParameterError) as err:
        validate_parameters(_namespace(therapist_id=7, month="Sept", colour="red"))
    assert len(str(err.value).splitlines()) == 3


@needs_example
def test_validate_parameters_missing_file(tmp_path):
    with pytest.raises(ParameterError, match=r"parameter data: file 'nowhere.csv' not found"):
        validate_parameters(_namespace(data="nowhere.csv"))
    with pytest.raises(ParameterError, match=r"parameter config: file '.*x.yml' not found"):
        validate_parameters(_namespace(config=str(tmp_path / "x.yml")))
    with pytest.raises(ParameterError, match=r"parameter data: file"):
        validate_parameters(_namespace(data=str(tmp_path)))  # a folder
    with pytest.raises(InputFileError, match=r"data: file 'x.csv' not found \(looked for"):
        find_input("x.csv", "data")


@needs_example
def test_find_input_from_repo_root_and_from_notebooks(tmp_path, monkeypatch):
    default = "../data/examples/caseload.csv"  # the notebook's default, relative to notebooks/
    monkeypatch.chdir(NOTEBOOK_DIR.parent)  # papermill started from the repository root
    assert find_input(default) == EXAMPLE.resolve()
    monkeypatch.chdir(NOTEBOOK_DIR)  # JupyterLab: the kernel starts in notebooks/
    assert find_input(default) == EXAMPLE.resolve()
    monkeypatch.chdir(tmp_path)  # elsewhere: a copy next to the working folder wins
    (tmp_path / "mine.csv").write_text("client_id\n")
    assert find_input("mine.csv") == (tmp_path / "mine.csv").resolve()
    assert find_input(EXAMPLE) == EXAMPLE.resolve()
    assert isinstance(find_input(str(EXAMPLE)), Path)


# --- outcome trajectories: one view per measure with scores ------------------------------------


@pytest.fixture(scope="module")
def example_review():
    from workbook.analysis.periods import parse_month
    from workbook.analysis.pipeline import analyse
    from workbook.data.ingest import load_ratings

    ratings = load_ratings(NOTEBOOK_DIR.parent / "data" / "examples" / "caseload.csv")
    return analyse(ratings, None, parse_month("2026-10"))


def test_outcome_views_follow_the_measures_in_the_data(example_review, review):
    from workbook.views.filters import view_keys

    assert view_keys(example_review) == (*CHART_KEYS, "outcome:phq9", "outcome:gad7",
                                         "outcome:ors")
    assert view_keys(review) == CHART_KEYS  # no outcome scores in that caseload
