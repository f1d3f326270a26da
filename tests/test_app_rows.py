"""The app's numpy reductions (workbook.views.app_rows, app_charts) equal the print charts' pandas
ones (workbook.views.charts), on generated caseloads with blanks and rows in any order."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_app_charts import SETTINGS, START, caseload

from workbook.data.config import Config
from workbook.data.signs import SIGN_KEYS
from workbook.views import app_rows as R
from workbook.views import charts as C
from workbook.views.app_charts import attendance_marks, outcome_tables
from workbook.views.charts import select_rows
from workbook.views.filters import latest_scores

CONFIG = Config()


def _frame(table) -> pd.DataFrame:
    return pd.DataFrame(R.to_records(table) if isinstance(table, dict) else table)


def _same(ours: pd.DataFrame, theirs: pd.DataFrame, keys: list[str]) -> None:
    theirs = pd.DataFrame(C._records(theirs))
    assert list(ours.columns) == list(theirs.columns)
    ours, theirs = (f.sort_values(keys, ignore_index=True) for f in (ours, theirs))
    pd.testing.assert_frame_equal(ours, theirs, check_dtype=False)


cases = st.fixed_dictionaries({
    "clients": st.integers(1, 12), "weeks": st.integers(1, 14), "seed": st.integers(0, 9999),
    "blank": st.floats(0, 0.6), "start": st.integers(-3, 40), "length": st.integers(0, 100)})


def _case(case: dict) -> tuple[pd.DataFrame, pd.Timestamp, pd.Timestamp]:
    rows = caseload(case["clients"], case["weeks"], case["seed"])
    rng = np.random.default_rng(case["seed"])
    for key in (*SIGN_KEYS, "phq9"):
        rows.loc[rng.random(len(rows)) < case["blank"], key] = np.nan
    rows = rows.sample(frac=1, random_state=case["seed"])  # any row order
    start = START + pd.Timedelta(days=case["start"])
    return rows, start, start + pd.Timedelta(days=case["length"])


@SETTINGS
@given(cases)
def test_weekly_quartiles_equal_the_print_band(case):
    rows, start, end = _case(case)
    frames = C._caseload_frames(rows, "trust_safety", CONFIG, (), None, ("client", start, end))
    table = R.take(rows, ["session_date", "trust_safety"], start=start, end=end,
                   rater="client", present="trust_safety")
    ours = _frame(R.weekly_quartiles(table["session_date"], table["trust_safety"], start))
    ours = ours.drop(columns="until", errors="ignore")
    if frames[1].empty:
        assert ours.empty
        return
    _same(ours, frames[1], ["session_date"])


@SETTINGS
@given(cases)
def test_gap_means_equal_the_print_gap(case):
    rows, start, end = _case(case)
    theirs = C._gap_means(C._select(rows, None, start, end))
    ours = R.gap_means(rows, SIGN_KEYS, start=start, end=end)
    ours["sign"] = np.asarray([C.SIGN_LABELS[k] for k in ours["sign"]], dtype=object)
    ours = _frame(ours)
    if theirs.empty:
        assert ours.empty
        return
    _same(ours[list(theirs.columns)], theirs, ["client_id", "sign"])


@SETTINGS
@given(cases)
def test_attendance_marks_equal_the_print_attendance(case):
    rows, start, end = _case(case)
    theirs = C._attendance_rows(rows, None, start, end)
    ours = _frame(attendance_marks(rows, start=start, end=end))
    if theirs.empty:
        assert ours.empty
        return
    _same(ours, theirs, ["client_id", "session_date"])


@SETTINGS
@given(cases)
def test_outcome_tables_equal_the_print_outcome(case):
    rows, start, end = _case(case)
    rows.loc[rows.index[::3], "phq9"] = 5.0  # scores on therapist rows too: the first wins
    theirs = C._outcome_frames(rows, "phq9", CONFIG, (None, start, end))
    ours = outcome_tables(rows, "phq9", CONFIG, start=start, end=end)
    assert len(ours) == 3  # band, cutoff, scores (the print adds the last scores)
    if theirs[2].empty:
        assert not R.size(ours[2])
        return
    _same(_frame(ours[0]), theirs[0], ["client_id"])
    assert ours[1] == C._records(theirs[1])
    _same(_frame(ours[2]), theirs[2], ["client_id", "session_date"])


def test_records_equal_the_print_records():
    table = {"client_id": np.array(["C1", None], dtype=object),
             "session_date": np.array(["2026-01-05", "2026-02-01"], dtype="datetime64[D]"),
             "score": np.array([1.5, np.nan]), "n": np.array([1, 2])}
    frame = pd.DataFrame({"client_id": ["C1", None],
                          "session_date": pd.to_datetime(["2026-01-05", "2026-02-01"]),
                          "score": [1.5, np.nan], "n": [1, 2]})
    assert R.to_records(table) == C._records(frame)
    missing = {"day": np.array(["2026-01-05", "NaT"], dtype="datetime64[D]")}
    assert R.to_records(missing) == [{"day": "2026-01-05"}, {"day": None}]


@pytest.mark.parametrize("start", [None, "2026-01-07"])
def test_weekly_quartiles_weeks_start_on_monday(start):
    days = np.array(["2026-01-05", "2026-01-11", "2026-01-12"], dtype="datetime64[D]")
    out = R.weekly_quartiles(days, np.array([1.0, 3.0, 5.0]), start)
    first = "2026-01-07" if start else "2026-01-05"
    assert [str(d) for d in out["session_date"]] == [first, "2026-01-12"]
    assert out["median"].tolist() == [2.0, 5.0]
    assert [str(d) for d in out["until"]] == ["2026-01-12", "2026-01-19"]
    cut = R.weekly_quartiles(days, np.array([1.0, 3.0, 5.0]), start, "2026-01-14")
    assert [str(d) for d in cut["until"]] == ["2026-01-12", "2026-01-14"]


@SETTINGS
@given(cases, st.sampled_from(["client", "therapist"]))
def test_latest_ratings_equal_latest_scores(case, rater):
    rows, start, end = _case(case)
    theirs = latest_scores(select_rows(rows, rater=rater, start=start, end=end))
    ours = R.latest_ratings(rows, rater=rater, start=start, end=end)
    pd.testing.assert_frame_equal(ours, theirs, check_dtype=False)
    some = R.latest_ratings(rows, rater=rater, start=start, end=end, signs=SIGN_KEYS[:2])
    assert set(some["sign"]) <= set(SIGN_KEYS[:2])
